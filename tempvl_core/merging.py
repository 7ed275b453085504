"""Clip and text merging: the self-supervised temporal labels of TemPVL.

Several short clips of a batch are concatenated into one long video; the position of each
clip inside it is known exactly, which gives moment-retrieval labels for free. Likewise
several texts are merged into one sequence (by concatenating tokens, or as one feature per
text) to give text-localization labels.

Conventions:
* A *group* ``[K]`` lists batch indices; ``groups[g, 0]`` is the anchor of group ``g``.
* Merged items are placed in a random order; ``order[g, j]`` is the batch index placed at
  slot ``j`` and ``anchor_slot[g]`` the slot of the anchor.
* Clip ``j`` placed at offset ``o_j`` with ``L_j`` frames has ``start = o_j`` and
  ``end = o_j + L_j - 1`` (inclusive frame positions in the merged sequence).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class MergedVideo:
    """K clips per group concatenated along time (right-padded to the longest group)."""

    features: Tensor  # [G, L, D]
    mask: Tensor  # [G, L] bool, True = real frame
    order: Tensor  # [G, K] batch index at each slot
    starts: Tensor  # [G, K] first frame position of each slot
    ends: Tensor  # [G, K] last frame position (inclusive)
    anchor_slot: Tensor  # [G]

    def anchor_span(self) -> tuple[Tensor, Tensor]:
        """Start and end labels of each group's anchor clip, ``[G]`` each."""
        idx = self.anchor_slot[:, None]
        return self.starts.gather(1, idx)[:, 0], self.ends.gather(1, idx)[:, 0]


@dataclass
class MergedText:
    """K texts per group as one token sequence ``[CLS] t1 [SEP] t2 [SEP] ... tK [SEP]``."""

    input_ids: Tensor  # [G, L]
    attention_mask: Tensor  # [G, L]
    order: Tensor  # [G, K]
    starts: Tensor  # [G, K] first token position of each text (after CLS / previous SEP)
    ends: Tensor  # [G, K] last token position of each text (inclusive, before its SEP)
    anchor_slot: Tensor  # [G]

    def anchor_span(self) -> tuple[Tensor, Tensor]:
        idx = self.anchor_slot[:, None]
        return self.starts.gather(1, idx)[:, 0], self.ends.gather(1, idx)[:, 0]


def sample_merge_groups(
    num_items: int,
    k: int,
    strategy: str = "random",
    similarity: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Pick, for every anchor ``i``, ``k - 1`` other distinct items to merge with it.

    ``random``: uniformly without replacement. ``hard``: the ``k - 1`` items with the highest
    ``similarity[i, j]`` (``j != i``): clips the model currently confuses with the anchor,
    which makes locating the anchor inside the merged video hardest. ``k`` is clamped to
    ``num_items``. Returns ``[num_items, k]`` with the anchor in column 0.
    """
    k = min(k, num_items)
    anchors = torch.arange(num_items)
    if k == 1:
        return anchors[:, None]
    if strategy == "random":
        # Random scores + argsort = a uniform sample without replacement, reproducible via generator.
        scores = torch.rand(num_items, num_items, generator=generator)
    elif strategy == "hard":
        if similarity is None or tuple(similarity.shape) != (num_items, num_items):
            raise ValueError(f"hard merge sampling needs a [{num_items}, {num_items}] similarity matrix")
        scores = similarity.detach().float().cpu().clone()
    else:
        raise ValueError(f"merge sampling strategy {strategy!r} is not 'random' or 'hard'")
    scores.fill_diagonal_(float("-inf"))
    others = scores.topk(k - 1, dim=1).indices
    return torch.cat([anchors[:, None], others], 1)


def _shuffle_groups(groups: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
    """Randomly permute each group; returns (order, anchor_slot)."""
    perm = torch.rand(groups.shape, generator=generator).argsort(1)
    order = groups.gather(1, perm)
    anchor_slot = (perm == 0).float().argmax(1)
    return order, anchor_slot


def _subsample(length: int, frames_per_clip: int | None) -> Tensor:
    """Indices of ``min(length, frames_per_clip)`` frames spread uniformly over the clip."""
    if frames_per_clip is None or length <= frames_per_clip:
        return torch.arange(length)
    return torch.linspace(0, length - 1, frames_per_clip).round().long()


def merge_clips(
    features: Tensor,
    frame_mask: Tensor | None,
    groups: Tensor,
    frames_per_clip: int | None = None,
    generator: torch.Generator | None = None,
    shuffle: bool = True,
) -> MergedVideo:
    """Concatenate the real frames of each group's clips in a random order.

    Args:
        features: per-frame features ``[B, T, D]``.
        frame_mask: ``[B, T]`` True for real frames (real frames must come first), or None.
        groups: ``[G, K]`` batch indices, anchor first (see :func:`sample_merge_groups`).
        frames_per_clip: subsample each clip to at most this many frames (None = keep all).
    """
    b, t, d = features.shape
    lengths = frame_mask.sum(1).cpu() if frame_mask is not None else torch.full((b,), t)
    if frame_mask is not None and (frame_mask.long().diff(dim=1) > 0).any():
        raise ValueError("frame_mask must mark real frames first and padding last")
    if (lengths < 1).any():
        raise ValueError(f"clips {torch.nonzero(lengths < 1).flatten().tolist()} have no real frame to merge")
    order, anchor_slot = _shuffle_groups(groups, generator) if shuffle else (groups, torch.zeros(len(groups), dtype=torch.long))
    keep = [_subsample(int(n), frames_per_clip) for n in lengths]
    sizes = torch.tensor([[len(keep[int(i)]) for i in row] for row in order], dtype=torch.long)
    ends_excl = sizes.cumsum(1)
    starts = ends_excl - sizes
    total = int(ends_excl[:, -1].max())
    g = order.shape[0]
    # One gather builds every merged sequence: (clip, frame) source index per output slot.
    src_clip = torch.zeros(g, total, dtype=torch.long)
    src_frame = torch.zeros(g, total, dtype=torch.long)
    mask = torch.zeros(g, total, dtype=torch.bool)
    for gi in range(g):
        for slot, clip in enumerate(order[gi].tolist()):
            s, e = int(starts[gi, slot]), int(ends_excl[gi, slot])
            src_clip[gi, s:e] = clip
            src_frame[gi, s:e] = keep[clip]
            mask[gi, s:e] = True
    device = features.device
    merged = features[src_clip.to(device), src_frame.to(device)] * mask.to(device)[..., None]
    return MergedVideo(
        features=merged,
        mask=mask.to(device),
        order=order.to(device),
        starts=starts.to(device),
        ends=(ends_excl - 1).to(device),
        anchor_slot=anchor_slot.to(device),
    )


def merge_text_tokens(
    input_ids: Tensor,
    attention_mask: Tensor,
    groups: Tensor,
    cls_id: int,
    sep_id: int,
    pad_id: int,
    max_len: int,
    generator: torch.Generator | None = None,
    shuffle: bool = True,
) -> MergedText:
    """Concatenate the word tokens of each group's texts as ``[CLS] t1 [SEP] ... tK [SEP]``.

    Inputs are single-text tokenizations ``[CLS] words [SEP] [PAD]...``. Each text keeps at
    most ``(max_len - 1) // K - 1`` word tokens (at least 1) so all K always fit. An empty
    text is represented by its ``[CLS]`` token so every span is non-empty.
    """
    k = groups.shape[1]
    budget = max(1, (max_len - 1) // k - 1)
    words = []
    for ids, m in zip(input_ids.cpu(), attention_mask.cpu()):
        toks = ids[m.bool()].tolist()
        body = [x for x in toks if x not in (cls_id, sep_id, pad_id)] or [toks[0] if toks else pad_id]
        words.append(body[:budget])
    order, anchor_slot = _shuffle_groups(groups, generator) if shuffle else (groups, torch.zeros(len(groups), dtype=torch.long))
    rows, starts, ends = [], torch.zeros(order.shape, dtype=torch.long), torch.zeros(order.shape, dtype=torch.long)
    for gi, row in enumerate(order.tolist()):
        seq = [cls_id]
        for slot, idx in enumerate(row):
            starts[gi, slot] = len(seq)
            seq.extend(words[idx])
            ends[gi, slot] = len(seq) - 1
            seq.append(sep_id)
        rows.append(seq)
    length = max(len(r) for r in rows)
    ids_out = torch.full((len(rows), length), pad_id, dtype=torch.long)
    mask_out = torch.zeros((len(rows), length), dtype=torch.long)
    for gi, seq in enumerate(rows):
        ids_out[gi, : len(seq)] = torch.tensor(seq)
        mask_out[gi, : len(seq)] = 1
    device = input_ids.device
    return MergedText(
        input_ids=ids_out.to(device),
        attention_mask=mask_out.to(device),
        order=order.to(device),
        starts=starts.to(device),
        ends=ends.to(device),
        anchor_slot=anchor_slot.to(device),
    )


def merge_text_features(
    features: Tensor, groups: Tensor, generator: torch.Generator | None = None, shuffle: bool = True
) -> tuple[Tensor, Tensor, Tensor]:
    """One feature per text: ``[B, H] -> [G, K, H]`` in a random order per group.

    Returns ``(merged, order, anchor_slot)``; the label of group ``g`` is ``anchor_slot[g]``.
    """
    order, anchor_slot = _shuffle_groups(groups, generator) if shuffle else (groups, torch.zeros(len(groups), dtype=torch.long))
    device = features.device
    order = order.to(device)
    return features[order], order, anchor_slot.to(device)
