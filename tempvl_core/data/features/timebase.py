"""Time bases: how a feature pack's row index maps to seconds and back.

Each layout fixes one rule (see docs/data.md):

- :class:`ClipTimeBase` (Moment-DETR, lighthouse): row ``i`` is the clip
  ``[i * clip_seconds, (i + 1) * clip_seconds)``; index ``x`` <-> ``x * clip_seconds``.
- :class:`StrideTimeBase` (ActionFormer): row ``i`` is the ``num_frames``-frame window starting
  at frame ``i * feat_stride``, anchored at its centre: seconds ``t`` <-> index
  ``(t * fps - 0.5 * num_frames) / feat_stride`` (the half-window offset), so
  ``index_to_seconds(i) = (i * feat_stride + 0.5 * num_frames) / fps``.
- :class:`SpanTimeBase` (2D-TAN, MMN, and any pack resampled to a fixed length): the ``T`` rows
  split the video's duration evenly; index ``x`` <-> ``x * duration / T``.

``cell_starts`` gives, per row, the second at which the time that row stands for begins: the
harness's frame timestamps (windows over rows map to seconds through them), and
``expected_rows`` how many rows a video of a given duration should have (``None`` when the
rule does not say), which the reader compares with the file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClipTimeBase:
    clip_seconds: float

    kind = "clip"

    def seconds_to_index(self, t: float, duration: float | None = None, rows: int | None = None) -> float:
        return t / self.clip_seconds

    def index_to_seconds(self, x: float, duration: float | None = None, rows: int | None = None) -> float:
        return x * self.clip_seconds

    def cell_starts(self, rows: int, duration: float | None = None) -> np.ndarray:
        return np.arange(rows, dtype=np.float64) * self.clip_seconds

    def expected_rows(self, duration: float | None) -> float | None:
        return None if not duration else duration / self.clip_seconds

    def to_dict(self) -> dict:
        return {"clip_seconds": self.clip_seconds}


@dataclass(frozen=True)
class StrideTimeBase:
    feat_stride: float
    num_frames: float
    fps: float

    kind = "stride"

    def with_fps(self, fps: float | None) -> "StrideTimeBase":
        """This base at a video's own frame rate (ActivityNet's annotations give one per video)."""
        return self if not fps else StrideTimeBase(self.feat_stride, self.num_frames, float(fps))

    def seconds_to_index(self, t: float, duration: float | None = None, rows: int | None = None) -> float:
        return (t * self.fps - 0.5 * self.num_frames) / self.feat_stride

    def index_to_seconds(self, x: float, duration: float | None = None, rows: int | None = None) -> float:
        return (x * self.feat_stride + 0.5 * self.num_frames) / self.fps

    def cell_starts(self, rows: int, duration: float | None = None) -> np.ndarray:
        # Row i stands for the stride-long cell around its window's centre.
        return np.maximum(0.0, (np.arange(rows, dtype=np.float64) - 0.5) * self.feat_stride + 0.5 * self.num_frames) / self.fps

    def expected_rows(self, duration: float | None) -> float | None:
        if not duration:
            return None
        return max(0.0, math.floor((duration * self.fps - self.num_frames) / self.feat_stride) + 1)

    def to_dict(self) -> dict:
        return {"feat_stride": self.feat_stride, "num_frames": self.num_frames, "fps": self.fps}


@dataclass(frozen=True)
class SpanTimeBase:
    """The rows split the whole video evenly (they need the duration)."""

    kind = "span"

    def _step(self, duration: float | None, rows: int | None) -> float:
        if not duration or not rows:
            raise ValueError("a span time base needs the video's duration and row count")
        return duration / rows

    def seconds_to_index(self, t: float, duration: float | None = None, rows: int | None = None) -> float:
        return t / self._step(duration, rows)

    def index_to_seconds(self, x: float, duration: float | None = None, rows: int | None = None) -> float:
        return x * self._step(duration, rows)

    def cell_starts(self, rows: int, duration: float | None = None) -> np.ndarray:
        return np.arange(rows, dtype=np.float64) * self._step(duration, rows)

    def expected_rows(self, duration: float | None) -> float | None:
        return None

    def to_dict(self) -> dict:
        return {"span": True}


TimeBase = ClipTimeBase | StrideTimeBase | SpanTimeBase


def time_base_from_mapping(raw: dict, where: str) -> TimeBase:
    """``{clip_seconds}``, ``{feat_stride, num_frames, fps}`` or ``{span: true}``; ``where``
    names the file and key for the error."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(raw).__name__}")
    keys = set(raw)
    try:
        if keys == {"clip_seconds"}:
            return ClipTimeBase(_positive(raw["clip_seconds"], f"{where}.clip_seconds"))
        if keys == {"feat_stride", "num_frames", "fps"}:
            return StrideTimeBase(*(_positive(raw[k], f"{where}.{k}") for k in ("feat_stride", "num_frames", "fps")))
        if keys == {"span"} and raw["span"] is True:
            return SpanTimeBase()
    except (TypeError, ValueError) as exc:
        raise ValueError(str(exc)) from None
    raise ValueError(f"{where}: expected {{clip_seconds}}, {{feat_stride, num_frames, fps}} or {{span: true}}, "
                     f"got keys {sorted(keys)}")


def _positive(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{where}: expected a positive number, got {value!r}")
    return float(value)


def row_windows(base: TimeBase, duration: float, span_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, ends)`` in seconds of the time each row of a ``duration``-second video covers,
    when writing a pack: every clip that starts inside the video, every whole ``num_frames``
    window (ActionFormer), or ``span_rows`` even cells."""
    if isinstance(base, ClipTimeBase):
        rows = max(1, math.ceil(duration / base.clip_seconds - 1e-9))
        starts = np.arange(rows) * base.clip_seconds
        return starts, np.minimum(starts + base.clip_seconds, duration)
    if isinstance(base, StrideTimeBase):
        rows = max(1, int(base.expected_rows(duration) or 1))
        starts = np.arange(rows) * base.feat_stride / base.fps
        return starts, np.minimum(starts + base.num_frames / base.fps, duration)
    edges = np.arange(span_rows + 1) * duration / span_rows
    return edges[:-1], edges[1:]
