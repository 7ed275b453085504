"""Where a run's files go: its folder under ``<output>/<task>/``, found again by ``--resume``,
kept inside the output folder, and removed after a failure that left nothing worth keeping.

A run folder is named ``<time>-<mode>-<fingerprint>`` (:mod:`tempvl_bench.run.fingerprint`) and
holds ``run.json`` (its inputs) from the start; results, predictions and a finetuning state
are added as the run goes.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from tempvl_bench.run import distributed
from tempvl_bench.run.fingerprint import RUN_FILE, fingerprint, same_inputs
from tempvl_bench.report.results import RESULTS_FILE, read_results, write_json_atomic
from tempvl_bench.run.types import RunError


def open_run_dir(output: Path, task: str, mode: str, inputs: dict[str, Any], resume: bool,
                 echo: Callable[[str], None]) -> tuple[Path, bool]:
    """Returns (run dir, already complete). With resume, reuse the latest run with the same inputs."""
    fp = fingerprint(inputs)
    task_dir = inside_output(output, output / task, f"task {task!r}: its results folder")
    if resume:
        previous = [d for d in sorted(task_dir.glob(f"*-{mode}-{fp}")) if same_inputs(d, inputs)]
        if previous:
            for entry in [previous[-1], *previous[-1].rglob("*")]:  # a link left in it cannot lead out
                inside_output(output, entry, f"task {task!r}: its run folder's")
            return previous[-1], _complete(previous[-1], task, echo)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    run_dir = task_dir / f"{stamp}-{mode}-{fp}"
    suffix = 1
    while run_dir.exists():
        run_dir = task_dir / f"{stamp}-{suffix}-{mode}-{fp}"
        suffix += 1
    run_dir.mkdir(parents=True)
    write_json_atomic(inside_output(output, run_dir / RUN_FILE, f"task {task!r}: its run file"), inputs)
    return run_dir, False


def inside_output(root: Path, path: Path, what: str) -> Path:
    """``path``, refused unless it lies inside the output folder ``root`` once both are resolved
    (links followed): no task name, link or file name leads a run to write elsewhere."""
    resolved_root, resolved = Path(root).resolve(), Path(path).resolve()
    if resolved != resolved_root and not resolved.is_relative_to(resolved_root):
        raise RunError(f"{what} {path} resolves to {resolved}, outside the output folder {resolved_root}; "
                       "refusing to write there")
    return path


def _complete(run_dir: Path, task: str, echo: Callable[[str], None]) -> bool:
    """Whether a run folder holds its results; a results file that cannot be read is said and
    the run computed again (its files are overwritten)."""
    results = run_dir / RESULTS_FILE
    if not results.exists() and not results.is_symlink():
        return False
    try:
        read_results(results)
    except ValueError as exc:
        echo(f"{task}: --resume: {exc}; computing the run again")
        return False
    return True


def remove_if_unused(run_dir: Path, *, remove_output: bool) -> None:
    """After a refused or failed run: remove its folder (the task folder and the output folder
    too when empty and this run created it) when it holds nothing but run.json, so no empty run
    is left behind to be listed or resumed.

    Best effort, and silent: it runs while the run's own error is on its way to the user, and a
    folder that became unwritable (the likely cause of that error) must not replace it by
    another one raised here.
    """
    try:
        leftovers = [p for p in run_dir.iterdir() if p.name != RUN_FILE] if run_dir.is_dir() else [run_dir]
        if leftovers:
            return  # e.g. a finetune state that --resume continues from; or no folder left at all
        (run_dir / RUN_FILE).unlink(missing_ok=True)
    except OSError:
        return
    for folder in (run_dir, run_dir.parent, run_dir.parent.parent)[: 3 if remove_output else 2]:
        try:
            folder.rmdir()
        except OSError:
            return


def scratch_run_dir(run_dir: Path) -> Path:
    """A rank's own throwaway run folder (removed after the task), holding a copy of rank 0's
    saved finetuning state so that ``--resume`` continues from the same epoch on every rank."""
    from tempvl_bench.run.finetune import STATE_DIR

    scratch = Path(tempfile.mkdtemp(prefix=f"tempvl-rank{distributed.rank()}-"))
    for state in Path(run_dir).glob(f"{STATE_DIR}*"):
        shutil.copytree(state, scratch / state.name)
    return scratch
