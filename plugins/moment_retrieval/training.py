"""Finetuning for moment retrieval: cross-entropy of the MR start/end heads on ground-truth frames.

Each training step decodes a batch of videos (``video.train_sampling``, one draw per epoch) and
trains on every query of those videos: the ground-truth window, mapped onto the decoded frames'
time cells (:func:`~tempvl_core.model.windows.frame_span`), gives the start and
end frame targets. Unlike pretraining's merged clips, the video is a single real video.
A query with several ground-truth windows (QVHighlights) trains on one of them, drawn per step.

With ``options.saliency_loss_weight > 0``, a hinge loss as Moment-DETR's saliency loss
(``tempvl_core.losses.saliency_hinge``, margin 0.2) also trains the highlight score, the cosine
of each frame with the query: every frame inside a ground-truth window should beat every frame
outside by the margin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from tempvl_bench.api import ClipLoaderFactory, EpochLog, RunContext, finetune, trainable_parameters
from tempvl_core import losses
from tempvl_core.data.records import MomentQuery
from tempvl_core.model.clip_backbone import at_feature_rate, model_stride
from tempvl_core.model.moment_queries import query_frame_similarity, query_span_loss, video_frame_features
from tempvl_core.model.windows import estimate_duration, frame_bounds, frame_span
from tempvl_plugins.moment_retrieval.datasets import VideoGroup, group_by_video


@dataclass
class SpanTargets:
    """Training targets of the queries of one batch (one entry per query)."""

    rows: list[int] = field(default_factory=list)  # the query's video in the batch
    texts: list[str] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    #: ``[T]`` bool per query: frames inside any of its ground-truth windows.
    inside: list[np.ndarray] = field(default_factory=list)


def span_targets(batch: dict, groups: Sequence[VideoGroup], queries: Sequence[MomentQuery],
                 rng: np.random.Generator) -> SpanTargets:
    """Targets of every labelled query of the batch's videos, over the positions of
    ``batch["frame_mask"]`` / ``batch["timestamps"]`` (pass them through ``at_feature_rate``)."""
    out = SpanTargets()
    width = batch["frame_mask"].shape[1]
    for b, group_index in enumerate(batch["index"].tolist()):
        real = int(batch["frame_mask"][b].sum())
        timestamps = batch["timestamps"][b, :real].double().numpy()
        for qi in groups[group_index].queries:
            query = queries[qi]
            if not query.windows:
                continue
            duration = query.duration if query.duration else estimate_duration(timestamps)
            bounds = frame_bounds(timestamps, duration)
            spans = [frame_span(w, bounds) for w in query.windows]
            start, end = spans[int(rng.integers(len(spans)))]
            inside = np.zeros(width, dtype=bool)
            for s, e in spans:
                inside[s : e + 1] = True
            out.rows.append(b)
            out.texts.append(query.query)
            out.starts.append(start)
            out.ends.append(end)
            out.inside.append(inside)
    return out


def finetune_moments(ctx: RunContext, model, queries: Sequence[MomentQuery], clips: ClipLoaderFactory,
                     saliency_weight: float = 0.0) -> list[EpochLog]:
    """Train the model (MR heads, grounding and encoders) on ``queries`` for ``finetune.epochs``."""
    cfg = ctx.config
    groups = group_by_video(queries)
    rng = np.random.default_rng(ctx.seed)
    stride = model_stride(model)

    def batches(epoch: int):
        for batch in clips.batches(groups, train=True, epoch=epoch):
            targets = span_targets(at_feature_rate(batch, stride), groups, queries, rng)
            if targets.rows:
                yield batch, targets

    def loss_fn(model, item) -> torch.Tensor:
        batch, targets = item
        feats, mask = video_frame_features(model, batch["frames"], batch["frame_mask"])
        device = feats.device
        rows = torch.tensor(targets.rows, dtype=torch.long, device=device)
        loss = query_span_loss(model, feats, mask, rows, targets.texts, cfg.text.max_length,
                               torch.tensor(targets.starts), torch.tensor(targets.ends))
        if saliency_weight > 0:
            similarity = query_frame_similarity(model, feats, rows, targets.texts, cfg.text.max_length)
            inside = torch.from_numpy(np.stack(targets.inside)).to(device)
            loss = loss + saliency_weight * losses.saliency_hinge(similarity, inside, mask.index_select(0, rows))
        return loss

    params = trainable_parameters(model, cfg.finetune.train_text_layers)
    return finetune(model, batches, loss_fn, cfg.finetune, steps_per_epoch=clips.steps_per_epoch(len(groups)),
                    run_dir=ctx.run_dir, resume=ctx.options.resume, progress=ctx.options.progress,
                    parameters=params, generators={"spans": rng})
