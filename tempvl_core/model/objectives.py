"""Pretraining objectives that need the model's encoders: MLM, MR, TL and VTM.

Each function takes the model (the TemPVL whose ``forward`` calls it; typed ``nn.Module`` because
that module imports this one) and a :class:`BatchState` (the encoder outputs computed once in
``TemPVL.forward``) and returns an unweighted scalar loss.

No objective reads a device tensor back on the host: merges, MLM targets and gather sizes are
planned from the host copies a :class:`BatchState` carries (frame lengths, mergeable flags,
sources, token ids: the batch is collated on the CPU) and the plans reach the device with
non-blocking copies, so a step queues its work without waiting for the GPU. The one exception is
hard merge sampling, whose plan depends on clip similarities computed on the device
(:func:`_partners`).
"""

from __future__ import annotations

from dataclasses import dataclass
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tempvl_core import losses, merging
from tempvl_core.losses import to_device as _to


def host_copy(tensor: Tensor | None) -> Tensor | None:
    """``tensor`` on the CPU: itself when already there; otherwise a copy that waits for the
    device (the fallback for callers that hand only device tensors, see :class:`HostBatch`)."""
    return tensor if tensor is None or tensor.device.type == "cpu" else tensor.cpu()


@dataclass
class HostBatch:
    """CPU copies of a batch's per-item fields, taken before the batch moves to the device.

    A collate function adds ``batch["host"] = HostBatch.of(batch)``; ``TemPVL.forward`` then plans
    merges and MLM targets from these instead of copying the device tensors back (one wait for
    the device per field and step). Being neither a tensor nor a container, it passes through
    ``move_to_device`` and DDP's input scattering untouched.
    """

    frame_mask: Tensor | None = None  # [B, T] bool
    mergeable: Tensor | None = None  # [B] bool
    source: Tensor | None = None  # [B] long
    source_index: Tensor | None = None  # [B] long
    input_ids: Tensor | None = None  # [B, L]
    attention_mask: Tensor | None = None  # [B, L]

    @classmethod
    def of(cls, batch: dict) -> "HostBatch":
        """The CPU tensors among ``batch``'s fields of these names (others stay None)."""
        found = {}
        for name in cls.__dataclass_fields__:
            value = batch.get(name)
            if isinstance(value, Tensor) and value.device.type == "cpu":
                found[name] = value
        return cls(**found)

    def get(self, name: str, value: object) -> Tensor | None:
        """The host copy of field ``name`` of a batch whose own value is ``value``: this copy, else
        ``value`` (a device-to-host copy, the last resort, when it lies on the device)."""
        mine = getattr(self, name)
        if mine is not None or value is None:
            return mine
        return host_copy(torch.as_tensor(value))


@dataclass
class BatchState:
    """Encoder outputs shared by all objectives of one batch.

    Fields marked *host* live on the CPU: merges and MLM targets are planned from them.
    """

    input_ids: Tensor  # [B, L]
    attention_mask: Tensor  # [B, L]
    text_feats: Tensor  # [B, L, hidden]
    frame_feats: Tensor  # [B, T, video_dim], after the temporal layers
    frame_mask: Tensor | None  # [B, T]
    video_emb: Tensor  # [B, embed_dim], normalized
    text_emb: Tensor | None = None  # [B, embed_dim], normalized
    generator: torch.Generator | None = None
    raw_frame_feats: Tensor | None = None  # [B, T, video_dim], before the temporal layers
    mergeable: Tensor | None = None  # [B] bool, host: may take part in MR/TL (None = all; stills may not)
    hard_sampling: bool = True  # False during the merge warm-up (random partners)
    source: Tensor | None = None  # [B] long, host: id of the video each clip was cut from (merge_order: source)
    source_index: Tensor | None = None  # [B] long, host: the clip's index in that video
    frame_lengths: Tensor | None = None  # [B] long, host: real positions of frame_mask (None: from frame_mask)
    host_input_ids: Tensor | None = None  # [B, L], host copy of input_ids (None: copied back when needed)
    host_attention_mask: Tensor | None = None  # [B, L], host copy of attention_mask
    merge_similarity: Tensor | None = None  # [A, N], host: hard sampling's similarities, read back once per batch
    pool: "MergePool | None" = None  # the gathered merge candidates, shared by MR and TL (see merge_pool)

    def host_tokens(self) -> tuple[Tensor, Tensor]:
        """``(input_ids, attention_mask)`` on the host: the kept copies, else copies of the
        device tensors (a wait for the device: the fallback)."""
        ids = self.host_input_ids if self.host_input_ids is not None else host_copy(self.input_ids)
        att = self.host_attention_mask if self.host_attention_mask is not None else host_copy(self.attention_mask)
        return ids, att

    def text_to_video_similarity(self) -> Tensor:
        """Detached cosine similarities ``[B_text, B_video]`` (sampling only, no gradient)."""
        assert self.text_emb is not None
        return (self.text_emb @ self.video_emb.t()).detach()


@dataclass
class MergePool:
    """The clips partners are drawn from: this rank's batch, or every rank's under DDP.

    ``anchors`` index this rank's mergeable items inside the pool; ``local`` maps them back to
    this rank's batch rows (their texts).
    """

    raw: Tensor  # [N, T, D] frame features before the temporal layers (gradients flow back)
    mask: Tensor  # [N, T] bool
    emb: Tensor  # [N, E] detached clip embeddings (similarity for hard sampling)
    candidates: Tensor  # [N] bool
    anchors: Tensor  # [A] indices into the pool
    local: Tensor  # [A] rows of this rank's batch
    source: Tensor | None = None  # [N] long (CPU), for merge_order: source
    source_index: Tensor | None = None  # [N] long (CPU)
    lengths: Tensor | None = None  # [N] long (CPU): real frames of each clip (real frames first)


def _host_lengths(s: BatchState, b: int, t: int) -> Tensor:
    """Real frames of each clip of this rank, on the host."""
    if s.frame_lengths is not None:
        return s.frame_lengths.long()
    if s.frame_mask is None:
        return torch.full((b,), t, dtype=torch.long)
    return merging.frame_lengths(s.frame_mask)  # a wait for the device when it lies there: the fallback


def merge_pool(s: BatchState) -> MergePool:
    """Gather the merge candidates of every rank (no-op without DDP): features on the device,
    their metadata (lengths, mergeable flags, sources) on the host through a CPU group. Done
    once per batch: MR and TL share the pool (``s.pool``)."""
    if s.pool is None:
        s.pool = _gather_pool(s)
    return s.pool


def _gather_pool(s: BatchState) -> MergePool:
    assert s.raw_frame_feats is not None, "BatchState.raw_frame_feats is needed for merging"
    b, t = s.raw_frame_feats.shape[:2]
    device = s.raw_frame_feats.device
    mergeable = torch.ones(b, dtype=torch.bool) if s.mergeable is None else host_copy(s.mergeable).bool()
    sizes = losses.rank_sizes(b)
    offset = losses.rank_offset(b, sizes=sizes)
    raw = losses.all_gather_with_grad(s.raw_frame_feats, sizes)
    emb = losses.all_gather_with_grad(s.video_emb.detach(), sizes)
    columns = [_host_lengths(s, b, t), mergeable.long()]
    with_source = s.source is not None and s.source_index is not None
    if with_source:
        columns += [host_copy(s.source).long(), host_copy(s.source_index).long()]
    meta = losses.gather_host(torch.stack(columns, 1), sizes)
    local = torch.nonzero(mergeable).flatten()
    source = source_index = None
    if with_source:
        source, source_index = meta[:, 2], meta[:, 3]
        # A clip of no known source (-1) is a source of its own, on every rank.
        source = torch.where(source < 0, -1 - torch.arange(len(source)), source)
    pool_mask = _to(torch.arange(t)[None, :] < meta[:, :1], device)  # real frames come first
    return MergePool(raw, pool_mask, emb, meta[:, 1].bool(), local + offset, local, source, source_index,
                     lengths=meta[:, 0])


def _source_order(model: nn.Module, pool: MergePool) -> tuple[Tensor | None, Tensor | None]:
    """``(sources, order_by)`` when clips are merged within their source video, in source order."""
    if model.config.merge_order != "source":
        return None, None
    if pool.source is None or pool.source_index is None:
        raise ValueError("merge_order 'source' needs batch['source'] and batch['source_index'] (the video each clip "
                         "was cut from and its index there): use an episodes dataset (data.episodes_json)")
    return pool.source, pool.source_index


def _partners(model: nn.Module, s: BatchState, pool: MergePool) -> Tensor:
    """Merge groups ``[A, K]`` over the pool (anchor first): random, or after the warm-up
    drawn in proportion to clip similarity (hard sampling)."""
    cfg = model.config
    hard = cfg.merge_sampling == "hard" and s.hard_sampling
    if hard and s.merge_similarity is None:
        # The one host read of a merging step (shared by MR and TL): partners are drawn on the
        # host, with the step's generator, in proportion to similarities only the device knows.
        s.merge_similarity = (pool.emb[_to(pool.anchors, pool.emb.device)] @ pool.emb.t()).float().cpu()
    similarity = s.merge_similarity if hard else None
    sources, _ = _source_order(model, pool)
    return merging.sample_merge_groups(
        pool.raw.shape[0], cfg.merge_clips, "hard" if hard else "random", similarity, s.generator,
        anchors=pool.anchors, candidates=pool.candidates, temperature=cfg.merge_temperature, sources=sources,
    )


def _control_rows(rows: Tensor, generator: torch.Generator | None) -> Tensor:
    """The shuffled-text control: pair each anchor with another anchor's row (a cyclic shift
    by a random amount, so no anchor keeps its own)."""
    n = rows.shape[0]
    if n < 2:
        return rows
    shift = int(torch.randint(1, n, (1,), generator=generator))
    return rows.roll(shift)


def mlm_loss(model: nn.Module, s: BatchState) -> Tensor:
    """Masked language modelling through the fusion encoder, conditioned on the video."""
    special = model.text_encoder.special_ids
    # Masked on the host copy (the same draws as on the device): the targets are then known there.
    masked, labels = losses.mask_tokens(
        *s.host_tokens(),
        mask_token_id=special["mask"],
        vocab_size=model.text_encoder.word_embeddings.num_embeddings,
        special_ids=[i for i in special.values() if i is not None],
        prob=model.config.mlm_prob,
        generator=s.generator,
    )
    device = s.input_ids.device
    feats = model.text_features(_to(masked, device), s.attention_mask)
    fused = model.fusion(feats, s.attention_mask, s.frame_feats, s.frame_mask)
    # The vocabulary projection is the costliest op: run it on the masked positions only (found
    # on the host: a boolean mask applied on the device would wait for it to count them).
    targets = torch.nonzero(labels.flatten() != losses.IGNORE_INDEX).flatten()
    logits = model.lm_head(fused.flatten(0, 1)[_to(targets, device)])
    return F.cross_entropy(logits, _to(labels.flatten()[targets], device))


def mr_loss(model: nn.Module, s: BatchState) -> Tensor:
    """Moment retrieval over merged clips: for each text, classify the start and end frame
    of its clip inside a long video made of K clips.

    Clips are merged as frame features *before* the temporal layers, which then run over the
    merged sequence with its own positions: no position marks where a clip begins.
    """
    cfg = model.config
    pool = merge_pool(s)
    if pool.anchors.numel() == 0:
        return s.raw_frame_feats.sum() * 0.0  # no video clip in this batch (stills only)
    groups = _partners(model, s, pool)
    merged = merging.merge_clips(pool.raw, None, groups, cfg.merge_frames_per_clip, s.generator,
                                 window=cfg.max_merged_frames, random_lengths=cfg.merge_random_lengths,
                                 hold=cfg.merge_hold_frames, order_by=_source_order(model, pool)[1],
                                 lengths=pool.lengths)
    video = model.video_encoder.contextualize(merged.features, merged.mask, merged.positions)
    rows = pool.local
    if cfg.merge_shuffled_texts:
        rows = _control_rows(rows, s.generator)
    rows = _to(rows, s.text_feats.device)
    grounded = model.grounding(video, merged.mask, s.text_feats[rows], s.attention_mask[rows])
    start_logits, end_logits = model.mr_head(grounded)
    starts, ends = merged.anchor_span()
    loss = losses.span_loss(start_logits, end_logits, starts, ends, merged.mask)
    if cfg.mr_saliency_weight > 0:
        loss = loss + cfg.mr_saliency_weight * _merged_saliency(model, video, merged.mask, s.text_emb[rows], starts, ends)
    return loss


def _merged_saliency(model: nn.Module, video: Tensor, mask: Tensor, text_emb: Tensor, starts: Tensor,
                     ends: Tensor) -> Tensor:
    """The hinge of ``mr_saliency_weight``: joint-space cosine of each merged frame with the
    anchor's text, frames of the anchor clip (``starts..ends``) against all other real frames."""
    frame_emb = model.embed_video_features(video)
    similarity = (frame_emb @ text_emb.to(frame_emb.dtype)[:, :, None]).squeeze(-1)
    steps = torch.arange(video.shape[1], device=video.device)[None, :]
    inside = (steps >= starts[:, None]) & (steps <= ends[:, None])
    return losses.saliency_hinge(similarity, inside, mask)


def tl_loss(model: nn.Module, s: BatchState) -> Tensor:
    """Text localization: for each clip, find the text describing it among K merged texts,
    as a token span (``tl_strategy='tokens'``) or as an index (``'cls'``, on the text
    encoder's ``[CLS]`` features)."""
    cfg = model.config
    pool = merge_pool(s)
    if pool.anchors.numel() == 0:
        return s.raw_frame_feats.sum() * 0.0
    groups = _partners(model, s, pool)
    device = s.text_feats.device
    rows = pool.local
    video_rows = _to(_control_rows(rows, s.generator) if cfg.merge_shuffled_texts else rows, device)
    video, video_mask = s.frame_feats[video_rows], None if s.frame_mask is None else s.frame_mask[video_rows]
    if cfg.tl_strategy == "tokens":
        special = model.text_encoder.special_ids
        ids, att = s.host_tokens()
        ids, att = losses.pad_to(ids, cfg.max_text_len, special["pad"]), losses.pad_to(att, cfg.max_text_len, 0)
        merged = merging.merge_text_tokens(  # planned on the host copies, every rank's texts
            losses.gather_host(ids),
            losses.gather_host(att),
            groups,
            cls_id=special["cls"],
            sep_id=special["sep"],
            pad_id=special["pad"],
            max_len=cfg.max_merged_text_len,
            generator=s.generator,
            device=device,
        )
        feats = model.text_features(merged.input_ids, merged.attention_mask)
        fused = model.fusion(feats, merged.attention_mask, video, video_mask)
        start_logits, end_logits = model.tl_span_head(fused)
        starts, ends = merged.anchor_span()
        return losses.span_loss(start_logits, end_logits, starts, ends, merged.attention_mask)
    cls = losses.all_gather_with_grad(s.text_feats[:, 0])
    texts, order, anchor_slot = merging.merge_text_features(cls, groups, s.generator)
    fused = model.fusion(texts, None, video, video_mask)
    logits = model.tl_cls_head(fused).squeeze(-1).masked_fill(order < 0, float("-inf"))  # empty slots
    return F.cross_entropy(logits, anchor_slot)


def vtm_loss(model: nn.Module, s: BatchState) -> Tensor:
    """Video-text matching: each positive pair plus one hard negative video per text and
    one hard negative text per video, sampled from the VTC similarities."""
    b = s.frame_feats.shape[0]
    if b < 2:
        raise ValueError("VTM needs at least 2 video-text pairs per batch for negatives")
    sim = s.text_to_video_similarity() * model.logit_scale.exp().detach()
    neg_video = losses.sample_hard_negatives(sim, s.generator)
    neg_text = losses.sample_hard_negatives(sim.t(), s.generator)
    text = torch.cat([s.text_feats, s.text_feats, s.text_feats[neg_text]])
    text_mask = torch.cat([s.attention_mask, s.attention_mask, s.attention_mask[neg_text]])
    video = torch.cat([s.frame_feats, s.frame_feats[neg_video], s.frame_feats])
    video_mask = None
    if s.frame_mask is not None:
        video_mask = torch.cat([s.frame_mask, s.frame_mask[neg_video], s.frame_mask])
    logits = match_logits(model, text, text_mask, video, video_mask)
    labels = (torch.arange(3 * b, device=logits.device) < b).long()  # made on the device: no copy
    return F.cross_entropy(logits, labels)


def match_logits(model: nn.Module, text: Tensor, text_mask: Tensor, video: Tensor, video_mask: Tensor | None) -> Tensor:
    """VTM logits ``[B, 2]`` (index 1 = match) from the fused CLS token."""
    fused = model.fusion(text, text_mask, video, video_mask)
    return model.vtm_head(fused[:, 0])

