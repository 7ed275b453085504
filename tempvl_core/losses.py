"""TemPVL objectives that do not need the model: contrastive, masking, span and matching.

* :func:`all_gather_with_grad` — cross-rank negatives that keep gradients (no-op alone).
* :func:`vtc_loss` — symmetric InfoNCE between L2-normalized video and text embeddings.
* :func:`mask_tokens` — BERT 80/10/10 masking for MLM.
* :func:`span_loss` — cross-entropy of start/end logits over positions (MR and TL).
* :func:`sample_hard_negatives` — VTM negatives drawn from the VTC similarities.

Nothing here reads a device tensor back on the host (no ``.item()``, no boolean-mask indexing,
no blocking copy): a training step can queue all its work without waiting for the GPU. Batch
sizes and other per-item metadata travel between ranks through a CPU (gloo) group, see
:func:`gather_host`; random draws are made on the host and sent with non-blocking copies.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor

IGNORE_INDEX = -100


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


_HOST_GROUPS: dict[int, tuple[object, object]] = {}


def _host_group():
    """A process group whose collectives run on the CPU: the default group when it is gloo,
    else one gloo group made once (every rank reaches its first use at the same step). Host
    metadata exchanged through it never waits for queued device work, as an NCCL gather read
    back with ``.cpu()`` would."""
    if "gloo" in dist.get_backend():  # "gloo", or e.g. "cpu:gloo,cuda:nccl"
        return None  # the default group
    world = dist.group.WORLD
    cached = _HOST_GROUPS.get(id(world))
    if cached is None or cached[0] is not world:  # a re-initialised default group gets a new one
        cached = (world, dist.new_group(backend="gloo"))
        _HOST_GROUPS[id(world)] = cached
    return cached[1]


def to_device(tensor: Tensor, device: torch.device | str) -> Tensor:
    """A host tensor (a plan, random draws) on ``device`` without waiting for the device, as a
    blocking copy would."""
    return tensor.to(device, non_blocking=True)


def _rank_sizes(n: int) -> list[int]:
    """Batch size of every rank (they may differ, e.g. on the last batch of an epoch), exchanged
    on the CPU."""
    sizes = [torch.zeros(1, dtype=torch.long) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, torch.tensor([n], dtype=torch.long), group=_host_group())
    return [int(x) for x in sizes]


def rank_sizes(n: int) -> list[int] | None:
    """Every rank's batch size (host ints, exchanged once per call), or None without DDP."""
    return _rank_sizes(n) if _distributed() else None


def gather_host(tensor: Tensor, sizes: list[int] | None = None) -> Tensor:
    """Concatenate a CPU tensor from every rank along dim 0 through the CPU group (no gradient,
    no device involved): per-item metadata such as frame lengths or source ids. ``sizes``:
    every rank's dim-0 size when known (see :func:`rank_sizes`). Unchanged without DDP."""
    if not _distributed():
        return tensor
    sizes = sizes if sizes is not None else _rank_sizes(tensor.shape[0])
    padded = tensor.new_zeros((max(sizes), *tensor.shape[1:]))
    padded[: tensor.shape[0]] = tensor
    out = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(out, padded.contiguous(), group=_host_group())
    return torch.cat([part[:n] for part, n in zip(out, sizes)], 0)


class _GatherWithGrad(torch.autograd.Function):
    """All-gather whose backward sums the incoming gradients across ranks and returns the
    slice of this rank (every rank computes the loss on the full gathered batch)."""

    @staticmethod
    def forward(ctx, tensor: Tensor, sizes: list[int] | None = None) -> Tensor:
        sizes = sizes if sizes is not None else _rank_sizes(tensor.shape[0])
        # all_gather needs equal shapes: pad to the largest batch, strip after.
        padded = tensor.new_zeros((max(sizes), *tensor.shape[1:]))
        padded[: tensor.shape[0]] = tensor
        out = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(out, padded.contiguous())
        rank = dist.get_rank()
        ctx.start, ctx.size = sum(sizes[:rank]), tensor.shape[0]
        return torch.cat([part[:n] for part, n in zip(out, sizes)], 0)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad[ctx.start : ctx.start + ctx.size], None


def rank_offset(n: int, sizes: list[int] | None = None) -> int:
    """Where this rank's ``n`` items start in the gathered batch (0 without DDP)."""
    if not _distributed():
        return 0
    return sum((sizes if sizes is not None else _rank_sizes(n))[: dist.get_rank()])


def pad_to(tensor: Tensor, length: int, value: int | float) -> Tensor:
    """Right-pad dim 1 of ``tensor`` with ``value`` to ``length`` (ranks then gather equal shapes)."""
    missing = length - tensor.shape[1]
    if missing <= 0:
        return tensor
    return torch.cat([tensor, tensor.new_full((tensor.shape[0], missing, *tensor.shape[2:]), value)], 1)


def all_gather_with_grad(tensor: Tensor, sizes: list[int] | None = None) -> Tensor:
    """Concatenate ``tensor`` from every rank along dim 0 (ranks may hold different batch
    sizes, ``sizes`` when already known), gradients flowing back to each rank's own slice.
    Returns ``tensor`` unchanged when not running distributed."""
    if not _distributed():
        return tensor
    return _GatherWithGrad.apply(tensor, sizes)


def vtc_loss(video_emb: Tensor, text_emb: Tensor, logit_scale: Tensor, gather: bool = True) -> Tensor:
    """Symmetric InfoNCE: the i-th video and i-th text are the positive pair.

    Args:
        video_emb, text_emb: ``[B, D]``, L2-normalized.
        logit_scale: log of the inverse temperature (learnable); clamped to exp <= 100 as in
            CLIP so the softmax cannot collapse.
        gather: use negatives from every rank (labels offset by this rank's position).
            Under DDP the averaged gradients are those of the mean of the per-rank losses.
    """
    if video_emb.shape != text_emb.shape:
        raise ValueError(f"video {tuple(video_emb.shape)} and text {tuple(text_emb.shape)} embeddings differ")
    scale = logit_scale.exp().clamp(max=100.0)
    offset = 0
    all_video, all_text = video_emb, text_emb
    if gather and _distributed():
        all_video, all_text = all_gather_with_grad(video_emb), all_gather_with_grad(text_emb)
        offset = rank_offset(video_emb.shape[0])
    labels = torch.arange(video_emb.shape[0], device=video_emb.device) + offset
    t2v = scale * text_emb @ all_video.t()
    v2t = scale * video_emb @ all_text.t()
    return 0.5 * (F.cross_entropy(t2v, labels) + F.cross_entropy(v2t, labels))


def mask_tokens(
    input_ids: Tensor,
    attention_mask: Tensor,
    mask_token_id: int,
    vocab_size: int,
    special_ids: list[int],
    prob: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """BERT masking: pick ``prob`` of the real non-special tokens; of those 80% become
    ``[MASK]``, 10% a random token, 10% stay. Returns ``(masked_ids, labels)`` with labels
    ``-100`` wherever no prediction is asked. Every row with a maskable token gets at least
    one target so the loss is never an average over nothing.
    """
    device = input_ids.device
    special = to_device(torch.tensor(special_ids, dtype=input_ids.dtype), device)
    candidates = attention_mask.bool() & ~torch.isin(input_ids, special)
    rand = to_device(torch.rand(input_ids.shape, generator=generator, device="cpu"), device)
    chosen = candidates & (rand < prob)
    # Force one target in rows where sampling picked none (short captions); torch.where, not
    # `if empty.any()` and boolean indexing, so nothing waits for the device.
    empty = ~chosen.any(1) & candidates.any(1)
    first = torch.where(candidates, rand, torch.full_like(rand, 2.0)).argmin(1)
    columns = torch.arange(input_ids.shape[1], device=device)
    chosen = chosen | (empty[:, None] & (columns[None, :] == first[:, None]))
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    action = to_device(torch.rand(input_ids.shape, generator=generator, device="cpu"), device)
    masked = torch.where(chosen & (action < 0.8), torch.full_like(input_ids, mask_token_id), input_ids)
    rand_pos = chosen & (action >= 0.8) & (action < 0.9)
    random_ids = to_device(torch.randint(vocab_size, input_ids.shape, generator=generator, device="cpu"), device)
    masked = torch.where(rand_pos, random_ids.to(input_ids.dtype), masked)
    return masked, labels


def span_loss(start_logits: Tensor, end_logits: Tensor, starts: Tensor, ends: Tensor, mask: Tensor | None) -> Tensor:
    """Mean of start and end cross-entropies over positions; masked positions get -inf."""
    if mask is not None:
        fill = torch.finfo(start_logits.dtype).min
        start_logits = start_logits.masked_fill(~mask.bool(), fill)
        end_logits = end_logits.masked_fill(~mask.bool(), fill)
    return 0.5 * (F.cross_entropy(start_logits, starts) + F.cross_entropy(end_logits, ends))


#: Margin of :func:`saliency_hinge` (Moment-DETR's saliency loss uses 0.2).
SALIENCY_MARGIN = 0.2


def saliency_hinge(similarity: Tensor, inside: Tensor, mask: Tensor, margin: float = SALIENCY_MARGIN) -> Tensor:
    """Mean over queries' (inside, outside) frame pairs of ``relu(margin - (sim_in - sim_out))``:
    every real frame inside a query's window should match its text better than every real frame
    outside, by ``margin``.

    ``similarity`` ``[Q, T]``; ``inside``/``mask`` bool ``[Q, T]``. Queries without an inside or
    an outside real frame contribute nothing; 0 (with a gradient path) when no query has both.
    A masked mean, so nothing is read back to the host.
    """
    mask = mask.bool()
    pos, neg = inside.bool() & mask, ~inside.bool() & mask
    pairs = (pos[:, :, None] & neg[:, None, :]).to(similarity.dtype)
    gaps = similarity[:, :, None] - similarity[:, None, :]
    return (torch.relu(margin - gaps) * pairs).sum() / pairs.sum().clamp(min=1.0)


def sample_hard_negatives(similarity: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """For each row, sample one column index other than the diagonal with probability
    proportional to ``softmax(similarity)`` (harder negatives more often). ``[B, B] -> [B]``.

    Gumbel-max: ``argmax(log w + g)`` picks column ``j`` with probability ``w_j / sum(w)``, as
    ``torch.multinomial`` would, with the noise drawn on the host and the pick made where
    ``similarity`` lives (nothing is read back)."""
    b = similarity.shape[0]
    if b < 2:
        raise ValueError("hard negatives need a batch of at least 2 pairs")
    weights = similarity.detach().float().softmax(1)
    weights = weights.masked_fill(torch.eye(b, dtype=torch.bool, device=weights.device), 0.0)
    weights = weights + 1e-8 * (~torch.eye(b, dtype=torch.bool, device=weights.device))
    uniform = torch.rand(weights.shape, generator=generator).clamp_(1e-12, 1 - 1e-7)
    gumbel = to_device(-torch.log(-torch.log(uniform)), weights.device)
    return (weights.log() + gumbel).argmax(1)
