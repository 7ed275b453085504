"""Temporal action localization mAP, matching ActivityNet ``Evaluation/eval_detection.py``.

Conventions (docs/metrics.md): per class, predictions in descending score order (ties keep
submission order: a stable sort, where the reference's order is an accident of its sort);
for each tIoU threshold every prediction walks the ground truths of its video and class in
descending tIoU and takes the first one not yet matched; reaching a tIoU below the threshold
makes it a false positive (tIoU == threshold matches). tIoU = inter / (len_a + len_b - inter),
unclipped; a zero-length prediction on an identical zero-length ground truth gives 0/0 = NaN,
which the reference's ``tiou < t`` test counts as a match, and so do we. AP is interpolated
(VOC2011); a class without predictions has AP 0; predicted labels outside the ground truth's
classes are ignored with a warning (the reference crashes).

Speed: matching only interacts within one (class, video) group, so all groups are processed
together, one "round" (the k-th prediction of every group) at a time, for every threshold at
once. Groups are bucketed by their ground-truth count to keep padding small.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from tempvl_bench.metrics.names import format_threshold

#: The reference's thresholds, computed exactly as it does (so 0.8999999999999999 is kept).
ACTIVITYNET_THRESHOLDS: tuple[float, ...] = tuple(float(t) for t in np.linspace(0.5, 0.95, 10))
#: THUMOS14 as ActionFormer's configs write it.
THUMOS14_THRESHOLDS: tuple[float, ...] = (0.3, 0.4, 0.5, 0.6, 0.7)
TAL_PROTOCOLS: dict[str, tuple[float, ...]] = {
    "activitynet": ACTIVITYNET_THRESHOLDS,
    "thumos14": THUMOS14_THRESHOLDS,
}


@dataclass(frozen=True)
class SegmentTable:
    """Columnar segments: one entry per ground-truth instance or prediction.

    ``scores`` is ``None`` for ground truth. Order matters: ground truth in file order,
    predictions in submission order (it breaks score ties).
    """

    video_ids: Sequence[str]
    labels: Sequence[str]
    starts: np.ndarray
    ends: np.ndarray
    scores: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.video_ids)
        sizes = {len(self.labels), len(self.starts), len(self.ends)}
        if self.scores is not None:
            sizes.add(len(self.scores))
        if sizes != {n}:
            raise ValueError(f"SegmentTable columns differ in length: {sorted(sizes | {n})}")
        object.__setattr__(self, "starts", np.asarray(self.starts, dtype=np.float64))
        object.__setattr__(self, "ends", np.asarray(self.ends, dtype=np.float64))
        if self.scores is not None:
            object.__setattr__(self, "scores", np.asarray(self.scores, dtype=np.float64))

    def __len__(self) -> int:
        return len(self.video_ids)

    def validate(self, what: str) -> None:
        """Raise ``ValueError`` on non-finite values or segments that end before they start."""
        columns = [("start", self.starts), ("end", self.ends)]
        if self.scores is not None:
            columns.append(("score", self.scores))
        for name, column in columns:
            bad = np.flatnonzero(~np.isfinite(column))
            if bad.size:
                i = int(bad[0])
                raise ValueError(f"{what}: {name} is {column[i]} for video {self.video_ids[i]!r} "
                                 f"(entry {i}); expected a finite number")
        bad = np.flatnonzero(self.ends < self.starts)
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"{what}: segment [{self.starts[i]}, {self.ends[i]}] of video "
                             f"{self.video_ids[i]!r} ends before it starts (entry {i})")


def _codes(values: Sequence[str], table: dict[str, int]) -> np.ndarray:
    """Integer code per value, adding unseen values to ``table`` (in order of first appearance)."""
    for value in dict.fromkeys(values):  # distinct values only: the per-value work stays in C
        table.setdefault(value, len(table))
    return np.fromiter(map(table.__getitem__, values), dtype=np.int64, count=len(values))


def _label_dtype(n_labels: int) -> type:
    return np.int16 if n_labels <= np.iinfo(np.int16).max else np.int64


def interpolated_ap(tp: np.ndarray, n_positives: int) -> np.ndarray:
    """VOC2011 interpolated AP of ranked TP flags, one column per threshold: (n, T) -> (T,).

    Elementwise steps are vectorized; each threshold's final sum runs over exactly the recall
    steps the reference sums, in the same order, so results match it bit for bit.
    """
    tp = np.asarray(tp, dtype=np.float64).reshape(len(tp), -1)
    tp_cum = np.cumsum(tp, axis=0)
    fp_cum = np.cumsum(1.0 - tp, axis=0)
    edge = np.zeros((1, tp.shape[1]))
    mprec = np.concatenate((edge, tp_cum / (tp_cum + fp_cum), edge))
    mrec = np.concatenate((edge, tp_cum / n_positives, edge + 1.0))
    mprec = np.maximum.accumulate(mprec[::-1], axis=0)[::-1]
    steps = mrec[1:] != mrec[:-1]
    products = (mrec[1:] - mrec[:-1]) * mprec[1:]
    return np.array([np.sum(products[steps[:, t], t]) for t in range(tp.shape[1])])


def _pair_tiou(ps: np.ndarray, pe: np.ndarray, gs: np.ndarray, ge: np.ndarray) -> np.ndarray:
    # Same operation order as the reference (gt length + prediction length - intersection),
    # so values at a threshold compare identically.
    inter = np.clip(np.minimum(pe, ge) - np.maximum(ps, gs), 0, None)
    union = (ge - gs) + (pe - ps) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter / union


def _runs(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``np.unique(..., return_index=True, return_counts=True)`` of an already sorted array."""
    first = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]) if sorted_keys.size else sorted_keys
    return sorted_keys[first], first, np.diff(np.r_[first, sorted_keys.size])


def _match_bucket(pred_idx: np.ndarray, pred_group_start: np.ndarray, pred_group_count: np.ndarray,
                  gt_group_start: np.ndarray, gt_group_count: np.ndarray, width: int,
                  pred_s: np.ndarray, pred_e: np.ndarray, gt_s: np.ndarray, gt_e: np.ndarray,
                  thresholds: np.ndarray, tp: np.ndarray) -> None:
    """Greedy matching for groups with at most ``width`` ground truths; writes into ``tp``.

    ``pred_idx`` lists prediction indices group by group, each group in score order.
    """
    order = np.argsort(-pred_group_count, kind="stable")  # busiest groups first: active = prefix
    p_start, p_count = pred_group_start[order], pred_group_count[order]
    g_start, g_count = gt_group_start[order], gt_group_count[order]
    n_groups = order.size
    # Local layout: predictions of group 0, then group 1, ... (each in score order).
    local_start = np.concatenate(([0], np.cumsum(p_count)[:-1]))
    owner = np.repeat(np.arange(n_groups), p_count)
    within = np.arange(owner.size) - local_start[owner]
    local_pred = pred_idx[p_start[owner] + within]
    slots = np.arange(width)
    gt_slot = g_start[owner][:, None] + np.minimum(slots, g_count[owner][:, None] - 1)
    tiou = _pair_tiou(pred_s[local_pred][:, None], pred_e[local_pred][:, None], gt_s[gt_slot], gt_e[gt_slot])
    tiou[slots[None, :] >= g_count[owner][:, None]] = -np.inf  # padding: never eligible
    # The reference walks argsort(tiou)[::-1]: NaN first, then descending, ties higher index first.
    walk = np.argsort(tiou, axis=1, kind="stable")[:, ::-1]
    walk_tiou = np.take_along_axis(tiou, walk, axis=1)
    eligible_all = (walk_tiou[None] >= thresholds[:, None, None]) | np.isnan(walk_tiou)[None]
    locked = np.zeros((thresholds.size, n_groups, width), dtype=bool)
    group = np.arange(n_groups)[:, None]
    for k in range(int(p_count[0]) if n_groups else 0):
        active = int(np.searchsorted(-p_count, -k, side="left"))  # groups with more than k
        rows = local_start[:active] + k
        walk_k = walk[rows]
        taken = locked[:, group[:active], walk_k]  # (thresholds, active, width), in walk order
        free = eligible_all[:, rows] & ~taken
        first = free.argmax(axis=2)
        hit = free.any(axis=2)  # the first free slot is a match exactly when there is one
        tp[local_pred[rows]] = hit.T
        t_idx, g_idx = np.nonzero(hit)
        locked[t_idx, g_idx, walk_k[g_idx, first[t_idx, g_idx]]] = True


def _true_positives(gt_key: np.ndarray, pred_key: np.ndarray, pred_rank: np.ndarray,
                    gt: SegmentTable, pred_s: np.ndarray, pred_e: np.ndarray,
                    thresholds: np.ndarray) -> np.ndarray:
    """TP flags (n_predictions x n_thresholds) for predictions keyed by (class, video)."""
    tp = np.zeros((len(pred_key), thresholds.size), dtype=bool)
    gt_order = np.argsort(gt_key, kind="stable")  # file order within a group
    gt_keys, gt_first, gt_count = np.unique(gt_key[gt_order], return_index=True, return_counts=True)
    # Group-major, score order inside: pred_rank is a permutation, so the combined keys are
    # distinct and any sort gives the one order (faster than a two-key lexsort).
    if pred_key.size and int(pred_key.max()) < 2**62 // max(len(pred_key), 1):
        pred_order = np.argsort(pred_key * len(pred_key) + pred_rank)
    else:
        pred_order = np.lexsort((pred_rank, pred_key))
    p_keys, p_first, p_count = _runs(pred_key[pred_order])
    pos = np.searchsorted(gt_keys, p_keys)
    pos_clipped = np.minimum(pos, max(gt_keys.size - 1, 0))
    has_gt = (pos < gt_keys.size) & (gt_keys[pos_clipped] == p_keys) if gt_keys.size else np.zeros(p_keys.size, bool)
    groups = np.flatnonzero(has_gt)
    n_gt = gt_count[pos[groups]]
    widths = 1 << np.ceil(np.log2(n_gt)).astype(np.int64)  # bucket by next power of two
    gt_s, gt_e = gt.starts[gt_order], gt.ends[gt_order]
    for width in np.unique(widths):
        sel = groups[widths == width]
        _match_bucket(pred_order, p_first[sel], p_count[sel], gt_first[pos[sel]], gt_count[pos[sel]],
                      int(width), pred_s, pred_e, gt_s, gt_e, thresholds, tp)
    return tp


def average_precision_per_class(ground_truth: SegmentTable, predictions: SegmentTable,
                                thresholds: Sequence[float]) -> tuple[list[str], np.ndarray]:
    """AP for every ground-truth class (first-appearance order) at every threshold: (T x C)."""
    ground_truth.validate("ground truth")
    if predictions.scores is None:
        raise ValueError("predictions need scores")
    predictions.validate("predictions")
    thr = np.asarray(thresholds, dtype=np.float64)
    label_codes: dict[str, int] = {}
    gt_label = _codes(ground_truth.labels, label_codes)
    classes = list(label_codes)
    pred_label = _codes(predictions.labels, label_codes)
    known = pred_label < len(classes)
    if not known.all():
        unknown = sorted({predictions.labels[i] for i in np.flatnonzero(~known)})
        warnings.warn(f"ignoring {int((~known).sum())} predictions whose labels are not ground-truth "
                      f"classes of the evaluated set: {unknown[:5]}{' ...' if len(unknown) > 5 else ''}",
                      stacklevel=2)
    video_codes: dict[str, int] = {}
    gt_video = _codes(ground_truth.video_ids, video_codes)
    keep = np.flatnonzero(known)
    pred_video = _codes(predictions.video_ids, video_codes)[keep]
    pred_label = pred_label[keep]
    scores = predictions.scores[keep]
    n_videos = max(len(video_codes), 1)
    # Score order within a class, ties in submission order: two stable sorts (the second a
    # radix sort on small integers) give lexsort's order at a fraction of its cost.
    by_score = np.argsort(-scores, kind="stable")
    class_order = by_score[np.argsort(pred_label[by_score].astype(_label_dtype(len(label_codes))), kind="stable")]
    pred_rank = np.empty(keep.size, dtype=np.int64)
    pred_rank[class_order] = np.arange(keep.size)
    tp = _true_positives(gt_label * n_videos + gt_video, pred_label * n_videos + pred_video,
                         pred_rank, ground_truth, predictions.starts[keep], predictions.ends[keep], thr)
    n_positives = np.bincount(gt_label, minlength=len(classes))
    ap = np.zeros((thr.size, len(classes)))
    bounds = np.searchsorted(pred_label[class_order], np.arange(len(classes) + 1))
    for c in range(len(classes)):
        ranked = tp[class_order[bounds[c]:bounds[c + 1]]]
        if ranked.shape[0] == 0:
            continue  # no predictions for this class: AP 0
        ap[:, c] = interpolated_ap(ranked, int(n_positives[c]))
    return classes, ap


def tal_metrics(ground_truth: SegmentTable, predictions: SegmentTable,
                protocol: str = "activitynet", thresholds: Sequence[float] | None = None) -> dict[str, float]:
    """``tal/mAP@<t>`` per threshold and ``tal/mAP@avg``, in percent.

    ``ground_truth`` must hold only the evaluated subset; its labels define the classes.
    ``thresholds`` overrides the protocol's list.
    """
    if thresholds is None:
        if protocol not in TAL_PROTOCOLS:
            raise ValueError(f"unknown TAL protocol {protocol!r}; expected one of {sorted(TAL_PROTOCOLS)}")
        thresholds = TAL_PROTOCOLS[protocol]
    if len(ground_truth) == 0:
        raise ValueError("ground truth has no segments: nothing to evaluate")
    _, ap = average_precision_per_class(ground_truth, predictions, thresholds)
    per_threshold = ap.mean(axis=1)
    out = {f"tal/mAP@{format_threshold(t)}": float(m) * 100 for t, m in zip(thresholds, per_threshold)}
    out["tal/mAP@avg"] = float(per_threshold.mean()) * 100
    return out
