"""Runs a retrieval task: optional finetuning with VTC, then t2v / v2t evaluation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tempvl_bench.config import checked, parse_options
from tempvl_bench.finetune import finetune_vtc
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


@dataclass
class RetrievalOptions:
    """The ``options:`` of a retrieval task file."""

    protocol: str = checked("square", choices=PROTOCOLS)


def run_retrieval(ctx: RunContext) -> TaskOutput:
    protocol = parse_options(ctx.config, RetrievalOptions).protocol
    split = ctx.config.splits.eval
    annotations = load_annotations(ctx.config.dataset, ctx.annotation_dir, "retrieval", split)
    items, files = annotations.records, annotations.files
    if protocol == "square" and any(len(item.texts) != 1 for item in items):
        raise ValueError(f"{ctx.config.source}: protocol 'square' needs one text per video; use 'multi-caption'")
    items = ctx.limited(items)
    clips = ClipLoaderFactory(ctx)
    model = ctx.model()
    if ctx.mode == "finetune":
        train = load_annotations(ctx.config.dataset, ctx.annotation_dir, "retrieval", ctx.train_split)
        train_items, files = train.records, train.files + files
        finetune_vtc(ctx, model, train_items, clips)
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


@torch.no_grad()
def _encode_videos(ctx: RunContext, model, items, clips: ClipLoaderFactory):
    embeddings: list[torch.Tensor] = []
    kept: list[int] = []
    batches = clips.batches(items, train=False, desc="encode videos")
    for batch in batches:
        mask = batch.get("frame_mask")
        emb = model.encode_video(batch["frames"].to(model.device), None if mask is None else mask.to(model.device))
        embeddings.append(emb.float().cpu())
        kept.extend(int(i) for i in batch["index"])
    if not embeddings:
        raise RuntimeError(f"{ctx.spec.name}: no video could be decoded")
    return torch.cat(embeddings), batches.failed_videos, kept


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
