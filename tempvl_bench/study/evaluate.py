"""Per-query outcomes of one pretrained model, and of the trivial baselines beside it.

Every function returns ``{metric: array over queries}`` in percent units (a query scores 0 or
100, or its expectation), so that a metric is the mean of its array and the bootstrap can
resample queries. Moment retrieval is decoded, finetuned and scored by the code the
moment-retrieval benchmarks run: windows ranked by ``p_start * p_end`` on the video's time grid
(:mod:`tempvl_core.model.windows`), the span loss on ground-truth frames
(:func:`tempvl_core.model.moment_queries.query_span_loss`) and the single-moment (2D-TAN) metric
(:func:`tempvl_bench.metrics.moment.moment_outcomes_single`: the top-1 window's IoU over the
hull against the one ground-truth window, ``R1@m`` counts IoU > m). Of N uniformly sampled
frames, frame i stands for ``[i, i+1) * duration / N``.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from tempvl_bench.api import trainable_parameters
from tempvl_bench.metrics.grounding import (
    best_constant_frame,
    event_outcomes,
    frame_hit_table,
    frame_hits,
    swap_within_video,
    swapped_text_hits,
    text_blind_ceiling,
)
from tempvl_bench.metrics.moment import moment_outcomes_single, single_top1_outcomes
from tempvl_bench.metrics.priors import best_constant_window, frame_windows
from tempvl_bench.metrics.priors import window_iou as iou
from tempvl_bench.metrics.retrieval import tie_counts
from tempvl_bench.study.data import Moments, Paragraphs
from tempvl_core.model.moment_queries import (
    query_frame_similarity,
    query_moment_logits,
    query_span_loss,
    video_frame_features,
)
from tempvl_core.model.windows import frame_bounds, frame_span, rank_windows_in_seconds


def frame_seconds(moments: Moments) -> np.ndarray:
    """Seconds per sampled frame of each query's video: frame i stands for [i, i+1) * step."""
    return moments.durations[moments.video] / moments.frames.shape[1]


def video_bounds(moments: Moments) -> list[np.ndarray]:
    """Each video's cell boundaries ``[N + 1]`` (:func:`~tempvl_core.model.windows.frame_bounds`)."""
    n = moments.frames.shape[1]
    return [frame_bounds(np.arange(n) * (duration / n), duration) for duration in moments.durations]


@torch.no_grad()
def moment_outcomes(model, moments: Moments, batch_videos: int, max_text_len: int) -> tuple[dict, list]:
    """Zero-shot moment retrieval from the span heads and the head-free alignment probe.

    Returns per-query outcomes and the top-1 frame window of every query (to count distinct
    windows: one window for every query is a positional prior, whatever it scores).
    """
    model.eval()
    bounds = video_bounds(moments)
    ranked: dict[int, np.ndarray] = {}
    top1 = np.zeros((len(moments.texts), 2), dtype=np.int64)
    probe_frame = np.zeros(len(moments.texts), dtype=np.int64)
    for first in range(0, len(moments.durations), batch_videos):
        videos = range(first, min(first + batch_videos, len(moments.durations)))
        feats, _ = video_frame_features(model, moments.frames[videos.start:videos.stop].float(), None)
        queries = np.nonzero((moments.video >= videos.start) & (moments.video < videos.stop))[0]
        if not len(queries):
            continue
        rows = torch.as_tensor(moments.video[queries] - videos.start)
        texts = [moments.texts[q] for q in queries]
        start, end = query_moment_logits(model, feats, None, rows, texts, max_text_len)
        for j, q in enumerate(queries):
            video_grid = bounds[moments.video[q]]
            ranked[q] = rank_windows_in_seconds(start[j:j + 1].float(), end[j:j + 1].float(), video_grid)[0].windows
            top1[q] = frame_span(tuple(ranked[q][0, :2]), video_grid)
        similarity = query_frame_similarity(model, feats, rows, texts, max_text_len)
        probe_frame[queries] = similarity.argmax(1).cpu().numpy()
    truth = {q: tuple(w) for q, w in enumerate(moments.windows)}
    out = moment_outcomes_single(ranked, truth, recalls=(1,))
    out.update(grounding_outcomes(np.stack([ranked[q][0, :2] for q in range(len(moments.texts))]), moments))
    step = frame_seconds(moments)
    centre = (probe_frame + 0.5) * step
    out["probe/hit"] = 100.0 * ((centre >= moments.windows[:, 0]) & (centre <= moments.windows[:, 1]))
    return out, [tuple(w) for w in top1.tolist()]


def swap_permutation(moments: Moments) -> np.ndarray:
    """The one within-video text swap every run is scored with (seed 0 of :func:`swap_within_video`)."""
    return swap_within_video(moments.video.tolist(), seed=0)


def grounding_outcomes(top1: np.ndarray, moments: Moments) -> dict[str, np.ndarray]:
    """Per query, from top-1 windows in seconds (:mod:`tempvl_bench.metrics.grounding`):

    * ``event/matched``: 100 when the top-1 window matches some event of the video (IoU > 0.5);
    * ``event/right``: 100 when it matches the query's own event (the query's R1@0.5 hit). The
      right-event rate is ``sum(right) / sum(matched)`` over the resampled seeds and queries
      (:func:`tempvl_bench.study.stats.crossed_ratio`); its chance, ``100 / events``, is data;
    * ``swapped/R1@0.5`` (swappable queries only, in :func:`swappable` order): 100 when the
      window predicted from *another* query's text of the same video matches this query's own
      window. Every text of a video is predicted on the same frames, so that window is the
      other query's own top-1: no second pass is needed.
    """
    events = event_outcomes(top1, moments.windows, moments.video.tolist())
    _, swapped = swapped_text_hits(top1, moments.windows, moments.video.tolist())
    return {"event/matched": events.matched, "event/right": events.right, "swapped/R1@0.5": swapped}


def event_chance(moments: Moments) -> np.ndarray:
    """Per query, ``100 / events in its video``: the right-event rate of a predictor that picks
    one of the video's events at random."""
    return event_outcomes(moments.windows, moments.windows, moments.video.tolist()).chance


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


def _span_targets(moments: Moments) -> tuple[torch.Tensor, torch.Tensor]:
    """Start and end frame of every query's ground-truth window (:func:`frame_span`)."""
    bounds = video_bounds(moments)
    spans = [frame_span(tuple(w), bounds[v]) for w, v in zip(moments.windows, moments.video)]
    starts, ends = zip(*spans)
    return torch.as_tensor(starts, dtype=torch.long), torch.as_tensor(ends, dtype=torch.long)


def _finetune(model, steps: int, lr: float, seed: int, step_loss):
    """A copy of ``model`` trained ``steps`` AdamW steps on ``step_loss(copy, generator)``."""
    model = copy.deepcopy(model)
    model.train()
    # The text encoder stays frozen (train_text_layers 0): its word features already tell objects
    # apart, and it holds most of the parameters.
    opt = torch.optim.AdamW(trainable_parameters(model, 0), lr=lr, weight_decay=0.01)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        loss = step_loss(model, gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def finetuned_moment_copy(model, train: Moments, *, steps: int, lr: float, batch_videos: int, max_text_len: int,
                     seed: int):
    """A copy of ``model`` trained ``steps`` steps on train queries (the benchmarks' span loss)."""
    starts, ends = _span_targets(train)

    def step_loss(model, gen):
        videos = torch.randperm(len(train.durations), generator=gen)[:batch_videos].numpy()
        queries = np.nonzero(np.isin(train.video, videos))[0]
        local = {v: i for i, v in enumerate(videos.tolist())}
        rows = torch.as_tensor([local[v] for v in train.video[queries].tolist()])
        feats, _ = video_frame_features(model, train.frames[torch.as_tensor(videos)].float(), None)
        picked = torch.as_tensor(queries)
        return query_span_loss(model, feats, None, rows, [train.texts[q] for q in queries], max_text_len,
                               starts[picked], ends[picked])

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
    """Ground-truth windows as fractions of their video."""
    return np.clip(moments.windows / moments.durations[moments.video][:, None], 0, 1)


def baseline_outcomes(train: Moments, test: Moments, frames: int, draws: int, seed: int) -> dict[str, dict]:
    """Trivial predictors on the test queries, fitted on the train split only."""
    gt_test = normalized_windows(test)
    constant = best_constant_window(normalized_windows(train), frames)
    out = {"best constant window": single_top1_outcomes(iou(np.broadcast_to(constant, gt_test.shape), gt_test))}
    rng = np.random.default_rng(seed)
    prior = normalized_windows(train)[rng.integers(0, len(train.texts), draws)]
    sampled = iou(prior[None, :, :], gt_test[:, None, :])  # [Q, draws]
    out["prior-sampled windows"] = {k: v.mean(1) for k, v in single_top1_outcomes(sampled).items()}
    every = frame_windows(frames)
    chance = {k: v.mean(1) for k, v in single_top1_outcomes(iou(every[None, :, :], gt_test[:, None, :])).items()}
    chance["probe/hit"] = 100.0 * frame_hit_table(gt_test, frames).mean(1)  # a frame drawn uniformly
    out["chance"] = chance
    # The most a text-blind predictor (one window per video, whatever the query) can score.
    out["text-blind ceiling"] = {"mr/R1@0.5": text_blind_ceiling(gt_test, test.video.tolist(), 0.5)}
    frame = best_constant_frame(normalized_windows(train), frames)
    out["best constant frame"] = {"probe/hit": frame_hits(np.full(len(gt_test), frame), gt_test, frames)}
    return out


def retrieval_chance(videos: int) -> dict[str, np.ndarray]:
    return {f"t2v/R@{k}": np.full(videos, 100.0 * min(k, videos) / videos) for k in (1, 5)}

