"""Finetuning the localization head (and optionally the video encoder) on the training split.

Two ways, chosen by ``options.train_video_encoder``:

- ``false`` (default): TemPVL stays frozen; every training video's frame features are extracted
  once and the head alone trains on them for ``finetune.epochs`` epochs, as features-based
  detectors (ActionFormer, BMN) do. The head is the module :func:`tempvl_bench.run.finetune.finetune`
  checkpoints, so ``--resume`` continues it.
- ``true``: frames are decoded every epoch (``video.train_sampling``, train transform) and the
  video encoder trains together with the head; both are checkpointed.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from tempvl_bench.api import finetune
from tempvl_core.model.clip_backbone import at_feature_rate, model_stride
from tempvl_plugins.action_localization.decode import frame_step
from tempvl_plugins.action_localization.features import extract_features, video_duration
from tempvl_plugins.action_localization.head import HeadConfig, LocalizationHead, frame_targets, head_loss


def video_segments(video, class_index: dict[str, int]) -> list[tuple[int, float, float]]:
    """Ground-truth ``(class index, start, end)`` of a record (classes outside the list skipped)."""
    return [(class_index[i.label], i.start, i.end) for i in video.instances if i.label in class_index]


def _pad(tensors: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack ``[T_i, ...]`` tensors into ``[B, T_max, ...]`` with a ``[B, T_max]`` mask."""
    t_max = max(t.shape[0] for t in tensors)
    out = tensors[0].new_zeros((len(tensors), t_max, *tensors[0].shape[1:]))
    mask = torch.zeros(len(tensors), t_max, dtype=torch.bool)
    for b, t in enumerate(tensors):
        out[b, : t.shape[0]] = t
        mask[b, : t.shape[0]] = True
    return out, mask


def _targets(videos, class_index, times_list, num_classes) -> dict[str, torch.Tensor]:
    parts = {"classes": [], "start": [], "end": []}
    for video, times in zip(videos, times_list):
        times = np.asarray(times, dtype=np.float64)
        t = frame_targets(times, frame_step(times, video_duration(video, times)), video_segments(video, class_index),
                          num_classes)
        parts["classes"].append(torch.from_numpy(t.classes))
        parts["start"].append(torch.from_numpy(t.start))
        parts["end"].append(torch.from_numpy(t.end))
    return {k: _pad(v)[0] for k, v in parts.items()}


class _EndToEnd(nn.Module):
    """The model and the head as one module, so one checkpoint holds both."""

    def __init__(self, model: nn.Module, head: LocalizationHead) -> None:
        super().__init__()
        self.model = model
        self.head = head


def train_head(ctx, model, videos: Sequence, classes: Sequence[str], clips, options) -> LocalizationHead:
    """Build and train a head for ``classes`` on ``videos``; returns it in eval mode."""
    config = HeadConfig(in_dim=model.config.video_dim, classes=tuple(classes), **options.head)
    head = LocalizationHead(config).to(model.device)
    class_index = {c: i for i, c in enumerate(classes)}
    if options.train_video_encoder:
        _train_end_to_end(ctx, model, head, videos, class_index, clips)
    else:
        _train_on_features(ctx, model, head, videos, class_index, clips)
    return head.eval()


def _train_on_features(ctx, model, head, videos, class_index, clips) -> None:
    feats, _ = extract_features(model, clips, videos, desc="training features")
    if not feats:
        raise RuntimeError(f"{ctx.spec.name}: no training video could be decoded")
    # Targets depend only on the (fixed) sampled times: build them once.
    targets = [_targets([videos[f.index]], class_index, [f.times], len(class_index)) for f in feats]
    size = ctx.config.batch.train
    device = model.device

    def batches(epoch: int):
        order = np.random.default_rng([ctx.seed, epoch]).permutation(len(feats))
        for start in range(0, len(order), size):
            chosen = order[start : start + size]
            x, mask = _pad([feats[i].features for i in chosen])
            y = {k: _pad([targets[i][k][0] for i in chosen])[0] for k in ("classes", "start", "end")}
            yield x, mask, y

    def loss_fn(head, batch):
        x, mask, y = batch
        return head_loss(head(x.to(device), mask.to(device)), {k: v.to(device) for k, v in y.items()}, mask)

    steps = -(-len(feats) // size)
    finetune(head, batches, loss_fn, ctx.config.finetune, steps_per_epoch=steps, run_dir=ctx.run_dir,
             resume=ctx.options.resume, progress=ctx.options.progress)


def _train_end_to_end(ctx, model, head, videos, class_index, clips) -> None:
    both = _EndToEnd(model, head)
    device = model.device
    stride = model_stride(model)

    def batches(epoch: int):
        for batch in clips.batches(videos, train=True, epoch=epoch):
            grid = at_feature_rate(batch, stride)  # targets per feature position
            mask = grid["frame_mask"]
            times = [grid["timestamps"][b, : int(mask[b].sum())].numpy() for b in range(batch["batch_size"])]
            chosen = [videos[i] for i in batch["index"].tolist()]
            y = _targets(chosen, class_index, times, len(class_index))
            yield batch["frames"], batch["frame_mask"], mask, y

    def loss_fn(module, batch):
        frames, frame_mask, mask, y = batch
        feats = module.model.video_frame_features(frames.to(device), frame_mask.to(device))
        out = module.head(feats, mask.to(device))
        return head_loss(out, {k: v.to(device) for k, v in y.items()}, mask)

    params = list(model.video_encoder.parameters()) + list(head.parameters())
    finetune(both, batches, loss_fn, ctx.config.finetune, steps_per_epoch=clips.steps_per_epoch(len(videos)),
             run_dir=ctx.run_dir, resume=ctx.options.resume, progress=ctx.options.progress, parameters=params)
