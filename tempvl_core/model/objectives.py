"""Pretraining objectives that need the model's encoders: MLM, MR, TL and VTM.

Each function takes the model and a :class:`BatchState` (the encoder outputs computed once
in ``TemPVL.forward``) and returns an unweighted scalar loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from tempvl_core import losses, merging

if TYPE_CHECKING:
    from tempvl_core.model.tempvl import TemPVL


@dataclass
class BatchState:
    """Encoder outputs shared by all objectives of one batch."""

    input_ids: Tensor  # [B, L]
    attention_mask: Tensor  # [B, L]
    text_feats: Tensor  # [B, L, hidden]
    frame_feats: Tensor  # [B, T, video_dim], after the temporal layers
    frame_mask: Tensor | None  # [B, T]
    video_emb: Tensor  # [B, embed_dim], normalized
    text_emb: Tensor | None = None  # [B, embed_dim], normalized
    generator: torch.Generator | None = None
    raw_frame_feats: Tensor | None = None  # [B, T, video_dim], before the temporal layers
    mergeable: Tensor | None = None  # [B] bool: may take part in MR/TL (None = all; stills may not)
    hard_sampling: bool = True  # False during the merge warm-up (random partners)
    source: Tensor | None = None  # [B] long: id of the video each clip was cut from (merge_order: source)
    source_index: Tensor | None = None  # [B] long: the clip's index in that video

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


def merge_pool(s: BatchState) -> MergePool:
    """Gather the merge candidates of every rank (no-op without DDP)."""
    assert s.raw_frame_feats is not None, "BatchState.raw_frame_feats is needed for merging"
    b, t = s.raw_frame_feats.shape[:2]
    device = s.raw_frame_feats.device
    mask = s.frame_mask if s.frame_mask is not None else torch.ones(b, t, dtype=torch.bool, device=device)
    mergeable = s.mergeable if s.mergeable is not None else torch.ones(b, dtype=torch.bool, device=device)
    offset = losses.rank_offset(b, device)
    raw = losses.all_gather_with_grad(s.raw_frame_feats)
    pool_mask = losses.all_gather_with_grad(mask.to(raw.dtype)).bool()
    emb = losses.all_gather_with_grad(s.video_emb.detach())
    candidates = losses.all_gather_with_grad(mergeable.to(raw.dtype)).bool()
    local = torch.nonzero(mergeable.cpu()).flatten()
    source = source_index = None
    if s.source is not None and s.source_index is not None:
        # Ids travel as float64 through the gather (exact for any realistic dataset size).
        source = losses.all_gather_with_grad(s.source.to(device, torch.float64)).cpu().long()
        source_index = losses.all_gather_with_grad(s.source_index.to(device, torch.float64)).cpu().long()
        # A clip of no known source (-1) is a source of its own, on every rank.
        source = torch.where(source < 0, -1 - torch.arange(len(source)), source)
    return MergePool(raw, pool_mask, emb, candidates.cpu(), local + offset, local, source, source_index)


def _source_order(model: "TemPVL", pool: MergePool) -> tuple[Tensor | None, Tensor | None]:
    """``(sources, order_by)`` when clips are merged within their source video, in source order."""
    if model.config.merge_order != "source":
        return None, None
    if pool.source is None or pool.source_index is None:
        raise ValueError("merge_order 'source' needs batch['source'] and batch['source_index'] (the video each clip "
                         "was cut from and its index there): use an episodes dataset (data.episodes_json)")
    return pool.source, pool.source_index


def _partners(model: "TemPVL", s: BatchState, pool: MergePool) -> Tensor:
    """Merge groups ``[A, K]`` over the pool (anchor first): random, or after the warm-up
    drawn in proportion to clip similarity (hard sampling)."""
    cfg = model.config
    hard = cfg.merge_sampling == "hard" and s.hard_sampling
    similarity = (pool.emb[pool.anchors.to(pool.emb.device)] @ pool.emb.t()).float() if hard else None
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


def mlm_loss(model: "TemPVL", s: BatchState) -> Tensor:
    """Masked language modelling through the fusion encoder, conditioned on the video."""
    special = model.text_encoder.special_ids
    masked, labels = losses.mask_tokens(
        s.input_ids,
        s.attention_mask,
        mask_token_id=special["mask"],
        vocab_size=model.text_encoder.word_embeddings.num_embeddings,
        special_ids=[i for i in special.values() if i is not None],
        prob=model.config.mlm_prob,
        generator=s.generator,
    )
    feats = model.text_features(masked, s.attention_mask)
    fused = model.fusion(feats, s.attention_mask, s.frame_feats, s.frame_mask)
    targets = labels != losses.IGNORE_INDEX
    # The vocabulary projection is the costliest op: run it on the masked positions only.
    logits = model.lm_head(fused[targets])
    return F.cross_entropy(logits, labels[targets])


def mr_loss(model: "TemPVL", s: BatchState) -> Tensor:
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
    merged = merging.merge_clips(pool.raw, pool.mask, groups, cfg.merge_frames_per_clip, s.generator,
                                 window=cfg.max_merged_frames, random_lengths=cfg.merge_random_lengths,
                                 hold=cfg.merge_hold_frames, order_by=_source_order(model, pool)[1])
    video = model.video_encoder.contextualize(merged.features, merged.mask, merged.positions)
    rows = pool.local.to(s.text_feats.device)
    if cfg.merge_shuffled_texts:
        rows = _control_rows(rows, s.generator)
    grounded = model.grounding(video, merged.mask, s.text_feats[rows], s.attention_mask[rows])
    start_logits, end_logits = model.mr_head(grounded)
    starts, ends = merged.anchor_span()
    return losses.span_loss(start_logits, end_logits, starts, ends, merged.mask)


def tl_loss(model: "TemPVL", s: BatchState) -> Tensor:
    """Text localization: for each clip, find the text describing it among K merged texts,
    as a token span (``tl_strategy='tokens'``) or as an index (``'cls'``, on the text
    encoder's ``[CLS]`` features)."""
    cfg = model.config
    pool = merge_pool(s)
    if pool.anchors.numel() == 0:
        return s.raw_frame_feats.sum() * 0.0
    groups = _partners(model, s, pool)
    device = s.text_feats.device
    rows = pool.local.to(device)
    video_rows = _control_rows(rows, s.generator) if cfg.merge_shuffled_texts else rows
    video, video_mask = s.frame_feats[video_rows], None if s.frame_mask is None else s.frame_mask[video_rows]
    if cfg.tl_strategy == "tokens":
        special = model.text_encoder.special_ids
        ids, att = losses.pad_to(s.input_ids, cfg.max_text_len, special["pad"]), losses.pad_to(s.attention_mask, cfg.max_text_len, 0)
        merged = merging.merge_text_tokens(
            losses.all_gather_with_grad(ids),
            losses.all_gather_with_grad(att),
            groups,
            cls_id=special["cls"],
            sep_id=special["sep"],
            pad_id=special["pad"],
            max_len=cfg.max_merged_text_len,
            generator=s.generator,
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


def vtm_loss(model: "TemPVL", s: BatchState) -> Tensor:
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
    labels = torch.cat([torch.ones(b), torch.zeros(2 * b)]).long().to(logits.device)
    return F.cross_entropy(logits, labels)


def match_logits(model: "TemPVL", text: Tensor, text_mask: Tensor, video: Tensor, video_mask: Tensor | None) -> Tensor:
    """VTM logits ``[B, 2]`` (index 1 = match) from the fused CLS token."""
    fused = model.fusion(text, text_mask, video, video_mask)
    return model.vtm_head(fused[:, 0])

