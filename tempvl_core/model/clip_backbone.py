"""The two backbone kinds and the clip kind's temporal stride.

- **per-frame**: ``forward(images [N, 3, H, W]) -> [N, C]``; TemPVL applies it to every frame.
- **clip** (video): ``forward(clips [B, T, 3, H, W]) -> [B, T / s, C]`` where ``s`` is the
  int attribute ``temporal_stride``; its presence is what marks the clip kind. ``T`` is always
  a multiple of ``s`` (the last real frame is repeated to get there).

Both have an int attribute ``num_features`` (= C). With a clip backbone, feature position
``k`` covers frames ``k*s .. k*s+s-1``: its mask is the mask of frame ``k*s`` and its timestamp
the timestamp of frame ``k*s`` (the start of its time cell), so windows over feature positions
map to the same seconds as windows over frames. :func:`feature_mask` and :func:`feature_times`
do that mapping; every consumer of per-frame features (moment retrieval, action localization)
uses them, and they are the identity for per-frame backbones.

A third kind, :class:`FeatureInput`, stands in for the backbone when videos come as feature
packs (:mod:`tempvl_core.data.features`): its "frames" are already feature rows ``[B, T, C]``,
which pass through unchanged to the video encoder's learnt projection.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class FeatureInput(nn.Module):
    """The backbone of a model fed feature-pack rows ``[B, T, num_features]``: they pass through."""

    takes_features = True

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = int(num_features)

    def forward(self, rows: Tensor) -> Tensor:
        return rows


def takes_features(backbone: nn.Module) -> bool:
    """True for :class:`FeatureInput` (rows of a feature pack instead of images)."""
    return bool(getattr(backbone, "takes_features", False))


def takes_clips(backbone: nn.Module) -> bool:
    """True for a clip (video) backbone, False for a per-frame image backbone."""
    return getattr(backbone, "temporal_stride", None) is not None


def temporal_stride(backbone: nn.Module) -> int:
    """Frames per output feature: the clip backbone's ``temporal_stride``, 1 per frame."""
    stride = getattr(backbone, "temporal_stride", None)
    if stride is None:
        return 1
    if not isinstance(stride, int) or isinstance(stride, bool) or stride < 1:
        raise TypeError(
            f"backbone {type(backbone).__name__}.temporal_stride must be a positive int (got {stride!r}); "
            "a clip backbone maps [B, T, 3, H, W] to [B, T / temporal_stride, num_features]"
        )
    return stride


def feature_mask(frame_mask: Tensor | None, stride: int) -> Tensor | None:
    """``[B, T]`` frame mask -> ``[B, ceil(T / stride)]`` mask of feature positions."""
    return frame_mask if frame_mask is None or stride == 1 else frame_mask[:, ::stride]


def feature_times(timestamps: Tensor, stride: int) -> Tensor:
    """``[..., T]`` frame timestamps -> the start time of each feature position's cell."""
    return timestamps if stride == 1 else timestamps[..., ::stride]


def clip_features(backbone: nn.Module, frames: Tensor, frame_mask: Tensor | None = None) -> Tensor:
    """Features ``[B, ceil(T / s), C]`` of a clip backbone (zeros at padded positions).

    Videos are run in groups of equal (stride-rounded) real length, so padding frames never
    reach the backbone and never influence real features: each video's last real frame is
    repeated up to a multiple of the stride instead.
    """
    stride = temporal_stride(backbone)
    b, t = frames.shape[:2]
    width = -(-t // stride)
    lengths = [t] * b if frame_mask is None else frame_mask.sum(1).tolist()
    if min(lengths) < 1:
        raise ValueError("frame_mask marks a video without any real frame")
    padded = [-(-int(n) // stride) * stride for n in lengths]
    out: Tensor | None = None
    for size in sorted(set(padded)):
        rows = [i for i, p in enumerate(padded) if p == size]
        last = torch.tensor([lengths[i] - 1 for i in rows], device=frames.device)
        source = torch.arange(size, device=frames.device)[None].minimum(last[:, None])  # repeat the last real frame
        rows_t = torch.tensor(rows, device=frames.device)
        feats = backbone(frames[rows_t[:, None], source])
        if feats.dim() != 3 or tuple(feats.shape[:2]) != (len(rows), size // stride):
            raise ValueError(
                f"clip backbone {type(backbone).__name__} returned {tuple(feats.shape)} for clips "
                f"{(len(rows), size, *frames.shape[2:])}; expected [B, T / temporal_stride = {size // stride}, C]"
            )
        if out is None:  # allocated after the backbone so the dtype follows autocast
            out = feats.new_zeros(b, width, feats.shape[-1])
        out[rows_t, : size // stride] = feats
    assert out is not None
    return out


def model_stride(model: nn.Module) -> int:
    """Frames per feature position of a TemPVL model (its backbone's temporal stride); 1 for a
    model without a TemPVL video encoder, whose frame features are per frame."""
    encoder = getattr(model, "video_encoder", None)
    return 1 if encoder is None else temporal_stride(encoder.backbone)


def at_feature_rate(batch: dict, stride: int) -> dict:
    """A shallow copy of a clip batch whose ``frame_mask`` and ``timestamps`` follow the
    feature positions (``frames`` untouched: the model takes them at the frame rate)."""
    if stride == 1:
        return batch
    out = dict(batch)
    out["frame_mask"] = feature_mask(batch["frame_mask"], stride)
    if "timestamps" in batch:
        out["timestamps"] = feature_times(batch["timestamps"], stride)
    return out
