"""The study's cells: means of ``[seeds, queries]`` outcomes with their 95% intervals, and paired
differences, from the crossed mode of :mod:`tempvl_bench.report.uncertainty` (seeds and queries drawn
independently, with replacement; seed k of one variant paired with seed k of the other, which
started from the same weights, so the shared difficulty of a query and the shared initial
weights cancel). A 1-D array is one seed (a baseline).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tempvl_bench.report.uncertainty import SEEDS, Crossed, Outcomes, bootstrap_ci, paired_difference, resample_indices

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
    with its 95% interval and two-sided p-value (:func:`tempvl_bench.report.uncertainty.paired_difference`)."""
    a, b = np.atleast_2d(np.asarray(a, np.float64)), np.atleast_2d(np.asarray(b, np.float64))
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"paired outcomes need the same queries: {a.shape[1]} vs {b.shape[1]}")
    seeds = min(len(a), len(b))
    test = paired_difference(_crossed(a[:seeds]), _crossed(b[:seeds]), resamples=resamples, seed=seed)[_METRIC]
    return Difference(test["difference"], *test["ci95"], p_value=test["p_value"])


# ------------------------------------------------------------------ ratios (the right-event rate)
#
# The right-event rate is sum(right) / sum(matched) over a model's queries: its denominator, the
# queries whose top-1 matches some event, differs between seeds and variants. It is resampled as
# a ratio (a pooled ratio estimator): each resample draws seeds and queries as the crossed mode
# does and recomputes numerator and denominator on the draw, so the randomness of *which* queries
# are matched is in the interval, and a comparison of two variants compares their rates, not a
# mixture of how often they match and how often the match is right.


def _ratio_samples(num: np.ndarray, den: np.ndarray, index: dict[str, np.ndarray]) -> np.ndarray:
    """The pooled ratio on every resample (NaN where the draw holds no matched query)."""
    def pooled(values: np.ndarray) -> np.ndarray:
        per_seed = values[:, index["query"]].sum(2)  # [seeds, B]
        return np.take_along_axis(per_seed.T, index[SEEDS], 1).sum(1)

    n, d = pooled(num), pooled(den)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(d > 0, n / np.where(d > 0, d, 1), np.nan)


def _observed(num: np.ndarray, den: np.ndarray) -> float:
    return float(num.sum() / den.sum()) if den.sum() > 0 else float("nan")


def _ratio_interval(samples: np.ndarray) -> tuple[float, float]:
    samples = samples[np.isfinite(samples)]
    if samples.size == 0:
        return float("nan"), float("nan")
    low, high = np.percentile(samples, [2.5, 97.5])
    return float(low), float(high)


def _as2d(*arrays: np.ndarray) -> list[np.ndarray]:
    return [np.atleast_2d(np.asarray(a, np.float64)) for a in arrays]


def crossed_ratio(num: np.ndarray, den: np.ndarray, *, resamples: int, seed: int) -> Estimate:
    """``sum(num) / sum(den)`` over ``[seeds, queries]`` with its 95% crossed-bootstrap interval
    (in the units of ``num`` per unit of ``den``: percent when ``num`` is 0/100 and ``den`` 0/1)."""
    num, den = _as2d(num, den)
    index = resample_indices({SEEDS: num.shape[0], "query": num.shape[1]}, resamples, seed)
    return Estimate(_observed(num, den), *_ratio_interval(_ratio_samples(num, den, index)))


def crossed_ratio_difference(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], *,
                             resamples: int, seed: int) -> Difference:
    """``ratio(a) - ratio(b)`` (each ``(num, den)`` over ``[seeds, queries]``) on the same seed and
    query draws (seed k with seed k, over the seeds both have), with its 95% interval and two-sided
    p-value computed as :func:`tempvl_bench.report.uncertainty.paired_difference` does."""
    (na, da), (nb, db) = _as2d(*a), _as2d(*b)
    if na.shape[1] != nb.shape[1]:
        raise ValueError(f"paired outcomes need the same queries: {na.shape[1]} vs {nb.shape[1]}")
    seeds = min(len(na), len(nb))
    na, da, nb, db = na[:seeds], da[:seeds], nb[:seeds], db[:seeds]
    index = resample_indices({SEEDS: seeds, "query": na.shape[1]}, resamples, seed)
    diffs = _ratio_samples(na, da, index) - _ratio_samples(nb, db, index)
    diffs = diffs[np.isfinite(diffs)]
    low, high = _ratio_interval(diffs)
    below, above = (np.sum(diffs <= 0) + 1) / (diffs.size + 1), (np.sum(diffs >= 0) + 1) / (diffs.size + 1)
    return Difference(_observed(na, da) - _observed(nb, db), low, high,
                      p_value=float(min(1.0, 2 * min(below, above))))
