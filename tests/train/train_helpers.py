"""A small stand-in model and dataset for the engine tests (not the real TemPVL).

The stand-in follows the ``TemPVL.forward(batch) -> {"loss", "loss_*"}`` protocol and its
losses are means of per-sample terms (no batch statistics, no in-batch negatives), so one
process with a batch of 4 and two processes with 2 each compute the same gradient: that is
what the DDP equivalence test relies on. Dropout and random augmentation are there so the
resume test exercises the RNG and per-sample seeding paths.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

from tempvl_core.train.config import TrainingConfig


class StandInModel(nn.Module):
    def __init__(self, dim: int = 16, *, dropout: float = 0.1, weights: dict[str, float] | None = None) -> None:
        super().__init__()
        self.weights = weights or {"align": 1.0, "norm": 0.5}
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.proj = nn.Linear(8, dim)
        self.text_embed = nn.EmbeddingBag(128, dim, mode="mean")
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        frames = batch["frames"]
        b, t = frames.shape[:2]
        x = self.conv(frames.flatten(0, 1)).relu().mean(dim=(2, 3))
        video = self.norm(self.proj(self.dropout(x)).view(b, t, -1).mean(1))
        codes = [torch.tensor([ord(c) % 128 for c in text]) for text in batch["texts"]]
        offsets = torch.tensor([0] + [len(c) for c in codes[:-1]]).cumsum(0)
        text = self.text_embed(torch.cat(codes).to(frames.device), offsets.to(frames.device))
        losses = {
            "align": ((video - text) ** 2).mean(),
            "norm": ((video.pow(2).mean(-1) - 0.5) ** 2).mean(),
        }
        out = {f"loss_{k}": self.weights[k] * v for k, v in losses.items() if self.weights.get(k, 0.0) > 0}
        out["loss"] = sum(out.values())
        return out


class ToyClips(Dataset):
    """Deterministic base clips plus random noise drawn at load time (an 'augmentation')."""

    def __init__(self, n: int = 12, frames: int = 2, size: int = 8) -> None:
        gen = torch.Generator().manual_seed(1234)
        self.clips = torch.rand(n, frames, 3, size, size, generator=gen)
        self.texts = [f"clip number {i} " + "abcdefgh"[: (i % 7) + 1] for i in range(n)]

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, str]:
        return self.clips[index] + 0.1 * torch.rand_like(self.clips[index]), self.texts[index]


def collate(items: list[tuple[torch.Tensor, str]]) -> dict:
    return {"frames": torch.stack([f for f, _ in items]), "texts": [t for _, t in items]}


def tiny_config(**overrides) -> TrainingConfig:
    values = dict(batch_size=2, grad_accum_steps=2, lr=5e-3, warmup_steps=2, total_steps=6, precision="fp32",
                  checkpoint_every=2, log_every=1, seed=7, num_workers=0, clip_grad_norm=1.0)
    values.update(overrides)
    return TrainingConfig(**values)


def ddp_worker(rank: int, world_size: int, port: int, output_dir: str, config_kwargs: dict) -> None:
    """Body of one spawned rank: join a gloo group through the torchrun env vars and train."""
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from tempvl_core.train.distributed import init_distributed, shutdown
    from tempvl_core.train.engine import Trainer

    ctx = init_distributed("cpu")
    try:
        torch.manual_seed(0)
        model = StandInModel(dropout=0.0)
        trainer = Trainer(model, ToyClips(), tiny_config(**config_kwargs), output_dir=Path(output_dir),
                          collate_fn=collate, ctx=ctx, console=False, progress=False)
        trainer.fit()
    finally:
        shutdown(ctx)


class TinyBackbone(nn.Module):
    """Per-frame CNN ``[N,3,H,W] -> [N,24]`` standing in for a ViT backbone."""

    num_features = 24

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 12, 3, stride=2, padding=1), nn.GELU(),
                                 nn.Conv2d(12, 24, 3, stride=2, padding=1), nn.GELU(),
                                 nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


COLORS = ("red", "blue", "green", "yellow")
MOTIONS = ("moves left", "moves right", "spins", "grows")


class SyntheticPretrainClips(Dataset):
    """Decoded-clip items in the shape ``PretrainClipDataset`` yields, without any files.

    The clip's colour channel and the caption's colour word agree, so VTC has a signal; noise is
    drawn at load time so per-sample seeding matters.
    """

    def __init__(self, n: int = 8, frames: int = 2, size: int = 32) -> None:
        self.n, self.frames, self.size = n, frames, size

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> dict:
        clip = 0.3 * torch.randn(self.frames, 3, self.size, self.size)
        clip[:, index % 3] += 1.0
        mask = torch.ones(self.frames, dtype=torch.bool)
        if index % 4 == 3:  # an image-like sample: one real frame, the rest padding
            clip[1:] = 0
            mask[1:] = False
        return {"frames": clip, "frame_mask": mask,
                "text": f"a {COLORS[index % 4]} square {MOTIONS[(index // 4) % 4]}"}


TINY_TEMPVL = {"video_dim": 32, "video_heads": 2, "embed_dim": 16, "fusion_layers": 1, "text_layers": 1,
               "max_text_len": 12, "temporal_layers": 1, "grounding_layers": 1, "max_merged_frames": 16,
               "max_merged_text_len": 32}


def vtc_only_config(batch_size: int):
    """Pretraining config with VTC alone: its gathered negatives make DDP comparable to one process."""
    from tempvl_core.train.config import PretrainConfig

    return PretrainConfig.from_dict({
        "model": {"preset": "tiny", "overrides": TINY_TEMPVL},
        "losses": {"vtc": 1.0, "mlm": 0.0, "mr": 0.0, "tl": 0.0, "vtm": 0.0},
        "data": {"num_frames": 2, "size": 32},
        "training": {"batch_size": batch_size, "total_steps": 2, "warmup_steps": 0, "lr": 1e-3,
                     "checkpoint_every": 2, "log_every": 1, "precision": "fp32", "seed": 3},
    })


def build_vtc_trainer(batch_size: int, output_dir: Path, ctx=None):
    """A Trainer over the real TemPVL (VTC only) with every dropout off, so ranks' RNGs do not matter.

    The text encoder keeps its checkpoint's dropout (0.1) in train mode; it is zeroed here because
    ranks draw different dropout masks than one process would.
    """
    from tempvl_core.model import TemPVL
    from tempvl_core.train.engine import Trainer
    from tempvl_core.train.pretrain import build_model_config, seed_everything
    from tempvl_core.train.pretrain_data import collate_pretrain

    config = vtc_only_config(batch_size)
    torch.manual_seed(0)
    backbone = TinyBackbone()
    seed_everything(config.training.seed)
    model = TemPVL(build_model_config(config), backbone)
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    return Trainer(model, SyntheticPretrainClips(), config.training, output_dir=output_dir,
                   collate_fn=collate_pretrain, ctx=ctx, console=False, progress=False)


def tempvl_ddp_worker(rank: int, world_size: int, port: int, output_dir: str) -> None:
    """One rank of a gloo DDP run of the engine over the real TemPVL (VTC only)."""
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from tempvl_core.train.distributed import init_distributed, shutdown

    ctx = init_distributed("cpu")
    try:
        train_with_first_gradients(build_vtc_trainer(2, Path(output_dir), ctx))
    finally:
        shutdown(ctx)


def train_with_first_gradients(trainer) -> Path:
    """Save the (rank-averaged) gradients of the first batch to ``grads.pt``, then train normally."""
    batches = trainer._micro_batches()
    trainer.train_model(next(batches))["loss"].backward()
    batches.close()
    if trainer.ctx.is_main:
        grads = {n: p.grad.clone() for n, p in trainer.model.named_parameters() if p.grad is not None}
        trainer.output_dir.mkdir(parents=True, exist_ok=True)
        torch.save(grads, trainer.output_dir / "grads.pt")
    trainer.optimizer.zero_grad(set_to_none=True)
    trainer.state.epoch = trainer.state.batch_in_epoch = 0
    return trainer.fit()
