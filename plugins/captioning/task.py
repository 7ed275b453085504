"""Runs a captioning task: optional finetuning of the caption decoder with teacher forcing, then
one generated caption per video scored against all its references with pycocoevalcap.

Zero-shot captioning uses the decoder as it is: without captioning pretraining it produces
unrelated text, and the scores say so.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from tempvl_bench.clips import ClipLoaderFactory
from tempvl_bench.config import ConfigError
from tempvl_bench.finetune import finetune, trainable_parameters
from tempvl_bench.metrics import caption_metrics
from tempvl_bench.results import write_json_atomic
from tempvl_bench.runner import RunContext, TaskOutput

from tempvl_plugins.captioning.datasets import ADAPTERS

#: Files written next to results.json; ``tempvl-bench score --family captioning --predictions
#: captions.json --ground-truth references.json`` reproduces the run's metrics.
CAPTIONS_JSON = "captions.json"
REFERENCES_JSON = "references.json"

_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class CaptionOptions:
    """Family settings of the captioning tasks (``options:`` in the task YAML)."""

    #: 1 = greedy decoding; more = beam search with length-normalized scores.
    num_beams: int = 1
    #: Tokens generated at most per caption (the end token included).
    max_caption_length: int = 20

    @classmethod
    def parse(cls, raw: Mapping[str, Any], source: str) -> "CaptionOptions":
        fields = [f.name for f in dataclasses.fields(cls)]
        for key, value in raw.items():
            if key not in fields:
                close = difflib.get_close_matches(str(key), fields, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"{source}: key 'options.{key}': unknown captioning option.{hint} "
                                  f"Allowed: {', '.join(fields)}")
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{source}: key 'options.{key}': expected a positive integer, got {value!r}")
        return cls(**dict(raw))


def clean_caption(text: str) -> str:
    """A decoded caption with runs of whitespace collapsed and the ends stripped."""
    return _SPACES.sub(" ", text).strip()


def run_captioning(ctx: RunContext) -> TaskOutput:
    adapter = ADAPTERS[ctx.spec.name]
    options = CaptionOptions.parse(ctx.config.options, ctx.config.source)
    split = ctx.config.splits.eval
    items, files = adapter.load(ctx.annotation_dir, split)
    items = [item for item in items if item.captions]  # a video without references cannot be scored
    items = ctx.limited(items)
    if not items:
        raise ValueError(f"{ctx.spec.name}: split {split!r} has no video with reference captions")
    clips = ClipLoaderFactory(ctx)
    model = ctx.model()
    if ctx.mode == "finetune":
        train_items, train_files = adapter.load(ctx.annotation_dir, ctx.train_split)
        files = train_files + files
        _finetune(ctx, model, [item for item in train_items if item.captions], clips)
    captions, failed = _generate(ctx, model, items, options, clips)
    evaluated = [item for item in items if item.video_id in captions]
    references = {item.video_id: list(item.captions) for item in evaluated}
    corpus, per_video = caption_metrics(captions, references)
    write_score_files(ctx.run_dir, captions, references)
    return TaskOutput(
        metrics=corpus,
        split=split,
        num_samples=len(evaluated),
        predictions=_predictions(evaluated, captions, per_video),
        failed_videos=failed,
        annotation_files=files,
    )


def _finetune(ctx: RunContext, model, train_items, clips: ClipLoaderFactory) -> None:
    cfg = ctx.config
    if not train_items:
        raise ValueError(f"{ctx.spec.name}: split {cfg.splits.train!r} has no video with reference captions")
    rng = np.random.default_rng(ctx.seed)

    def batches(epoch: int):
        for batch in clips.batches(train_items, train=True, epoch=epoch):
            # One random reference per video per step (every reference is seen across epochs).
            texts = [train_items[i].captions[rng.integers(len(train_items[i].captions))]
                     for i in batch["index"].tolist()]
            yield batch["frames"], batch["frame_mask"], texts

    def loss_fn(model, batch):
        frames, mask, texts = batch
        return model.caption_loss(model.tokenize(texts, cfg.text.max_length), frames, mask)

    params = trainable_parameters(model, cfg.finetune.train_text_layers)
    finetune(model, batches, loss_fn, cfg.finetune, steps_per_epoch=clips.steps_per_epoch(len(train_items)),
             run_dir=ctx.run_dir, resume=ctx.options.resume, progress=ctx.options.progress, parameters=params)


@torch.no_grad()
def _generate(ctx: RunContext, model, items, options: CaptionOptions, clips: ClipLoaderFactory):
    captions: dict[str, str] = {}
    batches = clips.batches(items, train=False, desc="generate captions")
    for batch in batches:
        ids = model.generate(batch["frames"], max_len=options.max_caption_length, num_beams=options.num_beams,
                             frame_mask=batch["frame_mask"])
        for i, text in zip(batch["index"].tolist(), model.decode_tokens(ids)):
            captions[items[i].video_id] = clean_caption(text)
    return captions, batches.failed_videos


def write_score_files(run_dir: Path, captions: Mapping[str, str], references: Mapping[str, Sequence[str]]) -> None:
    """Captions (COCO results list) and references in the formats ``tempvl-bench score`` reads."""
    write_json_atomic(Path(run_dir) / CAPTIONS_JSON, [{"video_id": v, "caption": c} for v, c in captions.items()])
    write_json_atomic(Path(run_dir) / REFERENCES_JSON, {v: list(refs) for v, refs in references.items()})


def _predictions(items, captions: Mapping[str, str], per_video: Mapping[str, Mapping[str, float]]):
    for item in items:
        yield {
            "video_id": item.video_id,
            "caption": captions[item.video_id],
            "references": list(item.captions),
            "scores": {name: round(value, 6) for name, value in per_video[item.video_id].items()},
        }
