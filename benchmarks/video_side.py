"""Where does the video side of the localization study learn slowly? VTC alone, side by side.

Trains only the contrastive loss (VTC) of the study's model (configs/study/demo.yaml, seed 0) on
the demo episodes, two episodes a step, with four video sides in turn:

- ``cnn-tiny``: the study's backbone (learnt from random init);
- ``cnn-tiny + temporal difference``: the same with ``temporal_difference: true`` (each frame
  also gets a learnt map of ``x_{t+1} - x_{t-1}`` before the temporal layers);
- ``colour oracle``: a fixed backbone that reads each demo colour's presence and centre in
  every frame (what a perfect per-frame detector would give), a linear layer on top;
- ``colour oracle + temporal conv``: the same, with a residual temporal convolution before the
  temporal layers, so frame-to-frame differences (motion) are one linear step away;
- ``caption oracle``: no video at all, a learnt embedding of the caption's (colour, motion):
  how fast the text side and the loss can learn when the video side is solved.

Prints the mean VTC loss of the last 50 steps at each checkpoint (ln 7 = 1.95 is chance for
about 7 clips). Training losses only: no split is evaluated.

    python benchmarks/video_side.py [--steps 300]
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from tabulate import tabulate
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tempvl_bench.plugin.manager import load_plugins  # noqa: E402
from tempvl_bench.study import runner  # noqa: E402
from tempvl_bench.study.config import load_study_config  # noqa: E402
from tempvl_core.data.demo.vocab import COLOURS, MOTIONS  # noqa: E402
from tempvl_core.model import TemPVL  # noqa: E402
from tempvl_core.model.fusion import NeighbourConv  # noqa: E402
from tempvl_core.train.pretrain import build_model_config, seed_everything  # noqa: E402

MEAN, STD = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])


class ColourOracle(nn.Module):
    """Per frame: for each demo colour, how present it is and where (soft centre), linear."""

    num_features = 256

    def __init__(self) -> None:
        super().__init__()
        rgb = torch.tensor(list(COLOURS.values())).float() / 255
        self.register_buffer("colours", (rgb - MEAN) / STD)
        self.linear = nn.Linear(3 * len(COLOURS), self.num_features)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        distance = ((images[:, None] - self.colours[None, :, :, None, None]) ** 2).sum(2)  # [N, C, H, W]
        weight = torch.exp(-distance / 0.5)
        presence = weight.flatten(2).amax(2)
        weight = weight / weight.sum((2, 3), keepdim=True).clamp(min=1e-6)
        ys = torch.linspace(-1, 1, images.shape[2])
        xs = torch.linspace(-1, 1, images.shape[3])
        y, x = (weight.sum(3) * ys).sum(2), (weight.sum(2) * xs).sum(2)
        return self.linear(torch.cat([presence, x, y], 1))


class ConvFirst(nn.Module):
    """The video encoder's temporal layers with a temporal convolution in front."""

    def __init__(self, temporal: nn.Module, dim: int) -> None:
        super().__init__()
        self.conv, self.temporal = NeighbourConv(dim, 3), temporal

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.temporal(self.conv(x, padding_mask), padding_mask=padding_mask)


def _caption_key(caption: str) -> int:
    colour = caption.split()[1]
    motion = next(i for i, m in enumerate(MOTIONS.values()) if caption.endswith(m.phrase))
    return list(COLOURS).index(colour) * len(MOTIONS) + motion


def train(side: str, cfg, host, episodes, steps: int, every: int) -> list[float]:
    seed_everything(0)
    model_cfg = build_model_config(runner._pretrain_config(cfg, cfg.variant("vtc_mlm"), 0))
    # Only the one side has temporal differences, whatever the config says.
    model_cfg = dataclasses.replace(model_cfg, temporal_difference=side.endswith("temporal difference"))
    model = TemPVL(model_cfg, runner._backbone(cfg, host))
    if side.startswith("colour oracle"):
        model.video_encoder.backbone = ColourOracle()
    if side.endswith("temporal conv"):
        model.video_encoder.temporal = ConvFirst(model.video_encoder.temporal, model.config.video_dim)
    lookup = nn.Embedding(len(COLOURS) * len(MOTIONS), model.config.embed_dim)
    params = [p for p in model.parameters() if p.requires_grad] + list(lookup.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.pretrain["lr"], weight_decay=0.01)
    rng, losses, marks = random.Random(0), [], []
    model.train()
    for step in range(1, steps + 1):
        chosen = rng.sample(range(len(episodes.frames)), 2)
        clips = [c for e in chosen for c in episodes.frames[e]]
        captions = [c for e in chosen for c in episodes.captions[e]]
        if side == "caption oracle":
            video = F.normalize(lookup(torch.tensor([_caption_key(c) for c in captions])), dim=-1)
        else:
            length = max(len(c) for c in clips)
            frames = torch.zeros(len(clips), length, *clips[0].shape[1:])
            mask = torch.zeros(len(clips), length, dtype=torch.bool)
            for i, clip in enumerate(clips):
                frames[i, : len(clip)], mask[i, : len(clip)] = clip.float(), True
            video = model.encode_video(frames, mask)
        loss = model.vtc_loss(video, model.encode_text(captions))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if step % every == 0:
            marks.append(sum(losses[-50:]) / len(losses[-50:]))
    return marks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "study" / "demo.yaml")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--cache", type=Path, default=None, help="decoded-frames cache (default: a temporary folder)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = load_study_config(args.config)
    host = load_plugins()
    cache = args.cache or Path(tempfile.mkdtemp(prefix="tempvl-video-side-"))
    episodes = runner._load_data(cfg, cache, progress=True)["episodes"]
    sides = ["cnn-tiny", "cnn-tiny + temporal difference", "colour oracle", "colour oracle + temporal conv", "caption oracle"]
    rows = [[side, *(f"{v:.3f}" for v in train(side, cfg, host, episodes, args.steps, args.every))] for side in sides]
    print("\nVTC loss (mean of the last 50 steps), 2 episodes a step, seed 0; chance ln 7 = 1.95")
    print(tabulate(rows, headers=["video side", *(f"step {s}" for s in range(args.every, args.steps + 1, args.every))]))


if __name__ == "__main__":
    main()
