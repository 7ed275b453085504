"""Transformer building blocks on ``scaled_dot_product_attention``.

Every attention in TemPVL (temporal layers, fusion, grounding) goes through
:func:`torch.nn.functional.scaled_dot_product_attention`, so a GPU picks flash or
memory-efficient kernels on its own. Masks follow one convention everywhere:
``True`` means "this key may be attended to". No mask is built where nothing is masked, and a
causal mask without padding is SDPA's ``is_causal`` flag: an explicit mask rules out the flash
kernel. ``TransformerStack.checkpointing`` recomputes each block in the backward pass.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

#: Stands for a causal mask without padding: SDPA's ``is_causal=True`` (flash-eligible).
CAUSAL = "causal"


def build_attention_mask(
    key_padding_mask: Tensor | None,
    num_queries: int,
    causal: bool = False,
    device: torch.device | None = None,
) -> Tensor | str | None:
    """Combine a key padding mask ``[B, Lk]`` (True = real key) and a causal mask.

    Returns a boolean mask broadcastable to ``[B, heads, Lq, Lk]``, ``None`` when nothing is
    masked, or :data:`CAUSAL` for a causal mask alone (the last two let SDPA pick flash).
    """
    if causal and key_padding_mask is None:
        return CAUSAL
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

    def forward(self, x: Tensor, context: Tensor | None = None, mask: Tensor | str | None = None) -> Tensor:
        k, v = self.keys_values(x if context is None else context)
        return self.attend(x, k, v, mask)

    def keys_values(self, context: Tensor) -> tuple[Tensor, Tensor]:
        """Keys and values ``[B, heads, L, dim / heads]`` of a sequence (cached when decoding)."""
        b, length, _ = context.shape
        h = self.num_heads
        dim = self.q.out_features
        k, v = self.kv(context).view(b, length, 2, h, dim // h).permute(2, 0, 3, 1, 4)
        return k, v

    def attend(self, x: Tensor, k: Tensor, v: Tensor, mask: Tensor | str | None = None) -> Tensor:
        b, lq, d = x.shape
        h = self.num_heads
        q = self.q(x).view(b, lq, h, d // h).transpose(1, 2)
        p = self.dropout if self.training else 0.0
        if isinstance(mask, str):  # CAUSAL
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        else:
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

    def step(self, x: Tensor, past: tuple[Tensor, Tensor] | None, key_mask: Tensor | None,
             context_kv: tuple[Tensor, Tensor] | None, context_mask: Tensor | None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """:meth:`forward` for new causal positions ``x`` given the keys/values ``past`` of the
        earlier ones; returns the output and the keys/values including the new positions."""
        h = self.norm1(x)
        k, v = self.self_attn.keys_values(h)
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        if x.shape[1] > 1:  # several new positions: causal among themselves too
            n = k.shape[2]
            tri = torch.ones(x.shape[1], n, dtype=torch.bool, device=x.device).tril(n - x.shape[1])
            key_mask = tri[None, None] if key_mask is None else key_mask & tri[None, None]
        x = x + self.drop(self.self_attn.attend(h, k, v, key_mask))
        if self.cross_attn is not None:
            if context_kv is None:
                raise ValueError("this block has cross-attention: pass a context sequence")
            x = x + self.drop(self.cross_attn.attend(self.norm_cross(x), *context_kv, context_mask))
        return x + self.drop(self.mlp(self.norm2(x))), (k, v)


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
        #: Recompute each block's activations in backward (saves memory at ~1/3 more compute).
        self.checkpointing = False

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
            if self.checkpointing and self.training and torch.is_grad_enabled():
                x = checkpoint(block, x, self_mask, context, cross_mask, use_reentrant=False)
            else:
                x = block(x, self_mask, context, cross_mask)
        return self.norm(x)

    def decode_step(self, x: Tensor, cache: "DecodeCache", key_padding_mask: Tensor | None = None) -> Tensor:
        """Causal forward of new positions ``x`` ``[B, n, dim]`` appended to those in ``cache``:
        equals the last ``n`` positions of ``forward(whole, causal=True)`` without recomputing
        the earlier ones. ``key_padding_mask`` ``[B, L_total]`` (True = real) covers all positions."""
        key_mask = None if key_padding_mask is None else key_padding_mask.bool()[:, None, None, :]
        for i, block in enumerate(self.blocks):
            x, cache.self_kv[i] = block.step(x, cache.self_kv.get(i), key_mask, cache.context_kv(i, block, x.shape[0]),
                                             cache.context_mask)
        cache.length += x.shape[1]
        return self.norm(x)


class DecodeCache:
    """Keys/values of the positions decoded so far (per block) and of the cross-attended
    context (computed once): incremental decoding costs one position per step, not the whole
    prefix. ``reorder`` follows beam search's choice of parents."""

    def __init__(self, context: Tensor | None = None, context_padding_mask: Tensor | None = None) -> None:
        self.context = context
        self.context_padding_mask = context_padding_mask
        self.self_kv: dict[int, tuple[Tensor, Tensor]] = {}
        self._context_kv: dict[int, tuple[Tensor, Tensor]] = {}
        self.length = 0

    @property
    def context_mask(self) -> Tensor | None:
        mask = self.context_padding_mask
        return None if mask is None else mask.bool()[:, None, None, :]

    def context_kv(self, index: int, block: TransformerBlock, batch: int) -> tuple[Tensor, Tensor] | None:
        if block.cross_attn is None or self.context is None:
            return None
        if index not in self._context_kv:
            self._context_kv[index] = block.cross_attn.keys_values(self.context)
        k, v = self._context_kv[index]
        if k.shape[0] != batch:  # one context shared by every beam
            k, v = k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1)
        return k, v

    def reorder(self, rows: Tensor) -> None:
        """Keep (and repeat) the decoded rows ``rows`` (e.g. the parents of the surviving beams)."""
        self.self_kv = {i: (k.index_select(0, rows), v.index_select(0, rows)) for i, (k, v) in self.self_kv.items()}
