"""Clip and text merging: the self-supervised temporal labels of TemPVL.

Several short clips are concatenated into one long video; the position of each clip inside it
is known exactly, which gives moment-retrieval labels for free. Likewise several texts are
merged into one sequence (by concatenating tokens, or as one feature per text) to give
text-localization labels.

What keeps the labels honest (a model must read the text, not positions, to find a clip):

* clips are merged as *frame features before the temporal layers*, and the merged sequence is
  numbered by its own positions (:attr:`MergedVideo.positions`), so no clip boundary is marked
  by a position embedding;
* each clip keeps a random number of its frames, and the anchor's first frame is put at a
  uniformly random position of a window of ``window`` positions, the other clips around it; what
  falls outside the window is cropped (so sequences begin and end inside clips) and a sequence
  may begin at a position above 0: start and end labels spread over every position that
  evaluation uses;
* optionally (``hold``) each clip is preceded and followed by a few copies of its first and last
  frame, as an object stands still before and after an action: merged sequences then hold
  stretches that no text describes, as long videos do, and a boundary is where the described
  change starts or stops, not merely where the picture jumps;
* optionally (``sources``/``order_by``) partners are drawn only among the clips cut from the
  anchor's own source video and laid out in their source order: the merged sequence is then as
  continuous as the source (nothing jumps at a clip boundary), so a boundary can only be found
  where the described event starts or stops, as in an untrimmed test video. Clip *order* in a
  source is metadata (clip 0, 1, 2 of a video), not a temporal label: the spans still come
  from the merge.

Conventions:
* A *group* ``[K]`` lists batch indices; ``groups[g, 0]`` is the anchor of group ``g``.
* Merged items are placed in a random order, or (``merge_order: source``) in the order they had
  in the video they were cut from; ``order[g, j]`` is the batch index placed at slot ``j`` and
  ``anchor_slot[g]`` the slot of the anchor. A slot holding ``-1`` is empty (an anchor whose
  source video has fewer than ``K`` clips): it adds no frame and no text.
* Clip ``j`` placed at offset ``o_j`` with ``L_j`` frames has ``start = o_j`` and
  ``end = o_j + L_j - 1`` (inclusive frame positions in the merged sequence, after cropping:
  a slot cropped away lies partly or wholly outside ``[0, length)``).
* Merges are *planned on the host* (which clip, which frames, where) from host copies of the
  batch's metadata (frame ``lengths``, token ids, groups), then applied on the device with one
  gather each; plans travel with non-blocking copies. Given host metadata, nothing here reads a
  device tensor back, so a training step never waits for the GPU (hard sampling's similarities
  are the one device input a plan needs: see :func:`sample_merge_groups`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from tempvl_core.losses import to_device as _to


@dataclass
class MergedVideo:
    """K clips per group concatenated along time (right-padded to the longest group)."""

    features: Tensor  # [G, L, D]
    mask: Tensor  # [G, L] bool, True = real frame
    positions: Tensor  # [G, L] long: position index of each frame (offset + 0, 1, ...)
    order: Tensor  # [G, K] batch index at each slot
    starts: Tensor  # [G, K] first frame position of each slot (in the cropped sequence)
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


def frame_lengths(frame_mask: Tensor) -> Tensor:
    """Real frames of each clip ``[B]`` (long, on the host) from a ``[B, T]`` mask that marks real
    frames first and padding last (checked). A mask on the device is read back: pass a host
    copy where a step must not wait for the device."""
    mask = frame_mask.cpu()
    if (mask.long().diff(dim=1) > 0).any():
        raise ValueError("frame_mask must mark real frames first and padding last")
    return mask.bool().sum(1)


def sample_merge_groups(
    num_items: int,
    k: int,
    strategy: str = "random",
    similarity: Tensor | None = None,
    generator: torch.Generator | None = None,
    *,
    anchors: Tensor | None = None,
    candidates: Tensor | None = None,
    temperature: float = 0.1,
    sources: Tensor | None = None,
) -> Tensor:
    """Pick, for every anchor, ``k - 1`` other distinct items to merge with it.

    Args:
        num_items: items to draw partners from (the globally gathered batch under DDP).
        anchors: indices ``[A]`` of the anchors (default: every item).
        candidates: ``[num_items]`` bool, items that may be merged at all (stills may not);
            anchors must be candidates.
        strategy: ``random`` draws partners uniformly without replacement; ``hard`` draws them
            without replacement with probability proportional to
            ``exp(similarity[a, j] / temperature)`` (Gumbel top-k), so clips the model confuses
            with the anchor are merged most often, yet never deterministically.
        similarity: ``[A, num_items]`` scores for ``hard``. The plan is drawn on the host: a
            similarity on the device is copied back here (the one host read of a merging step,
            made only with hard sampling).
        sources: ``[num_items]`` ids of the video each clip was cut from: partners are drawn
            only among clips of the anchor's source (random or hard, as above). An anchor whose
            source has fewer than ``k`` candidates gets ``-1`` (an empty slot) in the columns
            it cannot fill.

    ``k`` is clamped to the number of candidates. Returns ``[A, k]`` with the anchor in column 0.
    """
    anchors = torch.arange(num_items) if anchors is None else anchors.cpu().long()
    allowed = torch.ones(num_items, dtype=torch.bool) if candidates is None else candidates.cpu().bool()
    if not bool(allowed[anchors].all()):
        raise ValueError("every merge anchor must be a merge candidate")
    k = min(k, int(allowed.sum()))
    if k <= 1:
        return anchors[:, None]
    if strategy == "random":
        logits = torch.zeros(len(anchors), num_items)
    elif strategy == "hard":
        if similarity is None or tuple(similarity.shape) != (len(anchors), num_items):
            raise ValueError(f"hard merge sampling needs a [{len(anchors)}, {num_items}] similarity matrix")
        if temperature <= 0:
            raise ValueError(f"merge temperature must be > 0, got {temperature}")
        logits = similarity.detach().float().cpu() / temperature
    else:
        raise ValueError(f"merge sampling strategy {strategy!r} is not 'random' or 'hard'")
    # Gumbel top-k = sampling without replacement in proportion to exp(logits).
    uniform = torch.rand(logits.shape, generator=generator).clamp_(1e-12, 1 - 1e-7)
    scores = logits - torch.log(-torch.log(uniform))
    scores[:, ~allowed] = float("-inf")
    scores[torch.arange(len(anchors)), anchors] = float("-inf")
    if sources is not None:
        sources = sources.cpu().long()
        if tuple(sources.shape) != (num_items,):
            raise ValueError(f"merge sources must be [{num_items}] ids, got {tuple(sources.shape)}")
        scores[sources[anchors][:, None] != sources[None, :]] = float("-inf")
    top = scores.topk(k - 1, dim=1)
    others = top.indices.masked_fill(top.values == float("-inf"), -1)
    return torch.cat([anchors[:, None], others], 1)


def _shuffle_groups(groups: Tensor, generator: torch.Generator | None,
                    order_by: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Randomly permute each group, or sort it by ``order_by[item]`` (the clip's index in its
    source video); empty slots (``-1``) go last. Returns (order, anchor_slot)."""
    if order_by is None:
        perm = torch.rand(groups.shape, generator=generator).argsort(1)
        if (groups < 0).any():  # keep the random draw, then move empty slots to the end (stable)
            perm = perm.gather(1, (groups.gather(1, perm) < 0).long().argsort(dim=1, stable=True))
    else:
        order_by = order_by.cpu().long()
        big = int(order_by.max()) + 1 if order_by.numel() else 1
        key = torch.where(groups >= 0, order_by[groups.clamp(min=0)], torch.full_like(groups, big))
        perm = key.argsort(dim=1, stable=True)
    order = groups.gather(1, perm)
    anchor_slot = (perm == 0).float().argmax(1)
    return order, anchor_slot


def _spread(length: int, keep: int) -> Tensor:
    """Indices of ``keep`` frames spread uniformly over ``length`` (first and last kept)."""
    if length <= keep:
        return torch.arange(length)
    return torch.linspace(0, length - 1, keep).round().long()


def _keep_frames(length: int, frames_per_clip: int | None, random_lengths: bool,
                 generator: torch.Generator | None) -> Tensor:
    """Which real frames of a clip enter the merge: at most ``frames_per_clip`` of them and,
    with ``random_lengths``, a uniformly drawn count between half the clip and all of it."""
    keep = length if frames_per_clip is None else min(length, frames_per_clip)
    if random_lengths and keep > 1:
        low = (keep + 1) // 2
        keep = int(torch.randint(low, keep + 1, (1,), generator=generator))
    return _spread(length, keep)


def _randint(low: int, high: int, generator: torch.Generator | None) -> int:
    """Uniform integer in ``[low, high]``."""
    return low if high <= low else int(torch.randint(low, high + 1, (1,), generator=generator))


def merge_clips(
    features: Tensor,
    frame_mask: Tensor | None,
    groups: Tensor,
    frames_per_clip: int | None = None,
    generator: torch.Generator | None = None,
    shuffle: bool = True,
    *,
    window: int | None = None,
    random_lengths: bool = False,
    hold: int = 0,
    order_by: Tensor | None = None,
    lengths: Tensor | None = None,
) -> MergedVideo:
    """Concatenate the real frames of each group's clips in a random order (or in source order).

    Args:
        features: per-frame features ``[B, T, D]`` (before any temporal layer).
        frame_mask: ``[B, T]`` True for real frames (real frames must come first), or None.
        groups: ``[G, K]`` batch indices, anchor first (see :func:`sample_merge_groups`).
        frames_per_clip: subsample each clip to at most this many frames (None = keep all).
        window: number positions ``0..window-1``: the anchor starts at a uniformly random
            position, the frames the other clips put outside the window are cropped, and the
            sequence's first frame may sit above position 0 (see :attr:`MergedVideo.positions`).
            None keeps every frame at positions ``0..length-1``.
        random_lengths: each clip keeps a random number of its frames (half to all).
        hold: each clip is led by ``0..hold`` copies of its first kept frame and trailed by
            ``0..hold`` copies of its last (uniform counts): stills that belong to no text. The
            clip's span (:attr:`MergedVideo.starts` / ``ends``) covers its own frames only.
        order_by: ``[B]`` each clip's index in its source video: slots are laid out in that order
            instead of shuffled (use with groups drawn from one source, see
            :func:`sample_merge_groups`). ``-1`` entries of ``groups`` are empty slots.
        lengths: ``[B]`` real frames of each clip, on the host (real frames first); replaces
            ``frame_mask``, which is then not read: with ``lengths``, ``groups`` and
            ``order_by`` on the host the merge never waits for the device.
    """
    b, t, d = features.shape
    if lengths is not None:
        lengths = lengths.long()
        if lengths.device.type != "cpu" or tuple(lengths.shape) != (b,) or bool((lengths > t).any()):
            raise ValueError(f"merge lengths must be [{b}] host counts of at most {t} frames")
    elif frame_mask is not None:
        lengths = frame_lengths(frame_mask)
    else:
        lengths = torch.full((b,), t)
    if (lengths < 1).any():
        raise ValueError(f"clips {torch.nonzero(lengths < 1).flatten().tolist()} have no real frame to merge")
    if window is not None and window < 1:
        raise ValueError(f"merge window must be >= 1 frame, got {window}")
    if hold < 0:
        raise ValueError(f"merge hold must be >= 0 frames, got {hold}")
    groups = groups.cpu().long()
    if bool((groups[:, 0] < 0).any()):
        raise ValueError("every merge group needs its anchor in column 0 (got -1)")
    if shuffle:
        order, anchor_slot = _shuffle_groups(groups, generator, order_by)
    else:
        order, anchor_slot = groups, torch.zeros(len(groups), dtype=torch.long)
    cap = frames_per_clip if window is None else min(frames_per_clip or window, window)
    # Frames kept per (group, slot): drawn per placement, so one clip may differ between groups.
    empty = torch.zeros(0, dtype=torch.long)
    keep = [[_keep_frames(int(lengths[c]), cap, random_lengths, generator) if c >= 0 else empty for c in row]
            for row in order.tolist()]
    spans = torch.tensor([[len(k) for k in row] for row in keep], dtype=torch.long)  # each clip's own frames
    lead = torch.zeros(order.shape, dtype=torch.long)
    if hold > 0:  # stills before and after each clip (none of its text's span)
        holds = torch.randint(0, hold + 1, (*order.shape, 2), generator=generator)
        lead = holds[..., 0]
        keep = [[torch.cat([k[:1].repeat(int(h[0])), k, k[-1:].repeat(int(h[1]))]) if len(k) else k
                 for k, h in zip(row, hrow)] for row, hrow in zip(keep, holds)]
    sizes = torch.tensor([[len(k) for k in row] for row in keep], dtype=torch.long)
    ends_excl = sizes.cumsum(1)
    starts = ends_excl - sizes
    g = order.shape[0]
    crop, offset, seq_len = torch.zeros(g, dtype=torch.long), torch.zeros(g, dtype=torch.long), ends_excl[:, -1].clone()
    if window is not None:
        for gi in range(g):
            # Place the anchor's first frame at a uniform position p of the window, lay the
            # other clips around it and keep what falls inside [0, window).
            a = int(anchor_slot[gi])
            a_start, a_size, total = int(starts[gi, a] + lead[gi, a]), int(spans[gi, a]), int(ends_excl[gi, -1])
            shift = _randint(0, window - a_size, generator) - a_start  # window position of frame 0
            crop[gi], offset[gi] = max(0, -shift), max(0, shift)
            seq_len[gi] = min(total, window - shift) - crop[gi]
    length = int(seq_len.max())
    # One gather builds every merged sequence: (clip, frame) source index per output slot.
    src_clip = torch.zeros(g, length, dtype=torch.long)
    src_frame = torch.zeros(g, length, dtype=torch.long)
    mask = torch.zeros(g, length, dtype=torch.bool)
    for gi in range(g):
        clips = torch.cat([torch.full((len(k),), c) for c, k in zip(order[gi].tolist(), keep[gi])])
        frames = torch.cat(keep[gi])
        lo, n = int(crop[gi]), int(seq_len[gi])
        src_clip[gi, :n], src_frame[gi, :n], mask[gi, :n] = clips[lo : lo + n], frames[lo : lo + n], True
    positions = (offset[:, None] + torch.arange(length)[None, :]) * mask
    device = features.device
    dev_mask = _to(mask, device)
    merged = features[_to(src_clip, device), _to(src_frame, device)] * dev_mask[..., None]
    return MergedVideo(
        features=merged,
        mask=dev_mask,
        positions=_to(positions, device),
        order=_to(order, device),
        starts=_to(starts + lead - crop[:, None], device),
        ends=_to(starts + lead + spans - 1 - crop[:, None], device),
        anchor_slot=_to(anchor_slot, device),
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
    device: torch.device | str | None = None,
) -> MergedText:
    """Concatenate the word tokens of each group's texts as ``[CLS] t1 [SEP] ... tK [SEP]``.

    Inputs are single-text tokenizations ``[CLS] words [SEP] [PAD]...``. Each text keeps at
    most ``(max_len - 1) // K - 1`` word tokens (at least 1) so all K always fit. An empty
    text is represented by its ``[CLS]`` token so every span is non-empty. ``-1`` in ``groups``
    is an empty slot: it adds no token (its span is empty). The merge is planned from
    ``input_ids`` as given (pass host copies) and the result put on ``device`` (default: that
    of ``input_ids``).
    """
    k = groups.shape[1]
    budget = max(1, (max_len - 1) // k - 1)
    words = []
    for ids, m in zip(input_ids.cpu(), attention_mask.cpu()):
        toks = ids[m.bool()].tolist()
        body = [x for x in toks if x not in (cls_id, sep_id, pad_id)] or [toks[0] if toks else pad_id]
        words.append(body[:budget])
    groups = groups.cpu().long()
    order, anchor_slot = _shuffle_groups(groups, generator) if shuffle else (groups, torch.zeros(len(groups), dtype=torch.long))
    rows, starts, ends = [], torch.zeros(order.shape, dtype=torch.long), torch.zeros(order.shape, dtype=torch.long)
    for gi, row in enumerate(order.tolist()):
        seq = [cls_id]
        for slot, idx in enumerate(row):
            if idx < 0:  # an empty slot (empty slots come last): no text, an empty span
                starts[gi, slot], ends[gi, slot] = len(seq), len(seq) - 1
                continue
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
    device = input_ids.device if device is None else torch.device(device)
    return MergedText(
        input_ids=_to(ids_out, device),
        attention_mask=_to(mask_out, device),
        order=_to(order, device),
        starts=_to(starts, device),
        ends=_to(ends, device),
        anchor_slot=_to(anchor_slot, device),
    )


def merge_text_features(
    features: Tensor, groups: Tensor, generator: torch.Generator | None = None, shuffle: bool = True
) -> tuple[Tensor, Tensor, Tensor]:
    """One feature per text: ``[B, H] -> [G, K, H]`` in a random order per group.

    Returns ``(merged, order, anchor_slot)``; the label of group ``g`` is ``anchor_slot[g]``.
    Empty slots (``-1`` in ``groups``) hold zeros and keep ``-1`` in ``order``: mask their
    logits (``order < 0``) before a softmax over slots.
    """
    groups = groups.cpu().long()
    order, anchor_slot = _shuffle_groups(groups, generator) if shuffle else (groups, torch.zeros(len(groups), dtype=torch.long))
    device = features.device
    order = _to(order, device)
    merged = features[order.clamp(min=0)] * (order >= 0)[..., None].to(features.dtype)
    return merged, order, _to(anchor_slot, device)
