"""Trivial predictors fitted on training statistics only: what a model must beat.

One implementation, shared by the families' baselines steps and the localization study:
windows in normalized time (a fraction of the video) for moment retrieval, the majority
answer for QA, the class-prior segments for temporal action localization.
"""

from __future__ import annotations

from collections import Counter
from typing import Hashable, Iterable, Sequence

import numpy as np


def window_iou(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """IoU of ``[..., 2]`` windows, the union taken as the hull (2D-TAN ``lib/core/eval.py``)."""
    inter = np.clip(np.minimum(pred[..., 1], gt[..., 1]) - np.maximum(pred[..., 0], gt[..., 0]), 0, None)
    hull = np.maximum(pred[..., 1], gt[..., 1]) - np.minimum(pred[..., 0], gt[..., 0])
    return np.where(hull > 0, inter / np.where(hull > 0, hull, 1), 0.0)


def frame_windows(n: int) -> np.ndarray:
    """Every window of whole frames ``[s/n, (e+1)/n]`` (``s <= e``) in normalized time."""
    s, e = np.triu_indices(n)
    return np.stack([s / n, (e + 1) / n], 1)


def best_constant_window(normalized_gt: np.ndarray, frames: int, threshold: float = 0.5) -> np.ndarray:
    """The frame window (normalized time) with the best R1@``threshold`` on the training windows
    ``[N, 2]`` (mean IoU breaks ties): the strongest predictor that never looks at the video
    or the text."""
    candidates = frame_windows(frames)
    overlap = window_iou(candidates[:, None, :], np.asarray(normalized_gt, dtype=np.float64)[None, :, :])
    score = (overlap > threshold).mean(1) + 1e-6 * overlap.mean(1)
    return candidates[int(np.argmax(score))]


def sampled_prior_windows(normalized_train: np.ndarray, queries: int, per_query: int, seed: int) -> np.ndarray:
    """``[queries, per_query, 2]`` windows drawn with replacement from the training windows."""
    rng = np.random.default_rng(seed)
    train = np.asarray(normalized_train, dtype=np.float64)
    return train[rng.integers(0, len(train), size=(queries, per_query))]


def majority(values: Iterable[Hashable]) -> Hashable:
    """The most frequent value (the first seen among equally frequent ones)."""
    counts = Counter(values)
    if not counts:
        raise ValueError("no training values to take the majority of")
    return max(counts, key=lambda v: counts[v])  # max keeps the first maximal key: insertion order


def class_prior_segments(labels: Sequence[str], normalized: np.ndarray) -> dict[str, tuple[float, float, float]]:
    """Per training class: (mean normalized start, mean normalized end, class frequency)."""
    labels = list(labels)
    normalized = np.asarray(normalized, dtype=np.float64).reshape(-1, 2)
    out = {}
    for label in dict.fromkeys(labels):
        mask = np.array([lab == label for lab in labels])
        start, end = normalized[mask].mean(axis=0)
        out[label] = (float(start), float(end), float(mask.mean()))
    return out
