"""A small CNN backbone for CPU demos and tests."""

from __future__ import annotations

import torch
from torch import nn


class TinyConvNet(nn.Module):
    """Four strided conv blocks, then a 4x4 average-pooled grid flattened into the feature.

    Keeping a coarse spatial grid (rather than global pooling) lets the temporal layers see
    *where* things are in each frame, which is what motion words ("moves left") depend on.
    """

    def __init__(self, width: int = 32, grid: int = 4, num_features: int = 256) -> None:
        super().__init__()
        chans = [3, width, width * 2, width * 2, width]
        layers: list[nn.Module] = []
        for cin, cout in zip(chans[:-1], chans[1:]):
            layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.GroupNorm(8, cout), nn.GELU()]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(grid)
        self.proj = nn.Linear(width * grid * grid, num_features)
        self.num_features = num_features

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.proj(self.pool(self.features(images)).flatten(1))
