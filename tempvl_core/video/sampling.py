"""Frame sampling strategies: pure functions from (frame count, fps) to frame indices.

Every function returns a sorted ``int64`` array of indices into ``[0, frame_count)``. Indices may
repeat when a video has fewer frames than requested (a 3-frame video sampled at 8 frames gives
each frame two or three times), so a clip always has the requested length.

Strategies (``SAMPLING_STRATEGIES``):

- ``uniform``: the middle frame of each of N equal segments. Deterministic; used for evaluation.
- ``random``: one random frame inside each of N equal segments (TSN-style); used for training.
- ``fps``: a fixed frame rate (for example 1 frame per second) over the whole video or window;
  returns as many frames as fit, optionally capped (``read_frames``' ``num_frames``, the frames
  sampled) by uniform subsampling.
- ``window``: restrict to a time window ``(start_s, end_s)`` in seconds, then uniform inside it.
  A window can also be combined with ``random`` and ``fps`` (for localization training).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

SAMPLING_STRATEGIES = ("uniform", "random", "fps", "window")


def _check_count(frame_count: int, n: int) -> None:
    if frame_count <= 0:
        raise ValueError(f"cannot sample from a video with {frame_count} frames")
    if n <= 0:
        raise ValueError(f"number of frames to sample must be positive, got {n}")


def uniform_indices(frame_count: int, n: int, *, start: int = 0) -> np.ndarray:
    """Middle frame of each of ``n`` equal segments of ``[start, start + frame_count)``."""
    _check_count(frame_count, n)
    seg = frame_count / n
    idx = np.floor((np.arange(n) + 0.5) * seg).astype(np.int64)
    return start + np.clip(idx, 0, frame_count - 1)


def random_indices(
    frame_count: int, n: int, rng: np.random.Generator, *, start: int = 0
) -> np.ndarray:
    """One uniformly random frame inside each of ``n`` equal segments.

    When a segment is shorter than one frame (``frame_count < n``) the segment's first frame is
    used, so the result still has ``n`` entries.
    """
    _check_count(frame_count, n)
    edges = np.floor(np.arange(n + 1) * frame_count / n).astype(np.int64)
    lo, hi = edges[:-1], np.maximum(edges[1:], edges[:-1] + 1)
    idx = lo + np.floor(rng.random(n) * (hi - lo)).astype(np.int64)
    return start + np.clip(idx, 0, frame_count - 1)


def fps_indices(
    frame_count: int,
    video_fps: float,
    target_fps: float,
    *,
    max_frames: int | None = None,
    start: int = 0,
) -> np.ndarray:
    """Frames at a fixed rate ``target_fps``: the frame shown at times 0, 1/f, 2/f, ...

    Returns every sample that fits in ``frame_count``; with ``max_frames`` the list is thinned to
    that many by uniform subsampling (so coverage stays even instead of truncating the end).
    """
    _check_count(frame_count, 1)
    if video_fps <= 0 or target_fps <= 0:
        raise ValueError(f"fps sampling needs positive rates, got video {video_fps} / target {target_fps}")
    duration = frame_count / video_fps
    count = max(1, math.ceil(duration * target_fps - 1e-9))
    times = np.arange(count) / target_fps
    idx = np.clip(np.floor(times * video_fps + 1e-6).astype(np.int64), 0, frame_count - 1)
    if max_frames is not None and len(idx) > max_frames:
        idx = idx[uniform_indices(len(idx), max_frames)]
    return start + idx


def window_frames(
    frame_count: int, video_fps: float, window: tuple[float, float] | Sequence[float]
) -> tuple[int, int]:
    """Convert a ``(start_s, end_s)`` window to a frame range ``[first, last_exclusive)``.

    The window is clipped to the video; a window that is empty after clipping is an error
    (raised with the numbers so a bad annotation can be found).
    """
    if len(window) != 2:
        raise ValueError(f"window must be (start_s, end_s), got {window!r}")
    start_s, end_s = float(window[0]), float(window[1])
    if not end_s > start_s:
        raise ValueError(f"window end must be after its start, got ({start_s}, {end_s})")
    if video_fps <= 0:
        raise ValueError(f"window sampling needs a positive video fps, got {video_fps}")
    first = max(0, int(math.floor(start_s * video_fps + 1e-6)))
    last = min(frame_count, int(math.ceil(end_s * video_fps - 1e-6)))
    last = max(last, first + 1) if first < frame_count else last
    if first >= frame_count or last <= first:
        duration = frame_count / video_fps
        raise ValueError(
            f"window ({start_s}, {end_s}) s lies outside the video ({duration:.3f} s, {frame_count} frames)"
        )
    return first, last


def sample_indices(
    strategy: str,
    frame_count: int,
    video_fps: float,
    n: int | None,
    *,
    target_fps: float | None = None,
    window: tuple[float, float] | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Dispatch to one strategy; ``window`` (seconds) restricts any strategy to that span."""
    if strategy not in SAMPLING_STRATEGIES:
        raise ValueError(f"unknown sampling {strategy!r}; expected one of {', '.join(SAMPLING_STRATEGIES)}")
    if strategy == "window" and window is None:
        raise ValueError("sampling='window' needs window=(start_s, end_s)")
    start, count = 0, frame_count
    if window is not None:
        first, last = window_frames(frame_count, video_fps, window)
        start, count = first, last - first
    if strategy == "fps":
        if target_fps is None:
            raise ValueError("sampling='fps' needs fps=<frames per second>, e.g. fps=1")
        return fps_indices(count, video_fps, target_fps, max_frames=n, start=start)
    if n is None:
        raise ValueError(f"sampling={strategy!r} needs num_frames")
    if strategy == "random":
        return random_indices(count, n, rng if rng is not None else np.random.default_rng(), start=start)
    return uniform_indices(count, n, start=start)
