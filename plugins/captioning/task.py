"""The captioning family: optional finetuning of the caption decoder with teacher forcing, then
one generated caption per video scored against all its references with pycocoevalcap.

Zero-shot captioning uses the decoder as it is: without captioning pretraining it produces
unrelated text, and the scores say so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from tempvl_bench.api import (
    GENERATION, FAMILIES, Outcomes, RunContext, Scores, Split, TaskFamily, best_constant_caption,
    catalogue, caption_metrics, caption_outcomes, checked, encode_videos, finetune,
    options_from_mapping, trainable_parameters, write_json_atomic,
)

from tempvl_plugins.captioning.datasets import caption_adapter_for

#: Files written next to results.json; ``tempvl-bench score --family captioning --predictions
#: captions.json --ground-truth references.json`` reproduces the run's metrics.
CAPTIONS_JSON = "captions.json"
REFERENCES_JSON = "references.json"

_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class CaptionOptions:
    """Family settings of the captioning tasks (``options:`` in the task YAML)."""

    #: 1 = greedy decoding; more = beam search with length-normalized scores.
    num_beams: int = checked(1, ge=1, expected="a positive integer")
    #: Tokens generated at most per caption (the end token included).
    max_caption_length: int = checked(20, ge=1, expected="a positive integer")
    #: n > 0: no token n-gram occurs twice in a generated caption; 0 allows repeats.
    no_repeat_ngram_size: int = checked(0, ge=0, expected="0 (off) or a positive integer")
    #: Finetuning: reference captions per video per step, drawn without replacement (0 = all of
    #: them, the video encoded once for all its references).
    train_references: int = checked(1, ge=0, expected="0 (all) or a positive integer")

    @classmethod
    def parse(cls, raw: Mapping[str, Any], source: str) -> "CaptionOptions":
        return options_from_mapping(cls, raw, source)


def clean_caption(text: str) -> str:
    """A decoded caption with runs of whitespace collapsed and the ends stripped."""
    return _SPACES.sub(" ", text).strip()


class CaptioningFamily(TaskFamily):
    options = CaptionOptions
    needs = (GENERATION,)

    def metric_names(self, options) -> tuple[str, ...]:
        return FAMILIES["captioning"].metric_names()

    def load(self, ctx: RunContext, split: str) -> Split:
        annotations = catalogue.load(caption_adapter_for(ctx.config).dataset, ctx.annotation_dir, "captioning", split)
        items = [item for item in annotations.records if item.captions]  # a video without references cannot be scored
        if not items:
            raise ValueError(f"{ctx.spec.name}: split {split!r} has no video with reference captions")
        return Split(split, items, annotations.files)

    def finetune(self, ctx: RunContext, model, train: Split, evaluation: Split) -> None:
        _finetune(ctx, model, train.records, ctx.clips, ctx.task_options)

    def predict(self, ctx: RunContext, model, evaluation: Split, train: Split | None) -> dict[str, str]:
        return _generate(ctx, model, evaluation.records, ctx.task_options)

    def score(self, ctx: RunContext, evaluation: Split, captions: dict[str, str]) -> Scores:
        evaluated = [item for item in evaluation.records if item.video_id in captions]
        references = {item.video_id: list(item.captions) for item in evaluated}
        corpus, per_video = caption_metrics(captions, references)
        write_caption_score_files(ctx.run_dir, captions, references)
        return Scores(corpus, len(evaluated), _predictions(evaluated, captions, per_video),
                      outcomes=_outcomes(corpus, per_video))

    def baselines(self, ctx: RunContext, train: Split | None, evaluation: Split) -> dict[str, Scores]:
        """The constant caption: the training reference with the best CIDEr against the training
        references, given to every evaluated video and scored like the model's captions."""
        if train is None:
            return {}
        constant = best_constant_caption({item.video_id: list(item.captions) for item in train.records
                                          if item.captions}, seed=ctx.seed)
        references = {item.video_id: list(item.captions) for item in evaluation.records}
        corpus, per_video = caption_metrics({v: constant for v in references}, references)
        return {"constant caption": Scores(corpus, len(references), outcomes=_outcomes(corpus, per_video))}


def _outcomes(corpus, per_video) -> Outcomes:
    values, points = caption_outcomes(corpus, per_video)
    return Outcomes.per_unit("video", list(per_video), values, points)


def _finetune(ctx: RunContext, model, train_items, clips, options: CaptionOptions) -> None:
    cfg = ctx.config
    train_items = [item for item in train_items if item.captions]
    if not train_items:
        raise ValueError(f"{ctx.spec.name}: split {cfg.splits.train!r} has no video with reference captions")
    rng = np.random.default_rng(ctx.seed)

    def batches(epoch: int):
        for batch in clips.batches(train_items, train=True, epoch=epoch):
            texts, video_index = [], []
            for row, i in enumerate(batch["index"].tolist()):
                chosen = sample_references(train_items[i].captions, options.train_references, rng)
                texts += chosen
                video_index += [row] * len(chosen)
            yield batch["frames"], batch["frame_mask"], texts, torch.tensor(video_index)

    def loss_fn(model, batch):
        frames, mask, texts, video_index = batch
        return model.caption_loss(model.tokenize(texts, cfg.text.max_length), frames, mask, video_index=video_index)

    params = trainable_parameters(model, cfg.finetune.train_text_layers)
    finetune(model, batches, loss_fn, cfg.finetune, steps_per_epoch=clips.steps_per_epoch(len(train_items)),
             run_dir=ctx.run_dir, resume=ctx.options.resume, progress=ctx.options.progress, parameters=params,
             generators={"references": rng})


def sample_references(captions: Sequence[str], count: int, rng: np.random.Generator) -> list[str]:
    """``count`` of a video's references drawn without replacement (all of them when ``count``
    is 0 or at least their number), so every reference is seen across epochs."""
    if count == 0 or count >= len(captions):
        return list(captions)
    if count == 1:  # one integer draw: the random stream the recorded default runs were made with
        return [captions[rng.integers(len(captions))]]
    return [captions[k] for k in sorted(rng.choice(len(captions), size=count, replace=False).tolist())]


@torch.no_grad()
def _generate(ctx: RunContext, model, items, options: CaptionOptions) -> dict[str, str]:
    def caption(batch) -> dict[str, str]:
        ids = model.generate(batch["frames"], max_len=options.max_caption_length, num_beams=options.num_beams,
                             frame_mask=batch["frame_mask"], no_repeat_ngram_size=options.no_repeat_ngram_size)
        return {items[i].video_id: clean_caption(text) for i, text in zip(batch["index"].tolist(), model.decode_tokens(ids))}

    captions: dict[str, str] = {}
    for part in encode_videos(ctx.clips, model, items, level="pixels", desc="generate captions").map(caption):
        captions.update(part)  # in batch order (under torchrun each rank captions its own batches)
    return captions


def write_caption_score_files(run_dir: Path, captions: Mapping[str, str],
                              references: Mapping[str, Sequence[str]]) -> None:
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
