"""Finetuning for moment retrieval: cross-entropy of the MR start/end heads on ground-truth frames.

Each training step decodes a batch of videos (``video.train_sampling``, one draw per epoch) and
trains on every query of those videos: the ground-truth window, mapped onto the decoded frames'
time cells (:func:`~tempvl_plugins.moment_retrieval.decoding.frame_span`), gives the start and
end frame targets. Unlike pretraining's merged clips, the video is a single real video.
A query with several ground-truth windows (QVHighlights) trains on one of them, drawn per step.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from tempvl_bench.clips import ClipLoaderFactory
from tempvl_bench.finetune import EpochLog, finetune, trainable_parameters
from tempvl_bench.runner import RunContext
from tempvl_core import losses
from tempvl_core.data.records import MomentQuery
from tempvl_plugins.moment_retrieval.datasets import VideoGroup, group_by_video
from tempvl_plugins.moment_retrieval.decoding import estimate_duration, frame_bounds, frame_span
from tempvl_plugins.moment_retrieval.scoring import query_moment_logits, video_frame_features


def span_targets(batch: dict, groups: Sequence[VideoGroup], queries: Sequence[MomentQuery],
                 rng: np.random.Generator) -> tuple[list[int], list[str], list[int], list[int]]:
    """(video row, text, start frame, end frame) of every labelled query of the batch's videos."""
    rows, texts, starts, ends = [], [], [], []
    for b, group_index in enumerate(batch["index"].tolist()):
        real = int(batch["frame_mask"][b].sum())
        timestamps = batch["timestamps"][b, :real].double().numpy()
        for qi in groups[group_index].queries:
            query = queries[qi]
            if not query.windows:
                continue
            duration = query.duration if query.duration else estimate_duration(timestamps)
            window = query.windows[int(rng.integers(len(query.windows)))]
            start, end = frame_span(window, frame_bounds(timestamps, duration))
            rows.append(b)
            texts.append(query.query)
            starts.append(start)
            ends.append(end)
    return rows, texts, starts, ends


def finetune_moments(ctx: RunContext, model, queries: Sequence[MomentQuery], clips: ClipLoaderFactory) -> list[EpochLog]:
    """Train the model (MR heads, grounding and encoders) on ``queries`` for ``finetune.epochs``."""
    cfg = ctx.config
    groups = group_by_video(queries)
    rng = np.random.default_rng(ctx.seed)

    def batches(epoch: int):
        # Failed training videos drop out of their batch, are counted, and stop the run past
        # video.max_failed_fraction, exactly as in evaluation.
        tracker = clips.failure_tracker(len(groups))
        for batch in clips.loader(groups, train=True, epoch=epoch):
            tracker.update(batch)
            if batch["batch_size"] == 0:
                continue
            targets = span_targets(batch, groups, queries, rng)
            if targets[0]:
                yield batch, targets

    def loss_fn(model, item) -> torch.Tensor:
        batch, (rows, texts, starts, ends) = item
        feats, mask = video_frame_features(model, batch["frames"], batch["frame_mask"])
        rows_t = torch.tensor(rows, dtype=torch.long, device=feats.device)
        start_logits, end_logits = query_moment_logits(model, feats, mask, rows_t, texts, cfg.text.max_length)
        target_s = torch.tensor(starts, dtype=torch.long, device=feats.device)
        target_e = torch.tensor(ends, dtype=torch.long, device=feats.device)
        return losses.span_loss(start_logits, end_logits, target_s, target_e, mask.index_select(0, rows_t))

    params = trainable_parameters(model, cfg.finetune.train_text_layers)
    return finetune(model, batches, loss_fn, cfg.finetune, steps_per_epoch=clips.steps_per_epoch(len(groups)),
                    run_dir=ctx.run_dir, resume=ctx.options.resume, progress=ctx.options.progress,
                    parameters=params)
