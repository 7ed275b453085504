"""Per-frame scores -> scored action segments: grouping, boundary scoring, NMS, top-K.

Pure numpy, no model: the same post-processing serves the trained head (sigmoid class scores
plus start/end boundary probabilities) and the zero-shot text-prompted baseline (softmax over
class prompts, no boundaries).

Proposals come from multi-threshold grouping (as in TAG/SSN): for each class, every maximal run
of frames whose score is at least ``t * max`` (the class's maximum in the video) for each ``t``
in ``thresholds`` is a candidate. Relative thresholds make grouping independent of how well the
scores are calibrated; the *score* of a candidate stays absolute (the mean class score inside
the run, times the geometric mean of the boundary probabilities at its two ends), so candidates
compare across videos as mAP needs. Then per-class NMS (hard or Gaussian soft-NMS) and the
``top_k`` best of the video.

With ``proposals: actionness`` (datasets with one activity per video, as ActivityNet) the runs
are class-agnostic instead: grouped on each frame's best class score (its "actionness"), then
labelled with the video's ``max_classes`` best classes, each candidate's score multiplied by
that class's share of the video-level class scores. This is the proposals x video-classifier
fusion of BMN/ActionFormer on ActivityNet: the segment comes from evidence pooled over all
classes (a frame whose class is confused still says "something happens here") and the label
from the whole video.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NMS_METHODS = ("soft", "hard", "none")
PROPOSALS = ("per-class", "actionness")


@dataclass(frozen=True)
class DecodeConfig:
    """Post-processing settings (the ``options.decode`` mapping of a task file)."""

    #: Grouping thresholds, as fractions of the class's maximum score in the video.
    thresholds: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    #: Only the classes with the highest maximum score in a video get candidates (with
    #: ``proposals: actionness``: the highest video-level scores).
    max_classes: int = 5
    #: ``per-class``: runs of each class's own scores. ``actionness``: class-agnostic runs of
    #: the frames' best class score, labelled with the video's best classes (module docstring).
    proposals: str = "per-class"
    #: Candidates shorter than this many frames are dropped.
    min_frames: int = 1
    #: Exponent of the boundary term (0 ignores the start/end probabilities).
    boundary_weight: float = 1.0
    nms: str = "soft"
    #: Hard NMS: drop a candidate overlapping a kept one by more than this tIoU.
    nms_iou: float = 0.5
    #: Soft-NMS: scores decay by ``exp(-tiou^2 / sigma)``.
    nms_sigma: float = 0.5
    top_k: int = 100
    #: Detections scoring below this are dropped (after NMS).
    min_score: float = 1e-4

    def __post_init__(self) -> None:
        if self.proposals not in PROPOSALS:
            raise ValueError(f"decode.proposals: expected one of {PROPOSALS}, got {self.proposals!r}")
        if self.nms not in NMS_METHODS:
            raise ValueError(f"decode.nms: expected one of {NMS_METHODS}, got {self.nms!r}")
        if not self.thresholds or any(not 0.0 < t <= 1.0 for t in self.thresholds):
            raise ValueError(f"decode.thresholds: expected numbers in (0, 1], got {list(self.thresholds)}")
        for name in ("max_classes", "min_frames", "top_k"):
            if getattr(self, name) < 1:
                raise ValueError(f"decode.{name}: expected an integer >= 1, got {getattr(self, name)}")
        if self.nms_sigma <= 0 or not 0.0 < self.nms_iou <= 1.0:
            raise ValueError("decode.nms_sigma must be > 0 and decode.nms_iou in (0, 1]")

    @classmethod
    def from_options(cls, options: dict | None, where: str = "options.decode") -> "DecodeConfig":
        """Build from a task file's mapping; unknown keys are an error naming them."""
        if options is not None and not isinstance(options, dict):
            raise ValueError(f"{where}: expected a mapping, got {options!r}")
        options = dict(options or {})
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(known)}")
        if "thresholds" in options:
            options["thresholds"] = tuple(float(t) for t in options["thresholds"])
        try:
            return cls(**options)
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None


@dataclass(frozen=True)
class FrameScores:
    """What a model says about one video, frame by frame.

    ``times`` are the sampled frames' timestamps (seconds, increasing); ``classes`` ``[T, C]``
    per-class scores in [0, 1]; ``start``/``end`` ``[T]`` boundary probabilities or ``None``.
    """

    times: np.ndarray
    classes: np.ndarray
    duration: float
    start: np.ndarray | None = None
    end: np.ndarray | None = None


@dataclass(frozen=True)
class Detection:
    label: int
    score: float
    start: float
    end: float


def frame_step(times: np.ndarray, duration: float) -> float:
    """Seconds covered by one sampled frame: the median gap (the whole video for one frame)."""
    if len(times) > 1:
        return float(np.median(np.diff(times)))
    return float(duration) if duration > 0 else 1.0


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of True as ``(first, last)`` inclusive frame indices."""
    padded = np.concatenate(([False], np.asarray(mask, dtype=bool), [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]


def _candidates(scores: FrameScores, cfg: DecodeConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unique (class, first, last) runs with their scores: (labels, firsts, lasts, scores)."""
    cls = np.asarray(scores.classes, dtype=np.float64)
    if cfg.proposals == "actionness":
        return _actionness_candidates(scores, cls, cfg)
    order = np.argsort(-cls.max(axis=0), kind="stable")[: cfg.max_classes]
    found: dict[tuple[int, int, int], float] = {}
    for c in order:
        for (first, last), value in _scored_runs(scores, cls[:, c], cfg).items():
            found[(int(c), first, last)] = value
    return _as_arrays(found)


def _scored_runs(scores: FrameScores, column: np.ndarray, cfg: DecodeConfig) -> dict[tuple[int, int], float]:
    """Unique runs ``(first, last)`` of ``column`` at or above each threshold times its peak
    (none when the peak is not positive), at least ``min_frames`` long, with their scores."""
    peak = float(column.max()) if len(column) else 0.0
    found: dict[tuple[int, int], float] = {}
    if peak <= 0:
        return found
    for t in cfg.thresholds:
        for first, last in runs(column >= t * peak):
            if last - first + 1 >= cfg.min_frames and (first, last) not in found:
                found[(first, last)] = _segment_score(scores, column, first, last, cfg)
    return found


def video_class_shares(cls: np.ndarray) -> np.ndarray:
    """Video-level class scores ``[C]`` summing to 1: the frames' class scores averaged with
    each frame weighted by its actionness (best class score), so background frames count little."""
    cls = np.clip(np.asarray(cls, dtype=np.float64), 0.0, None)
    weights = cls.max(axis=1)
    if weights.sum() <= 0:
        return np.full(cls.shape[1], 1.0 / cls.shape[1])
    video = weights @ cls / weights.sum()
    return video / video.sum()


def _actionness_candidates(scores: FrameScores, cls: np.ndarray, cfg: DecodeConfig):
    """Class-agnostic runs of the actionness, one candidate per run and best video class."""
    proposals = _scored_runs(scores, cls.max(axis=1), cfg)
    shares = video_class_shares(cls)
    classes = np.argsort(-shares, kind="stable")[: cfg.max_classes]
    return _as_arrays({(int(c), first, last): value * float(shares[c])
                       for c in classes for (first, last), value in proposals.items()})


def _as_arrays(found: dict[tuple[int, int, int], float]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if not found:
        empty = np.zeros(0)
        return empty.astype(np.int64), empty.astype(np.int64), empty.astype(np.int64), empty
    keys = np.array(list(found), dtype=np.int64)
    return keys[:, 0], keys[:, 1], keys[:, 2], np.array(list(found.values()))


def _segment_score(scores: FrameScores, column: np.ndarray, first: int, last: int, cfg: DecodeConfig) -> float:
    value = float(column[first : last + 1].mean())
    if scores.start is not None and scores.end is not None and cfg.boundary_weight > 0:
        # The boundary may sit one frame off the run's edge: take the best neighbour.
        n = len(column)
        start = float(np.max(scores.start[max(0, first - 1) : min(n, first + 2)]))
        end = float(np.max(scores.end[max(0, last - 1) : min(n, last + 2)]))
        value *= np.sqrt(max(start, 0.0) * max(end, 0.0)) ** cfg.boundary_weight
    return value


def segment_tiou(a_start: float, a_end: float, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """tIoU of one segment with many (0 where the union is empty)."""
    inter = np.clip(np.minimum(a_end, ends) - np.maximum(a_start, starts), 0.0, None)
    union = (a_end - a_start) + (ends - starts) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def nms(starts: np.ndarray, ends: np.ndarray, scores: np.ndarray, cfg: DecodeConfig) -> tuple[np.ndarray, np.ndarray]:
    """Greedy NMS of one class's segments: (kept indices in output order, their scores).

    Hard NMS drops overlaps above ``nms_iou``; soft-NMS keeps everything and decays the scores of
    overlapping segments by ``exp(-tiou^2 / nms_sigma)`` each time a better one is picked.
    """
    scores = np.asarray(scores, dtype=np.float64).copy()
    if cfg.nms == "none":
        order = np.argsort(-scores, kind="stable")
        return order, scores[order]
    remaining = list(range(len(scores)))
    kept, kept_scores = [], []
    while remaining:
        idx = np.array(remaining)
        best = int(idx[np.argmax(scores[idx])])  # first of equal scores: stable
        kept.append(best)
        kept_scores.append(scores[best])
        remaining.remove(best)
        if not remaining:
            break
        rest = np.array(remaining)
        tiou = segment_tiou(starts[best], ends[best], starts[rest], ends[rest])
        if cfg.nms == "hard":
            remaining = [int(i) for i, o in zip(rest, tiou) if o <= cfg.nms_iou]
        else:
            scores[rest] *= np.exp(-(tiou**2) / cfg.nms_sigma)
    return np.array(kept, dtype=np.int64), np.array(kept_scores)


def decode(scores: FrameScores, cfg: DecodeConfig) -> list[Detection]:
    """The video's detections, best first (at most ``cfg.top_k``), segments in seconds."""
    times = np.asarray(scores.times, dtype=np.float64)
    if scores.classes.ndim != 2 or scores.classes.shape[0] != len(times):
        raise ValueError(f"class scores {scores.classes.shape} do not match {len(times)} timestamps")
    if len(times) == 0:
        return []
    step = frame_step(times, scores.duration)
    end_of_video = scores.duration if scores.duration > 0 else float(times[-1] + step)
    labels, firsts, lasts, values = _candidates(scores, cfg)
    starts = np.clip(times[firsts], 0.0, end_of_video)
    ends = np.clip(times[lasts] + step, 0.0, end_of_video)
    out: list[Detection] = []
    for c in np.unique(labels):
        sel = np.flatnonzero(labels == c)
        kept, kept_scores = nms(starts[sel], ends[sel], values[sel], cfg)
        for i, s in zip(sel[kept], kept_scores):
            if s >= cfg.min_score and ends[i] > starts[i]:
                out.append(Detection(int(c), float(s), float(starts[i]), float(ends[i])))
    out.sort(key=lambda d: -d.score)  # stable: class order breaks ties
    return out[: cfg.top_k]
