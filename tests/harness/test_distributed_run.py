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

from tempvl_bench.cli.app import main

TORCHRUN = shutil.which("torchrun")
pytestmark = pytest.mark.skipif(TORCHRUN is None, reason="torchrun is not on PATH")

#: One task per family, all run by one torchrun launch per world size (start-up paid once).
TASKS = {"retrieval": "didemo", "qa open-ended": "msrvtt-qa", "qa multiple-choice": "msrvtt-mc",
         "captioning": "msrvtt-cap", "moment retrieval": "charades-sta", "tal": "thumos14"}  # fmt: skip
#: Small eval batches, so that the two ranks get several batches each.
SMALL = ["--limit", "5", "--set", "batch.eval=2"]


def _torchrun(tmp_path: Path, nproc: int, tasks: list[str], extra: list[str]) -> dict[str, Path]:
    """Run ``tasks`` on ``nproc`` ranks; returns each task's one run folder."""
    out = tmp_path / f"ranks{nproc}"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TEMPVL_FEATURE_CACHE": str(tmp_path / f"cache{nproc}")}
    command = [TORCHRUN, "--standalone", "--nproc-per-node", str(nproc), "--no-python", "tempvl-bench", "run",
               "--task", ",".join(tasks), "--demo", "--output", str(out), "--no-progress", *SMALL, *extra]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout}\n{done.stderr}"
    runs = {}
    for task in tasks:
        (runs[task], *more) = list((out / task).iterdir())
        assert not more, f"{nproc} rank(s) left {[runs[task], *more]}: expected one run folder"
    return runs


def _predictions(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]


def _same_results(tmp_path: Path, tasks: list[str], extra: list[str] = ()) -> dict[str, dict]:
    alone, shared = (_torchrun(tmp_path, n, tasks, list(extra)) for n in (1, 2))
    records = {}
    for task in tasks:
        one, two = (json.loads((runs[task] / "results.json").read_text()) for runs in (alone, shared))
        assert (one["world_size"], two["world_size"]) == (1, 2), task
        assert two["metrics"] == one["metrics"], task
        assert two["num_samples"] == one["num_samples"] == len(_predictions(alone[task])), task
        assert _predictions(shared[task]) == _predictions(alone[task]), task
        assert sorted(p.name for p in shared[task].iterdir()) == sorted(p.name for p in alone[task].iterdir()), task
        records[task] = two
    return records


@pytest.mark.slow
def test_two_ranks_equal_one_zero_shot_for_every_family(tmp_path):
    records = _same_results(tmp_path, list(TASKS.values()))
    assert {record["family"] for record in records.values()} == {"retrieval", "qa", "captioning", "moment-retrieval",
                                                                  "tal"}  # fmt: skip


@pytest.mark.slow
def test_two_ranks_equal_one_finetuned_and_the_leaderboard_has_one_row(tmp_path, capsys):
    """Finetuning is replicated on every rank (same seed, whole training split): the trained
    head, and so the metrics, are the same; rank 0 alone saves the finetuning state."""
    import csv

    task = TASKS["tal"]
    record = _same_results(tmp_path, [task], ["--mode", "finetune", "--set", "finetune.epochs=1"])[task]
    run = next((tmp_path / "ranks2" / task).iterdir())
    assert (run / "finetune").is_dir() and record["mode"] == "finetune"
    assert main(["leaderboard", "--results", str(tmp_path / "ranks2"), "--task", task, "--format", "csv",
                 "--include-limited"]) == 0  # SMALL runs are --limit smoke tests
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    model_rows = [row for row in rows if row["mode"] == "finetune"]  # not the baseline or best rows
    assert [row["run"] for row in model_rows] == [run.name]


@pytest.mark.slow
def test_two_ranks_equal_one_for_a_plugin_model(tmp_path, tiny_clip_dir):
    """hf-clip (a transformers CLIPModel through the model hook): retrieval, multiple choice and
    moments from the similarity curve give the same numbers and rows on two ranks as on one."""
    tasks = ["msrvtt", "msrvtt-mc", "charades-sta"]
    records = _same_results(tmp_path, tasks, ["--model", "hf-clip", "--set", f"model.path={tiny_clip_dir}"])
    assert {record["model"]["name"] for record in records.values()} == {"hf-clip"}


def test_alone_every_distributed_helper_is_a_no_op():
    from tempvl_bench.run import distributed

    assert (distributed.world_size(), distributed.rank(), distributed.is_main()) == (1, 0, True)
    assert distributed.gather("x") == ["x"] and distributed.broadcast(3) == 3
    assert distributed.on_main(lambda: 5) == 5
    distributed.raise_any(None)
    with pytest.raises(KeyError):
        distributed.raise_any(KeyError("k"))
    assert sys.modules["tempvl_bench.run.distributed"] is distributed
