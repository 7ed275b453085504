"""Moment retrieval metrics: single-moment (2D-TAN) and QVHighlights (Moment-DETR) protocols.

Single moment, as 2D-TAN ``lib/core/eval.py``: candidates in rank order go through greedy NMS
(keep one whose IoU with every kept candidate is <= 0.5, stop after 5 kept); R@n,IoU=m is a hit
when one of the first n kept candidates has IoU > m (strict); mIoU is the mean IoU of the top-1.

QVHighlights, as Moment-DETR ``standalone_eval/eval.py``: R1@t scores the FIRST listed window
against the ground-truth window it overlaps most (IoU >= t); mAP uses the first 10 windows,
ActivityNet-style AP per query (thresholds 0.5:0.95 step 0.05 as decimals), averaged over
queries; short/middle/long keep ground-truth windows with length in (0,10], (10,30], (30,150].
All values in percent, full precision (the reference rounds to 2 decimals).
"""

from __future__ import annotations

from typing import Hashable, Mapping, Sequence

import numpy as np

from tempvl_bench.metrics.highlights import highlight_metrics, highlight_outcomes
from tempvl_bench.metrics.moment_records import MomentGroundTruth, MomentPrediction
from tempvl_bench.metrics.tal import SegmentTable, average_precision_per_class

SINGLE_THRESHOLDS: tuple[float, ...] = (0.3, 0.5, 0.7)
SINGLE_RECALLS: tuple[int, ...] = (1, 5)
#: Moment-DETR formats np.linspace(0.5, 0.95, 10) to 2 decimals: exact decimals, unlike TAL.
QVH_MAP_THRESHOLDS: tuple[float, ...] = tuple(float(f"{t:.2f}") for t in np.linspace(0.5, 0.95, 10))
QVH_R1_THRESHOLDS: tuple[float, ...] = (0.5, 0.7)
QVH_MAX_PRED_WINDOWS = 10
QVH_LENGTH_BUCKETS: dict[str, tuple[float, float]] = {"short": (0, 10), "middle": (10, 30), "long": (30, 150)}


def _iou_hull(a_s: np.ndarray, a_e: np.ndarray, b_s: np.ndarray, b_e: np.ndarray) -> np.ndarray:
    """IoU with the union taken as the hull (max end - min start), 0 when that is 0.

    Both references use this form for paired IoU; for overlapping windows it is the true union,
    and without overlap the intersection is 0 anyway. 0/0 (identical zero-length windows) is 0
    here; 2D-TAN would produce NaN and a NaN mIoU (documented deviation).
    """
    inter = np.maximum(0.0, np.minimum(a_e, b_e) - np.maximum(a_s, b_s))
    union = np.maximum(0.0, np.maximum(a_e, b_e) - np.minimum(a_s, b_s))
    return np.divide(inter, union, out=np.zeros_like(inter, dtype=np.float64), where=union != 0)


def nms_keep(windows: np.ndarray, threshold: float = 0.5, top_k: int = 5) -> np.ndarray:
    """Indices kept by 2D-TAN's greedy NMS over windows in rank order (IoU <= threshold survives)."""
    starts, ends = windows[:, 0], windows[:, 1]
    lengths = ends - starts
    remaining = np.arange(len(windows))
    keep: list[int] = []
    while remaining.size and len(keep) < top_k:
        i, rest = remaining[0], remaining[1:]
        keep.append(int(i))
        inter = np.maximum(0.0, np.minimum(ends[i], ends[rest]) - np.maximum(starts[i], starts[rest]))
        with np.errstate(divide="ignore", invalid="ignore"):
            overlap = inter / (lengths[i] + lengths[rest] - inter)
        remaining = rest[overlap <= threshold]  # NaN (0/0) is suppressed, as in the reference
    return np.asarray(keep, dtype=np.int64)


def _as_windows(qid: Hashable, windows: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    array = np.asarray(windows, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] not in (2, 3):
        raise ValueError(f"query {qid!r}: expected a non-empty list of [start, end(, score)] windows, "
                         f"got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"query {qid!r}: windows contain NaN or infinite values")
    return array


def _check_qids(pred_qids: set, gt_qids: set) -> None:
    if pred_qids != gt_qids:
        missing, unknown = sorted(map(str, gt_qids - pred_qids)), sorted(map(str, pred_qids - gt_qids))
        raise ValueError(f"predictions and ground truth must cover the same queries: "
                         f"{len(missing)} without prediction {missing[:5]}, "
                         f"{len(unknown)} unknown {unknown[:5]}")


def moment_metrics_single(predictions: Mapping[Hashable, Sequence[Sequence[float]]],
                          ground_truth: Mapping[Hashable, Sequence[float]],
                          thresholds: Sequence[float] = SINGLE_THRESHOLDS,
                          recalls: Sequence[int] = SINGLE_RECALLS,
                          nms_threshold: float = 0.5) -> dict[str, float]:
    """2D-TAN protocol: ``mr/R<n>@<m>`` for each recall n and IoU m, and ``mr/mIoU`` (percent).

    ``predictions[qid]`` lists candidate windows in rank order (scores, if any, are ignored:
    the order is the ranking); ``ground_truth[qid]`` is one ``(start, end)`` window.
    """
    hits, top1 = _single_query_outcomes(predictions, ground_truth, thresholds, recalls, nms_threshold)
    out: dict[str, float] = {}
    for j, r in enumerate(recalls):
        for i, t in enumerate(thresholds):
            out[f"mr/R{r}@{t:g}"] = float(hits[:, i, j].sum() / len(ground_truth)) * 100
    out["mr/mIoU"] = float(np.mean(top1)) * 100
    return out


def moment_outcomes_single(predictions: Mapping[Hashable, Sequence[Sequence[float]]],
                           ground_truth: Mapping[Hashable, Sequence[float]],
                           thresholds: Sequence[float] = SINGLE_THRESHOLDS,
                           recalls: Sequence[int] = SINGLE_RECALLS,
                           nms_threshold: float = 0.5) -> dict[str, np.ndarray]:
    """The metrics of :func:`moment_metrics_single` per query (0 or 100; IoU in percent), in
    ``ground_truth`` order: each metric is the mean of its array."""
    hits, top1 = _single_query_outcomes(predictions, ground_truth, thresholds, recalls, nms_threshold)
    out = {f"mr/R{r}@{t:g}": 100.0 * hits[:, i, j] for j, r in enumerate(recalls) for i, t in enumerate(thresholds)}
    out["mr/mIoU"] = 100.0 * top1
    return out


def single_top1_outcomes(top1_iou: np.ndarray,
                         thresholds: Sequence[float] = SINGLE_THRESHOLDS) -> dict[str, np.ndarray]:
    """``mr/R1@m`` and ``mr/mIoU`` of :func:`moment_outcomes_single` from top-1 IoUs of any shape
    (e.g. ``[queries, draws]`` for a predictor that draws its window: average the last axis)."""
    overlap = np.asarray(top1_iou, dtype=np.float64)
    out = {f"mr/R1@{t:g}": 100.0 * (overlap > t) for t in thresholds}
    out["mr/mIoU"] = 100.0 * overlap
    return out


def _single_query_outcomes(predictions, ground_truth, thresholds, recalls, nms_threshold):
    """(queries x thresholds x recalls) hits and the top-1 IoU of every query."""
    _check_qids(set(predictions), set(ground_truth))
    max_recall = max(recalls)
    hits = np.zeros((len(ground_truth), len(thresholds), len(recalls)), dtype=bool)
    top1 = np.zeros(len(ground_truth))
    for q, (qid, gt_window) in enumerate(ground_truth.items()):
        windows = _as_windows(qid, predictions[qid])
        gt_s, gt_e = (float(v) for v in gt_window)
        kept = windows[nms_keep(windows, nms_threshold, max_recall)]
        overlap = _iou_hull(kept[:, 0], kept[:, 1], np.float64(gt_s), np.float64(gt_e))
        top1[q] = overlap[0]
        for i, t in enumerate(thresholds):
            for j, r in enumerate(recalls):
                hits[q, i, j] = bool((overlap[:r] > t).any())
    return hits, top1


def _first_window_recall(predictions: Sequence[MomentPrediction],
                         gt: dict[Hashable, MomentGroundTruth]) -> dict[str, float]:
    ious = _first_window_iou(predictions, gt)
    return {f"mr/R1@{t:g}": float(np.mean(ious >= t)) * 100 for t in QVH_R1_THRESHOLDS}


def _first_window_iou(predictions: Sequence[MomentPrediction], gt: dict[Hashable, MomentGroundTruth]) -> np.ndarray:
    ious = np.zeros(len(predictions))
    for q, pred in enumerate(predictions):
        s, e = pred.windows[0, 0], pred.windows[0, 1]
        gt_windows = np.asarray(gt[pred.qid].windows, dtype=np.float64)
        inter = np.clip(np.minimum(e, gt_windows[:, 1]) - np.maximum(s, gt_windows[:, 0]), 0, None)
        with np.errstate(divide="ignore", invalid="ignore"):
            cross = inter / ((e - s) + (gt_windows[:, 1] - gt_windows[:, 0]) - inter)
        best = gt_windows[int(np.argmax(cross))]  # first maximum; NaN wins, as np.argmax does
        ious[q] = _iou_hull(np.float64(s), np.float64(e), best[0], best[1])
    return ious


def _query_map(predictions: Sequence[MomentPrediction], gt: dict[Hashable, MomentGroundTruth],
               length_range: tuple[float, float] | None) -> np.ndarray:
    """Mean over queries of per-query AP at each threshold (fraction), for one length bucket."""
    _, ap = _query_ap(predictions, gt, length_range)
    if ap.shape[1] == 0:  # an empty bucket: NaN as the reference's mean of [], without numpy's warning
        return np.full(ap.shape[0], np.nan)
    return ap.mean(axis=1)


def _query_ap(predictions: Sequence[MomentPrediction], gt: dict[Hashable, MomentGroundTruth],
              length_range: tuple[float, float] | None) -> tuple[list[str], np.ndarray]:
    """The queries with ground truth in the bucket (as strings) and their AP (thresholds x queries)."""
    gt_rows: list[tuple] = []
    for query in gt.values():
        for s, e in query.windows:
            if length_range is None or length_range[0] < e - s <= length_range[1]:
                gt_rows.append((str(query.qid), float(s), float(e)))
    kept_qids = {row[0] for row in gt_rows}
    pred_rows: list[tuple] = []
    for pred in predictions:
        if str(pred.qid) in kept_qids:
            pred_rows.extend((str(pred.qid), float(w[0]), float(w[1]), float(w[2]))
                             for w in pred.windows[:QVH_MAX_PRED_WINDOWS])
    if not gt_rows:
        # No query in this bucket: the reference averages an empty list (NaN); so do we.
        return [], np.full((len(QVH_MAP_THRESHOLDS), 0), np.nan)
    # Each query is its own "class" with a single "video": AP per class = AP per query.
    g_q, g_s, g_e = zip(*gt_rows)
    p_q, p_s, p_e, p_sc = zip(*pred_rows)
    truth = SegmentTable(list(g_q), list(g_q), np.array(g_s), np.array(g_e))
    preds = SegmentTable(list(p_q), list(p_q), np.array(p_s), np.array(p_e), np.array(p_sc))
    return average_precision_per_class(truth, preds, QVH_MAP_THRESHOLDS)


def qvhighlights_metrics(predictions: Sequence[MomentPrediction],
                         ground_truth: Sequence[MomentGroundTruth]) -> dict[str, float]:
    """Moment-DETR's moment-retrieval metrics, plus highlight metrics when saliency is present.

    Highlight metrics (``hd/*``) are computed when every prediction carries ``saliency`` and
    every ground-truth query carries ``relevant_clip_ids``/``saliency_scores``.
    """
    gt = _checked_qvhighlights(predictions, ground_truth)
    out = _first_window_recall(predictions, gt)
    full = _query_map(predictions, gt, None)
    out["mr/mAP@0.5"] = float(full[QVH_MAP_THRESHOLDS.index(0.5)]) * 100
    out["mr/mAP@0.75"] = float(full[QVH_MAP_THRESHOLDS.index(0.75)]) * 100
    out["mr/mAP@avg"] = float(np.mean(full)) * 100
    for name, length_range in QVH_LENGTH_BUCKETS.items():
        out[f"mr/mAP-{name}"] = float(np.mean(_query_map(predictions, gt, length_range))) * 100
    if _with_saliency(predictions):
        out.update(highlight_metrics(predictions, gt))
    return out


def qvhighlights_outcomes(predictions: Sequence[MomentPrediction],
                          ground_truth: Sequence[MomentGroundTruth]) -> dict[str, np.ndarray]:
    """The metrics of :func:`qvhighlights_metrics` per query, in ``predictions`` order (percent;
    NaN where a query has no ground truth in a length bucket): each is its array's NaN-ignoring mean."""
    gt = _checked_qvhighlights(predictions, ground_truth)
    ious = _first_window_iou(predictions, gt)
    out = {f"mr/R1@{t:g}": 100.0 * (ious >= t) for t in QVH_R1_THRESHOLDS}
    position = {str(p.qid): q for q, p in enumerate(predictions)}

    def per_query(length_range, column) -> np.ndarray:
        qids, ap = _query_ap(predictions, gt, length_range)
        values = np.full(len(predictions), np.nan)
        values[[position[q] for q in qids]] = 100.0 * (ap.mean(axis=0) if column is None else ap[column])
        return values

    out["mr/mAP@0.5"] = per_query(None, QVH_MAP_THRESHOLDS.index(0.5))
    out["mr/mAP@0.75"] = per_query(None, QVH_MAP_THRESHOLDS.index(0.75))
    out["mr/mAP@avg"] = per_query(None, None)
    for name, length_range in QVH_LENGTH_BUCKETS.items():
        out[f"mr/mAP-{name}"] = per_query(length_range, None)
    if _with_saliency(predictions):
        out.update(highlight_outcomes(predictions, gt))
    return out


def _with_saliency(predictions: Sequence[MomentPrediction]) -> bool:
    with_saliency = [p.saliency is not None for p in predictions]
    if any(with_saliency) and not all(with_saliency):
        raise ValueError("some predictions carry pred_saliency_scores and others do not")
    return any(with_saliency)


def _checked_qvhighlights(predictions: Sequence[MomentPrediction],
                          ground_truth: Sequence[MomentGroundTruth]) -> dict[Hashable, MomentGroundTruth]:
    gt = {query.qid: query for query in ground_truth}
    if len(gt) != len(ground_truth):
        raise ValueError("ground truth lists a qid more than once")
    if len({p.qid for p in predictions}) != len(predictions):
        raise ValueError("predictions list a qid more than once")
    _check_qids({p.qid for p in predictions}, set(gt))
    for pred in predictions:
        if pred.windows.ndim != 2 or pred.windows.shape[0] == 0 or pred.windows.shape[1] != 3:
            raise ValueError(f"query {pred.qid!r}: pred_relevant_windows must be a non-empty list of "
                             f"[start, end, score], got shape {pred.windows.shape}")
        if not gt[pred.qid].windows:
            raise ValueError(f"query {pred.qid!r}: ground truth has no relevant_windows")
    return gt
