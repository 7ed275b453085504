"""A small CNN backbone for CPU demos and tests."""

from __future__ import annotations

import torch
from torch import nn


class TinyConvNet(nn.Module):
    """Three strided conv blocks to an 8x8 map (at 64 px), then two kinds of pooled features.

    - a global max over space per channel: *what* is in the frame, wherever it is, so a colour
      or shape detector learnt in one place works everywhere;
    - a spatial soft-argmax per channel (the activation-weighted mean x and y): *where* it is,
      so the temporal layers can read motion ("moves left") from how positions change.
    A flattened grid would tie every detector to one position and need far more data.
    """

    def __init__(self, width: int = 32, channels: int = 64, num_features: int = 256) -> None:
        super().__init__()
        chans = [3, width, width * 2, channels]
        layers: list[nn.Module] = []
        for cin, cout in zip(chans[:-1], chans[1:]):
            layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.GroupNorm(8, cout), nn.GELU()]
        layers += [nn.Conv2d(channels, channels, 3, padding=1)]
        self.features = nn.Sequential(*layers)
        self.proj = nn.Sequential(nn.LayerNorm(3 * channels), nn.Linear(3 * channels, num_features))
        self.num_features = num_features

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        maps = self.features(images)  # [N, C, h, w]
        n, c, h, w = maps.shape
        flat = maps.flatten(2)
        presence = flat.amax(dim=2)
        weights = flat.softmax(dim=2).view(n, c, h, w)
        ys = torch.linspace(-1.0, 1.0, h, device=maps.device, dtype=maps.dtype)
        xs = torch.linspace(-1.0, 1.0, w, device=maps.device, dtype=maps.dtype)
        y = (weights.sum(dim=3) * ys).sum(dim=2)
        x = (weights.sum(dim=2) * xs).sum(dim=2)
        return self.proj(torch.cat([presence, x, y], dim=1))
