"""Whole-video frame features and per-frame class scores (trained head or text prompts).

Frames are sampled over the whole video at a fixed rate (``video.sampling: fps``); the model's
:meth:`video_frame_features` turns them into temporally contextualized features ``[T, D]``.
A scorer maps those to :class:`~.decode.FrameScores`:

- :class:`HeadScorer`: the trained :class:`~.head.LocalizationHead` (sigmoid class scores,
  start/end probabilities).
- :class:`PromptScorer`: zero-shot. Each frame's embedding (the model's video projection of
  its feature, L2-normalized, i.e. the joint space of ``encode_video``) against
  ``encode_text`` of one prompt per class: a softmax over the classes of the scaled cosines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from tempvl_bench.api import encode_videos, frame_features
from tempvl_core.model.clip_backbone import at_feature_rate, model_stride
from tempvl_plugins.action_localization.decode import FrameScores, frame_step


@dataclass
class VideoFeatures:
    """Features of one decoded video: ``index`` into the records, ``features`` ``[T, D]``
    (float32, CPU), ``times`` the sampled frames' timestamps in seconds."""

    index: int
    features: Tensor
    times: np.ndarray


def video_duration(record, times: np.ndarray) -> float:
    """The record's duration, or (THUMOS14 per-class files have none) the end of the last frame."""
    if record.duration:
        return float(record.duration)
    return float(times[-1] + frame_step(times, 0.0))


@torch.no_grad()
def extract_features(model, clips, records: Sequence, desc: str) -> tuple[list[VideoFeatures], list]:
    """Features of every decodable video (eval sampling and transform) and the failed samples.

    Raises (through the failure tracker) when more videos fail than ``video.max_failed_fraction``.
    """
    out: list[VideoFeatures] = []
    encoded = encode_videos(clips, model, records, level="frames", desc=desc)
    for batch in encoded:
        feats = frame_features(model, batch)[0].float().cpu()
        grid = at_feature_rate(batch, model_stride(model))  # one timestamp per feature position
        for b, index in enumerate(batch["index"].tolist()):
            n = int(grid["frame_mask"][b].sum())
            out.append(VideoFeatures(index, feats[b, :n], grid["timestamps"][b, :n].numpy().astype(np.float64)))
    return out, list(encoded.tracker.failed)


class HeadScorer:
    """Per-frame scores from a trained localization head."""

    def __init__(self, head, device) -> None:
        self.head = head.eval()
        self.device = device

    @torch.no_grad()
    def __call__(self, video: VideoFeatures, duration: float) -> FrameScores:
        out = self.head(video.features[None].to(self.device))
        return FrameScores(
            times=video.times,
            classes=torch.sigmoid(out.classes[0]).double().cpu().numpy(),
            duration=duration,
            start=torch.sigmoid(out.start[0]).double().cpu().numpy(),
            end=torch.sigmoid(out.end[0]).double().cpu().numpy(),
        )


class PromptScorer:
    """Zero-shot per-frame class scores from text prompts (no boundary estimates)."""

    def __init__(self, model, prompts: Sequence[str], max_length: int) -> None:
        self.model = model
        with torch.no_grad():
            self.text = model.encode_text(model.tokenize(list(prompts), max_length)).float()
            self.scale = float(model.logit_scale.exp().clamp(max=100.0))

    @torch.no_grad()
    def __call__(self, video: VideoFeatures, duration: float) -> FrameScores:
        feats = video.features.to(self.model.device, dtype=self.model.video_proj.weight.dtype)
        frame_emb = F.normalize(self.model.video_proj(feats).float(), dim=-1)
        probs = (self.scale * frame_emb @ self.text.T).softmax(-1)
        return FrameScores(times=video.times, classes=probs.double().cpu().numpy(), duration=duration)
