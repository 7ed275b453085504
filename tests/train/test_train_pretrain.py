"""``run_pretraining`` with the real TemPVL model (tiny, CPU): losses, switches, resume, export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import safetensors.torch
import torch

from tempvl_core.train.config import PretrainConfig
from tempvl_core.train.engine import LOG_FILE
from train_helpers import TINY_TEMPVL, SyntheticPretrainClips, TinyBackbone

pytest.importorskip("tempvl_core.model", reason="the TemPVL model package is not present")
from tempvl_core.model import TemPVL  # noqa: E402


def config(**training) -> PretrainConfig:
    values = dict(batch_size=4, total_steps=3, warmup_steps=1, lr=1e-3, checkpoint_every=2, log_every=1,
                  precision="fp32", seed=3)
    values.update(training)
    return PretrainConfig.from_dict({
        "model": {"preset": "tiny", "overrides": TINY_TEMPVL},
        "losses": {"vtc": 1.0, "mlm": 1.0, "mr": 0.0, "tl": 1.0, "vtm": 0.0},
        "merge": {"k": 2, "strategy": "random"},
        "data": {"num_frames": 2, "size": 32},
        "training": values,
    })


def run(output_dir: Path, **kwargs) -> Path:
    from tempvl_core.train.pretrain import run_pretraining

    torch.manual_seed(0)
    return run_pretraining(config(), data_root=output_dir, output_dir=output_dir, backbone=TinyBackbone(),
                           dataset=SyntheticPretrainClips(), progress=False, **kwargs)


@pytest.mark.slow
def test_tempvl_resume_is_exact_and_final_checkpoint_exports(tmp_path: Path) -> None:
    full = run(tmp_path / "full")
    run(tmp_path / "split", stop_after=2)
    split = run(tmp_path / "split", resume=True)

    log = [json.loads(line) for line in (tmp_path / "full" / LOG_FILE).read_text().splitlines()]
    assert {k for k in log[0] if k.startswith("loss_")} == {"loss_vtc", "loss_mlm", "loss_tl"}  # mr, vtm off
    split_log = [json.loads(line) for line in (tmp_path / "split" / LOG_FILE).read_text().splitlines()]
    assert [r["loss"] for r in split_log] == [r["loss"] for r in log]  # MLM masks and merges replayed too

    a = TemPVL.from_pretrained(full, TinyBackbone())  # what `tempvl-bench run --checkpoint` does
    b = safetensors.torch.load_file(str(split / "model.safetensors"))
    for name, tensor in safetensors.torch.load_file(str(full / "model.safetensors")).items():
        assert torch.equal(tensor, b[name]), name
        assert torch.equal(tensor, a.state_dict()[name]), name
    assert a.config.loss_weights["mr"] == 0.0 and a.config.merge_clips == 2 and a.config.num_frames == 2


def test_bf16_autocast_with_padded_frames(tmp_path: Path) -> None:
    # Every 4th synthetic sample is image-like (1 real frame + padding): the masked path under autocast.
    from tempvl_core.train.pretrain import run_pretraining

    cfg = config(precision="bf16", total_steps=2)
    final = run_pretraining(cfg, data_root=tmp_path, output_dir=tmp_path, backbone=TinyBackbone(),
                            dataset=SyntheticPretrainClips(), progress=False)
    log = [json.loads(line) for line in (tmp_path / LOG_FILE).read_text().splitlines()]
    assert len(log) == 2 and all(torch.isfinite(torch.tensor(r["loss"])) for r in log)
    weights = safetensors.torch.load_file(str(final / "model.safetensors"))
    # autocast leaves the weights in fp32 (the one integer tensor is the merge-step counter)
    assert all(t.dtype == torch.float32 for name, t in weights.items() if name != "merge_steps")


@pytest.mark.slow
def test_short_demo_pretraining_lowers_every_loss(tmp_path: Path) -> None:
    demo = pytest.importorskip("tempvl_core.data.demo", reason="demo data generators are not present")
    from tempvl_core.train.pretrain import build_model_config, build_pretrain_dataset, run_pretraining
    from tempvl_core.train.pretrain_data import collate_pretrain

    root = demo.ensure_demo_dataset("pretrain")
    cfg = PretrainConfig.from_dict({
        "model": {"preset": "tiny", "overrides": TINY_TEMPVL},
        "losses": {"vtc": 1.0, "mlm": 1.0, "mr": 1.0, "tl": 1.0},
        "data": {"num_frames": 2, "size": 32},
        "training": {"batch_size": 8, "total_steps": 8, "warmup_steps": 1, "lr": 3e-3, "checkpoint_every": 8,
                     "log_every": 4, "precision": "fp32", "seed": 0},
    })
    dataset = build_pretrain_dataset(cfg, root)
    assert len(dataset) == 256 and sum(item.is_image for item in dataset.items) == 128
    probe = collate_pretrain([dataset[i] for i in (0, 1, 2, 3, 130, 131, 132, 133)])

    def losses(model: TemPVL) -> dict[str, float]:
        # Same clips, same MLM masks and merges (fixed generator), no dropout: only the weights differ.
        model.eval()
        with torch.no_grad():
            out = model(probe, generator=torch.Generator().manual_seed(0))
        return {k: float(v) for k, v in out.items()}

    torch.manual_seed(0)
    before = losses(TemPVL(build_model_config(cfg), TinyBackbone()))
    final = run_pretraining(cfg, data_root=root, output_dir=tmp_path, backbone=TinyBackbone(), progress=False)
    after = losses(TemPVL.from_pretrained(final, TinyBackbone()))
    assert set(before) == {"loss", "loss_vtc", "loss_mlm", "loss_mr", "loss_tl"}
    for name in before:
        assert after[name] < before[name], (name, before[name], after[name])


@pytest.mark.slow
def test_tempvl_vtc_ddp_matches_single_process(tmp_path: Path) -> None:
    # VTC gathers negatives from every rank, so 2 ranks x 2 clips see the same 4x4 similarity
    # matrix as 1 process x 4 clips (rows permuted): same loss, and the same update only if the
    # gather passes gradients back with the right scale.
    import socket

    import torch.multiprocessing as mp

    from train_helpers import build_vtc_trainer, tempvl_ddp_worker, train_with_first_gradients

    single = train_with_first_gradients(build_vtc_trainer(4, tmp_path / "single"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    mp.spawn(tempvl_ddp_worker, args=(2, port, str(tmp_path / "ddp")), nprocs=2)

    logs = [[json.loads(line) for line in (tmp_path / name / LOG_FILE).read_text().splitlines()]
            for name in ("single", "ddp")]
    assert [r["step"] for r in logs[1]] == [1, 2]
    for a, b in zip(*logs):
        assert a["loss_vtc"] == pytest.approx(b["loss_vtc"], rel=1e-5)
    # Gradients, not only weights: AdamW is invariant to a constant gradient scale, so a gather
    # that scaled gradients by the world size would still give matching weights.
    grads = [torch.load(tmp_path / name / "grads.pt", weights_only=True) for name in ("single", "ddp")]
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) > 40
    for name, grad in grads[0].items():
        torch.testing.assert_close(grads[1][name], grad, rtol=1e-3, atol=1e-6, msg=name)
    # Weights: equal up to float noise that Adam amplifies where a gradient is ~0 (< lr / 2).
    ddp = safetensors.torch.load_file(str(tmp_path / "ddp" / "checkpoints" / "step_000002" / "model.safetensors"))
    for name, tensor in safetensors.torch.load_file(str(single / "model.safetensors")).items():
        torch.testing.assert_close(ddp[name], tensor, rtol=0, atol=5e-4, msg=name)
