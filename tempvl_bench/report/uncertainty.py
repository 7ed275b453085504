"""Per-query outcomes of a run, their bootstrap intervals and paired comparisons of two runs.

A family's score step returns, beside its aggregate metrics, :class:`Outcomes`: for each metric
the values of its resampling unit (a query, a text, a video, a question) from which the metric
is recomputed. Two kinds exist:

- :class:`PerUnit`: the metric is a statistic of one value per unit (``mean``, ignoring NaN,
  which marks a unit outside the metric's population, e.g. another question type; ``median``;
  ``lower_median`` for CLIP4Clip's torch MdR). Corpus scores that are not such a statistic
  (BLEU, METEOR) carry ``point``: their interval is the per-video scores' interval shifted by
  ``point - statistic(values)``, floored at 0 (an approximation; CIDEr and ROUGE-L are exact means).
- :class:`RankedAP`: ActivityNet-style mAP, recomputed on every resample of videos from the
  ranked TP flags (matching never crosses videos, so a resampled video's predictions keep their
  flags; a video drawn k times weighs k). A class absent from a resample leaves the mean.
- :class:`Crossed`: the crossed mode, a mean over ``[seeds, units]`` values where every seed's
  model (pretrained from that seed) is scored on the same units. A resample draws seeds and units
  independently, both with replacement (a two-level bootstrap), so the interval holds the seed
  spread as well as the units'. Seed k of one run is paired with seed k of the other.

Units are resampled with replacement, ``RESAMPLES`` times from ``numpy.random.default_rng(seed)``,
one index matrix per unit name shared by every metric of that unit (and by both runs of a
paired comparison); with crossed outcomes the seeds' matrix (unit name :data:`SEEDS`) is drawn
first. Intervals are percentile intervals at 95%.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

RESAMPLES = 1000
SEED = 0
LEVEL = 0.95
OUTCOMES_FILE = "outcomes.npz"  #: written and read by :mod:`tempvl_bench.report.outcomes_file`
STATISTICS = ("mean", "median", "lower_median")
SEEDS = "seed"  #: the unit name of a crossed outcome's first axis (pretraining seeds)


@dataclass
class PerUnit:
    unit: str
    values: np.ndarray
    statistic: str = "mean"
    point: float | None = None  #: the reported value when it is not ``statistic(values)``

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.float64)
        if self.statistic not in STATISTICS:
            raise ValueError(f"unknown statistic {self.statistic!r}; expected one of {STATISTICS}")

    @property
    def size(self) -> int:
        return self.values.size

    def resampled(self, index: np.ndarray) -> np.ndarray:
        """The metric on each row of ``index`` (B x n unit positions)."""
        sample = self.values[index]
        if self.statistic == "mean":
            with warnings.catch_warnings():  # an emptied population: NaN, without "Mean of empty slice"
                warnings.simplefilter("ignore", RuntimeWarning)
                out = np.nanmean(sample, axis=1)
        elif self.statistic == "median":
            out = np.median(sample, axis=1)
        else:
            out = np.sort(sample, axis=1)[:, (sample.shape[1] - 1) // 2]
        if self.point is None:
            return out
        return np.maximum(out + self.shift, 0.0)  # a shifted corpus score stays a score (>= 0)

    @property
    def observed(self) -> float:
        return float(self.resampled(np.arange(self.size)[None, :])[0])

    @property
    def shift(self) -> float:
        if self.point is None:
            return 0.0
        base = PerUnit(self.unit, self.values, self.statistic)
        return float(self.point) - base.observed


@dataclass
class RankedAP:
    """mAP over classes from ranked predictions; ``threshold`` indexes ``tp``'s columns, None
    averages them (``tal/mAP@avg``)."""

    unit: str
    tp: np.ndarray  #: (predictions x thresholds) TP flags, classes in blocks, score order within
    pred_unit: np.ndarray  #: unit of each prediction (index into the units)
    bounds: np.ndarray  #: class c's predictions are rows bounds[c]:bounds[c + 1]
    positives: np.ndarray  #: (units x classes) ground-truth instances
    threshold: int | None = None

    @property
    def size(self) -> int:
        return self.positives.shape[0]

    def resampled(self, index: np.ndarray) -> np.ndarray:
        weights = np.zeros((index.shape[0], self.size))
        np.add.at(weights, (np.arange(index.shape[0])[:, None], index), 1.0)
        columns = range(self.tp.shape[1]) if self.threshold is None else [self.threshold]
        per_threshold = [_weighted_map(weights, self.tp[:, t], self.pred_unit, self.bounds, self.positives)
                         for t in columns]
        return 100.0 * np.mean(per_threshold, axis=0)

    @property
    def observed(self) -> float:
        return float(self.resampled(np.arange(self.size)[None, :])[0])


def _weighted_map(weights: np.ndarray, tp: np.ndarray, pred_unit: np.ndarray, bounds: np.ndarray,
                  positives: np.ndarray) -> np.ndarray:
    """Interpolated AP per class, averaged over the classes present, for each weight row."""
    n_pos = weights @ positives  # (B x C)
    ap = np.zeros_like(n_pos)
    for c in range(positives.shape[1]):
        lo, hi = int(bounds[c]), int(bounds[c + 1])
        if hi == lo:
            continue
        w = weights[:, pred_unit[lo:hi]]
        hits = w * tp[lo:hi]
        seen = np.cumsum(w, axis=1)
        precision = np.divide(np.cumsum(hits, axis=1), seen, out=np.zeros_like(seen), where=seen > 0)
        envelope = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]
        ap[:, c] = np.divide((hits * envelope).sum(axis=1), n_pos[:, c], out=np.zeros(len(w)),
                             where=n_pos[:, c] > 0)
    present = n_pos > 0
    return np.where(present, ap, 0).sum(axis=1) / np.maximum(present.sum(axis=1), 1)


@dataclass
class Crossed:
    """The mean of ``[seeds, units]`` values (the crossed mode): seed k's model on every unit."""

    unit: str
    values: np.ndarray

    def __post_init__(self) -> None:
        self.values = np.atleast_2d(np.asarray(self.values, dtype=np.float64))
        if self.values.ndim != 2:
            raise ValueError(f"crossed outcomes are [seeds, units], got shape {self.values.shape}")

    @property
    def size(self) -> int:
        return self.values.shape[1]

    @property
    def seeds(self) -> int:
        return self.values.shape[0]

    def resampled(self, index: np.ndarray, seed_index: np.ndarray) -> np.ndarray:
        """The mean on each resample: ``index`` (B x units) draws the units, ``seed_index``
        (B x seeds) the seeds, independently."""
        per_seed = self.values[:, index].mean(2)  # [seeds, B]: every seed on every unit draw
        return np.take_along_axis(per_seed.T, seed_index, 1).mean(1)

    @property
    def observed(self) -> float:
        return float(self.values.mean())


Outcome = PerUnit | RankedAP | Crossed


@dataclass
class Outcomes:
    """Metric name -> how to recompute it from resampled units; ``units`` names each unit."""

    metrics: dict[str, Outcome] = field(default_factory=dict)
    #: unit name -> identifiers of its units in order (pairs two runs' outcomes)
    units: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, outcome in self.metrics.items():
            ids = self.units.get(outcome.unit)
            if ids is not None and len(ids) != outcome.size:
                raise ValueError(f"outcomes of {name!r}: {outcome.size} values for {len(ids)} {outcome.unit}s")
            seeds = self.units.get(SEEDS)
            if isinstance(outcome, Crossed) and seeds is not None and len(seeds) != outcome.seeds:
                raise ValueError(f"outcomes of {name!r}: {outcome.seeds} seeds for {len(seeds)} seed ids")

    @classmethod
    def per_unit(cls, unit: str, ids, values: Mapping, points: Mapping[str, float] | None = None) -> "Outcomes":
        """Outcomes of one unit: ``values`` maps a metric to its array (the mean) or to
        ``(array, statistic)``; ``points`` gives reported values that are not the statistic."""
        metrics = {}
        for name, value in values.items():
            array, statistic = value if isinstance(value, tuple) else (value, "mean")
            metrics[name] = PerUnit(unit, array, statistic, (points or {}).get(name))
        return cls(metrics, {unit: [str(i) for i in ids]})

    def merged(self, other: "Outcomes") -> "Outcomes":
        return Outcomes({**self.metrics, **other.metrics}, {**self.units, **other.units})

    def only(self, names) -> "Outcomes":
        return Outcomes({k: v for k, v in self.metrics.items() if k in names}, self.units)


def resample_indices(units: Mapping[str, int], resamples: int = RESAMPLES, seed: int = SEED) -> dict[str, np.ndarray]:
    """One (resamples x n) index matrix per unit name from one generator: the seeds' (:data:`SEEDS`)
    first when present, then the others in sorted name order."""
    rng = np.random.default_rng(seed)
    order = sorted(units.items(), key=lambda item: (item[0] != SEEDS, item[0]))
    return {name: rng.integers(0, n, size=(resamples, n)) for name, n in order}


def _unit_sizes(outcomes: Outcomes) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for name, outcome in outcomes.metrics.items():
        counts = [(outcome.unit, outcome.size)] + ([(SEEDS, outcome.seeds)] if isinstance(outcome, Crossed) else [])
        for unit, size in counts:
            if sizes.setdefault(unit, size) != size:
                raise ValueError(f"outcomes of {name!r}: unit {unit!r} has {sizes[unit]} entries elsewhere, "
                                 f"{size} here")
    return sizes


def _resampled(outcome: Outcome, index: Mapping[str, np.ndarray]) -> np.ndarray:
    if isinstance(outcome, Crossed):
        return outcome.resampled(index[outcome.unit], index[SEEDS])
    return outcome.resampled(index[outcome.unit])


def bootstrap_ci(outcomes: Outcomes, resamples: int = RESAMPLES, seed: int = SEED) -> dict[str, list[float]]:
    """95% percentile interval of every metric (NaN resamples, e.g. an emptied type, dropped)."""
    index = resample_indices(_unit_sizes(outcomes), resamples, seed)
    out = {}
    for name, outcome in outcomes.metrics.items():
        low, high = _interval(_resampled(outcome, index))
        out[name] = [low, high]
    return out


def _interval(samples: np.ndarray) -> tuple[float, float]:
    samples = samples[np.isfinite(samples)]
    if samples.size == 0:
        return float("nan"), float("nan")
    tail = 100 * (1 - LEVEL) / 2
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def paired_difference(a: Outcomes, b: Outcomes, names=None, resamples: int = RESAMPLES,
                      seed: int = SEED) -> dict[str, dict[str, float]]:
    """Per metric: ``a - b``, its 95% paired bootstrap interval and a two-sided p-value.

    Both runs are resampled with the same unit indices (crossed outcomes: the same seed
    indices too, so seed k of ``a`` stays paired with seed k of ``b``); the p-value is twice the smaller share
    of resampled differences on either side of zero (with the +1 correction), at most 1.
    """
    for unit in set(a.units) & set(b.units):
        if a.units[unit] != b.units[unit]:
            raise ValueError(f"the runs evaluated different {unit} ids (or in another order); a paired comparison "
                             "needs the same ones")
    shared = [m for m in a.metrics if m in b.metrics and (names is None or m in names)]
    sizes = _unit_sizes(a.only(shared))
    if sizes != _unit_sizes(b.only(shared)):
        raise ValueError(f"the runs evaluated different numbers of units: {sizes} vs {_unit_sizes(b.only(shared))}")
    index = resample_indices(sizes, resamples, seed)
    out = {}
    for name in shared:
        oa, ob = a.metrics[name], b.metrics[name]
        diffs = _resampled(oa, index) - _resampled(ob, index)
        diffs = diffs[np.isfinite(diffs)]
        low, high = _interval(diffs)
        below, above = (np.sum(diffs <= 0) + 1) / (diffs.size + 1), (np.sum(diffs >= 0) + 1) / (diffs.size + 1)
        out[name] = {"difference": oa.observed - ob.observed, "ci95": [low, high],
                     "p_value": float(min(1.0, 2 * min(below, above)))}
    return out

