"""The issue's bar for the demo slice: finetuning on demo DiDeMo beats chance by 3x and beats zero-shot."""

import json
from pathlib import Path

import pytest

from tempvl_bench.cli.app import main


def _r1(results: Path, mode: str) -> tuple[float, int]:
    (path,) = results.glob(f"didemo/*-{mode}-*/results.json")
    record = json.loads(path.read_text())
    return record["metrics"]["t2v/R@1"], record["num_samples"]


@pytest.mark.slow
def test_demo_finetune_beats_chance_threefold_and_zero_shot(tmp_path):
    for mode in ("zero-shot", "finetune"):
        assert main(["run", "--task", "didemo", "--demo", "--mode", mode, "--output", str(tmp_path), "--no-progress"]) == 0
    zero_shot, n = _r1(tmp_path, "zero-shot")
    finetune, _ = _r1(tmp_path, "finetune")
    chance = 100.0 / n
    assert finetune >= 3 * chance, (finetune, chance)
    assert finetune > zero_shot, (finetune, zero_shot)
