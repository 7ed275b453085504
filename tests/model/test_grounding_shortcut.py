"""Moment retrieval on merged clips cannot be solved from positions.

With query texts that say nothing about the anchor (shuffled) and frames that all look alike,
the only thing left to learn from is where frames sit. The merged sequences number frames by
their place in the merged sequence only, so the MR path (the video encoder's temporal layers,
the grounding encoder and the span head, trained on real merge labels) must do no better than
the best constant window. The same training with the old leak (each frame also carrying its
position inside its own clip, as before clips were merged ahead of the temporal layers) beats
that baseline by far: the test can tell a leak when there is one.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from tempvl_core import losses, merging
from tempvl_core.model.fusion import GroundingEncoder
from tempvl_core.model.heads import SpanHead
from tempvl_core.model.inference import top_frame_windows
from tempvl_core.model.video_encoder import VideoEncoder

pytestmark = pytest.mark.slow  # trains the grounding path twice

WINDOW, CLIPS, DIM, BATCH = 16, 4, 32, 48


class _NoBackbone(nn.Module):
    num_features = DIM


def _batch(gen: torch.Generator, leak: bool):
    """Merged sequences of K clips of 6-8 identical frames (always longer than the window, so
    every sequence has WINDOW frames), with uninformative 'texts'."""
    lengths = torch.randint(6, 9, (BATCH,), generator=gen)
    mask = torch.arange(8)[None, :] < lengths[:, None]
    feats = torch.zeros(BATCH, 8, DIM)
    feats[..., 0] = 1.0
    if leak:  # the old model: every frame carried its index inside its own clip
        feats[..., 1:9] += torch.eye(8)[None, :, :]
    groups = merging.sample_merge_groups(BATCH, CLIPS, "random", generator=gen)
    m = merging.merge_clips(feats, mask, groups, None, gen, window=WINDOW)
    text = torch.randn(BATCH, 4, DIM, generator=gen)  # shuffled texts carry no information
    return m, text


def _r1_at_half(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    inter = np.clip(np.minimum(pred[:, 1], gt[:, 1]) - np.maximum(pred[:, 0], gt[:, 0]), 0, None)
    hull = np.maximum(pred[:, 1], gt[:, 1]) - np.minimum(pred[:, 0], gt[:, 0])
    return inter / hull > 0.5


def _train_and_score(leak: bool) -> tuple[float, float, float]:
    torch.manual_seed(0)
    encoder = VideoEncoder(_NoBackbone(), DIM, WINDOW, temporal_layers=1, num_heads=4)
    grounding, head = GroundingEncoder(DIM, DIM, 1, 4), SpanHead(DIM)
    params = [p for m in (encoder, grounding, head) for p in m.parameters()]
    opt = torch.optim.AdamW(params, lr=3e-3)
    gen = torch.Generator().manual_seed(1)
    train_labels = []
    for _ in range(250):
        m, text = _batch(gen, leak)
        x = grounding(encoder.contextualize(encoder.proj(m.features), m.mask, m.positions), m.mask, text, None)
        start, end = head(x)
        s, e = m.anchor_span()
        train_labels.append(torch.stack([s, e + 1], 1))
        loss = losses.span_loss(start, end, s, e, m.mask)
        opt.zero_grad()
        loss.backward()
        opt.step()
    # The best constant window over the training labels (whole frames, [s, e+1)).
    labels = torch.cat(train_labels).numpy().astype(float)
    s_all, e_all = np.triu_indices(WINDOW)
    candidates = np.stack([s_all, e_all + 1], 1).astype(float)
    scores = [_r1_at_half(np.broadcast_to(c, labels.shape), labels).mean() for c in candidates]
    best = candidates[int(np.argmax(scores))]
    hits, constant = [], []
    with torch.no_grad():
        for _ in range(40):
            m, text = _batch(gen, leak)
            x = grounding(encoder.contextualize(encoder.proj(m.features), m.mask, m.positions), m.mask, text, None)
            start, end = head(x)
            pred = np.array([top_frame_windows(start[i], end[i], 1, m.mask[i])[0][:2] for i in range(BATCH)],
                            dtype=float)
            s, e = m.anchor_span()
            gt = torch.stack([s, e + 1], 1).numpy().astype(float)
            hits.append(_r1_at_half(pred + [0, 1], gt))
            constant.append(_r1_at_half(np.broadcast_to(best, gt.shape), gt))
    hits, constant = np.concatenate(hits), np.concatenate(constant)
    se = np.sqrt(hits.var() / len(hits) + constant.var() / len(constant))
    return float(hits.mean()), float(constant.mean()), float(se)


def test_shuffled_texts_cannot_beat_the_best_constant_window() -> None:
    model, constant, se = _train_and_score(leak=False)
    assert model <= constant + 3 * se, (model, constant, se)


def test_a_within_clip_position_leak_is_detected() -> None:
    model, constant, _ = _train_and_score(leak=True)
    assert model > constant + 0.10, (model, constant)
