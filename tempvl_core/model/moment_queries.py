"""Model outputs for a batch of videos and the queries asked about them.

A video with several queries is decoded and run through the video encoder once; its frame
features are then repeated per query for the grounding encoder. This is the computation of
``TemPVL.moment_logits`` split at the video features (the equality is tested), so a video with
ten queries costs one backbone pass instead of ten. Shared by the moment-retrieval benchmarks
(``tempvl_plugins.moment_retrieval``) and the localization study (``tempvl_bench.study``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from tempvl_core import losses
from tempvl_core.model.clip_backbone import feature_mask, model_stride


def video_frame_features(model, frames: Tensor, frame_mask: Tensor | None) -> tuple[Tensor, Tensor | None]:
    """Features ``[B, T', video_dim]`` and their mask on the model's device; ``T' = T`` for a
    per-frame backbone, ``T / stride`` for a clip backbone (see ``at_feature_rate``)."""
    feats = model.video_frame_features(frames, frame_mask)
    mask = None if frame_mask is None else feature_mask(frame_mask, model_stride(model)).to(feats.device).bool()
    return feats, mask


def query_moment_logits(model, frame_feats: Tensor, frame_mask: Tensor | None, rows: Tensor,
                        texts: list[str], max_length: int) -> tuple[Tensor, Tensor]:
    """Start/end logits ``[Q, T]`` of query j in video ``rows[j]``; padded frames get the minimum."""
    rows = rows.to(frame_feats.device)
    feats = frame_feats.index_select(0, rows)
    mask = None if frame_mask is None else frame_mask.index_select(0, rows)
    return model.moment_logits_from_features(model.tokenize(texts, max_length), feats, mask)


def query_span_loss(model, frame_feats: Tensor, frame_mask: Tensor | None, rows: Tensor, texts: list[str],
                    max_length: int, starts: Tensor, ends: Tensor) -> Tensor:
    """Moment-retrieval finetuning loss: cross-entropy of query j's start/end logits in video
    ``rows[j]`` against its ground-truth frames ``starts[j]``/``ends[j]`` (see ``frame_span``)."""
    start_logits, end_logits = query_moment_logits(model, frame_feats, frame_mask, rows, texts, max_length)
    query_mask = None if frame_mask is None else frame_mask.index_select(0, rows.to(frame_feats.device))
    device = start_logits.device
    return losses.span_loss(start_logits, end_logits, starts.to(device), ends.to(device), query_mask)


def query_frame_similarity(model, frame_feats: Tensor, rows: Tensor, texts: list[str], max_length: int) -> Tensor:
    """Cosine ``[Q, T]`` between each frame (projected to the joint space) and query j's
    embedding: the per-frame saliency used for QVHighlights highlight detection."""
    text = model.encode_text(model.tokenize(texts, max_length))
    frames = model.embed_video_features(frame_feats.index_select(0, rows.to(frame_feats.device)))
    return torch.einsum("qtd,qd->qt", frames.float(), text.float())
