"""The retrieval family: optional finetuning with VTC, then t2v / v2t ranking of every query."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tempvl_bench.api import (
    CLIP_EMBEDDINGS,
    FAMILIES,
    RunContext,
    Scores,
    Split,
    TaskFamily,
    catalogue,
    checked,
    encode_videos,
    finetune_vtc,
    Outcomes,
    multi_caption_retrieval_metrics,
    retrieval_metrics,
    retrieval_outcomes,
    similarity,
)
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


@dataclass
class Ranking:
    """Text-to-video similarities of the evaluated (decoded) videos."""

    similarity: np.ndarray
    queries: Queries
    items: list


class RetrievalFamily(TaskFamily):
    options = RetrievalOptions
    baselines_use_train = False  # chance is analytic
    needs = (CLIP_EMBEDDINGS,)

    def metric_names(self, options) -> tuple[str, ...]:
        return FAMILIES["retrieval"].metric_names(options.protocol)

    def load(self, ctx: RunContext, split: str) -> Split:
        annotations = catalogue.load(ctx.config.dataset, ctx.annotation_dir, "retrieval", split)
        if ctx.task_options.protocol == "square" and any(len(item.texts) != 1 for item in annotations.records):
            raise ValueError(f"{ctx.config.source}: protocol 'square' needs one text per video; use 'multi-caption'")
        return Split(split, annotations.records, annotations.files)

    def load_train(self, ctx: RunContext, split: str) -> Split:
        annotations = catalogue.load(ctx.config.dataset, ctx.annotation_dir, "retrieval", split)
        return Split(split, annotations.records, annotations.files)

    def finetune(self, ctx: RunContext, model, train: Split, evaluation: Split) -> None:
        finetune_vtc(ctx, model, train.records, ctx.clips)

    def predict(self, ctx: RunContext, model, evaluation: Split, train: Split | None) -> Ranking:
        video_emb, kept = _encode_videos(ctx, model, evaluation.records)
        items = [evaluation.records[i] for i in kept]
        queries = _queries(items)
        text_emb = _encode_texts(ctx, model, queries.texts)
        return Ranking(similarity(model, text_emb, video_emb).numpy().astype(np.float64), queries, items)

    def score(self, ctx: RunContext, evaluation: Split, ranking: Ranking) -> Scores:
        sim, queries = ranking.similarity, ranking.queries
        if ctx.task_options.protocol == "square":
            metrics, per_query = retrieval_metrics(sim), retrieval_outcomes(sim)
        else:
            metrics = multi_caption_retrieval_metrics(sim, queries.video_index)
            per_query = retrieval_outcomes(sim, queries.video_index)
        return Scores(metrics, len(queries.texts), _predictions(sim, queries, ranking.items),
                      outcomes=_outcomes(per_query, queries, ranking.items))

    def baselines(self, ctx: RunContext, train: Split | None, evaluation: Split) -> dict[str, Scores]:
        """Chance, analytically: a ranking that ignores its input puts the true item at a
        uniformly random position among N, so R@K = min(K, N) / N and the expected rank is
        (N + 1) / 2 for every query (N = the evaluated videos, the same for v2t)."""
        items = evaluation.records
        queries = _queries(items)
        n = len(items)
        per_query = {}
        for prefix, count in (("t2v", len(queries.texts)), ("v2t", n)):
            for k in (1, 5, 10):
                per_query[f"{prefix}/R@{k}"] = np.full(count, 100.0 * min(k, n) / n)
            per_query[f"{prefix}/MdR"] = (np.full(count, (n + 1) / 2), "median")
            per_query[f"{prefix}/MnR"] = np.full(count, (n + 1) / 2)
        metrics = {name: float(np.mean(v[0] if isinstance(v, tuple) else v)) for name, v in per_query.items()}
        return {"chance": Scores(metrics, len(queries.texts), outcomes=_outcomes(per_query, queries, items))}


def _outcomes(per_query: dict, queries: Queries, items) -> Outcomes:
    """t2v outcomes per text (``video#caption``), v2t per video."""
    seen: dict[int, int] = {}
    texts = []
    for v in queries.video_index:  # a caption's id: its video and its place among that video's captions
        seen[v] = seen.get(v, -1) + 1
        texts.append(f"{items[v].video_id}#{seen[v]}")
    videos = [item.video_id for item in items]
    t2v = {k: v for k, v in per_query.items() if k.startswith("t2v/")}
    v2t = {k: v for k, v in per_query.items() if k.startswith("v2t/")}
    return Outcomes.per_unit("text", texts, t2v).merged(Outcomes.per_unit("video", videos, v2t))


def _encode_videos(ctx: RunContext, model, items):
    embeddings: list[torch.Tensor] = []
    kept: list[int] = []
    for batch in encode_videos(ctx.clips, model, items, level="clip", desc="encode videos"):
        embeddings.append(batch["video_emb"])
        kept.extend(int(i) for i in batch["index"])
    if not embeddings:
        raise RuntimeError(f"{ctx.spec.name}: no video could be decoded")
    return torch.cat(embeddings), kept


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
