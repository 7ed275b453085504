"""Multimodal fusion encoders.

* :class:`FusionEncoder` — text tokens (queries) self-attend and cross-attend to frame
  features. Used by MLM, VTM, text localization, captioning (with a causal self-attention
  mask) and QA.
* :class:`GroundingEncoder` — the roles swapped: frames (queries) of a possibly merged video
  self-attend and cross-attend to text tokens, so every frame position gets a
  text-conditioned feature for the moment-retrieval start/end heads.

Both run on SDPA (see :mod:`tempvl_core.model.layers`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tempvl_core.model.layers import TransformerStack


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
    """Video-side fusion over a (merged) frame sequence with its own position embeddings.

    The video encoder's temporal positions restart at 0 in every clip; after merging, the
    heads must know where each frame sits in the long sequence, hence ``pos_embed`` over
    ``max_positions`` merged frames.
    """

    def __init__(self, dim: int, text_dim: int, depth: int, num_heads: int, max_positions: int, dropout: float = 0.0):
        super().__init__()
        self.max_positions = max_positions
        self.pos_embed = nn.Parameter(torch.zeros(1, max_positions, dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.stack = TransformerStack(dim, depth, num_heads, cross_attention=True, context_dim=text_dim, dropout=dropout)

    def positions(self, length: int) -> Tensor:
        """``[1, length, dim]``; longer videos than ``max_positions`` (localizing in a long
        untrimmed video) get linearly interpolated embeddings."""
        if length <= self.max_positions:
            return self.pos_embed[:, :length]
        stretched = F.interpolate(self.pos_embed.transpose(1, 2), size=length, mode="linear", align_corners=True)
        return stretched.transpose(1, 2)

    def forward(self, frames: Tensor, frame_mask: Tensor | None, text: Tensor, text_mask: Tensor | None) -> Tensor:
        x = frames + self.positions(frames.shape[1])
        return self.stack(x, frame_mask, context=text, context_padding_mask=text_mask)
