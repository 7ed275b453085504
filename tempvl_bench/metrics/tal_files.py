"""Readers for ActivityNet-format TAL files (ground truth and submissions).

A validation submission holds about 490,000 detections. It is decoded once, by msgspec, into
typed records (label: str, score: float, segment: a pair of floats; no other key), which checks
every type while parsing; numbers are read exactly as Python's ``float`` reads them. The colons
its keys and labels account for prove that no key was repeated (see :func:`jsonio.keys_unique`).
Anything else (extra keys, wrong types, reversed segments, repeated keys, a missing msgspec)
goes to the general path: orjson or the standard library, column-wise checks with
``map(type, ...)`` and NumPy, and only when a check fails the entry-by-entry walk that names
the video and detection at fault.
"""

from __future__ import annotations

import functools
from itertools import chain
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any

import numpy as np

from tempvl_bench.metrics.jsonio import (
    ScoreInputError,
    finite_number,
    gc_paused,
    keys_unique,
    read_bytes,
    read_score_json,
)
from tempvl_bench.metrics.tal import SegmentTable, StringColumn

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
    """The table; raises _Irregular on anything the checked walk must explain."""
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
    return SegmentTable(video_column, label_column, pairs[:, 0], pairs[:, 1], score_array)


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
        data = read_score_json(path, fast=True)  # ids are object keys: orjson is safe here
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
        table = _typed_submission(raw)
        if table is not None:
            return table
        data = read_score_json(path, fast=True)
        if not isinstance(data, dict) or "results" not in data:
            problem = "missing key 'results'" if isinstance(data, dict) else f"got {type(data).__name__}"
            raise ScoreInputError(path, f"expected an object {{\"results\": {{video_id: [detections]}}}}: {problem}")
        results = data["results"]
        if not isinstance(results, dict):
            raise ScoreInputError(path, "'results' must be an object {video_id: [detections]}")
        return _columns(path, results, "results", with_score=True)


@functools.cache
def _submission_decoders():
    """msgspec decoders of a submission's top level and of its ``results`` (None without msgspec)."""
    try:
        import msgspec
    except ImportError:  # the general path reads every submission too
        return None

    class Detection(msgspec.Struct, forbid_unknown_fields=True):
        label: str
        score: float
        segment: tuple[float, float]

    return (msgspec.MsgspecError, msgspec.json.Decoder(dict[str, msgspec.Raw]),
            msgspec.json.Decoder(dict[str, list[Detection]]))


def _typed_submission(raw: bytes) -> SegmentTable | None:
    """The table of a well-formed submission whose keys are all unique; None for anything else."""
    decoders = _submission_decoders()
    if decoders is None or b"\\u003" in raw:  # an escaped colon would spoil the count below
        return None
    errors, top_decoder, results_decoder = decoders
    try:
        top = top_decoder.decode(raw)
        results = results_decoder.decode(top["results"]) if "results" in top else None
    except (errors, ValueError, RecursionError):  # ValueError: invalid UTF-8
        return None
    if results is None:
        return None
    videos, lists = list(results), list(results.values())
    entries = list(chain.from_iterable(lists))
    scores = np.fromiter(map(attrgetter("score"), entries), dtype=np.float64, count=len(entries))
    pairs = np.fromiter(chain.from_iterable(map(attrgetter("segment"), entries)), dtype=np.float64,
                        count=2 * len(entries)).reshape(-1, 2)
    if not (np.isfinite(scores).all() and np.isfinite(pairs).all()) or (pairs[:, 1] < pairs[:, 0]).any():
        return None  # the general path names the detection
    labels = StringColumn.from_strings(list(map(attrgetter("label"), entries)))
    # Every colon of the file: one per key, plus those inside keys and strings. A repeated key
    # that the decoder dropped leaves the file with more than the decoded data accounts for.
    in_labels = np.array([label.count(":") for label in labels.distinct], dtype=np.int64)
    colons = (3 * len(entries) + int(in_labels[labels.codes].sum()) + len(videos)
              + sum(video.count(":") for video in videos) + len(top) + sum(key.count(":") for key in top)
              + sum(bytes(value).count(b":") for key, value in top.items() if key != "results"))
    if not keys_unique(raw, None, colons):
        return None
    return SegmentTable(StringColumn.from_runs(videos, list(map(len, lists))), labels, pairs[:, 0], pairs[:, 1],
                        scores)
