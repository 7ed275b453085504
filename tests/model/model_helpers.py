"""Helpers of the model tests: a tiny CNN backbone, a small config, sample texts."""

from __future__ import annotations

import torch
from torch import nn

from tempvl_core.model import TemPVLConfig


class TinyCNN(nn.Module):
    """Two strided convolutions + global pooling: ``[N,3,H,W] -> [N,32]``."""

    num_features = 32

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.GELU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def tiny_config(**overrides) -> TemPVLConfig:
    """Smaller than the 'tiny' preset so every test stays fast on 2 cores."""
    values = dict(image_size=32, num_frames=4, video_dim=64, embed_dim=32, fusion_layers=1, text_layers=1,
                  max_text_len=16, merge_clips=3)
    values.update(overrides)
    return TemPVLConfig.tiny(**values)


TEXTS = [
    "a man is playing the guitar on stage",
    "a dog runs across the green park",
    "a woman is cooking pasta in the kitchen",
    "children are swimming in a pool",
]
