"""Per-query outcomes of one pretrained model, and of the trivial baselines beside it.

Every function returns ``{metric: array over queries}`` in percent units (a query scores 0 or
100, or its expectation), so that a metric is the mean of its array and the bootstrap can
resample queries. Moment windows are scored as 2D-TAN scores them: the top-1 window's IoU
(intersection over the hull) against the one ground-truth window, ``R1@m`` counts IoU > m.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from tempvl_bench.metrics.priors import best_constant_window
from tempvl_bench.metrics.priors import frame_windows
from tempvl_bench.metrics.priors import window_iou as iou
from tempvl_bench.metrics.retrieval import tie_counts
from tempvl_bench.study.data import Moments, Paragraphs
from tempvl_core import losses
from tempvl_core.model.inference import top_frame_windows

MR_THRESHOLDS = (0.3, 0.5, 0.7)


def window_outcomes(overlap: np.ndarray) -> dict[str, np.ndarray]:
    """``mr/R1@m`` and ``mr/mIoU`` per query from top-1 IoUs (an expectation when averaged)."""
    out = {f"mr/R1@{t:g}": 100.0 * (overlap > t) for t in MR_THRESHOLDS}
    out["mr/mIoU"] = 100.0 * overlap
    return out


def frame_seconds(moments: Moments) -> np.ndarray:
    """Seconds per sampled frame of each query's video: frame i stands for [i, i+1) * step."""
    return moments.durations[moments.video] / moments.frames.shape[1]


@torch.no_grad()
def moment_outcomes(model, moments: Moments, batch_videos: int, max_text_len: int) -> tuple[dict, list]:
    """Zero-shot moment retrieval from the span heads and the head-free alignment probe.

    Returns per-query outcomes and the top-1 frame window of every query (to count distinct
    windows: one window for every query is a positional prior, whatever it scores).
    """
    model.eval()
    top1 = np.zeros((len(moments.texts), 2), dtype=np.int64)
    probe_frame = np.zeros(len(moments.texts), dtype=np.int64)
    for first in range(0, len(moments.durations), batch_videos):
        videos = range(first, min(first + batch_videos, len(moments.durations)))
        feats, _ = model.video_features(moments.frames[videos.start:videos.stop].float())
        queries = np.nonzero((moments.video >= videos.start) & (moments.video < videos.stop))[0]
        if not len(queries):
            continue
        rows = torch.as_tensor(moments.video[queries] - videos.start)
        tokens = model.tokenize([moments.texts[q] for q in queries], max_text_len)
        start, end = model.moment_logits_from_features(tokens, feats[rows])
        for j, q in enumerate(queries):
            s, e, _ = top_frame_windows(start[j].float(), end[j].float(), top_k=1)[0]
            top1[q] = (s, e)
        text_emb = model.encode_text(tokens)
        frame_emb = model.embed_video_features(feats)[rows]
        probe_frame[queries] = (frame_emb @ text_emb[:, :, None]).squeeze(-1).argmax(1).cpu().numpy()
    step = frame_seconds(moments)
    pred = np.stack([top1[:, 0] * step, (top1[:, 1] + 1) * step], 1)
    out = window_outcomes(iou(pred, moments.windows))
    centre = (probe_frame + 0.5) * step
    out["probe/hit"] = 100.0 * ((centre >= moments.windows[:, 0]) & (centre <= moments.windows[:, 1]))
    return out, [tuple(w) for w in top1.tolist()]


@torch.no_grad()
def paragraph_outcomes(model, paragraphs: Paragraphs, batch_videos: int, max_text_len: int) -> dict[str, np.ndarray]:
    """Paragraph-to-video R@1 and R@5 per query, ties broken in expectation (specs/metrics.md)."""
    model.eval()
    videos = torch.cat([model.encode_video(paragraphs.frames[i:i + batch_videos].float())
                        for i in range(0, len(paragraphs.texts), batch_videos)])
    texts = torch.cat([model.encode_text(model.tokenize(paragraphs.texts[i:i + 64], max_text_len))
                       for i in range(0, len(paragraphs.texts), 64)])
    sim = (texts @ videos.t()).double().cpu().numpy()
    ranks, _ = tie_counts(sim, row_targets=np.arange(len(sim)))
    greater, ties = np.asarray(ranks.higher, dtype=float), np.asarray(ranks.tied, dtype=float)
    return {f"t2v/R@{k}": 100.0 * np.clip((k - greater) / (ties + 1), 0, 1) for k in (1, 5)}


def _span_targets(moments: Moments, queries: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Frame-index labels of ground-truth windows (first and last frame whose span overlaps)."""
    n = moments.frames.shape[1]
    step = frame_seconds(moments)[queries]
    starts = np.clip(np.floor(moments.windows[queries, 0] / step), 0, n - 1)
    ends = np.clip(np.ceil(moments.windows[queries, 1] / step) - 1, starts, n - 1)
    return torch.as_tensor(starts, dtype=torch.long), torch.as_tensor(ends, dtype=torch.long)


def _trainable(model) -> list[torch.nn.Parameter]:
    """Everything but the text encoder (frozen: its word features already tell objects apart,
    and it holds most of the parameters)."""
    model.text_encoder.requires_grad_(False)
    return [p for p in model.parameters() if p.requires_grad]


def _finetune(model, steps: int, lr: float, seed: int, step_loss):
    """A copy of ``model`` trained ``steps`` AdamW steps on ``step_loss(copy, generator)``."""
    model = copy.deepcopy(model)
    model.train()
    opt = torch.optim.AdamW(_trainable(model), lr=lr, weight_decay=0.01)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        loss = step_loss(model, gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def finetune_moments(model, train: Moments, *, steps: int, lr: float, batch_videos: int, max_text_len: int,
                     seed: int):
    """A copy of ``model`` trained ``steps`` steps on train queries (span loss over frames)."""

    def step_loss(model, gen):
        videos = torch.randperm(len(train.durations), generator=gen)[:batch_videos].numpy()
        queries = np.nonzero(np.isin(train.video, videos))[0]
        local = {v: i for i, v in enumerate(videos.tolist())}
        rows = torch.as_tensor([local[v] for v in train.video[queries].tolist()])
        feats, _ = model.video_features(train.frames[torch.as_tensor(videos)].float())
        tokens = model.tokenize([train.texts[q] for q in queries], max_text_len)
        start, end = model.moment_logits_from_features(tokens, feats[rows])
        return losses.span_loss(start, end, *_span_targets(train, queries), None)

    return _finetune(model, steps, lr, seed, step_loss)


def finetune_retrieval(model, train: Paragraphs, *, steps: int, lr: float, batch_videos: int, max_text_len: int,
                       seed: int):
    """A copy of ``model`` trained ``steps`` steps of VTC on training paragraphs."""

    def step_loss(model, gen):
        idx = torch.randperm(len(train.texts), generator=gen)[:batch_videos]
        video = model.encode_video(train.frames[idx].float())
        text = model.encode_text(model.tokenize([train.texts[i] for i in idx.tolist()], max_text_len))
        return model.vtc_loss(video, text)

    return _finetune(model, steps, lr, seed, step_loss)


# ------------------------------------------------------------------ baselines


def normalized_windows(moments: Moments) -> np.ndarray:
    """Ground-truth windows ``[N, 2]`` as fractions of their video, clipped to ``[0, 1]``."""
    return np.clip(moments.windows / moments.durations[moments.video][:, None], 0, 1)


def baseline_outcomes(train: Moments, test: Moments, frames: int, draws: int, seed: int) -> dict[str, dict]:
    """Trivial predictors on the test queries, fitted on the train split only."""
    gt_test = normalized_windows(test)
    constant = best_constant_window(normalized_windows(train), frames)
    out = {"best constant window": window_outcomes(iou(np.broadcast_to(constant, gt_test.shape), gt_test))}
    rng = np.random.default_rng(seed)
    prior = normalized_windows(train)[rng.integers(0, len(train.texts), draws)]
    sampled = iou(prior[None, :, :], gt_test[:, None, :])  # [Q, draws]
    out["prior-sampled windows"] = {k: v.mean(1) for k, v in window_outcomes(sampled).items()}
    every = frame_windows(frames)
    chance = {k: v.mean(1) for k, v in window_outcomes(iou(every[None, :, :], gt_test[:, None, :])).items()}
    centres = (np.arange(frames) + 0.5) / frames
    chance["probe/hit"] = 100.0 * ((centres[None, :] >= gt_test[:, :1]) & (centres[None, :] <= gt_test[:, 1:])).mean(1)
    out["chance"] = chance
    return out


def retrieval_chance(videos: int) -> dict[str, np.ndarray]:
    return {f"t2v/R@{k}": np.full(videos, 100.0 * min(k, videos) / videos) for k in (1, 5)}

