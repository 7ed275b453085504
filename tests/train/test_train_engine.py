"""Engine behaviour on CPU with the stand-in model: resume exactness, checkpoints, logging, DDP."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest
import safetensors.torch
import torch
import torch.multiprocessing as mp

from tempvl_core.train.engine import LOG_FILE, Trainer
from train_helpers import StandInModel, ToyClips, collate, ddp_worker, tiny_config

LOSS_KEYS = ("loss", "loss_align", "loss_norm")


def read_log(output_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (output_dir / LOG_FILE).read_text().splitlines()]


def make_trainer(output_dir: Path, *, init_seed: int = 0, **config) -> Trainer:
    torch.manual_seed(init_seed)
    return Trainer(StandInModel(), ToyClips(), tiny_config(**config), output_dir=output_dir,
                   collate_fn=collate, console=False, progress=False)


def test_resumed_run_is_bit_identical_to_uninterrupted(tmp_path: Path) -> None:
    # 12 clips / (batch 2 x accum 2) = 3 steps per epoch: stopping at step 4 is mid-epoch.
    full = make_trainer(tmp_path / "full")
    full.fit()

    first = make_trainer(tmp_path / "split")
    first.fit(stop_after=4)
    # A fresh process would build the model from another seed: the checkpoint must win.
    # Workers differ too (2 vs 0): per-sample seeding makes loading worker-independent.
    second = make_trainer(tmp_path / "split", init_seed=99, num_workers=2)
    final = second.fit(resume=True)

    assert final.name == "step_000006"
    for name, tensor in full.model.state_dict().items():
        assert torch.equal(tensor, second.model.state_dict()[name]), name
    full_log = read_log(tmp_path / "full")
    split_log = read_log(tmp_path / "split")
    assert [r["step"] for r in split_log] == [1, 2, 3, 4, 5, 6]
    for a, b in zip(full_log, split_log):
        assert {k: a[k] for k in LOSS_KEYS + ("lr", "epoch")} == {k: b[k] for k in LOSS_KEYS + ("lr", "epoch")}
    assert full_log[-1]["epoch"] == 2


def test_run_killed_after_its_last_checkpoint_replays_exactly(tmp_path: Path) -> None:
    full = make_trainer(tmp_path / "full")
    full.fit()
    crashed = make_trainer(tmp_path / "crash", checkpoint_every=2)
    crashed.fit(stop_after=3)
    # As if killed during step 4: step 3 was logged but never checkpointed.
    root = tmp_path / "crash" / "checkpoints"
    shutil.rmtree(root / "step_000003")
    (root / "latest").write_text("step_000002\n")
    resumed = make_trainer(tmp_path / "crash", init_seed=5)
    resumed.fit(resume=True)
    for name, tensor in full.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name
    log = read_log(tmp_path / "crash")
    assert [r["step"] for r in log] == [1, 2, 3, 4, 5, 6]  # replayed step 3 logged once
    assert [r["loss"] for r in log] == [r["loss"] for r in read_log(tmp_path / "full")]


def test_gradient_accumulation_equals_the_larger_batch(tmp_path: Path) -> None:
    # Batch 4 in one micro-step vs 2 micro-steps of 2 (the same 4 clips: the stand-in's losses are
    # per-sample means, and the engine divides each micro-batch loss by the accumulation count).
    runs = []
    for name, batch, accum in (("big", 4, 1), ("accum", 2, 2)):
        torch.manual_seed(0)
        trainer = Trainer(StandInModel(dropout=0.0), ToyClips(), tiny_config(batch_size=batch, grad_accum_steps=accum,
                          total_steps=3), output_dir=tmp_path / name, collate_fn=collate, console=False, progress=False)
        trainer.fit()
        runs.append((trainer, read_log(tmp_path / name)))
    (big, big_log), (acc, acc_log) = runs
    for a, b in zip(big_log, acc_log):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5) and a["grad_norm"] == pytest.approx(b["grad_norm"], rel=1e-4)
    for name, tensor in big.model.state_dict().items():
        torch.testing.assert_close(acc.model.state_dict()[name], tensor, rtol=1e-4, atol=1e-6)


def test_checkpoint_files_load_with_weights_only(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path, total_steps=2)
    final = trainer.fit()
    assert (tmp_path / "checkpoints" / "latest").read_text().strip() == final.name
    assert not list((tmp_path / "checkpoints").glob(".tmp-*"))
    for pt_file in final.glob("*.pt"):
        torch.load(pt_file, map_location="cpu", weights_only=True)
    weights = safetensors.torch.load_file(str(final / "model.safetensors"))
    assert torch.equal(weights["proj.weight"], trainer.model.proj.weight.detach())
    state = torch.load(final / "trainer_state.pt", weights_only=True)
    assert state["counters"]["step"] == 2 and state["counters"]["samples_seen"] == 2 * 2 * 2


def test_losses_go_down_and_switched_off_loss_is_not_logged(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = StandInModel(dropout=0.0, weights={"align": 1.0, "norm": 0.0})
    trainer = Trainer(model, ToyClips(), tiny_config(total_steps=12, lr=2e-2), output_dir=tmp_path,
                      collate_fn=collate, console=False, progress=False)
    trainer.fit()
    log = read_log(tmp_path)
    assert all("loss_norm" not in r and "loss_align" in r for r in log)
    assert log[-1]["loss_align"] < log[0]["loss_align"]
    assert all(r["clips_per_s"] > 0 for r in log)


def test_bf16_autocast_on_cpu_trains(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path, precision="bf16", total_steps=2)
    trainer.fit()
    assert trainer.autocast and trainer.amp_dtype == torch.bfloat16
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in read_log(tmp_path))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow  # distributed: two gloo processes
def test_two_process_ddp_matches_single_process_with_same_global_batch(tmp_path: Path) -> None:
    # Global batch 4 per micro-step: 1 process x 4 vs 2 processes x 2 (the stand-in's losses are
    # per-sample means, so both compute the same gradient; only float summation order differs).
    single_dir, ddp_dir = tmp_path / "single", tmp_path / "ddp"
    torch.manual_seed(0)
    single = Trainer(StandInModel(dropout=0.0), ToyClips(), tiny_config(batch_size=4, total_steps=4),
                     output_dir=single_dir, collate_fn=collate, console=False, progress=False)
    single.fit()
    mp.spawn(ddp_worker, args=(2, _free_port(), str(ddp_dir), {"batch_size": 2, "total_steps": 4}), nprocs=2)

    single_log, ddp_log = read_log(single_dir), read_log(ddp_dir)
    assert len(single_log) == len(ddp_log) == 4
    for a, b in zip(single_log, ddp_log):
        for key in LOSS_KEYS:
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-7), (a["step"], key)
    ddp_weights = safetensors.torch.load_file(str(ddp_dir / "checkpoints" / "step_000004" / "model.safetensors"))
    for name, tensor in single.model.state_dict().items():
        torch.testing.assert_close(ddp_weights[name], tensor, rtol=1e-4, atol=1e-6)
    assert (ddp_dir / "checkpoints" / "step_000004" / "rng_rank1.pt").is_file()  # every rank saves its RNG
