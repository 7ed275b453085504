"""The moment-retrieval family: optional finetuning, then localization of every query.

Frames are sampled over the whole video (``video.sampling``); each video is decoded once and
localizes all of its queries. Windows are ranked by ``p_start * p_end`` (``s <= e``), mapped to
seconds with the decoded frames' timestamps, and reduced to what the protocol scores: 2D-TAN's
NMS (IoU 0.5, 5 windows) for ``single``, NMS at ``options.nms_threshold`` and the first
``options.top_windows`` for ``qvhighlights`` (whose highlight scores are the cosine of each frame
with the query, per 2-second clip).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Sequence

import torch

import numpy as np

from tempvl_bench.api import (
    FRAME_EMBEDDINGS, GROUNDING, FAMILIES, Outcomes, RunContext, Scores, Split, TaskFamily,
    best_constant_window, catalogue, checked, encode_videos, frame_features, grounding_diagnostics,
    sampled_prior_windows,
)
from tempvl_core.data.records import MomentQuery
from tempvl_core.model.clip_backbone import at_feature_rate, model_stride
from tempvl_core.model.moment_queries import query_frame_similarity, query_moment_logits
from tempvl_core.model.windows import (
    curve_window_scores,
    estimate_duration,
    frame_bounds,
    rank_scored_windows,
    rank_windows_in_seconds,
)
from tempvl_plugins.moment_retrieval.datasets import VideoGroup, group_queries_by_video, require_ground_truth
from tempvl_plugins.moment_retrieval.decoding import clip_saliency, select_windows
from tempvl_plugins.moment_retrieval.records import (
    PROTOCOLS,
    QueryPrediction,
    json_qid,
    metrics_from_rows,
    outcomes_from_rows,
    write_moment_detr,
)

#: 2D-TAN's evaluation: NMS at IoU 0.5, up to max(R@n) = 5 windows.
SINGLE_NMS = (0.5, 5)


@dataclass(frozen=True)
class MomentOptions:
    """The ``options:`` of a moment-retrieval task file."""

    #: ``single`` (2D-TAN) or ``qvhighlights`` (Moment-DETR, with highlight detection).
    protocol: str = checked(choices=PROTOCOLS)
    #: QVHighlights: NMS threshold and number of windows kept per query.
    nms_threshold: float = checked(0.7, gt=0, le=1)
    top_windows: int = checked(10, ge=1, expected="a positive integer")
    #: Longest window in frames (null: any).
    max_window_frames: int | None = checked(None, ge=1, expected="null or a positive integer")
    #: Finetuning: weight of the saliency hinge loss (QVHighlights).
    saliency_loss_weight: float = checked(0.0, ge=0)


class MomentRetrievalFamily(TaskFamily):
    """Windows come from the model's grounding head when it has one (TemPVL), else zero-shot
    from each frame's similarity to the query (a CLIP model: :func:`curve_window_scores`)."""

    options = MomentOptions

    def capabilities_needed(self, config, options, mode: str) -> tuple[str, ...]:
        if mode == "finetune":  # finetuning trains the grounding head
            return (FRAME_EMBEDDINGS, GROUNDING, "finetuning")
        return (FRAME_EMBEDDINGS,)

    def metric_names(self, options: MomentOptions) -> tuple[str, ...]:
        return FAMILIES["moment-retrieval"].metric_names(options.protocol)

    def load(self, ctx: RunContext, split: str) -> Split:
        annotations = catalogue.load(ctx.config.dataset, ctx.annotation_dir, "moments", split)
        require_ground_truth(annotations.records, annotations.files)
        return Split(split, annotations.records, annotations.files)

    def finetune(self, ctx: RunContext, model, train: Split, evaluation: Split) -> None:
        from tempvl_plugins.moment_retrieval.training import finetune_moments

        finetune_moments(ctx, model, train.records, ctx.clips, float(ctx.task_options.saliency_loss_weight))

    def predict(self, ctx: RunContext, model, evaluation: Split, train: Split | None) -> list[dict]:
        options = dataclasses.asdict(ctx.task_options)
        return [p.to_row() for p in localize_queries(ctx, model, evaluation.records, options)]

    def score(self, ctx: RunContext, evaluation: Split, rows: list[dict]) -> Scores:
        metrics = metrics_from_rows(rows, ctx.task_options.protocol)
        # A QVHighlights length bucket without ground truth has no value (NaN in the reference):
        # leave it out rather than report a number.
        undefined = tuple(k for k, v in metrics.items() if math.isnan(v))
        write_moment_detr(rows, ctx.run_dir)
        breakdowns = {"mr/grounding": _grounding(rows)} if ctx.task_options.protocol == "single" else {}
        return Scores({k: v for k, v in metrics.items() if k not in undefined}, len(rows), rows, undefined,
                      _outcomes(rows, ctx.task_options.protocol), breakdowns)

    def baselines(self, ctx: RunContext, train: Split | None, evaluation: Split) -> dict[str, Scores]:
        """Two predictors that never look at the video or the query, fitted on the training
        windows in normalized time: the best constant window on the frame grid (best R1@0.5),
        and windows drawn from the training windows (as many as the protocol ranks, seeded)."""
        if train is None:
            return {}
        fitted = _normalized([w for q in train.records for w in q.windows],
                             [q.duration for q in train.records for _ in q.windows])
        queries = [q for q in evaluation.records if q.windows]
        protocol = ctx.task_options.protocol
        count = SINGLE_NMS[1] if protocol == "single" else int(ctx.task_options.top_windows)
        constant = best_constant_window(fitted, ctx.config.video.num_frames)
        sampled = sampled_prior_windows(fitted, len(queries), count, ctx.seed)
        out = {}
        for name, windows in (("best constant window", np.broadcast_to(constant, (len(queries), 1, 2))),
                              ("prior-sampled windows", sampled)):
            rows = [_baseline_row(q, w) for q, w in zip(queries, windows)]
            metrics = metrics_from_rows(rows, protocol)
            out[name] = Scores({k: v for k, v in metrics.items() if not math.isnan(v)}, len(rows),
                               outcomes=_outcomes(rows, protocol))
        return out


def _outcomes(rows: list[dict], protocol: str) -> Outcomes:
    return Outcomes.per_unit("query", [str(r["qid"]) for r in rows], outcomes_from_rows(rows, protocol))


def _grounding(rows: list[dict]) -> dict[str, float]:
    """Does the query pick its own event (right-event rate, swapped texts, text-blind ceiling)?"""
    return grounding_diagnostics(
        top1=np.array([r["pred_relevant_windows"][0][:2] for r in rows], dtype=np.float64),
        gt=np.array([(max(0.0, r["relevant_windows"][0][0]), min(r["duration"], r["relevant_windows"][0][1]))
                     for r in rows], dtype=np.float64),
        video=[r["vid"] for r in rows], durations=np.array([r["duration"] for r in rows], dtype=np.float64))


def _normalized(windows, durations) -> np.ndarray:
    return np.clip(np.asarray(windows, dtype=np.float64).reshape(-1, 2) / np.asarray(durations)[:, None], 0, 1)


def _baseline_row(query: MomentQuery, windows: np.ndarray) -> dict:
    """A prediction row (as :meth:`QueryPrediction.to_row`) of normalized windows, ranked as given."""
    seconds = np.asarray(windows) * float(query.duration)
    scores = np.linspace(1.0, 0.5, len(seconds))[:, None]
    return QueryPrediction(
        qid=json_qid(query.query_id), vid=query.video_id, query=query.query, duration=float(query.duration),
        windows=np.concatenate([seconds, scores], 1), relevant_windows=[tuple(w) for w in query.windows],
        num_frames=0,
    ).to_row()


@torch.no_grad()
def localize_queries(ctx: RunContext, model, queries: Sequence[MomentQuery], options: dict) -> list[QueryPrediction]:
    """Predictions for every query whose video decodes, in query order."""
    groups = group_queries_by_video(queries)
    found: dict[int, QueryPrediction] = {}
    for batch in encode_videos(ctx.clips, model, groups, level="frames", desc="localize"):
        for qi, prediction in _localize_batch(ctx, model, batch, groups, queries, options):
            found[qi] = prediction
    if not found:
        raise RuntimeError(f"{ctx.spec.name}: no video could be decoded")
    return [found[i] for i in sorted(found)]


def _localize_batch(ctx: RunContext, model, batch: dict, groups: Sequence[VideoGroup],
                    queries: Sequence[MomentQuery], options: dict):
    max_length = ctx.config.text.max_length
    feats, mask = frame_features(model, batch)
    grid = at_feature_rate(batch, model_stride(model))  # one timestamp per feature position
    members = [(b, qi) for b, g in enumerate(batch["index"].tolist()) for qi in groups[g].queries]
    rows = torch.tensor([b for b, _ in members], dtype=torch.long)
    texts = [queries[qi].query for _, qi in members]
    grounded = GROUNDING in ctx.model_capabilities
    highlights = options["protocol"] == "qvhighlights"
    similarity = (query_frame_similarity(model, feats, rows, texts, max_length).cpu()
                  if highlights or not grounded else None)
    if grounded:
        start, end = query_moment_logits(model, feats, mask, rows, texts, max_length)
        start, end = start.float().cpu(), end.float().cpu()
    for j, (b, qi) in enumerate(members):
        query = queries[qi]
        real = int(grid["frame_mask"][b].sum())
        timestamps = grid["timestamps"][b, :real].double().numpy()
        duration = float(query.duration) if query.duration else estimate_duration(timestamps)
        bounds = frame_bounds(timestamps, duration)
        if grounded:
            ranked = rank_windows_in_seconds(start[j : j + 1, :real], end[j : j + 1, :real], bounds,
                                             options["max_window_frames"])[0]
        else:
            scores = curve_window_scores(similarity[j : j + 1, :real], options["max_window_frames"])
            ranked = rank_scored_windows(scores, bounds)[0]
        if highlights:
            chosen = select_windows(ranked, float(options["nms_threshold"]), int(options["top_windows"]))
            saliency = clip_saliency(similarity[j, :real].double().numpy(), bounds, duration)
        else:
            chosen, saliency = select_windows(ranked, *SINGLE_NMS), None
        yield qi, QueryPrediction(
            qid=json_qid(query.query_id), vid=query.video_id, query=query.query, duration=duration,
            windows=chosen.windows, relevant_windows=[tuple(w) for w in query.windows], num_frames=real,
            saliency=saliency,
            relevant_clip_ids=None if not highlights else list(query.saliency_clip_ids or ()),
            saliency_scores=None if not highlights else [list(s) for s in query.saliency_scores or ()],
        )
