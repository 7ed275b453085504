"""Video encoder: a per-frame image backbone followed by temporal transformer layers.

The two stages are separate methods (:meth:`VideoEncoder.frame_features`,
:meth:`VideoEncoder.contextualize`) because moment-retrieval pretraining merges the frame
features of several clips *between* them: the temporal layers then see one long sequence with
positions of that sequence only, exactly as they see an evaluation video.

The backbone is an object (never a name): any ``nn.Module`` mapping images ``[N, 3, H, W]``
to features ``[N, C]`` with an int attribute ``num_features``, or a clip backbone mapping
``[B, T, 3, H, W]`` to ``[B, T / temporal_stride, C]`` (:mod:`tempvl_core.model.clip_backbone`);
then "frames" below are feature positions and masks follow the stride (:meth:`feature_mask`).
The built-in ones (timm ViT, Swin, Video Swin-T, a tiny CNN) live in the backbone plugins.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tempvl_core.model.clip_backbone import (
    FeatureInput,
    clip_features,
    feature_mask,
    takes_clips,
    takes_features,
    temporal_stride,
)
from tempvl_core.model.layers import TransformerStack


def backbone_num_features(backbone: nn.Module) -> int:
    """Return ``backbone.num_features`` or raise an actionable error."""
    num = getattr(backbone, "num_features", None)
    if not isinstance(num, int) or num <= 0:
        raise TypeError(
            f"backbone {type(backbone).__name__} must have a positive int attribute `num_features` "
            f"(got {num!r}); wrap it so it maps images [N,3,H,W] to features [N,num_features]"
        )
    temporal_stride(backbone)  # a clip backbone's stride must be a positive int
    return num


class TemporalDifference(nn.Module):
    """``x_t + W (x_{t+1} - x_{t-1})``: each frame also carries how the features change around it.

    A per-frame backbone sees no motion, and temporal layers from random init learn to subtract
    neighbouring frames slowly; with the difference one linear step away, "the red square moves
    up" is readable from a frame and from the mean over frames (``benchmarks/video_side.py``).
    At the first and last real frame (and next to padding) the missing neighbour is the frame
    itself, so the difference is one-sided; padded frames stay zero and never leak into real ones.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(dim, dim)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        m = torch.ones_like(x[..., :1]) if mask is None else mask[..., None].to(x.dtype)
        edge_x, edge_m = torch.zeros_like(x[:, :1]), torch.zeros_like(m[:, :1])
        nxt, nxt_m = torch.cat([x[:, 1:], edge_x], 1), torch.cat([m[:, 1:], edge_m], 1)
        prv, prv_m = torch.cat([edge_x, x[:, :-1]], 1), torch.cat([edge_m, m[:, :-1]], 1)
        nxt = nxt * nxt_m + x * (1 - nxt_m)
        prv = prv * prv_m + x * (1 - prv_m)
        return (x + self.linear(nxt - prv)) * m


class VideoEncoder(nn.Module):
    """Per-frame backbone + (optionally) temporal differences + temporal position embeddings +
    temporal transformer.

    ``temporal_layers=0`` skips the transformer: the clip embedding is then the mean of the
    (position-free) frame features. Padded frames (``frame_mask`` False) never reach the
    backbone and never influence real frames.
    """

    def __init__(
        self,
        backbone: nn.Module,
        dim: int,
        max_frames: int,
        temporal_layers: int = 1,
        num_heads: int = 4,
        dropout: float = 0.0,
        temporal_difference: bool = False,
    ):
        super().__init__()
        self.backbone = backbone
        self.proj = nn.Linear(backbone_num_features(backbone), dim)
        #: Frames per feature position: 1 for a per-frame backbone.
        self.temporal_stride = temporal_stride(backbone)
        self.dim = dim
        self.max_frames = max_frames
        self.temporal_layers = temporal_layers
        self.temporal = None
        #: ``TemPVLConfig.temporal_difference``: frame-to-frame differences before the temporal layers.
        self.difference = TemporalDifference(dim) if temporal_difference else None
        if temporal_layers > 0:
            self.pos_embed = nn.Parameter(torch.zeros(1, max_frames, dim))
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
            self.temporal = TransformerStack(dim, temporal_layers, num_heads, dropout=dropout)

    def frame_features(self, frames: Tensor, frame_mask: Tensor | None = None, host_mask: Tensor | None = None) -> Tensor:
        """Backbone features of each real frame, projected: ``[B, T, dim]`` (zeros at padding).

        ``host_mask``: a CPU copy of ``frame_mask``; the real frames are then found there
        instead of by a ``nonzero`` on the device (which waits for it)."""
        if takes_features(self.backbone):  # feature-pack rows [B, T, C]: only the projection applies
            feats = self.proj(self.backbone(frames))
            return feats if frame_mask is None else feats * frame_mask[..., None].to(feats.dtype)
        if frames.dim() != 5 or frames.shape[2] != 3:
            raise ValueError(f"frames must be [B, T, 3, H, W], got {tuple(frames.shape)}")
        if takes_clips(self.backbone):  # [B, T / stride, dim]; padding never reaches the backbone
            feats = self.proj(clip_features(self.backbone, frames, frame_mask))
            return feats if frame_mask is None else feats * self.feature_mask(frame_mask)[..., None]
        b, t = frames.shape[:2]
        flat = frames.flatten(0, 1)
        if frame_mask is None:
            return self.proj(self.backbone(flat)).view(b, t, self.dim)
        idx = (frame_mask if host_mask is None else host_mask).reshape(-1).bool().nonzero(as_tuple=True)[0]
        if idx.numel() == 0:
            raise ValueError("frame_mask marks no real frame in the whole batch")
        idx = idx.to(frames.device, non_blocking=True)
        real = self.proj(self.backbone(flat[idx]))
        # Allocate after the projection so the dtype follows autocast (bf16/fp16 on GPU).
        out = real.new_zeros(b * t, self.dim).index_put((idx,), real)
        return out.view(b, t, self.dim)

    def read_features(self, num_features: int) -> None:
        """Take feature-pack rows of ``num_features`` columns instead of frames: the backbone
        becomes a :class:`FeatureInput` and the projection a new (trainable) linear layer to
        ``dim``; the temporal layers are kept."""
        old = self.proj
        self.backbone = FeatureInput(num_features)
        self.proj = nn.Linear(num_features, self.dim).to(device=old.weight.device, dtype=old.weight.dtype)
        self.temporal_stride = 1

    def feature_mask(self, frame_mask: Tensor | None) -> Tensor | None:
        """The ``[B, T]`` frame mask at the feature positions' rate (unchanged per frame)."""
        return feature_mask(frame_mask, self.temporal_stride)

    def positions(self, num_frames: int) -> Tensor:
        """Temporal position embeddings ``[1, T, dim]``; longer inputs than ``max_frames``
        (e.g. whole videos for action localization) get them linearly interpolated."""
        if num_frames <= self.max_frames:
            return self.pos_embed[:, :num_frames]
        stretched = F.interpolate(self.pos_embed.transpose(1, 2), size=num_frames, mode="linear", align_corners=True)
        return stretched.transpose(1, 2)

    def contextualize(self, feats: Tensor, frame_mask: Tensor | None = None, positions: Tensor | None = None) -> Tensor:
        """Temporal layers over frame features ``[B, T, dim]`` (from :meth:`frame_features`).

        ``positions`` ``[B, T]`` (long) numbers each frame explicitly: merged pretraining
        sequences pass their own numbering (see :func:`tempvl_core.merging.merge_clips`); by
        default frames are numbered ``0..T-1``. Temporal differences (when configured) come first,
        over the sequence as given: a merged sequence differs across its clip boundaries exactly as
        an evaluation video differs across its events. Without temporal layers, the features
        (with their differences) pass through.
        """
        if self.difference is not None:
            feats = self.difference(feats, frame_mask)
        if self.temporal is None:
            return feats
        if positions is None:
            pos = self.positions(feats.shape[1])
        else:  # TemPVLConfig.validate keeps merged positions below max_frames
            # A one-hot product, not pos_embed[0][positions]: the backward of indexing with
            # repeated indices accumulates in a thread-dependent order on CPU, so two identical
            # runs (or a resumed one) drifted apart in the last bits of pos_embed.
            one_hot = F.one_hot(positions, self.max_frames).to(self.pos_embed.dtype)
            pos = one_hot @ self.pos_embed[0]
        return self.temporal(feats + pos, padding_mask=frame_mask)

    def forward(self, frames: Tensor, frame_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Return per-frame features ``[B, T, dim]`` and a clip feature ``[B, dim]``."""
        feats = self.frame_features(frames, frame_mask)
        frame_mask = self.feature_mask(frame_mask)
        feats = self.contextualize(feats, frame_mask)
        return feats, masked_mean(feats, frame_mask)


def masked_mean(features: Tensor, mask: Tensor | None) -> Tensor:
    """Mean over the sequence axis counting only positions where ``mask`` is True."""
    if mask is None:
        return features.mean(1)
    m = mask.unsqueeze(-1).to(features.dtype)
    return (features * m).sum(1) / m.sum(1).clamp(min=1.0)
