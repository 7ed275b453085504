"""Ctrl-C ends a run with exit 130 and one line, never a traceback, never ignored, and
``--resume`` continues it.

A real ``tempvl-bench run`` (a tiny demo finetune with two DataLoader workers) runs in a
process group of its own, and SIGINT goes to the whole group, as a terminal sends it: once the
moment the first DataLoader worker is forked, once right after the first epoch was saved.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ARGS = ["run", "--task", "msrvtt", "--demo", "--mode", "finetune", "--limit", "4", "--no-cache", "--no-progress",
        "--device", "cpu", "--set", "finetune.epochs=2", "--set", "video.num_frames=2", "--set", "video.size=32",
        "--set", "batch.num_workers=2"]
INTERRUPTED = "tempvl-bench: interrupted; run the same command with --resume to continue"
TIMEOUT = 300


def _command(output: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "tempvl_bench.cli", *ARGS, "--output", str(output), *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def _workers(pid: int) -> list[int]:
    """Forked children of ``pid`` that run its own command line: DataLoader workers. (A child
    that execs a tool, as a library does while it imports, shows it only until the exec.)"""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
        for child in children:
            try:
                if b"tempvl_bench.cli" in Path(f"/proc/{child}/cmdline").read_bytes():
                    found.append(child)
            except OSError:
                pass
    return found


def _interrupt_when(output: Path, ready) -> subprocess.CompletedProcess:
    """Start the run, send SIGINT to its process group once ``ready(pid)`` holds, wait for it."""
    process = subprocess.Popen(_command(output), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=_env(), start_new_session=True)
    deadline = time.monotonic() + TIMEOUT
    try:
        while not ready(process.pid):
            assert process.poll() is None, f"the run ended before the interrupt: {process.communicate()}"
            assert time.monotonic() < deadline, "the moment to interrupt never came"
            time.sleep(0.005)
        os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def _worker_started(pid: int) -> bool:
    """A DataLoader worker was forked: the same child still runs the command line 20 ms later."""
    first = _workers(pid)
    if not first:
        return False
    time.sleep(0.02)
    return bool(set(first) & set(_workers(pid)))


def _first_epoch_saved(output: Path):
    return lambda pid: any(output.glob("msrvtt/*/finetune/complete.json"))


def _assert_interrupted(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 130, result.stderr
    assert "Traceback" not in result.stderr and "exited unexpectedly" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines()[-1] == INTERRUPTED, result.stderr
    assert result.stderr.count("tempvl-bench: ") == 1, result.stderr
    assert "->" not in result.stdout, "results were reported"


def _resume(output: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(_command(output, "--resume"), capture_output=True, text=True, env=_env(), timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds the DataLoader workers through Linux's /proc")
@pytest.mark.parametrize("moment", ["while the first DataLoader workers start", "after the first epoch was saved"])
def test_an_interrupted_run_exits_130_with_one_line_and_resume_finishes_it(tmp_path, moment):
    output = tmp_path / "out"
    ready = _worker_started if moment.startswith("while") else _first_epoch_saved(output)
    _assert_interrupted(_interrupt_when(output, ready))
    assert not list(output.glob("msrvtt/*/results.json"))

    resumed = _resume(output)
    (results,) = output.glob("msrvtt/*/results.json")
    assert json.loads(results.read_text())["mode"] == "finetune"
    if moment.startswith("after"):
        assert "after epoch 1 of 2" in resumed.stderr, resumed.stderr


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the swallowed interrupt itself
@pytest.mark.slow
def test_an_interrupt_swallowed_on_the_way_still_ends_the_run(tmp_path, capsys, monkeypatch):
    """A KeyboardInterrupt raised where Python ignores exceptions (here: a __del__ run during the
    first finetuning step) must not let the run go on and write results."""
    import gc

    import tempvl_bench.run.finetune as ft
    from tempvl_bench.cli.app import main

    class Finalized:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGINT)  # the handler's KeyboardInterrupt is printed and ignored here

    real = ft.warmup_steps

    def warmup_steps(*args):  # called once, as finetuning starts
        Finalized()
        gc.collect()
        return real(*args)

    monkeypatch.setattr(ft, "warmup_steps", warmup_steps)
    output = tmp_path / "out"
    assert main([*ARGS, "--set", "batch.num_workers=0", "--output", str(output)]) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == INTERRUPTED
    assert not list(output.glob("msrvtt/*/results.json"))
