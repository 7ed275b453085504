"""Readers for ActivityNet-format TAL files (ground truth and submissions).

A validation submission holds about 490,000 detections. They are checked column-wise: one
comprehension per field, type sets from ``map(type, ...)`` and vectorised NumPy tests, which
cost a fraction of a per-detection loop. Only when a check fails does the entry-by-entry walk
run, to name the video and detection at fault.
"""

from __future__ import annotations

from itertools import chain, repeat
from pathlib import Path
from typing import Any

import numpy as np

from tempvl_bench.metrics.jsonio import ScoreInputError, finite_number, gc_paused, read_json
from tempvl_bench.metrics.tal import SegmentTable

_NUMBER_TYPES = {int, float}


class _Irregular(Exception):
    """The fast column checks failed; the entry walk names the problem."""


def _columns(path: Path, per_video: dict[str, Any], entries_key: str, with_score: bool) -> SegmentTable:
    videos, lists = list(per_video), list(per_video.values())
    try:
        return _fast_columns(videos, lists, with_score)
    except _Irregular:
        return _checked_columns(path, videos, lists, entries_key, with_score)


def _fast_columns(videos: list[str], lists: list[Any], with_score: bool) -> SegmentTable:
    if any(type(entries) is not list for entries in lists):
        raise _Irregular
    entries = list(chain.from_iterable(lists))
    if set(map(type, entries)) - {dict}:
        raise _Irregular
    try:
        labels = [entry["label"] for entry in entries]
        segments = [entry["segment"] for entry in entries]
        scores = [entry["score"] for entry in entries] if with_score else []
    except KeyError:
        raise _Irregular from None
    if (set(map(type, labels)) - {str} or set(map(type, segments)) - {list} or set(map(len, segments)) - {2}
            or set(map(type, scores)) - _NUMBER_TYPES):
        raise _Irregular
    bounds = list(chain.from_iterable(segments))
    if set(map(type, bounds)) - _NUMBER_TYPES:
        raise _Irregular
    try:
        pairs = np.array(bounds, dtype=np.float64).reshape(-1, 2)
        score_array = np.array(scores, dtype=np.float64) if with_score else None
    except OverflowError:  # an integer beyond float range
        raise _Irregular from None
    if not np.isfinite(pairs).all() or (with_score and not np.isfinite(score_array).all()):
        raise _Irregular
    if (pairs[:, 1] < pairs[:, 0]).any():
        raise _Irregular
    video_column = list(chain.from_iterable(map(repeat, videos, map(len, lists))))
    return SegmentTable(video_column, labels, pairs[:, 0], pairs[:, 1], score_array)


def _checked_columns(path: Path, videos: list[str], lists: list[Any], entries_key: str,
                     with_score: bool) -> SegmentTable:
    """Entry by entry, raising on the first problem with its video and index."""
    noun = "detection" if with_score else "annotation"
    columns: tuple[list, ...] = ([], [], [], [], [])
    for video, entries in zip(videos, lists):
        if not isinstance(entries, list):
            raise ScoreInputError(path, f"video {video!r}: {entries_key!r} must be a list of {noun}s, "
                                        f"got {type(entries).__name__}")
        for j, entry in enumerate(entries):
            where = f"video {video!r} {noun} {j}"
            if not isinstance(entry, dict):
                raise ScoreInputError(path, f"{where}: expected a JSON object, got {type(entry).__name__}")
            for key in ("label", "segment") + (("score",) if with_score else ()):
                if key not in entry:
                    raise ScoreInputError(path, f"{where}: missing key {key!r}")
            label, segment = entry["label"], entry["segment"]
            if not isinstance(label, str):
                raise ScoreInputError(path, f"{where}: label must be a string, got {label!r:.80}")
            if not isinstance(segment, list) or len(segment) != 2:
                raise ScoreInputError(path, f"{where}: expected a [start, end] pair, got {segment!r:.80}")
            start, end = (finite_number(path, f"{where} segment", v) for v in segment)
            if end < start:
                raise ScoreInputError(path, f"{where}: segment {segment!r} ends before it starts")
            score = finite_number(path, f"{where} score", entry["score"]) if with_score else 0.0
            for column, value in zip(columns, (video, label, start, end, score)):
                column.append(value)
    video_column, labels, starts, ends, scores = columns
    return SegmentTable(video_column, labels, np.array(starts, dtype=np.float64), np.array(ends, dtype=np.float64),
                        np.array(scores, dtype=np.float64) if with_score else None)


def load_tal_ground_truth(path: Path, subset: str) -> SegmentTable:
    """ActivityNet v1.3 format, keeping the videos of ``subset`` (exact match, as the reference)."""
    with gc_paused():
        data = read_json(path, fast=True)  # ids are object keys: orjson is safe here
        database = data.get("database") if isinstance(data, dict) else None
        if not isinstance(database, dict):
            problem = "missing key 'database'" if isinstance(data, dict) else f"got {type(data).__name__}"
            raise ScoreInputError(path, f"expected an object {{\"database\": {{video_id: {{...}}}}}}: {problem}")
        chosen: dict[str, Any] = {}
        subsets: set[str] = set()
        for video, entry in database.items():
            if not isinstance(entry, dict) or "subset" not in entry:
                raise ScoreInputError(path, f"video {video!r}: expected an object with keys 'subset' and "
                                            f"'annotations'")
            subsets.add(str(entry["subset"]))
            if entry["subset"] != subset:
                continue
            if "annotations" not in entry:
                raise ScoreInputError(path, f"video {video!r}: missing key 'annotations'")
            chosen[video] = entry["annotations"]
        table = _columns(path, chosen, "annotations", with_score=False)
    if not len(table):
        raise ScoreInputError(path, f"no ground-truth segment in subset {subset!r}; subsets present: "
                                    f"{sorted(subsets)}")
    return table


def load_tal_predictions(path: Path) -> SegmentTable:
    """Official submission format ``{"results": {video_id: [{"label", "score", "segment"}]}}``."""
    with gc_paused():
        data = read_json(path, fast=True)
        if not isinstance(data, dict) or "results" not in data:
            problem = "missing key 'results'" if isinstance(data, dict) else f"got {type(data).__name__}"
            raise ScoreInputError(path, f"expected an object {{\"results\": {{video_id: [detections]}}}}: {problem}")
        results = data["results"]
        if not isinstance(results, dict):
            raise ScoreInputError(path, "'results' must be an object {video_id: [detections]}")
        return _columns(path, results, "results", with_score=True)
