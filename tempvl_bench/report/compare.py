"""``tempvl-bench compare RUN_A RUN_B``: a paired bootstrap over the queries both runs scored.

Two runs are comparable only on the same evaluation: the same task, split and annotation
files (sha256 from results.json), the same queries (ids from outcomes.npz) and, for captioning,
the same scale (x100 from results schema 5 on). Each outcomes.npz must belong to its
results.json: it names the same run, and its per-query outcomes give the recorded metrics.
Anything else is refused with a message naming the file and the field.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

from tempvl_bench.report.outcomes_file import IDENTITY_KEYS, OUTCOMES_FILE, load_outcomes
from tempvl_bench.report.results import RESULTS_FILE, caption_scale, read_results
from tempvl_bench.report.uncertainty import RESAMPLES, SEED, Outcomes, paired_difference

#: how closely the outcomes must give a recorded metric (float32 R@K on the multi-caption path)
REL_TOLERANCE, ABS_TOLERANCE = 1e-5, 1e-6


class IncomparableRuns(ValueError):
    """Two runs that did not evaluate the same thing; the message says what differs."""


def results_path(run: Path) -> Path:
    """A run folder or its results.json."""
    run = Path(run)
    path = run / RESULTS_FILE if run.is_dir() else run
    if not path.is_file():
        raise FileNotFoundError(f"{run}: no {RESULTS_FILE} (expected a run folder or its results file)")
    return path


def check_comparable(a: dict, b: dict, path_a: Path, path_b: Path) -> None:
    """Refuse runs of different tasks, splits, annotation files or captioning scales, naming
    what differs."""
    for path, record in ((path_a, a), (path_b, b)):
        if not isinstance(record.get("split"), str):
            raise ValueError(f"{path}: key 'split': expected the evaluated split's name, "
                             f"got {record.get('split')!r:.80}")
    for key in ("task", "split"):
        if a.get(key) != b.get(key):
            raise IncomparableRuns(f"the runs evaluated different {key}s: {a.get(key)!r} ({path_a}) vs "
                                   f"{b.get(key)!r} ({path_b})")
    scales = caption_scale(a), caption_scale(b)
    if scales[0] != scales[1]:
        raise IncomparableRuns(f"the runs report captioning metrics on different scales: {scales[0]} in {path_a} "
                               f"(schema_version {a.get('schema_version')}) vs {scales[1]} in {path_b} (schema_version "
                               f"{b.get('schema_version')}); schema 5 on is x100: run the older task again")
    hashes_a, hashes_b = recorded_annotation_hashes(a, path_a), recorded_annotation_hashes(b, path_b)
    eval_split = a.get("split")
    shared = set(hashes_a) & set(hashes_b)  # a run that could not read its training split lists fewer
    if not shared:
        raise IncomparableRuns(f"the runs read no annotation file in common (split {eval_split!r}): "
                               f"{sorted(hashes_a)} in {path_a} vs {sorted(hashes_b)} in {path_b}")
    differ = sorted(name for name in shared if hashes_a[name] != hashes_b[name])
    if differ:
        raise IncomparableRuns(f"annotation files differ between the runs (split {eval_split!r}): "
                               f"{', '.join(differ)} have other sha256 in {path_a} and {path_b}")


def recorded_annotation_hashes(record: dict, path: Path) -> dict[str, str]:
    """results.json's ``annotation_sha256``: a non-empty mapping of file to sha256."""
    hashes = record.get("annotation_sha256")
    if not isinstance(hashes, dict) or not hashes or not all(isinstance(v, str) for v in hashes.values()):
        shown = "missing" if hashes is None else f"{hashes!r:.80}"
        raise ValueError(f"{path}: key 'annotation_sha256': expected a mapping of annotation file to sha256, got "
                         f"{shown} (without it the runs cannot be shown to have read the same annotations)")
    return hashes


def model_outcomes(path: Path, record: dict) -> Outcomes:
    """The model's outcomes from the run's outcomes.npz, checked to belong to ``record``."""
    file = path.parent / OUTCOMES_FILE
    if not file.is_file():
        raise FileNotFoundError(f"{path.parent}: no {OUTCOMES_FILE} (runs written before results schema 4 "
                                "carry no per-query outcomes; run the task again)")
    loaded = load_outcomes(file)
    if loaded.identity is None:
        raise ValueError(f"{file}: meta.identity: missing (written before results schema 5), so it cannot be tied "
                         f"to {path}; run the task again")
    for key in IDENTITY_KEYS:
        if loaded.identity[key] != record.get(key):
            raise ValueError(f"{file}: meta.identity.{key} is {loaded.identity[key]!r:.80} but {path} has "
                             f"{record.get(key)!r:.80}: these outcomes belong to another run")
    if "model" not in loaded.runs:
        raise ValueError(f"{file}: meta.runs.model: missing (the file holds no outcomes of the model)")
    outcomes = loaded.runs["model"]
    for name, outcome in outcomes.metrics.items():
        if name not in record["metrics"]:
            raise ValueError(f"{path}: metrics.{name}: missing, but {file} holds its outcomes")
        recorded = recorded_value(path, record, name)
        observed = outcome.observed
        if not math.isfinite(observed):
            raise ValueError(f"{file}: outcomes of {name!r} give no value ({observed}; all NaN?), {path} records "
                             f"{recorded}")
        if not math.isclose(observed, recorded, rel_tol=REL_TOLERANCE, abs_tol=ABS_TOLERANCE):
            raise ValueError(f"{file}: outcomes of {name!r} give {observed:.6g}, but {path} records {recorded:.6g}: "
                             "the outcomes do not belong to this results file")
    return outcomes


def recorded_value(path: Path, record: dict, name: str) -> float:
    """A metric of results.json as a finite float, or an error naming the file and the metric."""
    value = record["metrics"][name]
    try:
        number = float(value)
    except (TypeError, OverflowError):
        number = math.nan
    if not math.isfinite(number):
        shown = "null" if value is None else f"{value!r:.40}"
        raise ValueError(f"{path}: metrics.{name}: {shown} is not a value to compare (leave it out: "
                         "--metric NAME compares only the metrics named)")
    return number


def compare_runs(run_a: Path, run_b: Path, metrics: Sequence[str] | None = None,
                 resamples: int = RESAMPLES, seed: int = SEED) -> dict:
    """Per metric: both values, ``a - b``, its paired 95% interval and p-value."""
    path_a, path_b = results_path(run_a), results_path(run_b)
    a, b = read_results(path_a), read_results(path_b)
    check_comparable(a, b, path_a, path_b)
    outcomes = [model_outcomes(path_a, a), model_outcomes(path_b, b)]
    shared = [m for m in a["metrics"] if m in b["metrics"]]
    if metrics:
        unknown = [m for m in metrics if m not in shared]
        if unknown:
            raise ValueError(f"--metric {', '.join(unknown)}: not a metric of both runs; they share {', '.join(shared)}")
        shared = list(dict.fromkeys(metrics))
    for path, record, outcome in ((path_a, a, outcomes[0]), (path_b, b, outcomes[1])):
        for name in shared:
            recorded_value(path, record, name)
            if metrics and name not in outcome.metrics:
                raise ValueError(f"--metric {name}: {path.parent / OUTCOMES_FILE} holds no per-query outcomes of it")
    shared = [m for m in shared if m in outcomes[0].metrics and m in outcomes[1].metrics]
    if not shared:
        raise ValueError(f"{path_a.parent / OUTCOMES_FILE} and {path_b.parent / OUTCOMES_FILE}: no metric of both "
                         "runs has per-query outcomes in both files; nothing to compare")
    try:
        tests = paired_difference(outcomes[0], outcomes[1], shared, resamples, seed)
    except ValueError as exc:
        raise IncomparableRuns(f"{path_a.parent} vs {path_b.parent}: {exc}") from None
    rows = {m: {"a": a["metrics"][m], "b": b["metrics"][m], **tests[m]} for m in shared if m in tests}
    return {"task": a["task"], "split": a.get("split"), "a": str(path_a), "b": str(path_b),
            "resamples": resamples, "seed": seed, "metrics": rows}


def render_comparison(result: dict) -> str:
    from tabulate import tabulate

    rows = [[m, f"{r['a']:.2f}", f"{r['b']:.2f}", f"{r['difference']:+.2f}",
             f"[{r['ci95'][0]:+.2f}, {r['ci95'][1]:+.2f}]", f"{r['p_value']:.3g}"]
            for m, r in result["metrics"].items()]
    head = (f"{result['task']} ({result['split']}): A = {result['a']}\n  B = {result['b']}\n"
            f"paired bootstrap over the same queries, {result['resamples']} resamples, seed {result['seed']}\n")
    return head + tabulate(rows, headers=["metric", "A", "B", "A - B", "95% CI", "p"], tablefmt="github",
                           disable_numparse=True) + "\n"
