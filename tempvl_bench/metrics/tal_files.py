"""Readers for ActivityNet-format TAL files (ground truth and submissions).

A validation submission holds about 490,000 detections. They are checked column-wise: one
``itemgetter`` pass per field, type sets from ``map(type, ...)`` and vectorised NumPy tests,
which cost a fraction of a per-detection loop. Only when a check fails does the entry-by-entry
walk run, to name the video and detection at fault. A regular submission is parsed once: the
colons its keys and labels account for, counted on the way, prove that no key was repeated
(see :func:`jsonio.keys_unique`) without writing the file out again.
"""

from __future__ import annotations

from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np

from tempvl_bench.metrics.jsonio import (ScoreInputError, finite_number, gc_paused, keys_unique, parse_fast,
                                         read_bytes, read_json, serialised_colons)
from tempvl_bench.metrics.tal import SegmentTable, StringColumn

_NUMBER_TYPES = {int, float}


class _Irregular(Exception):
    """The fast column checks failed; the entry walk names the problem."""


def _columns(path: Path, per_video: dict[str, Any], entries_key: str, with_score: bool) -> SegmentTable:
    videos, lists = list(per_video), list(per_video.values())
    try:
        return _fast_columns(videos, lists, with_score)[0]
    except _Irregular:
        return _checked_columns(path, videos, lists, entries_key, with_score)


def _fast_columns(videos: list[str], lists: list[Any], with_score: bool) -> tuple[SegmentTable, int]:
    """The table, and a lower bound on the colons orjson would write for the entries (exact
    when every entry holds only its keys); raises _Irregular on anything the checked walk must
    explain."""
    if set(map(type, lists)) - {list}:
        raise _Irregular
    entries = list(chain.from_iterable(lists))
    try:  # an entry that is not an object raises TypeError, a missing key KeyError
        labels = list(map(itemgetter("label"), entries))
        segments = list(map(itemgetter("segment"), entries))
        scores = list(map(itemgetter("score"), entries)) if with_score else []
        label_column = StringColumn.from_strings(labels)  # an unhashable label raises TypeError
        # A segment needs a length of 2 (a number has none: TypeError); a string or an object of
        # length 2 passes here and fails the bounds' type check below.
        pair_lengths = set(map(len, segments))
    except (KeyError, TypeError):
        raise _Irregular from None
    # Only strings equal strings, so a non-string label shows among the distinct values.
    if set(map(type, label_column.distinct)) - {str} or pair_lengths - {2} or set(map(type, scores)) - _NUMBER_TYPES:
        raise _Irregular
    bounds = list(chain.from_iterable(segments))
    if set(map(type, bounds)) - _NUMBER_TYPES:
        raise _Irregular
    try:
        pairs = np.fromiter(bounds, dtype=np.float64, count=len(bounds)).reshape(-1, 2)
        score_array = np.fromiter(scores, dtype=np.float64, count=len(scores)) if with_score else None
    except OverflowError:  # an integer beyond float range
        raise _Irregular from None
    if not np.isfinite(pairs).all() or (with_score and not np.isfinite(score_array).all()):
        raise _Irregular
    if (pairs[:, 1] < pairs[:, 0]).any():
        raise _Irregular
    video_column = StringColumn.from_runs(videos, list(map(len, lists)))
    table = SegmentTable(video_column, label_column, pairs[:, 0], pairs[:, 1], score_array)
    # Each entry holds at least its 2 or 3 keys; numbers and lists of numbers hold no colon.
    in_labels = np.array([label.count(":") for label in label_column.distinct], dtype=np.int64)
    colons = (3 if with_score else 2) * len(entries) + int(in_labels[label_column.codes].sum())
    return table, colons


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
        raw = read_bytes(path)
        parsed, data = parse_fast(raw)
        table = _regular_submission(raw, data) if parsed else None
        if table is not None:
            return table
        data = read_json(path, fast=True)  # parsed again only to explain what is wrong
        if not isinstance(data, dict) or "results" not in data:
            problem = "missing key 'results'" if isinstance(data, dict) else f"got {type(data).__name__}"
            raise ScoreInputError(path, f"expected an object {{\"results\": {{video_id: [detections]}}}}: {problem}")
        results = data["results"]
        if not isinstance(results, dict):
            raise ScoreInputError(path, "'results' must be an object {video_id: [detections]}")
        return _columns(path, results, "results", with_score=True)


def _regular_submission(raw: bytes, data: Any) -> SegmentTable | None:
    """The table of a well-formed submission whose keys are all unique; None for anything else."""
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, dict):
        return None
    videos = list(results)
    try:
        table, colons = _fast_columns(videos, list(results.values()), with_score=True)
    except _Irregular:
        return None
    # Plus the top level's other keys and values, "results" and the video ids. A lower bound
    # that equals the file's count proves that no key was dropped; else count exactly (entries
    # with extra keys), which re-serialises the data but does not parse it again.
    others = {key: value for key, value in data.items() if key != "results"}
    colons += serialised_colons(others) + 1 + len(videos) + sum(video.count(":") for video in videos)
    return table if keys_unique(raw, data, colons) or keys_unique(raw, data) else None
