"""``torchrun --nproc-per-node 2 ... tempvl-bench run`` equals one process, for every family.

Each task runs twice through torchrun on CPU (gloo): once alone, once on two ranks, each with a
fresh feature cache so the two ranks really share out the encoding. The metrics and every
prediction row must be identical, and only one run folder (one results.json, one leaderboard
row) may appear.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tempvl_bench.cli import main

TORCHRUN = shutil.which("torchrun")
pytestmark = pytest.mark.skipif(TORCHRUN is None, reason="torchrun is not on PATH")

#: One task per family; small eval batches so that two ranks get several batches each.
FAMILIES = {
    "retrieval": ("didemo", ["--set", "batch.eval=2"]),
    "qa open-ended": ("msrvtt-qa", ["--set", "batch.eval=2"]),
    "qa multiple-choice": ("msrvtt-mc", ["--set", "batch.eval=2"]),
    "captioning": ("msrvtt-cap", ["--set", "batch.eval=2", "--set", "options.max_caption_length=6"]),
    "moment retrieval": ("charades-sta", ["--set", "batch.eval=2"]),
    "tal": ("thumos14", ["--set", "batch.eval=1"]),
}


def _torchrun(tmp_path: Path, nproc: int, task: str, extra: list[str]) -> Path:
    """Run ``task`` on ``nproc`` ranks; returns its one run folder."""
    out = tmp_path / f"ranks{nproc}"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TEMPVL_FEATURE_CACHE": str(tmp_path / f"cache{nproc}")}
    command = [TORCHRUN, "--standalone", "--nproc-per-node", str(nproc), "--no-python", "tempvl-bench", "run",
               "--task", task, "--demo", "--limit", "5", "--output", str(out), "--no-progress", *extra]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout}\n{done.stderr}"
    runs = [p for p in (out / task).iterdir()]
    assert len(runs) == 1, f"{nproc} rank(s) left {runs}: expected one run folder"
    return runs[0]


def _predictions(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]


def _same_results(tmp_path: Path, task: str, extra: list[str]) -> dict:
    alone, shared = (_torchrun(tmp_path, n, task, extra) for n in (1, 2))
    one, two = (json.loads((run / "results.json").read_text()) for run in (alone, shared))
    assert (one["world_size"], two["world_size"]) == (1, 2)
    assert two["metrics"] == one["metrics"]
    assert two["num_samples"] == one["num_samples"] == len(_predictions(alone))
    assert _predictions(shared) == _predictions(alone)
    assert sorted(p.name for p in shared.iterdir()) == sorted(p.name for p in alone.iterdir())
    return two


@pytest.mark.slow
@pytest.mark.parametrize("family", list(FAMILIES))
def test_two_ranks_equal_one_zero_shot(tmp_path, family):
    task, extra = FAMILIES[family]
    _same_results(tmp_path, task, extra)


@pytest.mark.slow
def test_two_ranks_equal_one_finetuned_and_the_leaderboard_has_one_row(tmp_path, capsys):
    """Finetuning is replicated on every rank (same seed, whole training split): the trained
    head, and so the metrics, are the same; rank 0 alone saves the finetuning state."""
    task, extra = FAMILIES["tal"]
    record = _same_results(tmp_path, task, [*extra, "--mode", "finetune", "--set", "finetune.epochs=1"])
    run = next((tmp_path / "ranks2" / task).iterdir())
    assert (run / "finetune").is_dir() and record["mode"] == "finetune"
    assert main(["leaderboard", "--results", str(tmp_path / "ranks2"), "--task", task, "--format", "csv"]) == 0
    import csv

    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    model_rows = [row for row in rows if row["mode"] == "finetune"]  # not the baseline or best rows
    assert [row["run"] for row in model_rows] == [run.name]


def test_alone_every_distributed_helper_is_a_no_op():
    from tempvl_bench import distributed

    assert (distributed.world_size(), distributed.rank(), distributed.is_main()) == (1, 0, True)
    assert distributed.gather("x") == ["x"] and distributed.broadcast(3) == 3
    assert distributed.on_main(lambda: 5) == 5
    distributed.raise_any(None)
    with pytest.raises(KeyError):
        distributed.raise_any(KeyError("k"))
    assert sys.modules["tempvl_bench.distributed"] is distributed
