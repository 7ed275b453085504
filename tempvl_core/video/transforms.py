"""Clip transforms: uint8 ``[T, H, W, 3]`` frames (numpy or torch) to float ``[T, 3, H, W]`` tensors.

Normalisation uses the CLIP image statistics (``CLIP_MEAN`` / ``CLIP_STD``, RGB, on values scaled
to [0, 1]) because the TemPVL backbones are CLIP-initialised ViTs; a backbone trained with other
statistics should pass its own ``mean``/``std``.

``train_transform`` draws ONE random resized crop (scale (0.5, 1), aspect ratio (3/4, 4/3)) and
one flip decision per clip and applies them to every frame, so motion between frames is not
distorted. Horizontal flipping is off by default (``hflip=False``): it swaps left and right, which
contradicts captions and questions that mention directions ("turns left", "moves to the right"),
common in temporal benchmarks. Turn it on only for datasets whose text has no directions.

Randomness comes from a ``numpy.random.Generator`` passed per call, so the data pipeline can make
every sample's crop a function of (seed, epoch, index), independent of the number of workers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def to_tensor_tchw(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 ``[T, H, W, 3]`` to float ``[T, 3, H, W]`` in [0, 1]."""
    if isinstance(frames, np.ndarray):
        # Decoders may hand out read-only buffers; torch must not alias those.
        frames = np.require(frames, requirements=("C_CONTIGUOUS", "WRITEABLE"))
    x = torch.as_tensor(frames)
    if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"expected uint8 frames [T, H, W, 3], got {x.dtype} {tuple(x.shape)}")
    return x.permute(0, 3, 1, 2).float().div_(255.0)


def _normalize(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    m = torch.tensor(mean, dtype=x.dtype).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - m) / s


def _resize(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    if x.shape[-2:] == (h, w):
        return x
    return F.interpolate(x, size=(h, w), mode="bilinear", antialias=True, align_corners=False)


def random_resized_crop_box(
    height: int,
    width: int,
    rng: np.random.Generator,
    scale: tuple[float, float] = (0.5, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> tuple[int, int, int, int]:
    """``(top, left, h, w)`` covering a random ``scale`` fraction of the area at a random aspect
    ratio (log-uniform), falling back to the largest centred box within ``ratio``."""
    area = height * width
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(log_lo, log_hi))
        w = round(math.sqrt(target * aspect))
        h = round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
    in_ratio = width / height
    if in_ratio < ratio[0]:
        w, h = width, round(width / ratio[0])
    elif in_ratio > ratio[1]:
        h, w = height, round(height * ratio[1])
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


@dataclass(frozen=True)
class EvalTransform:
    """Resize the short side to ``size``, centre-crop ``size x size``, normalise."""

    size: int
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD

    def __call__(self, frames, rng: np.random.Generator | None = None) -> torch.Tensor:
        x = to_tensor_tchw(frames)
        h, w = x.shape[-2:]
        if (h, w) != (self.size, self.size):
            scale = self.size / min(h, w)
            x = _resize(x, max(self.size, round(h * scale)), max(self.size, round(w * scale)))
            top, left = (x.shape[-2] - self.size) // 2, (x.shape[-1] - self.size) // 2
            x = x[..., top : top + self.size, left : left + self.size]
        return _normalize(x, self.mean, self.std)


@dataclass(frozen=True)
class TrainTransform:
    """One random resized crop (and optional flip) per clip, resized to ``size x size``, normalised."""

    size: int
    scale: tuple[float, float] = (0.5, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    hflip: bool = False
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD

    def __call__(self, frames, rng: np.random.Generator | None = None) -> torch.Tensor:
        rng = rng if rng is not None else np.random.default_rng()
        x = to_tensor_tchw(frames)
        top, left, h, w = random_resized_crop_box(x.shape[-2], x.shape[-1], rng, self.scale, self.ratio)
        x = _resize(x[..., top : top + h, left : left + w], self.size, self.size)
        if self.hflip and rng.random() < 0.5:
            x = x.flip(-1)
        return _normalize(x, self.mean, self.std)


def train_transform(
    size: int, *, hflip: bool = False, scale: tuple[float, float] = (0.5, 1.0)
) -> TrainTransform:
    """Training transform (see the module docstring for why ``hflip`` defaults to False)."""
    return TrainTransform(size=size, scale=scale, hflip=hflip)


def eval_transform(size: int) -> EvalTransform:
    """Evaluation transform: short side to ``size``, centre crop, CLIP normalisation."""
    return EvalTransform(size=size)
