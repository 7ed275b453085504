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
    frame_feats: Tensor  # [B, T, video_dim]
    frame_mask: Tensor | None  # [B, T]
    video_emb: Tensor  # [B, embed_dim], normalized
    text_emb: Tensor | None = None  # [B, embed_dim], normalized
    generator: torch.Generator | None = None

    def text_to_video_similarity(self) -> Tensor:
        """Detached cosine similarities ``[B_text, B_video]`` (sampling only, no gradient)."""
        assert self.text_emb is not None
        return (self.text_emb @ self.video_emb.t()).detach()


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
    of its clip inside a long video made of K clips of the batch."""
    cfg = model.config
    groups = merging.sample_merge_groups(
        s.frame_feats.shape[0], cfg.merge_clips, cfg.merge_sampling, _similarity(s, cfg.merge_sampling), s.generator
    )
    merged = merging.merge_clips(s.frame_feats, s.frame_mask, groups, cfg.merge_frames_per_clip, s.generator)
    # Group g's anchor is clip g, so its query is text g: no re-indexing of the texts.
    grounded = model.grounding(merged.features, merged.mask, s.text_feats, s.attention_mask)
    start_logits, end_logits = model.mr_head(grounded)
    starts, ends = merged.anchor_span()
    return losses.span_loss(start_logits, end_logits, starts, ends, merged.mask)


def tl_loss(model: "TemPVL", s: BatchState) -> Tensor:
    """Text localization: for each clip, find the text describing it among K merged texts,
    as a token span (``tl_strategy='tokens'``) or as an index (``'cls'``)."""
    cfg = model.config
    sim = _similarity(s, cfg.merge_sampling)
    groups = merging.sample_merge_groups(
        s.frame_feats.shape[0], cfg.merge_clips, cfg.merge_sampling, None if sim is None else sim.t(), s.generator
    )
    if cfg.tl_strategy == "tokens":
        special = model.text_encoder.special_ids
        merged = merging.merge_text_tokens(
            s.input_ids,
            s.attention_mask,
            groups,
            cls_id=special["cls"],
            sep_id=special["sep"],
            pad_id=special["pad"],
            max_len=cfg.max_merged_text_len,
            generator=s.generator,
        )
        feats = model.text_features(merged.input_ids, merged.attention_mask)
        fused = model.fusion(feats, merged.attention_mask, s.frame_feats, s.frame_mask)
        start_logits, end_logits = model.tl_span_head(fused)
        starts, ends = merged.anchor_span()
        return losses.span_loss(start_logits, end_logits, starts, ends, merged.attention_mask)
    pooled = model.pool_text(s.text_feats, s.attention_mask)
    texts, _, anchor_slot = merging.merge_text_features(pooled, groups, s.generator)
    fused = model.fusion(texts, None, s.frame_feats, s.frame_mask)
    return F.cross_entropy(model.tl_cls_head(fused).squeeze(-1), anchor_slot)


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


def _similarity(s: BatchState, strategy: str) -> Tensor | None:
    return s.text_to_video_similarity() if strategy == "hard" else None
