"""Grounding diagnostics for single-moment retrieval: does the query pick *its* event?

R1@0.5 cannot tell grounding from event detection when every video holds several events with
one query each: a model that ignores the text but finds one event per video scores up to one
query per video. These functions separate the two, per query, so that the bootstrap can
resample queries:

- :func:`event_outcomes`: whether the top-1 window matches *some* event of its video and
  whether it matches the query's *own* event. The right-event rate is ``right / matched``;
  chance, for a query whose top-1 matches an event, is ``1 / events in its video``.
- :func:`swap_within_video` / :func:`swapped_text_hits`: each query gets another query's text
  of the same video; scoring those predictions against the original windows is the swapped-text
  score, which falls to the text-blind level or below when the text is read.
- :func:`text_blind_ceiling`: the best any predictor that gives every query of a video the
  same window can score (exact: each set of events is checked as a linear program).
- :func:`best_constant_frame`: the one frame (fitted on training windows) whose centre falls in
  the most ground-truth windows, the baseline of a probe that points at a single frame.

Windows are ``[N, 2]`` arrays in one time unit per call (seconds, or fractions of the video);
a window matches another when their IoU (the union taken as the hull, as 2D-TAN computes it)
is above the threshold, as ``mr/R1@t`` counts a hit. Events of a video are its queries' distinct
ground-truth windows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Sequence

import numpy as np

from tempvl_bench.metrics.priors import window_iou


def _groups(video: Sequence[Hashable]) -> dict[Hashable, np.ndarray]:
    """Query indices of each video, videos in order of first appearance."""
    groups: dict[Hashable, list[int]] = {}
    for index, key in enumerate(video):
        groups.setdefault(key, []).append(index)
    return {key: np.asarray(members, dtype=np.int64) for key, members in groups.items()}


def _events(windows: np.ndarray) -> np.ndarray:
    """The distinct rows of ``windows`` (order of first appearance)."""
    _, first = np.unique(windows, axis=0, return_index=True)
    return windows[np.sort(first)]


@dataclass(frozen=True)
class EventOutcomes:
    """Per query (percent units, as every outcome array of the harness): ``matched`` is 100 when
    the top-1 window matches some event of the video, ``right`` is 100 when it matches the
    query's own window, ``chance`` is ``100 / events in the video``."""

    matched: np.ndarray
    right: np.ndarray
    chance: np.ndarray

    @property
    def chosen(self) -> np.ndarray:
        """Indices of the queries whose top-1 matches some event: where the rate is defined."""
        return np.nonzero(self.matched > 0)[0]

    def right_event_rate(self) -> float:
        """Share (percent) of matched queries whose top-1 is their own event; NaN if none."""
        chosen = self.chosen
        return float(self.right[chosen].mean()) if chosen.size else float("nan")

    def chance_rate(self) -> float:
        """The rate a predictor that picks one of the video's events at random would reach."""
        chosen = self.chosen
        return float(self.chance[chosen].mean()) if chosen.size else float("nan")


def event_outcomes(top1: np.ndarray, gt: np.ndarray, video: Sequence[Hashable],
                   threshold: float = 0.5) -> EventOutcomes:
    """:class:`EventOutcomes` of top-1 windows ``[N, 2]`` against ground truth ``[N, 2]``."""
    top1, gt = np.asarray(top1, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    if top1.shape != gt.shape or top1.ndim != 2 or top1.shape[1] != 2:
        raise ValueError(f"top1 {top1.shape} and gt {gt.shape} must both be [N, 2]")
    if len(video) != len(gt):
        raise ValueError(f"{len(video)} video ids for {len(gt)} queries")
    matched, chance = np.zeros(len(gt)), np.zeros(len(gt))
    for members in _groups(video).values():
        events = _events(gt[members])
        hits = window_iou(top1[members, None, :], events[None, :, :]) > threshold
        matched[members] = 100.0 * hits.any(1)
        chance[members] = 100.0 / len(events)
    right = 100.0 * (window_iou(top1, gt) > threshold)
    return EventOutcomes(matched=matched, right=right, chance=chance)


def swap_within_video(video: Sequence[Hashable], seed: int = 0) -> np.ndarray:
    """``perm`` with ``perm[q]`` another query of ``q``'s video: a seeded cyclic shift of each
    video's queries in a random order, so every query of a video with two or more queries gets
    another query's text. Queries alone in their video keep their own index; :func:`swappable`
    says which moved."""
    rng = np.random.default_rng(seed)
    perm = np.arange(len(video))
    for members in _groups(video).values():
        if len(members) < 2:
            continue
        order = members[rng.permutation(len(members))]
        perm[order] = np.roll(order, -1)
    return perm


def swappable(perm: np.ndarray) -> np.ndarray:
    """Indices of the queries whose text was swapped (their video has another query)."""
    return np.nonzero(np.asarray(perm) != np.arange(len(perm)))[0]


def _differences(gt: np.ndarray) -> np.ndarray:
    """``[Q, 4, 3]``: for each ground-truth window ``[a, b]``, the four differences of an end and a
    start, ``e - s, e - a, b - s, b - a``, as linear functions ``(coef_s, coef_e, constant)`` of a
    window ``[s, e]``. The intersection of the two windows is their minimum, the hull their maximum."""
    a, b = gt[:, 0], gt[:, 1]
    zero, one = np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([-one, one, zero], 1), np.stack([zero, one, -a], 1),
                     np.stack([-one, zero, b], 1), np.stack([zero, zero, b - a], 1)], 1)


def shared_window(gt: np.ndarray, threshold: float = 0.5) -> np.ndarray | None:
    """A window ``[s, e]`` in ``[0, 1]`` whose IoU with every row of ``gt`` is above
    ``threshold`` (the one with the largest smallest margin), or None when there is none. IoU > m is ``min(differences) - m * max(differences) > 0``: every difference minus m
    times every difference is positive, a linear program that maximises the smallest margin."""
    from scipy.optimize import linprog

    diff = _differences(gt)
    rows = (diff[:, :, None, :] - threshold * diff[:, None, :, :]).reshape(-1, 3)
    # margin t <= coef_s * s + coef_e * e + constant  <=>  -coef_s s - coef_e e + t <= constant
    a_ub = np.concatenate([-rows[:, :2], np.ones((len(rows), 1))], 1)
    result = linprog(c=[0.0, 0.0, -1.0], A_ub=a_ub, b_ub=rows[:, 2], bounds=[(0, 1), (0, 1), (None, 1)],
                     method="highs")
    return result.x[:2] if result.status == 0 and -result.fun > 1e-9 else None


def _largest_shared_group(gt: np.ndarray, threshold: float) -> tuple[int, ...]:
    """The largest set of rows of ``gt`` that one window matches (the first such set in
    lexicographic order), trying sets from the largest down and skipping any set that holds a
    pair no window matches."""
    from itertools import combinations

    count = len(gt)
    pair = np.eye(count, dtype=bool)
    for i, j in combinations(range(count), 2):
        pair[i, j] = pair[j, i] = shared_window(gt[[i, j]], threshold) is not None
    for size in range(count, 0, -1):
        for group in combinations(range(count), size):
            if pair[np.ix_(group, group)].all() and (size == 2 or shared_window(gt[list(group)], threshold) is not None):
                return group
    return ()


def text_blind_ceiling(gt: np.ndarray, video: Sequence[Hashable], threshold: float = 0.5) -> np.ndarray:
    """Per query, 100 when it belongs to the largest set of its video's queries that one window
    can match: the mean is the most any predictor that gives all queries of a video the same
    window can score on ``mr/R1@threshold``. ``gt`` is in normalized time (fractions of each
    video) and the window may be any ``[s, e]`` in ``[0, 1]``: each candidate set is checked
    exactly, as a linear program (IoU above a threshold is a convex region in ``(s, e)``)."""
    gt = np.asarray(gt, dtype=np.float64)
    out = np.zeros(len(gt))
    for members in _groups(video).values():
        events, inverse = np.unique(gt[members], axis=0, return_inverse=True)
        best = _largest_shared_group(events, threshold)
        out[members] = 100.0 * np.isin(inverse.reshape(-1), list(best))
    return out


def _centre_inside(frame: np.ndarray, gt: np.ndarray, frames: int) -> np.ndarray:
    centre = (np.asarray(frame, dtype=np.float64) + 0.5) / frames
    gt = np.asarray(gt, dtype=np.float64)
    return (centre >= gt[..., 0]) & (centre <= gt[..., 1])


def frame_hits(frame: np.ndarray, gt: np.ndarray, frames: int) -> np.ndarray:
    """Per query, 100 when the centre of frame ``frame[q]`` (of ``frames`` equal frames) lies in
    the query's window ``gt[q]`` (normalized time, ends included)."""
    return 100.0 * _centre_inside(frame, gt, frames)


def frame_hit_table(gt: np.ndarray, frames: int) -> np.ndarray:
    """``[Q, frames]`` booleans: whether the centre of each frame lies in each query's window."""
    gt = np.asarray(gt, dtype=np.float64)
    return _centre_inside(np.arange(frames)[None, :], gt[:, None, :], frames)


def best_constant_frame(normalized_train: np.ndarray, frames: int) -> int:
    """The frame whose centre lies in the most training windows (the first of equals): the
    strongest single-frame predictor that never looks at the video or the text."""
    return int(np.argmax(frame_hit_table(normalized_train, frames).sum(0)))


def swapped_text_hits(top1: np.ndarray, gt: np.ndarray, video: Sequence[Hashable],
                      threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """The swapped-text score per query: the indices of the queries that :func:`swap_within_video`
    (seed 0) gives another text, and for each, 100 when the window predicted from that other
    text matches this query's own window. Every text of a video is ranked on the same frames, so
    that window is the other query's own top-1 (``top1[perm[q]]``): no second prediction."""
    perm = swap_within_video(list(video), seed=0)
    moved = swappable(perm)
    gt = np.asarray(gt, dtype=np.float64)
    return moved, 100.0 * (window_iou(np.asarray(top1, dtype=np.float64)[perm[moved]], gt[moved]) > threshold)


def grounding_diagnostics(top1: np.ndarray, gt: np.ndarray, video: Sequence[Hashable], durations: np.ndarray,
                          threshold: float = 0.5) -> dict[str, float]:
    """The grounding diagnostics of one single-moment run (results.json ``breakdowns``), windows
    in seconds: the right-event rate and its chance over the queries whose top-1 matches an event,
    the text-blind ceiling of ``mr/R1@threshold``, and the score with the texts swapped within
    each video (:func:`swapped_text_hits`) beside the unswapped score on the same queries. A value
    that no query defines is left out."""
    name = f"R1@{threshold:g}"
    gt = np.asarray(gt, dtype=np.float64)
    events = event_outcomes(top1, gt, video, threshold)
    out = {"queries": float(len(gt)), "queries matching an event": float(events.chosen.size)}
    if events.chosen.size:
        out["right-event rate"] = events.right_event_rate()
        out["right-event chance"] = events.chance_rate()
    normalized = np.clip(gt / np.asarray(durations, dtype=np.float64)[:, None], 0.0, 1.0)
    out[f"text-blind ceiling {name}"] = float(text_blind_ceiling(normalized, video, threshold).mean())
    moved, swapped = swapped_text_hits(top1, gt, video, threshold)
    out["queries swapped"] = float(moved.size)
    if moved.size:
        out[f"swapped-text {name}"] = float(swapped.mean())
        out[f"unswapped {name} (same queries)"] = float(events.right[moved].mean())
    return out
