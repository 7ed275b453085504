"""The finetune state saved after each epoch survives a kill at any point of the save.

A kill is simulated by raising, at the k-th filesystem step of a save, an exception that no
code catches (as SIGKILL, it runs no cleanup of ours): every rename, folder deletion and file
write. After it, ``--resume`` must continue from the last complete epoch and end with weights
bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
import torch
from torch import nn

import tempvl_bench.run.finetune as ft
from tempvl_bench.config import FinetuneConfig

EPOCHS = 3
CONFIG = FinetuneConfig(epochs=EPOCHS, lr=0.05, warmup_ratio=0.0, grad_clip=1.0)


class Killed(BaseException):
    """Stands for SIGKILL: not an Exception, so nothing on the way up handles it."""


TRAINED: list[int] = []  # epochs whose batches were drawn


def _batches(epoch: int):
    # Uses the global torch RNG: a resumed run only matches if the RNG state was restored.
    TRAINED.append(epoch)
    for _ in range(2):
        x = torch.randn(4, 3)
        yield x, x.sum(dim=1, keepdim=True)


def _loss(model, batch):
    x, y = batch
    return ((model(x) - y) ** 2).mean()


def _train(run_dir: Path, *, resume: bool = False, messages: list[str] | None = None):
    TRAINED.clear()
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    torch.manual_seed(1)
    history = ft.finetune(model, _batches, _loss, CONFIG, steps_per_epoch=2, run_dir=run_dir, resume=resume,
                          progress=False, log=(messages if messages is not None else []).append)
    return model, history


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    model, history = _train(tmp_path_factory.mktemp("full"))
    return model.state_dict(), [h.loss for h in history]


class KillAt:
    """Counts the filesystem steps of state saves and raises :class:`Killed` at step ``at``."""

    def __init__(self, monkeypatch, at: int | None) -> None:
        self.at, self.count = at, 0
        import tempvl_core.model.checkpoint as weights

        for owner, name in ((os, "replace"), (shutil, "rmtree"), (torch, "save"), (os, "rename"), (Path, "mkdir"),
                            (Path, "write_text"), (Path, "rename"), (Path, "replace"), (Path, "unlink"), (Path, "rmdir"),
                            (weights, "save_weights")):
            monkeypatch.setattr(owner, name, self._wrap(getattr(owner, name)))

    def _wrap(self, real):
        def step(*args, **kwargs):
            self.count += 1
            if self.count == self.at:
                raise Killed(f"killed at step {self.at}")
            return real(*args, **kwargs)

        return step


def _steps_in_saves(tmp_path, monkeypatch, epochs: int) -> int:
    with monkeypatch.context() as patch:
        counter = KillAt(patch, None)
        torch.manual_seed(0)
        model = nn.Linear(3, 1)
        ft.finetune(model, _batches, _loss, FinetuneConfig(epochs=epochs, lr=0.05, warmup_ratio=0.0),
                    steps_per_epoch=2, run_dir=tmp_path / f"count{epochs}", progress=False, log=print)
        return counter.count


def test_a_kill_at_any_step_of_a_save_resumes_to_identical_weights(tmp_path, monkeypatch, uninterrupted):
    weights, losses = uninterrupted
    first = _steps_in_saves(tmp_path, monkeypatch, 1)  # the first save, into an empty folder
    total = _steps_in_saves(tmp_path, monkeypatch, 2)  # ... and the second, replacing it
    assert first >= 5 and total - first >= 8
    for at in range(1, total + 1):
        run_dir = tmp_path / f"kill{at}"
        with monkeypatch.context() as patch:
            KillAt(patch, at)
            with pytest.raises(Killed):
                _train(run_dir)
        messages: list[str] = []
        model, history = _train(run_dir, resume=True, messages=messages)
        if at > first:  # killed while saving epoch 2: epoch 1 is never trained again
            assert TRAINED in ([1, 2], [2]), f"kill at step {at}: trained epochs {TRAINED}"
        assert [h.epoch for h in history] == list(range(EPOCHS)), f"kill at step {at}"
        assert [h.loss for h in history] == losses, f"kill at step {at}"
        for name, tensor in model.state_dict().items():
            assert torch.equal(tensor, weights[name]), f"kill at step {at}: {name}"
        assert sorted(p.name for p in run_dir.iterdir()) == ["finetune"], f"kill at step {at}"
        assert len(messages) == 1 and str(run_dir / "finetune") in messages[0]


def test_resume_says_where_it_continues_and_when_it_starts_over(tmp_path):
    messages: list[str] = []
    _train(tmp_path / "fresh", resume=True, messages=messages)
    assert messages == [f"finetune: no completed epoch saved in {tmp_path / 'fresh' / 'finetune'}; training from epoch 1"]
    messages.clear()
    _train(tmp_path / "fresh", resume=True, messages=messages)
    assert messages == [f"finetune: resuming from {tmp_path / 'fresh' / 'finetune'} after epoch 3 of 3"]


def test_state_left_by_the_old_two_rename_swap_is_recovered(tmp_path, uninterrupted):
    """Earlier versions renamed finetune -> finetune.old, then finetune.tmp -> finetune: a kill
    between (or after) the two renames left folders that blocked every later save."""
    weights, _ = uninterrupted
    saved = tmp_path / "saved"
    _train(saved)
    state = saved / "finetune"
    (state / ft.COMPLETE_FILE).unlink()  # the old layout had no marker
    for leftovers in (("finetune.old", "finetune.tmp"), ("finetune.old", "finetune")):
        run_dir = tmp_path / "-".join(leftovers)
        run_dir.mkdir()
        for name in leftovers:
            shutil.copytree(state, run_dir / name)
        model, history = _train(run_dir, resume=True)
        assert TRAINED == [], leftovers  # all three epochs were done: nothing to train again
        assert [h.epoch for h in history] == list(range(EPOCHS))
        assert sorted(p.name for p in run_dir.iterdir()) == ["finetune"]
        for name, tensor in model.state_dict().items():
            assert torch.equal(tensor, weights[name]), name


def test_unsafe_state_file_is_an_error_naming_it(tmp_path):
    run_dir = tmp_path / "run"
    _train(run_dir)

    from pathlib import PurePosixPath

    state = run_dir / "finetune" / "state.pt"
    torch.save({"epoch": 0, "payload": PurePosixPath("x")}, state)  # an object weights_only=True refuses
    (run_dir / "finetune" / ft.COMPLETE_FILE).write_text('{"epoch": 0}')
    with pytest.raises(ValueError, match=f"{state}: cannot be loaded safely"):
        _train(run_dir, resume=True)


def test_saved_files_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        _train(tmp_path / "run")
    finally:
        os.umask(old)
    for path in (tmp_path / "run" / "finetune").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o640, path.name


def test_finetuning_shares_pretrainings_schedule_and_rng_capture(tmp_path):
    """One training toolkit: the saved scheduler follows tempvl_core.train.schedule's warmup and
    cosine, and the RNG states are pretraining's capture (restored exactly on resume)."""
    import random

    import numpy as np

    from tempvl_core.train.checkpoint import capture_rng_state, load_tensors_file
    from tempvl_core.train.schedule import warmup_cosine_factor

    config = FinetuneConfig(epochs=2, lr=0.05, warmup_ratio=0.25)
    torch.manual_seed(0)
    ft.finetune(nn.Linear(3, 1), _batches, _loss, config, steps_per_epoch=2, run_dir=tmp_path, progress=False, log=print)
    after = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    state = load_tensors_file(tmp_path / ft.STATE_DIR / "state.pt")
    assert set(state["rng"]) == set(capture_rng_state())
    assert torch.equal(state["rng"]["torch"], after[0])
    total = config.epochs * 2
    assert ft.warmup_steps(total, config.warmup_ratio) == 1
    expected = config.lr * warmup_cosine_factor(total, warmup_steps=1, total_steps=total)
    assert state["scheduler"]["_last_lr"] == [pytest.approx(expected)]
    assert state["scheduler"]["last_epoch"] == total
