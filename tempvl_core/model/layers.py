"""Transformer building blocks on ``scaled_dot_product_attention``.

Every attention in TemPVL (temporal layers, fusion, grounding) goes through
:func:`torch.nn.functional.scaled_dot_product_attention`, so a GPU picks flash or
memory-efficient kernels on its own. Masks follow one convention everywhere:
``True`` means "this key may be attended to".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def build_attention_mask(
    key_padding_mask: Tensor | None,
    num_queries: int,
    causal: bool = False,
    device: torch.device | None = None,
) -> Tensor | None:
    """Combine a key padding mask ``[B, Lk]`` (True = real key) and a causal mask.

    Returns a boolean mask broadcastable to ``[B, heads, Lq, Lk]`` or ``None`` when
    nothing is masked (which lets SDPA choose its fastest kernel).
    """
    mask = None
    if key_padding_mask is not None:
        mask = key_padding_mask.bool()[:, None, None, :]
    if causal:
        num_keys = key_padding_mask.shape[1] if key_padding_mask is not None else num_queries
        tri = torch.ones(num_queries, num_keys, dtype=torch.bool, device=device).tril()
        mask = tri[None, None] if mask is None else mask & tri[None, None]
    return mask


class MultiHeadAttention(nn.Module):
    """Multi-head attention (self or cross) whose core is SDPA."""

    def __init__(self, dim: int, num_heads: int, context_dim: int | None = None, dropout: float = 0.0):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"attention dim {dim} is not divisible by num_heads {num_heads}")
        context_dim = context_dim or dim
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(context_dim, 2 * dim)
        self.out = nn.Linear(dim, dim)
        self.dropout = dropout

    def forward(self, x: Tensor, context: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
        context = x if context is None else context
        b, lq, d = x.shape
        h = self.num_heads
        q = self.q(x).view(b, lq, h, d // h).transpose(1, 2)
        k, v = self.kv(context).view(b, context.shape[1], 2, h, d // h).permute(2, 0, 3, 1, 4)
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        return self.out(y.transpose(1, 2).reshape(b, lq, d))


class TransformerBlock(nn.Module):
    """Pre-norm block: self-attention, optional cross-attention, feed-forward."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        cross_attention: bool = False,
        context_dim: int | None = None,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.self_attn = MultiHeadAttention(dim, num_heads, dropout=dropout)
        self.cross_attn = None
        if cross_attention:
            self.norm_cross = nn.LayerNorm(dim)
            self.cross_attn = MultiHeadAttention(dim, num_heads, context_dim=context_dim, dropout=dropout)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim))
        self.drop = nn.Dropout(dropout)

    def forward(
        self,
        x: Tensor,
        self_mask: Tensor | None = None,
        context: Tensor | None = None,
        context_mask: Tensor | None = None,
    ) -> Tensor:
        x = x + self.drop(self.self_attn(self.norm1(x), mask=self_mask))
        if self.cross_attn is not None:
            if context is None:
                raise ValueError("this block has cross-attention: pass a context sequence")
            x = x + self.drop(self.cross_attn(self.norm_cross(x), context=context, mask=context_mask))
        return x + self.drop(self.mlp(self.norm2(x)))


class TransformerStack(nn.Module):
    """A stack of :class:`TransformerBlock` with a final LayerNorm.

    ``forward(x, padding_mask, context, context_padding_mask, causal)`` takes padding masks
    ``[B, L]`` with True for real positions and builds the SDPA masks once per call.
    """

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        cross_attention: bool = False,
        context_dim: int | None = None,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.blocks = nn.ModuleList(
            TransformerBlock(dim, num_heads, cross_attention, context_dim, dropout=dropout) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim)

    def forward(
        self,
        x: Tensor,
        padding_mask: Tensor | None = None,
        context: Tensor | None = None,
        context_padding_mask: Tensor | None = None,
        causal: bool = False,
    ) -> Tensor:
        self_mask = build_attention_mask(padding_mask, x.shape[1], causal=causal, device=x.device)
        cross_mask = None
        if context_padding_mask is not None:
            cross_mask = build_attention_mask(context_padding_mask, x.shape[1])
        for block in self.blocks:
            x = block(x, self_mask, context, cross_mask)
        return self.norm(x)
