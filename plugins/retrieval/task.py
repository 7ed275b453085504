"""Runs a retrieval task: optional finetuning with VTC, then t2v / v2t evaluation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tempvl_bench.finetune import finetune, trainable_parameters
from tempvl_bench.metrics import multi_caption_retrieval_metrics, retrieval_metrics
from tempvl_bench.runner import RunContext, TaskOutput
from tempvl_bench.clips import ClipLoaderFactory
from tempvl_bench.annotations import load_annotations
from tempvl_plugins.retrieval.datasets import PROTOCOLS


@dataclass
class Queries:
    texts: list[str]
    video_index: list[int]  # the query's ground-truth video (index into the items)


def _queries(items) -> Queries:
    texts, index = [], []
    for i, item in enumerate(items):
        for text in item.texts:
            texts.append(text)
            index.append(i)
    return Queries(texts, index)


def run_retrieval(ctx: RunContext) -> TaskOutput:
    protocol = ctx.config.options.get("protocol", "square")
    if protocol not in PROTOCOLS:
        raise ValueError(f"{ctx.config.source}: key 'options.protocol': expected one of {PROTOCOLS}, got {protocol!r}")
    split = ctx.config.splits.eval
    annotations = load_annotations(ctx.config.dataset, ctx.annotation_dir, "retrieval", split)
    items, files = annotations.records, annotations.files
    if protocol == "square" and any(len(item.texts) != 1 for item in items):
        raise ValueError(f"{ctx.config.source}: protocol 'square' needs one text per video; use 'multi-caption'")
    if ctx.limit:
        items = items[: ctx.limit]
    clips = ClipLoaderFactory(ctx)
    model = ctx.model()
    if ctx.mode == "finetune":
        train_split = ctx.config.splits.train
        if not train_split:
            raise ValueError(f"{ctx.config.source}: key 'splits.train' is empty, so --mode finetune has no data")
        train = load_annotations(ctx.config.dataset, ctx.annotation_dir, "retrieval", train_split)
        train_items, files = train.records, train.files + files
        _finetune(ctx, model, train_items, clips)
    video_emb, failed, kept = _encode_videos(ctx, model, items, clips)
    items = [items[i] for i in kept]
    queries = _queries(items)
    text_emb = _encode_texts(ctx, model, queries.texts)
    sim = (text_emb @ video_emb.T).numpy().astype(np.float64)
    if protocol == "square":
        metrics = retrieval_metrics(sim)
    else:
        metrics = multi_caption_retrieval_metrics(sim, queries.video_index)
    return TaskOutput(
        metrics=metrics,
        split=split,
        num_samples=len(queries.texts),
        predictions=_predictions(sim, queries, items),
        failed_videos=failed,
        annotation_files=files,
    )


def _finetune(ctx: RunContext, model, train_items, clips: ClipLoaderFactory) -> None:
    cfg = ctx.config
    rng = np.random.default_rng(ctx.seed)

    def batches(epoch: int):
        # Failed training videos are dropped from their batch (never replaced), counted, and
        # stop the run past video.max_failed_fraction, exactly as in evaluation.
        tracker = clips.failure_tracker(len(train_items))
        for batch in clips.loader(train_items, train=True, epoch=epoch):
            tracker.update(batch)
            if batch["batch_size"] == 0:
                continue
            # Multi-caption datasets: one random caption per video per step (CLIP4Clip).
            texts = [train_items[i].texts[rng.integers(len(train_items[i].texts))] for i in batch["index"]]
            yield batch["frames"], batch.get("frame_mask"), texts

    def loss_fn(model, batch):
        frames, mask, texts = batch
        video = model.encode_video(frames.to(model.device), None if mask is None else mask.to(model.device))
        text = model.encode_text(model.tokenize(texts, cfg.text.max_length))
        return model.vtc_loss(video, text)

    steps = clips.steps_per_epoch(len(train_items))
    params = trainable_parameters(model, cfg.finetune.train_text_layers)
    finetune(model, batches, loss_fn, cfg.finetune, steps_per_epoch=steps, run_dir=ctx.run_dir,
             resume=ctx.options.resume, progress=ctx.options.progress, parameters=params)


@torch.no_grad()
def _encode_videos(ctx: RunContext, model, items, clips: ClipLoaderFactory):
    embeddings: list[torch.Tensor] = []
    kept: list[int] = []
    tracker = clips.failure_tracker(len(items))
    for batch in clips.loader(items, train=False, desc="encode videos"):
        tracker.update(batch)
        if batch["batch_size"] == 0:
            continue
        mask = batch.get("frame_mask")
        emb = model.encode_video(batch["frames"].to(model.device), None if mask is None else mask.to(model.device))
        embeddings.append(emb.float().cpu())
        kept.extend(int(i) for i in batch["index"])
    tracker.finalize()
    if not embeddings:
        raise RuntimeError(f"{ctx.spec.name}: no video could be decoded")
    failed = [{"path": str(f.path), "error": f.error} for f in tracker.failed]
    return torch.cat(embeddings), failed, kept


@torch.no_grad()
def _encode_texts(ctx: RunContext, model, texts: list[str]) -> torch.Tensor:
    out = []
    size = ctx.config.batch.eval
    for start in range(0, len(texts), size):
        tokens = model.tokenize(texts[start : start + size], ctx.config.text.max_length)
        out.append(model.encode_text(tokens).float().cpu())
    return torch.cat(out)


def _predictions(sim: np.ndarray, queries: Queries, items):
    order = np.argsort(-sim, axis=1, kind="stable")[:, :10]
    for q, (text, target) in enumerate(zip(queries.texts, queries.video_index)):
        rank = 1 + int(np.sum(sim[q] > sim[q, target]))
        yield {
            "query": q,
            "text": text,
            "video_id": items[target].video_id,
            "rank": rank,
            "top10": [items[j].video_id for j in order[q]],
            "top10_scores": [round(float(sim[q, j]), 6) for j in order[q]],
        }
