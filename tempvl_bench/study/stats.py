"""The study's cells: means of ``[seeds, queries]`` outcomes with their 95% intervals, and paired
differences, from the crossed mode of :mod:`tempvl_bench.uncertainty` (seeds and queries drawn
independently, with replacement; seed k of one variant paired with seed k of the other, which
started from the same weights, so the shared difficulty of a query and the shared initial
weights cancel). A 1-D array is one seed (a baseline).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tempvl_bench.uncertainty import Crossed, Outcomes, bootstrap_ci, paired_difference

_METRIC = "metric"


@dataclass(frozen=True)
class Estimate:
    mean: float
    low: float
    high: float


@dataclass(frozen=True)
class Difference(Estimate):
    p_value: float = 1.0


def _crossed(values: np.ndarray) -> Outcomes:
    return Outcomes({_METRIC: Crossed("query", values)})


def crossed_estimate(outcomes: np.ndarray, *, resamples: int, seed: int) -> Estimate:
    """Mean of ``[seeds, queries]`` outcomes with its 95% interval."""
    crossed = _crossed(outcomes)
    low, high = bootstrap_ci(crossed, resamples, seed)[_METRIC]
    return Estimate(crossed.metrics[_METRIC].observed, low, high)


def crossed_difference(a: np.ndarray, b: np.ndarray, *, resamples: int, seed: int) -> Difference:
    """``mean(a) - mean(b)`` over the seeds both have (seed k with seed k) and the same queries,
    with its 95% interval and two-sided p-value (:func:`tempvl_bench.uncertainty.paired_difference`)."""
    a, b = np.atleast_2d(np.asarray(a, np.float64)), np.atleast_2d(np.asarray(b, np.float64))
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"paired outcomes need the same queries: {a.shape[1]} vs {b.shape[1]}")
    seeds = min(len(a), len(b))
    test = paired_difference(_crossed(a[:seeds]), _crossed(b[:seeds]), resamples=resamples, seed=seed)[_METRIC]
    return Difference(test["difference"], *test["ci95"], p_value=test["p_value"])
