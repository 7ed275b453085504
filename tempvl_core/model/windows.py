"""From per-frame start/end logits to ranked windows in seconds, and back for training targets.

Time grid: the T sampled frames of a video cut it into T cells. Frame k stands for
``[bounds[k], bounds[k + 1])`` with ``bounds[0] = 0``, ``bounds[k] = timestamps[k]`` for
``0 < k < T`` and ``bounds[T] = duration``. With ``sampling: fps`` (``timestamps[k] = k / fps``)
this is exactly ``[t_start, t_end + 1 / fps]``; with uniform sampling the first cell also covers
the video's opening half-segment and the last one its end, so the cells tile the whole video.
A window of frames ``[s, e]`` (inclusive) is ``[bounds[s], bounds[e + 1]]`` seconds; training
targets use the inverse map (:func:`frame_span`), so what the heads learn is what decoding reads.

Shared by the moment-retrieval benchmarks (``tempvl_plugins.moment_retrieval``) and the
localization study (``tempvl_bench.study``), so both decode and train on the same grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor



@dataclass(frozen=True)
class RankedWindows:
    """Candidate windows of one query in rank order: ``windows[i] = [start_s, end_s, score]``."""

    windows: np.ndarray

    def top(self, keep: np.ndarray) -> "RankedWindows":
        return RankedWindows(self.windows[keep])


def estimate_duration(timestamps: np.ndarray) -> float:
    """Video length when the annotations do not give it: last frame time plus one frame step."""
    ts = np.asarray(timestamps, dtype=np.float64)
    if ts.size == 0:
        raise ValueError("cannot estimate a duration without frame timestamps")
    step = float(np.median(np.diff(ts))) if ts.size > 1 else 1.0
    return float(ts[-1] + max(step, 1e-3))


def frame_bounds(timestamps: np.ndarray, duration: float) -> np.ndarray:
    """Cell boundaries ``[T + 1]`` of the sampled frames, monotone and inside ``[0, duration]``."""
    ts = np.asarray(timestamps, dtype=np.float64)
    if ts.ndim != 1 or ts.size == 0:
        raise ValueError(f"expected a non-empty 1-D list of frame timestamps, got shape {ts.shape}")
    if not duration > 0:
        raise ValueError(f"video duration must be positive, got {duration}")
    bounds = np.concatenate(([0.0], ts[1:], [duration]))
    # Repeated frames (video shorter than the clip) give empty cells, never negative ones.
    return np.maximum.accumulate(np.clip(bounds, 0.0, duration))


def frame_span(window: tuple[float, float], bounds: np.ndarray) -> tuple[int, int]:
    """Frames ``(start, end)`` (inclusive) whose cells hold a window's start and (exclusive) end."""
    inner = bounds[1:-1]
    start = int(np.searchsorted(inner, window[0], side="right"))
    end = int(np.searchsorted(inner, window[1], side="left"))
    return start, max(start, end)


def window_scores(start_logits: Tensor, end_logits: Tensor, max_window: int | None = None) -> Tensor:
    """``p_start(s) * p_end(e)`` for ``s <= e`` (``[Q, T, T]``), -1 where a window is invalid.

    Logits are over the real frames only (``[Q, T]``, no padding); softmax is taken per query.
    ``max_window`` bounds ``e - s + 1`` when given.
    """
    if start_logits.shape != end_logits.shape or start_logits.dim() != 2:
        raise ValueError(f"expected start and end logits of equal shape [Q, T], got "
                         f"{tuple(start_logits.shape)} and {tuple(end_logits.shape)}")
    t = start_logits.shape[1]
    scores = start_logits.float().softmax(-1)[:, :, None] * end_logits.float().softmax(-1)[:, None, :]
    valid = torch.ones(t, t, dtype=torch.bool, device=scores.device).triu()
    if max_window is not None:
        valid &= ~torch.ones_like(valid).triu(max_window)
    return scores.masked_fill(~valid, -1.0)


def rank_windows_in_seconds(start_logits: Tensor, end_logits: Tensor, bounds: np.ndarray,
                 max_window: int | None = None) -> list[RankedWindows]:
    """Every valid window of each query, best first, in seconds (ties keep (s, e) order)."""
    return rank_scored_windows(window_scores(start_logits, end_logits, max_window), bounds)


def rank_scored_windows(scores: Tensor, bounds: np.ndarray) -> list[RankedWindows]:
    """Windows ranked by ``scores [Q, T, T]`` (>= 0 where valid, -1 elsewhere), in seconds."""
    t = scores.shape[1]
    flat = scores.flatten(1)
    n_valid = int((flat[0] >= 0).sum())
    values, order = flat.sort(dim=1, descending=True, stable=True)
    values, order = values[:, :n_valid].cpu().numpy(), order[:, :n_valid].cpu().numpy()
    starts, ends = order // t, order % t
    out = []
    for q in range(scores.shape[0]):
        windows = np.stack([bounds[starts[q]], bounds[ends[q] + 1], values[q].astype(np.float64)], axis=1)
        out.append(RankedWindows(windows))
    return out


def curve_window_scores(similarity: Tensor, max_window: int | None = None) -> Tensor:
    """Zero-shot window scores ``[Q, T, T]`` read off per-frame similarities to the query
    ``[Q, T]`` (a model without a grounding head): the mean similarity inside ``[s, e]`` minus
    the mean outside it (0 for the window of every frame), shifted so that the worst valid
    window scores 0; -1 where a window is invalid (``s > e`` or longer than ``max_window``)."""
    curve = similarity.double()
    q, t = curve.shape
    cumulative = torch.cat([curve.new_zeros(q, 1), curve.cumsum(1)], 1)
    s, e = torch.arange(t)[:, None], torch.arange(t)[None, :]
    length = (e - s + 1).clamp(min=1).double()
    inside = (cumulative[:, 1:][:, None, :] - cumulative[:, :-1][:, :, None]) / length
    rest = (t - length).clamp(min=1)
    outside = (cumulative[:, -1:, None] - inside * length) / rest
    contrast = torch.where(length >= t, torch.zeros_like(inside), inside - outside)
    valid = torch.ones(t, t, dtype=torch.bool).triu()
    if max_window is not None:
        valid &= ~torch.ones_like(valid).triu(max_window)
    lowest = contrast.masked_fill(~valid, float("inf")).flatten(1).min(1).values[:, None, None]
    return (contrast - lowest).masked_fill(~valid, -1.0)
