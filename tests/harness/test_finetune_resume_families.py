"""A resumed finetune equals an uninterrupted one, bit for bit, for every task family.

Each case runs the real CLI on the demo data of one task per family, with tiny settings (two
epochs, a few training records, small frames), first uninterrupted, then stopped right after
the state of epoch k was saved, for every k in turn, and continued with ``--resume``. The stop
is an exception that no code of ours handles (as SIGTERM's default action, it ends the run with
nothing written after the save). The final weights, the per-epoch losses, the metrics and the
predictions must equal the uninterrupted run's exactly.

The training split is cut to its first few records in-process (``lifecycle._load_train``), the
one thing that is not the real command: the demo's full training splits take minutes a run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tempvl_bench.run.finetune as ft
import tempvl_bench.run.lifecycle as lifecycle
from tempvl_bench.cli.app import main

EPOCHS = 2
TRAIN_RECORDS = {"qvhighlights": 24}  # 8 for the others
COMMON = ["--demo", "--mode", "finetune", "--limit", "4", "--no-progress", "--no-cache", "--device", "cpu",
          "--set", f"finetune.epochs={EPOCHS}", "--set", "batch.train=4", "--set", "batch.eval=4",
          "--set", "video.size=32"]
# One task of every family: retrieval, open-ended and multiple-choice QA, captioning, moment
# retrieval, action localization.
TASKS = {
    "msrvtt": ["--set", "video.num_frames=2"],
    "msrvtt-qa": ["--set", "video.num_frames=2", "--set", "options.train_questions_per_video=1"],
    "msrvtt-mc": ["--set", "video.num_frames=2"],
    "msvd-cap": ["--set", "video.num_frames=2", "--set", "options.num_beams=1", "--set", "options.train_references=1",
                 "--set", "options.max_caption_length=6"],
    # The first query with two ground-truth windows (of which the loop draws one per epoch) is
    # the 24th; with seed 1 the first two draws differ, so a restarted generator shows.
    "qvhighlights": ["--set", "video.num_frames=4", "--seed", "1"],
    "thumos14": ["--set", "video.num_frames=8"],
}


class Stopped(BaseException):
    """Stands for SIGTERM: not an Exception, so nothing on the way up handles it."""


@pytest.fixture
def small_training_split(monkeypatch):
    real = lifecycle._load_train

    def first_records(ctx, family):
        split = real(ctx, family)
        if split is not None:
            split.records = split.records[: TRAIN_RECORDS.get(ctx.spec.name, 8)]
        return split

    monkeypatch.setattr(lifecycle, "_load_train", first_records)


def _stop_after_epoch(monkeypatch, stop: int) -> None:
    real = ft._save_state

    def save_then_stop(directory, model, optimizer, scheduler, epoch, *args, **kwargs):
        real(directory, model, optimizer, scheduler, epoch, *args, **kwargs)
        if epoch + 1 == stop:
            raise Stopped(f"stopped after epoch {stop}")

    monkeypatch.setattr(ft, "_save_state", save_then_stop)


def _run(task: str, output: Path, *extra: str) -> Path:
    assert main(["run", "--task", task, "--output", str(output), *COMMON, *TASKS[task], *extra]) == 0
    (run_dir,) = sorted((output / task).iterdir())
    return run_dir


def _outcome(run_dir: Path) -> dict:
    """What must not change: final weights, losses, metrics and predictions."""
    from tempvl_core.train.checkpoint import load_tensors_file

    results = json.loads((run_dir / "results.json").read_text())
    state = load_tensors_file(run_dir / ft.STATE_DIR / "state.pt")
    return {
        "weights": (run_dir / ft.STATE_DIR / "model.safetensors").read_bytes(),
        "history": state["history"],
        "metrics": results["metrics"],
        "predictions": (run_dir / "predictions.jsonl").read_text(),
    }


@pytest.mark.slow
@pytest.mark.parametrize("task", list(TASKS))
def test_a_finetune_stopped_after_any_epoch_resumes_to_the_uninterrupted_result(task, tmp_path, monkeypatch,
                                                                                 small_training_split, capsys):
    expected = _outcome(_run(task, tmp_path / "uninterrupted"))
    for stop in range(1, EPOCHS + 1):
        output = tmp_path / f"stopped-{stop}"
        with monkeypatch.context() as patch:
            _stop_after_epoch(patch, stop)
            with pytest.raises(Stopped):
                _run(task, output)
        capsys.readouterr()
        resumed = _outcome(_run(task, output, "--resume"))
        assert f"after epoch {stop} of {EPOCHS}" in capsys.readouterr().err
        for key, value in expected.items():
            assert resumed[key] == value, f"{task}: stopped after epoch {stop}, resumed: {key} differs"


def test_a_saved_state_without_the_loops_generators_is_refused_naming_the_file(tmp_path):
    """A state saved before the loop's generators were saved cannot resume exactly: say so."""
    import numpy as np
    import torch
    from torch import nn

    from tempvl_bench.config import FinetuneConfig

    def batches(epoch):
        yield torch.ones(2, 3)

    config = FinetuneConfig(epochs=2, lr=0.01, warmup_ratio=0.0)
    ft.finetune(nn.Linear(3, 1), batches, lambda m, x: m(x).pow(2).mean(), config, steps_per_epoch=1,
                run_dir=tmp_path, progress=False, log=print)
    with pytest.raises(ValueError, match=r"state\.pt: holds no state of the generator\(s\) texts"):
        ft.finetune(nn.Linear(3, 1), batches, lambda m, x: m(x).pow(2).mean(), config, steps_per_epoch=1,
                    run_dir=tmp_path, resume=True, progress=False, log=print,
                    generators={"texts": np.random.default_rng(0)})
