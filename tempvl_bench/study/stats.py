"""Bootstrap intervals over queries and pretraining seeds, and paired differences.

A variant's outcomes are a ``[seeds, queries]`` array. One resample draws seeds and queries
with replacement and averages; the 95% interval is the 2.5th and 97.5th percentile of those
averages. A paired difference draws the *same* seeds (seed k of both variants started from the
same weights) and the same queries for both variants, so the shared difficulty of a query and
the shared initial weights cancel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Estimate:
    mean: float
    low: float
    high: float

    def as_list(self) -> list[float]:
        return [round(self.mean, 4), round(self.low, 4), round(self.high, 4)]


@dataclass(frozen=True)
class Difference(Estimate):
    p_value: float = 1.0

    def as_list(self) -> list[float]:
        return [*super().as_list(), round(self.p_value, 4)]


def _indices(rng: np.random.Generator, seeds: int, queries: int, resamples: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.integers(0, seeds, (resamples, seeds)), rng.integers(0, queries, (resamples, queries))


def _resampled_means(outcomes: np.ndarray, seed_idx: np.ndarray, query_idx: np.ndarray) -> np.ndarray:
    per_seed = outcomes[:, query_idx].mean(2)  # [seeds, resamples]: each seed on each query draw
    return np.take_along_axis(per_seed.T, seed_idx, 1).mean(1)


def bootstrap_mean(outcomes: np.ndarray, *, resamples: int, seed: int) -> Estimate:
    """Mean of ``[seeds, queries]`` outcomes with its 95% bootstrap interval."""
    outcomes = np.atleast_2d(np.asarray(outcomes, dtype=np.float64))
    seed_idx, query_idx = _indices(np.random.default_rng(seed), *outcomes.shape, resamples)
    means = _resampled_means(outcomes, seed_idx, query_idx)
    low, high = np.percentile(means, [2.5, 97.5])
    return Estimate(float(outcomes.mean()), float(low), float(high))


def paired_difference(a: np.ndarray, b: np.ndarray, *, resamples: int, seed: int) -> Difference:
    """``mean(a) - mean(b)`` over the seeds both have (seed k paired with seed k) and the same
    queries, with its 95% interval and a two-sided bootstrap p-value for "no difference"."""
    a, b = np.atleast_2d(np.asarray(a, np.float64)), np.atleast_2d(np.asarray(b, np.float64))
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"paired outcomes need the same queries: {a.shape[1]} vs {b.shape[1]}")
    seeds = min(len(a), len(b))
    diff = a[:seeds] - b[:seeds]
    seed_idx, query_idx = _indices(np.random.default_rng(seed), seeds, diff.shape[1], resamples)
    means = _resampled_means(diff, seed_idx, query_idx)
    low, high = np.percentile(means, [2.5, 97.5])
    p = min(1.0, 2 * min(float((means <= 0).mean()), float((means >= 0).mean())))
    return Difference(float(diff.mean()), float(low), float(high), p_value=max(p, 1.0 / resamples))
