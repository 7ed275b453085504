"""``tempvl-bench compare RUN_A RUN_B``: a paired bootstrap over the queries both runs scored.

Two runs are comparable only on the same evaluation: the same task, split and annotation
files (sha256 from results.json) and the same queries (ids from outcomes.npz). Anything else is
refused with a message naming the difference.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from tempvl_bench.results import RESULTS_FILE, read_results
from tempvl_bench.uncertainty import OUTCOMES_FILE, RESAMPLES, SEED, paired_difference, read_outcomes


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
    """Refuse runs of different tasks, splits or annotation files, naming what differs."""
    for key in ("task", "split"):
        if a.get(key) != b.get(key):
            raise IncomparableRuns(f"the runs evaluated different {key}s: {a.get(key)!r} ({path_a}) vs "
                                   f"{b.get(key)!r} ({path_b})")
    hashes_a, hashes_b = a.get("annotation_sha256", {}), b.get("annotation_sha256", {})
    eval_split = a.get("split")
    differ = sorted(name for name in set(hashes_a) & set(hashes_b) if hashes_a[name] != hashes_b[name])
    if differ:
        raise IncomparableRuns(f"annotation files differ between the runs (split {eval_split!r}): "
                               f"{', '.join(differ)} have other sha256 in {path_a} and {path_b}")


def compare_runs(run_a: Path, run_b: Path, metrics: Sequence[str] | None = None,
                 resamples: int = RESAMPLES, seed: int = SEED) -> dict:
    """Per metric: both values, ``a - b``, its paired 95% interval and p-value."""
    path_a, path_b = results_path(run_a), results_path(run_b)
    a, b = read_results(path_a), read_results(path_b)
    check_comparable(a, b, path_a, path_b)
    outcomes = []
    for path in (path_a, path_b):
        file = path.parent / OUTCOMES_FILE
        if not file.is_file():
            raise FileNotFoundError(f"{path.parent}: no {OUTCOMES_FILE} (runs written before results schema 4 "
                                    "carry no per-query outcomes; run the task again)")
        outcomes.append(read_outcomes(file)["model"])
    shared = [m for m in a["metrics"] if m in b["metrics"]]
    if metrics:
        unknown = [m for m in metrics if m not in shared]
        if unknown:
            raise ValueError(f"--metric {', '.join(unknown)}: not a metric of both runs; they share {', '.join(shared)}")
        shared = list(metrics)
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
