"""What results.json says beside a run's metrics: intervals, baselines and the paired test
of the model against its best baseline (a table without them cannot tell a model from a prior).

:func:`run_evidence` turns the score step's outcomes and the baselines step's scores into the
``ci95``, ``bootstrap``, ``baselines``, ``baselines_ci95`` and ``vs_best_baseline`` fields of
:class:`tempvl_bench.report.results.ResultRecord`, and the runs of ``outcomes.npz``.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from tempvl_bench.run.family import Scores
from tempvl_bench.metrics.names import metric_direction
from tempvl_bench.report.uncertainty import LEVEL, RESAMPLES, SEED, Outcomes, bootstrap_ci, paired_difference

MODEL = "model"


def baseline_scores(baselines: Mapping[str, Any]) -> dict[str, Scores]:
    """A baselines step's result as Scores (a plain ``{metric: value}`` has no outcomes)."""
    out = {}
    for name, value in baselines.items():
        if name == MODEL:
            raise ValueError(f"a baseline may not be called {MODEL!r}")
        out[name] = value if isinstance(value, Scores) else Scores(dict(value), 0)
    return out


def run_evidence(metrics: Mapping[str, float], outcomes: Outcomes | None, baselines: Mapping[str, Scores],
                 primary: str, resamples: int = RESAMPLES, seed: int = SEED) -> tuple[dict, dict[str, Outcomes]]:
    """(results.json fields, outcomes by run name for ``outcomes.npz``)."""
    runs: dict[str, Outcomes] = {}
    fields: dict[str, Any] = {}
    fields["ci95"] = {}
    fields["bootstrap"] = {"resamples": resamples, "seed": seed, "level": LEVEL, "method": "percentile", "units": {}}
    if outcomes is not None:
        outcomes = outcomes.only(metrics)
        runs[MODEL] = outcomes
        fields["ci95"] = _finite(bootstrap_ci(outcomes, resamples, seed))
        fields["bootstrap"]["units"] = {m: o.unit for m, o in outcomes.metrics.items()}
    fields["baselines"] = {name: {m: float(v) for m, v in s.metrics.items()} for name, s in baselines.items()}
    fields["baselines_ci95"] = {}
    for name, scores in baselines.items():
        if scores.outcomes is not None:
            runs[name] = scores.outcomes.only(scores.metrics)
            fields["baselines_ci95"][name] = _finite(bootstrap_ci(runs[name], resamples, seed))
    fields["vs_best_baseline"] = _versus_best(metrics, runs, baselines, primary, resamples, seed)
    return fields, runs


def best_baseline(baselines: Mapping[str, Mapping[str, float]], primary: str) -> str | None:
    """The baseline with the best primary metric (the direction the metric's name says)."""
    scored = {n: m[primary] for n, m in baselines.items() if primary in m and m[primary] is not None}
    if not scored:
        return None
    pick = min if metric_direction(primary) == "lower" else max
    return pick(scored, key=scored.__getitem__)


def _versus_best(metrics, runs, baselines, primary, resamples, seed) -> dict | None:
    name = best_baseline({n: s.metrics for n, s in baselines.items()}, primary)
    if name is None or primary not in metrics:
        return None
    out: dict[str, Any] = {"metric": primary, "baseline": name, "model": float(metrics[primary]),
                           "baseline_value": float(baselines[name].metrics[primary])}
    if MODEL in runs and name in runs and primary in runs[MODEL].metrics and primary in runs[name].metrics:
        try:
            test = paired_difference(runs[MODEL], runs[name], [primary], resamples, seed)[primary]
        except ValueError as exc:  # e.g. videos that failed to decode: not the same queries
            out.update(difference=out["model"] - out["baseline_value"], ci95=None, p_value=None, beats=None,
                       note=str(exc))
            return out
        low, high = test["ci95"]
        beats = high < 0 if metric_direction(primary) == "lower" else low > 0
        out.update(difference=test["difference"], ci95=test["ci95"], p_value=test["p_value"], beats=bool(beats))
    else:
        out.update(difference=out["model"] - out["baseline_value"], ci95=None, p_value=None, beats=None)
    return out


def _finite(intervals: dict[str, list[float]]) -> dict[str, list[float] | None]:
    """JSON has no NaN: an interval that cannot be computed is null."""
    return {m: (None if any(math.isnan(v) for v in ci) else ci) for m, ci in intervals.items()}
