"""The localization head: a small 1D conv network over per-frame video features.

For each sampled frame it predicts per-class action scores (multi-label sigmoid: is class c
happening at this frame?) and the probabilities that an action starts / ends there. Trained with
binary cross-entropy against frame targets built from the ground-truth segments
(:func:`frame_targets`); decoded by :mod:`tempvl_plugins.action_localization.decode`.

Saved as ``head.safetensors`` plus ``head.json`` (sizes and class names), never pickled.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch.nn.functional as F
from torch import Tensor, nn

HEAD_WEIGHTS = "head.safetensors"
HEAD_CONFIG = "head.json"


@dataclass(frozen=True)
class HeadConfig:
    """Sizes of the head (the ``options.head`` mapping of a task file, plus what the run knows)."""

    in_dim: int
    classes: tuple[str, ...]
    hidden: int = 256
    layers: int = 2
    kernel: int = 3
    dropout: float = 0.1
    #: Subtract each video's mean feature first: what stays constant over a video (the scene,
    #: the objects' looks) says nothing about *when* an action happens, and fitting it only
    #: memorizes the training videos.
    center: bool = True

    def __post_init__(self) -> None:
        if self.layers < 1 or self.hidden < 1 or self.kernel < 1 or self.kernel % 2 == 0:
            raise ValueError(f"head: need layers >= 1, hidden >= 1 and an odd kernel, got {self}")
        if not self.classes:
            raise ValueError("head: no action classes")


@dataclass
class HeadOutput:
    """Logits: ``classes`` ``[B, T, C]``, ``start`` and ``end`` ``[B, T]``."""

    classes: Tensor
    start: Tensor
    end: Tensor


class LocalizationHead(nn.Module):
    """Masked 1D convolutions, then class and boundary branches (padding never leaks in)."""

    def __init__(self, config: HeadConfig) -> None:
        super().__init__()
        self.config = config
        pad = config.kernel // 2
        dims = [config.in_dim] + [config.hidden] * config.layers
        self.norm = nn.LayerNorm(config.in_dim)
        self.convs = nn.ModuleList(nn.Conv1d(a, b, config.kernel, padding=pad) for a, b in zip(dims[:-1], dims[1:]))
        self.dropout = nn.Dropout(config.dropout)
        self.cls = nn.Conv1d(config.hidden, len(config.classes), config.kernel, padding=pad)
        self.boundary = nn.Conv1d(config.hidden, 2, config.kernel, padding=pad)
        # Start from "mostly background" (prior 0.1), as detection heads do, so early training
        # is not dominated by the many negative frames.
        prior = float(np.log(0.1 / 0.9))
        nn.init.constant_(self.cls.bias, prior)
        nn.init.constant_(self.boundary.bias, prior)

    def forward(self, features: Tensor, mask: Tensor | None = None) -> HeadOutput:
        x = features.float()
        keep = None if mask is None else mask.to(x.device).unsqueeze(1).to(x.dtype)  # [B, 1, T]
        if self.config.center:
            if keep is None:
                x = x - x.mean(1, keepdim=True)
            else:
                weights = keep.transpose(1, 2)  # [B, T, 1]
                x = x - (x * weights).sum(1, keepdim=True) / weights.sum(1, keepdim=True).clamp(min=1.0)
        x = self.norm(x)
        x = x.transpose(1, 2)  # [B, D, T]
        for conv in self.convs:
            if keep is not None:
                x = x * keep
            x = self.dropout(F.gelu(conv(x)))
        if keep is not None:
            x = x * keep
        classes, boundary = self.cls(x).transpose(1, 2), self.boundary(x)
        return HeadOutput(classes, boundary[:, 0], boundary[:, 1])


@dataclass
class FrameTargets:
    """Soft targets for one video: ``classes`` ``[T, C]``, ``start``/``end`` ``[T]`` in [0, 1]."""

    classes: np.ndarray
    start: np.ndarray
    end: np.ndarray


def frame_targets(times: np.ndarray, step: float, segments: Sequence[tuple[int, float, float]],
                  num_classes: int) -> FrameTargets:
    """Targets of the frames at ``times`` for ``segments`` ``(class index, start s, end s)``.

    A frame is positive for a class when the centre of the time it covers lies in a segment.
    Boundary targets are Gaussians around each start/end (sigma: one frame or a tenth of the
    segment, whichever is longer), so a boundary one frame off still gets credit.
    """
    times = np.asarray(times, dtype=np.float64)
    centres = times + step / 2
    classes = np.zeros((len(times), num_classes), dtype=np.float32)
    start = np.zeros(len(times), dtype=np.float32)
    end = np.zeros(len(times), dtype=np.float32)
    for c, s, e in segments:
        classes[(centres >= s) & (centres <= e), c] = 1.0
        sigma = max(step, 0.1 * (e - s))
        # A start is where a frame's span begins; an end is where it stops (times + step).
        start = np.maximum(start, np.exp(-((times - s) ** 2) / (2 * sigma**2)))
        end = np.maximum(end, np.exp(-((times + step - e) ** 2) / (2 * sigma**2)))
    return FrameTargets(classes, start.astype(np.float32), end.astype(np.float32))


def head_loss(output: HeadOutput, targets: dict[str, Tensor], mask: Tensor) -> Tensor:
    """Class BCE plus boundary BCE, averaged over real frames (``mask`` True)."""
    m = mask.to(output.classes.device).float()
    frames = m.sum().clamp(min=1.0)
    cls = F.binary_cross_entropy_with_logits(output.classes, targets["classes"], reduction="none")
    cls = (cls.sum(-1) * m).sum() / frames
    bnd = F.binary_cross_entropy_with_logits(output.start, targets["start"], reduction="none")
    bnd = bnd + F.binary_cross_entropy_with_logits(output.end, targets["end"], reduction="none")
    return cls + (bnd * m).sum() / frames


def save_head(head: LocalizationHead, directory: Path) -> Path:
    """Write ``head.safetensors`` and ``head.json`` into ``directory``; returns the weights file."""
    from tempvl_core.model.checkpoint import save_weights

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_weights(head, directory / HEAD_WEIGHTS)
    config = asdict(head.config) | {"classes": list(head.config.classes)}
    (directory / HEAD_CONFIG).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return directory / HEAD_WEIGHTS


def load_head(directory: Path) -> LocalizationHead:
    """Rebuild a head written by :func:`save_head`."""
    from safetensors.torch import load_model

    directory = Path(directory)
    path = directory / HEAD_CONFIG
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        config = HeadConfig(**(raw | {"classes": tuple(raw["classes"])}))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no head config here (expected next to {HEAD_WEIGHTS})") from None
    except (ValueError, TypeError, KeyError) as err:
        raise ValueError(f"{path}: not a valid head config: {err}") from None
    head = LocalizationHead(config)
    load_model(head, str(directory / HEAD_WEIGHTS))
    return head
