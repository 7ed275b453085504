"""Multimodal fusion encoders.

* :class:`FusionEncoder` — text tokens (queries) self-attend and cross-attend to frame
  features. Used by MLM, VTM, text localization, captioning (with a causal self-attention
  mask) and QA.
* :class:`GroundingEncoder` — the roles swapped: frames (queries) of a possibly merged video
  self-attend and cross-attend to text tokens and compare neighbouring frames, so every frame
  position gets a text-conditioned feature for the moment-retrieval start/end heads.

Both run on SDPA (see :mod:`tempvl_core.model.layers`).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from tempvl_core.model.layers import TransformerBlock, TransformerStack, build_attention_mask


class FusionEncoder(nn.Module):
    """Text-side fusion: ``forward(text, text_mask, video, video_mask, causal) -> [B, L, dim]``."""

    def __init__(self, dim: int, video_dim: int, depth: int, num_heads: int, dropout: float = 0.0):
        super().__init__()
        if depth < 1:
            raise ValueError(f"fusion_layers must be >= 1, got {depth}")
        self.stack = TransformerStack(dim, depth, num_heads, cross_attention=True, context_dim=video_dim, dropout=dropout)

    def forward(
        self,
        text: Tensor,
        text_mask: Tensor | None,
        video: Tensor,
        video_mask: Tensor | None,
        causal: bool = False,
    ) -> Tensor:
        return self.stack(text, text_mask, context=video, context_padding_mask=video_mask, causal=causal)


class GroundingEncoder(nn.Module):
    """Video-side fusion: frames of a (possibly merged) video attend to each other and to the
    text, then compare each frame with its neighbours under that text.

    It has no position embedding of its own: frames arrive from the video encoder's temporal
    layers, which number the whole (merged or evaluation) sequence. After each attention block
    a residual temporal convolution (kernel 3, padding frames zeroed) lets a frame see how its
    text-conditioned features differ from the previous and next frame, which is what a start
    or an end of an event looks like.
    """

    def __init__(self, dim: int, text_dim: int, depth: int, num_heads: int, dropout: float = 0.0,
                 temporal_kernel: int = 3):
        super().__init__()
        if depth < 1:
            raise ValueError(f"grounding_layers must be >= 1, got {depth}")
        self.blocks = nn.ModuleList(
            TransformerBlock(dim, num_heads, cross_attention=True, context_dim=text_dim, dropout=dropout)
            for _ in range(depth)
        )
        self.convs = nn.ModuleList(NeighbourConv(dim, temporal_kernel) for _ in range(depth)) if temporal_kernel > 1 else None
        self.norm = nn.LayerNorm(dim)

    def forward(self, frames: Tensor, frame_mask: Tensor | None, text: Tensor, text_mask: Tensor | None) -> Tensor:
        self_mask = build_attention_mask(frame_mask, frames.shape[1])
        cross_mask = None if text_mask is None else build_attention_mask(text_mask, frames.shape[1])
        x = frames
        for i, block in enumerate(self.blocks):
            x = block(x, self_mask, text, cross_mask)
            if self.convs is not None:
                x = self.convs[i](x, frame_mask)
        return self.norm(x)


class NeighbourConv(nn.Module):
    """Residual pre-norm depthwise-then-pointwise convolution over time: ``x + W(conv_t(x))``.
    Padding frames are zeroed before the convolution so they never leak into real ones."""

    def __init__(self, dim: int, kernel: int = 3):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.depthwise = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.pointwise = nn.Linear(dim, dim)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        h = self.norm(x)
        if mask is not None:
            h = h * mask[..., None].to(h.dtype)
        h = self.depthwise(h.transpose(1, 2)).transpose(1, 2)
        return x + self.pointwise(F.gelu(h))
