"""QVHighlights highlight detection (HIT@1 and mAP), as Moment-DETR ``standalone_eval/eval.py``.

A video of ``duration`` seconds has ``int(duration / 2)`` two-second clips; unlisted clips score 0
for all 3 annotators. Labels are binarised at >= 2 (Fair), 3 (Good), 4 (VeryGood).
HIT@1: the clip with the highest predicted score (first one on ties; 0 if past the last clip) is a
hit when any annotator marks it positive. AP: per query and annotator, the predicted scores are
truncated or zero-padded to the clip count, and AP is the mean of the running-max precision at
each distinct recall of the precision-recall curve, exactly the points scikit-learn's
``precision_recall_curve`` returns (the reference calls it; we compute the same curve directly,
checked against scikit-learn in the tests, because 14k scikit-learn calls take seconds).
"""

from __future__ import annotations

from typing import Hashable

import numpy as np

from tempvl_bench.metrics.moment_records import MomentPrediction, MomentGroundTruth

CLIP_SECONDS = 2
SALIENCY_LEVELS: dict[str, int] = {"Fair": 2, "Good": 3, "VeryGood": 4}
N_ANNOTATORS = 3


def clip_labels(query: MomentGroundTruth) -> np.ndarray:
    """Per-clip annotator scores (n_clips x 3), zeros for clips not listed as relevant."""
    if query.relevant_clip_ids is None or query.saliency_scores is None:
        raise ValueError(f"query {query.qid!r}: highlight metrics need relevant_clip_ids and saliency_scores")
    n_clips = int(query.duration / CLIP_SECONDS)
    if n_clips == 0:
        raise ValueError(f"query {query.qid!r}: duration {query.duration} s is shorter than one "
                         f"{CLIP_SECONDS}-second clip; highlight metrics need at least one")
    labels = np.zeros((n_clips, N_ANNOTATORS))
    ids = np.asarray(query.relevant_clip_ids, dtype=np.int64)
    scores = np.asarray(query.saliency_scores, dtype=np.float64)
    if scores.shape != (ids.size, N_ANNOTATORS):
        raise ValueError(f"query {query.qid!r}: saliency_scores must be {ids.size} x {N_ANNOTATORS}, "
                         f"got shape {scores.shape}")
    if ids.size and (ids.min() < 0 or ids.max() >= n_clips):
        raise ValueError(f"query {query.qid!r}: relevant_clip_ids must lie in 0..{n_clips - 1} "
                         f"(duration {query.duration} s), got {int(ids.max())}")
    labels[ids] = scores
    return labels


def ranking_ap(y_true: np.ndarray, y_score: np.ndarray) -> np.ndarray:
    """Moment-DETR's ``get_ap`` (interpolated, not 11-point) for each column of ``y_true``.

    ``y_true``: (n, k) binary; ``y_score``: (n,). A column with a single label value gives 0
    (all negative) or 1 (all positive), as the reference does.
    """
    order = np.argsort(y_score, kind="mergesort")[::-1]
    sorted_scores = y_score[order]
    # The curve has one point per distinct score: the last index of each tie block.
    last = np.r_[np.flatnonzero(np.diff(sorted_scores)), sorted_scores.size - 1]
    tps = np.cumsum(y_true[order], axis=0)[last]
    fps = (last + 1)[:, None] - tps
    positives = tps[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        # scikit-learn's order: recall decreasing, then the (recall 0, precision 1) end point.
        precision = np.vstack(((tps / (tps + fps))[::-1], np.ones((1, tps.shape[1]))))
        recall = np.vstack(((tps / positives)[::-1], np.zeros((1, tps.shape[1])))).astype(np.float32)
    precision = np.maximum.accumulate(precision, axis=0)
    steps = np.diff(recall, axis=0) != 0
    out = np.zeros(y_true.shape[1])
    for k in range(y_true.shape[1]):
        chosen = precision[:-1][steps[:, k], k]
        if chosen.size:  # sum / count is exactly what np.mean computes, without its overhead
            out[k] = chosen.sum() / chosen.size
    single_valued = (positives == 0) | (positives == y_true.shape[0])
    out[single_valued] = (positives[single_valued] > 0).astype(np.float64)
    return out


def _fit_scores(scores: np.ndarray, n_clips: int) -> np.ndarray:
    if scores.size >= n_clips:
        return scores[:n_clips].astype(np.float64)
    padded = np.zeros(n_clips)
    padded[:scores.size] = scores
    return padded


def highlight_metrics(predictions: list[MomentPrediction], gt: dict[Hashable, MomentGroundTruth]) -> dict[str, float]:
    """``hd/mAP``, ``hd/HIT@1`` (VeryGood) and ``hd/mAP@<level>``, ``hd/HIT@1@<level>`` (Fair, Good)."""
    return {name: float(np.mean(values)) for name, values in highlight_outcomes(predictions, gt).items()}


def highlight_outcomes(predictions: list[MomentPrediction], gt: dict[Hashable, MomentGroundTruth]
                       ) -> dict[str, np.ndarray]:
    """Per query (percent): AP averaged over the annotators and HIT@1 of the best annotator;
    the metrics of :func:`highlight_metrics` are their means."""
    levels = list(SALIENCY_LEVELS.items())
    hits = np.zeros((len(levels), len(predictions), N_ANNOTATORS))
    aps = np.zeros((len(levels), len(predictions), N_ANNOTATORS))
    for q, pred in enumerate(predictions):
        scores = np.asarray(pred.saliency, dtype=np.float64)
        if scores.ndim != 1 or scores.size == 0 or not np.isfinite(scores).all():
            raise ValueError(f"query {pred.qid!r}: pred_saliency_scores must be a non-empty list of finite numbers")
        labels = clip_labels(gt[pred.qid])
        # Columns: (level, annotator) pairs, all ranked by the same scores in one pass.
        binary = np.concatenate([(labels >= minimum) for _, minimum in levels], axis=1).astype(np.float64)
        best = int(np.argmax(scores))  # first maximum of the full list
        if best < binary.shape[0]:
            hits[:, q] = binary[best].reshape(len(levels), N_ANNOTATORS)
        aps[:, q] = ranking_ap(binary, _fit_scores(scores, binary.shape[0])).reshape(len(levels), N_ANNOTATORS)
    out: dict[str, np.ndarray] = {}
    for i, (level, _) in enumerate(levels):
        suffix = "" if level == "VeryGood" else f"@{level}"
        out[f"hd/mAP{suffix}"] = np.mean(aps[i], axis=1) * 100
        out[f"hd/HIT@1{suffix}"] = np.max(hits[i], axis=1) * 100
    return out
