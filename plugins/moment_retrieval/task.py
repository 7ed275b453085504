"""Runs a moment-retrieval task: optional finetuning, then localization of every query.

Frames are sampled over the whole video (``video.sampling``); each video is decoded once and
localizes all of its queries. Windows are ranked by ``p_start * p_end`` (``s <= e``), mapped to
seconds with the decoded frames' timestamps, and reduced to what the protocol scores: 2D-TAN's
NMS (IoU 0.5, 5 windows) for ``single``, NMS at ``options.nms_threshold`` and the first
``options.top_windows`` for ``qvhighlights`` (whose highlight scores are the cosine of each frame
with the query, per 2-second clip).
"""

from __future__ import annotations

import difflib
import math
from typing import Sequence

import torch

from tempvl_bench.clips import ClipLoaderFactory
from tempvl_bench.runner import RunContext, TaskOutput
from tempvl_core.data.records import MomentQuery
from tempvl_core.model.clip_backbone import at_feature_rate, model_stride
from tempvl_plugins.moment_retrieval.datasets import ADAPTERS, VideoGroup, group_by_video
from tempvl_plugins.moment_retrieval.decoding import (
    clip_saliency,
    estimate_duration,
    frame_bounds,
    rank_windows,
    select_windows,
)
from tempvl_plugins.moment_retrieval.records import (
    QueryPrediction,
    json_qid,
    metrics_from_rows,
    write_moment_detr,
)
from tempvl_plugins.moment_retrieval.scoring import (
    query_frame_similarity,
    query_moment_logits,
    video_frame_features,
)

#: 2D-TAN's evaluation: NMS at IoU 0.5, up to max(R@n) = 5 windows.
SINGLE_NMS = (0.5, 5)
DEFAULT_OPTIONS = {"nms_threshold": 0.7, "top_windows": 10, "max_window_frames": None, "saliency_loss_weight": 0.0}


def _options(ctx: RunContext) -> dict:
    """The task's ``options`` with defaults, checked: errors name the file and the key."""
    where = f"{ctx.config.source}: key 'options"
    unknown = sorted(set(ctx.config.options) - set(DEFAULT_OPTIONS) - {"protocol"})
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(DEFAULT_OPTIONS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        allowed = ", ".join(["protocol", *DEFAULT_OPTIONS])
        raise ValueError(f"{where}.{unknown[0]}': unknown option.{hint} Allowed: {allowed}")
    options = {**DEFAULT_OPTIONS, **ctx.config.options}
    if options.get("protocol") not in ("single", "qvhighlights"):
        raise ValueError(f"{where}.protocol': expected single or qvhighlights, got {options.get('protocol')!r}")
    checks = {
        "nms_threshold": lambda v: isinstance(v, (int, float)) and 0 < v <= 1,
        "top_windows": lambda v: _positive_int(v),
        "max_window_frames": lambda v: v is None or _positive_int(v),
        "saliency_loss_weight": lambda v: isinstance(v, (int, float)) and v >= 0,
    }
    expected = {"nms_threshold": "a number in (0, 1]", "top_windows": "a positive integer",
                "max_window_frames": "null or a positive integer", "saliency_loss_weight": "a number >= 0"}
    for key, ok in checks.items():
        if not ok(options[key]) or isinstance(options[key], bool):
            raise ValueError(f"{where}.{key}': expected {expected[key]}, got {options[key]!r}")
    return options


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def run_moment_retrieval(ctx: RunContext) -> TaskOutput:
    adapter = ADAPTERS[ctx.config.dataset]
    options = _options(ctx)
    split = ctx.config.splits.eval
    queries, files = adapter.load(ctx.annotation_dir, split)
    queries = ctx.limited(queries)
    clips = ClipLoaderFactory(ctx)
    model = ctx.model()
    if ctx.mode == "finetune":
        train_queries, train_files = adapter.load(ctx.annotation_dir, ctx.train_split)
        files = train_files + files
        from tempvl_plugins.moment_retrieval.training import finetune_moments

        finetune_moments(ctx, model, train_queries, clips, float(options["saliency_loss_weight"]))
    model.eval()
    predictions, failed = localize_queries(ctx, model, queries, clips, options)
    rows = [p.to_row() for p in predictions]
    # A QVHighlights length bucket without ground truth has no value (NaN in the reference):
    # leave it out rather than report a number.
    metrics = {k: v for k, v in metrics_from_rows(rows, options["protocol"]).items() if not math.isnan(v)}
    write_moment_detr(rows, ctx.run_dir)
    return TaskOutput(metrics=metrics, split=split, num_samples=len(rows), predictions=rows,
                      failed_videos=failed, annotation_files=files)


@torch.no_grad()
def localize_queries(ctx: RunContext, model, queries: Sequence[MomentQuery], clips: ClipLoaderFactory,
                     options: dict) -> tuple[list[QueryPrediction], list[dict]]:
    """Predictions for every query whose video decodes (query order), and the failed videos."""
    groups = group_by_video(queries)
    found: dict[int, QueryPrediction] = {}
    batches = clips.batches(groups, train=False, desc="localize")
    for batch in batches:
        for qi, prediction in _localize_batch(ctx, model, batch, groups, queries, options):
            found[qi] = prediction
    if not found:
        raise RuntimeError(f"{ctx.spec.name}: no video could be decoded")
    return [found[i] for i in sorted(found)], batches.failed_videos


def _localize_batch(ctx: RunContext, model, batch: dict, groups: Sequence[VideoGroup],
                    queries: Sequence[MomentQuery], options: dict):
    max_length = ctx.config.text.max_length
    feats, mask = video_frame_features(model, batch["frames"], batch["frame_mask"])
    grid = at_feature_rate(batch, model_stride(model))  # one timestamp per feature position
    members = [(b, qi) for b, g in enumerate(batch["index"].tolist()) for qi in groups[g].queries]
    rows = torch.tensor([b for b, _ in members], dtype=torch.long)
    texts = [queries[qi].query for _, qi in members]
    start, end = query_moment_logits(model, feats, mask, rows, texts, max_length)
    highlights = options["protocol"] == "qvhighlights"
    similarity = query_frame_similarity(model, feats, rows, texts, max_length).cpu() if highlights else None
    start, end = start.float().cpu(), end.float().cpu()
    for j, (b, qi) in enumerate(members):
        query = queries[qi]
        real = int(grid["frame_mask"][b].sum())
        timestamps = grid["timestamps"][b, :real].double().numpy()
        duration = float(query.duration) if query.duration else estimate_duration(timestamps)
        bounds = frame_bounds(timestamps, duration)
        ranked = rank_windows(start[j : j + 1, :real], end[j : j + 1, :real], bounds,
                              options["max_window_frames"])[0]
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
