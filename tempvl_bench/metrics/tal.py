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
once. Groups are bucketed by their ground-truth count to keep padding small, and only the
predictions that reach the lowest threshold with some ground truth take part in the rounds
(the others are false positives that lock nothing). AP visits only the TP rows of each class
(:func:`class_average_precision`). Readers hand over :class:`StringColumn` columns, so video ids
and labels are hashed once, while the file is read.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from tempvl_bench.metrics.names import format_threshold
from tempvl_bench.report.uncertainty import RankedAP

#: The reference's thresholds, computed exactly as it does (so 0.8999999999999999 is kept).
ACTIVITYNET_THRESHOLDS: tuple[float, ...] = tuple(float(t) for t in np.linspace(0.5, 0.95, 10))
#: THUMOS14 as ActionFormer's configs write it.
THUMOS14_THRESHOLDS: tuple[float, ...] = (0.3, 0.4, 0.5, 0.6, 0.7)
TAL_PROTOCOLS: dict[str, tuple[float, ...]] = {
    "activitynet": ACTIVITYNET_THRESHOLDS,
    "thumos14": THUMOS14_THRESHOLDS,
}


class StringColumn(Sequence[str]):
    """A column of strings held as its distinct values and one integer code per entry.

    Readers build it while they walk a file (a submission lists its detections video by
    video, so the video column is a run of codes), and the metric groups by the codes instead
    of hashing half a million strings again. ``distinct`` is in order of first appearance and
    every value in it is used, so it is exactly what a walk over the strings would collect.
    """

    def __init__(self, distinct: Sequence[str], codes: np.ndarray) -> None:
        self.distinct = list(distinct)
        self.codes = np.asarray(codes, dtype=np.int64)

    @classmethod
    def from_strings(cls, strings: Sequence[str]) -> "StringColumn":
        table = {value: code for code, value in enumerate(dict.fromkeys(strings))}
        return cls(list(table), np.fromiter(map(table.__getitem__, strings), dtype=np.int64, count=len(strings)))

    @classmethod
    def from_runs(cls, values: Sequence[str], lengths: Sequence[int]) -> "StringColumn":
        """``values[i]`` repeated ``lengths[i]`` times; values must be distinct."""
        lengths = np.asarray(lengths, dtype=np.int64)
        used = np.flatnonzero(lengths > 0)
        return cls([values[i] for i in used.tolist()], np.repeat(np.arange(used.size), lengths[used]))

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, index: Any) -> Any:  # a string, or a list of them for a slice
        if isinstance(index, slice):
            return [self.distinct[c] for c in self.codes[index].tolist()]
        return self.distinct[int(self.codes[index])]

    def __iter__(self) -> Iterator[str]:
        return map(self.distinct.__getitem__, self.codes.tolist())


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
    if isinstance(values, StringColumn):
        recode = [table.setdefault(value, len(table)) for value in values.distinct]
        return np.array(recode, dtype=np.int64)[values.codes]
    for value in dict.fromkeys(values):  # distinct values only: the per-value work stays in C
        table.setdefault(value, len(table))
    return np.fromiter(map(table.__getitem__, values), dtype=np.int64, count=len(values))


def _small_int_dtype(n_codes: int) -> type:
    """int16 where the codes fit: NumPy's stable sort is a radix sort on 16-bit integers."""
    return np.int16 if n_codes <= np.iinfo(np.int16).max else np.int64


def class_average_precision(tp: np.ndarray, bounds: np.ndarray, n_positives: np.ndarray) -> np.ndarray:
    """VOC2011 interpolated AP per class and threshold: (T x C).

    ``tp`` (n x T) holds the ranked TP flags of class c in rows ``bounds[c]:bounds[c + 1]``.
    Only the TP rows are visited: recall steps exactly there, and the right-to-left maximum of
    precision at a TP row is reached at a TP row (precision falls at every false positive).
    Each value is computed with the reference's operations (``c / (k + 1)``, ``c / n_pos``, the
    same subtraction and product) and each (class, threshold) sum runs over the reference's
    steps in its order, with ``np.sum``, so results match it bit for bit.
    """
    n_classes = len(bounds) - 1
    ap = np.zeros((tp.shape[1], n_classes))
    has_predictions = bounds[1:] > bounds[:-1]
    for t in range(tp.shape[1]):
        rows = np.flatnonzero(tp[:, t])
        cls = np.searchsorted(bounds, rows, side="right") - 1
        first = np.searchsorted(cls, np.arange(n_classes + 1))  # each class's TP rows: first[c]:first[c + 1]
        count = np.arange(1, rows.size + 1) - first[cls]  # the cumulative TP count at each TP row
        n_pos = n_positives[cls]
        precision = count / (rows - bounds[cls] + 1)
        steps = (count / n_pos - (count - 1) / n_pos) * _suffix_max(precision, first)
        for c in np.flatnonzero(has_predictions):
            class_steps = steps[first[c]:first[c + 1]]
            if first[c + 1] - first[c] != n_positives[c]:  # recall ends below 1: a last step to 1 at precision 0
                class_steps = np.append(class_steps, 0.0)
            ap[t, c] = np.sum(class_steps)
    return ap


def _suffix_max(values: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Right-to-left running maximum of ``values`` within each run ``first[i]:first[i + 1]``."""
    out = np.empty_like(values)
    for lo, hi in zip(first[:-1].tolist(), first[1:].tolist()):
        if hi > lo:
            out[lo:hi] = np.maximum.accumulate(values[lo:hi][::-1])[::-1]
    return out


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
    n_groups = pred_group_count.size
    # Local layout: predictions of group 0, then group 1, ... (each in score order).
    owner = np.repeat(np.arange(n_groups), pred_group_count)
    within = np.arange(owner.size) - (np.cumsum(pred_group_count) - pred_group_count)[owner]
    local_pred = pred_idx[pred_group_start[owner] + within]
    slots = np.arange(width)
    gt_slot = gt_group_start[owner][:, None] + np.minimum(slots, gt_group_count[owner][:, None] - 1)
    tiou = _pair_tiou(pred_s[local_pred][:, None], pred_e[local_pred][:, None], gt_s[gt_slot], gt_e[gt_slot])
    tiou[slots[None, :] >= gt_group_count[owner][:, None]] = -np.inf  # padding: never eligible
    # A prediction eligible for no ground truth at any threshold is a false positive that locks
    # nothing, so the others match as if it were absent: only the rest go through the rounds.
    lowest = thresholds.min() if thresholds.size else np.inf
    useful = np.flatnonzero(((tiou >= lowest) | np.isnan(tiou)).any(axis=1))
    owner, local_pred, tiou = owner[useful], local_pred[useful], tiou[useful]
    # The reference walks argsort(tiou)[::-1]: NaN first, then descending, ties higher index first.
    walk = np.argsort(tiou, axis=1, kind="stable")[:, ::-1]
    walk_tiou = np.take_along_axis(tiou, walk, axis=1)
    eligible = (walk_tiou[None] >= thresholds[:, None, None]) | np.isnan(walk_tiou)[None]
    count = np.bincount(owner, minlength=n_groups)
    order = np.argsort(-count, kind="stable")  # busiest groups first: the active ones are a prefix
    first_row = np.searchsorted(owner, order)  # rows stay group by group, in score order
    count = count[order]
    locked = np.zeros((thresholds.size, n_groups, width), dtype=bool)
    group = np.arange(n_groups)[:, None]
    for k in range(int(count[0]) if n_groups else 0):
        active = int(np.searchsorted(-count, -k, side="left"))  # groups with more than k
        rows = first_row[:active] + k
        walk_k = walk[rows]
        taken = locked[:, group[:active], walk_k]  # (thresholds, active, width), in walk order
        free = eligible[:, rows] & ~taken
        first = free.argmax(axis=2)
        hit = free.any(axis=2)  # the first free slot is a match exactly when there is one
        tp[local_pred[rows]] = hit.T
        t_idx, g_idx = np.nonzero(hit)
        locked[t_idx, g_idx, walk_k[g_idx, first[t_idx, g_idx]]] = True


def _true_positives(gt_key: np.ndarray, pred_key: np.ndarray, pred_order: np.ndarray,
                    gt: SegmentTable, pred_s: np.ndarray, pred_e: np.ndarray,
                    thresholds: np.ndarray) -> np.ndarray:
    """TP flags (n_predictions x n_thresholds) for predictions keyed by (class, video).

    ``pred_order`` lists the predictions with equal keys together, each group in score order.
    """
    tp = np.zeros((len(pred_key), thresholds.size), dtype=bool)
    gt_order = np.argsort(gt_key, kind="stable")  # file order within a group
    gt_keys, gt_first, gt_count = np.unique(gt_key[gt_order], return_index=True, return_counts=True)
    p_keys, p_first, p_count = _runs(pred_key[pred_order])
    pos = np.searchsorted(gt_keys, p_keys)
    pos_clipped = np.minimum(pos, max(gt_keys.size - 1, 0))
    has_gt = (pos < gt_keys.size) & (gt_keys[pos_clipped] == p_keys) if gt_keys.size else np.zeros(p_keys.size, bool)
    groups = np.flatnonzero(has_gt)
    n_gt = gt_count[pos[groups]]
    widths = 1 << np.ceil(np.log2(n_gt)).astype(np.int64)  # bucket by next power of two
    gt_s, gt_e = gt.starts[gt_order], gt.ends[gt_order]
    for width in sorted(set(widths.tolist())):  # not np.unique: it imports numpy.ma (slow start)
        sel = groups[widths == width]
        _match_bucket(pred_order, p_first[sel], p_count[sel], gt_first[pos[sel]], gt_count[pos[sel]],
                      int(width), pred_s, pred_e, gt_s, gt_e, thresholds, tp)
    return tp


def average_precision_per_class(ground_truth: SegmentTable, predictions: SegmentTable,
                                thresholds: Sequence[float]) -> tuple[list[str], np.ndarray]:
    """AP for every ground-truth class (first-appearance order) at every threshold: (T x C)."""
    ranked = ranked_detections(ground_truth, predictions, thresholds)
    return ranked.classes, class_average_precision(ranked.tp, ranked.bounds, ranked.n_positives)


@dataclass(frozen=True)
class RankedDetections:
    """Predictions matched and ranked as the AP sums them: TP flags (n x T) with each class's
    rows ``bounds[c]:bounds[c + 1]`` in score order, each row's video, and the ground-truth
    instances per (video, class). Matching never crosses videos, so the flags of a video's
    predictions do not depend on the other videos (what the video bootstrap relies on)."""

    classes: list[str]
    videos: list[str]
    tp: np.ndarray
    bounds: np.ndarray
    n_positives: np.ndarray
    pred_video: np.ndarray
    positives: np.ndarray  #: (videos x classes)


def ranked_detections(ground_truth: SegmentTable, predictions: SegmentTable,
                      thresholds: Sequence[float]) -> RankedDetections:
    """Match every prediction (see :class:`RankedDetections`); unknown labels warn and are dropped."""
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
    pred_video = _codes(predictions.video_ids, video_codes)
    scores, starts, ends = predictions.scores, predictions.starts, predictions.ends
    if not known.all():
        keep = np.flatnonzero(known)
        pred_video, pred_label, scores, starts, ends = (a[keep] for a in (pred_video, pred_label, scores, starts, ends))
    n_videos = max(len(video_codes), 1)
    # Score order within a class, ties in submission order: stable sorts (all but the first radix
    # sorts on small integers) give lexsort's order at a fraction of its cost. Sorting that order
    # by video, stably, keeps each (class, video) group together and in score order.
    by_score = np.argsort(-scores, kind="stable")
    class_order = by_score[np.argsort(pred_label[by_score].astype(_small_int_dtype(len(label_codes))), kind="stable")]
    group_order = class_order[np.argsort(pred_video[class_order].astype(_small_int_dtype(n_videos)), kind="stable")]
    tp = _true_positives(gt_label * n_videos + gt_video, pred_label * n_videos + pred_video,
                         group_order, ground_truth, starts, ends, thr)
    n_positives = np.bincount(gt_label, minlength=len(classes))
    bounds = np.searchsorted(pred_label[class_order], np.arange(len(classes) + 1))
    positives = np.zeros((len(video_codes), len(classes)), dtype=np.int64)
    np.add.at(positives, (gt_video, gt_label), 1)
    return RankedDetections(classes, list(video_codes), tp[class_order], bounds, n_positives,  # no predictions: AP 0
                            pred_video[class_order], positives)


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


def tal_class_ap(ground_truth: SegmentTable, predictions: SegmentTable, protocol: str = "activitynet",
                 thresholds: Sequence[float] | None = None) -> dict[str, float]:
    """AP of every ground-truth class averaged over the thresholds (percent): ``tal/mAP@avg``
    is their mean."""
    thresholds = TAL_PROTOCOLS[protocol] if thresholds is None else thresholds
    classes, ap = average_precision_per_class(ground_truth, predictions, thresholds)
    return {c: float(v) * 100 for c, v in zip(classes, ap.mean(axis=0))}


def tal_outcomes(ground_truth: SegmentTable, predictions: SegmentTable, videos: Sequence[str],
                 protocol: str = "activitynet", thresholds: Sequence[float] | None = None) -> dict[str, Any]:
    """The metrics of :func:`tal_metrics` as :class:`~tempvl_bench.report.uncertainty.RankedAP`
    outcomes over ``videos`` (the evaluated videos, which a bootstrap resamples; a video with
    predictions but not listed is appended)."""
    thresholds = TAL_PROTOCOLS[protocol] if thresholds is None else thresholds
    ranked = ranked_detections(ground_truth, predictions, thresholds)
    units = list(dict.fromkeys([*videos, *ranked.videos]))
    position = np.array([units.index(v) for v in ranked.videos], dtype=np.int64)
    positives = np.zeros((len(units), len(ranked.classes)), dtype=np.int64)
    positives[position] = ranked.positives
    pred_unit = position[ranked.pred_video] if ranked.pred_video.size else ranked.pred_video
    names = [f"tal/mAP@{format_threshold(t)}" for t in thresholds]
    out = {name: RankedAP("video", ranked.tp, pred_unit, ranked.bounds, positives, t) for t, name in enumerate(names)}
    out["tal/mAP@avg"] = RankedAP("video", ranked.tp, pred_unit, ranked.bounds, positives, None)
    out["_units"] = units
    return out
