"""Readers for the prediction and ground-truth files ``tempvl-bench score`` accepts.

Every problem raises :class:`ScoreInputError` naming the file, the entry (key or line) and
what was expected. Nothing here executes code from a file: JSON, JSONL and ``.npy`` without
pickles only.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from tempvl_bench.metrics.moment import MomentPrediction, MomentQuery
from tempvl_bench.metrics.qa import QAItem
from tempvl_bench.metrics.tal import SegmentTable


class ScoreInputError(Exception):
    """A prediction or ground-truth file is malformed; the message names the file and the problem."""

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = Path(path)
        self.problem = problem


def read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise ScoreInputError(path, "file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ScoreInputError(path, f"not valid JSON ({err})") from None


def read_jsonl(path: Path) -> list[dict]:
    records = []
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ScoreInputError(path, f"line {number}: not valid JSON ({err})") from None
                if not isinstance(record, dict):
                    raise ScoreInputError(path, f"line {number}: expected a JSON object")
                records.append(record)
    except FileNotFoundError:
        raise ScoreInputError(path, "file not found") from None
    if not records:
        raise ScoreInputError(path, "no records")
    return records


def _number(path: Path, where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScoreInputError(path, f"{where}: expected a number, got {value!r}")
    if not math.isfinite(value):
        raise ScoreInputError(path, f"{where}: expected a finite number, got {value!r}")
    return float(value)


def _number_array(path: Path, where: str, value: Any) -> np.ndarray:
    """A nested list of finite numbers as float64 (booleans and strings rejected)."""
    try:
        array = np.asarray(value)
    except ValueError:
        raise ScoreInputError(path, f"{where}: ragged nested list") from None
    if array.dtype.kind not in "iuf":
        raise ScoreInputError(path, f"{where}: expected numbers, got {str(value)[:80]}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ScoreInputError(path, f"{where}: expected finite numbers, found NaN or infinity")
    return array


def _require(path: Path, where: str, record: dict, key: str) -> Any:
    if not isinstance(record, dict):
        raise ScoreInputError(path, f"{where}: expected a JSON object, got {type(record).__name__}")
    if key not in record:
        raise ScoreInputError(path, f"{where}: missing key {key!r}")
    return record[key]


def _segment(path: Path, where: str, value: Any) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ScoreInputError(path, f"{where}: expected a [start, end] pair, got {value!r}")
    start, end = (_number(path, where, v) for v in value)
    if end < start:
        raise ScoreInputError(path, f"{where}: segment {value!r} ends before it starts")
    return start, end


# -- retrieval ---------------------------------------------------------------------------------

def load_similarity(path: Path) -> np.ndarray:
    """A texts x videos ``.npy`` matrix (no pickles)."""
    try:
        sim = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ScoreInputError(path, "file not found") from None
    except (ValueError, OSError) as err:
        raise ScoreInputError(path, f"not a .npy array without pickles ({err})") from None
    if sim.ndim != 2 or not np.issubdtype(sim.dtype, np.number):
        raise ScoreInputError(path, f"expected a 2-D numeric texts x videos matrix, got {sim.dtype} {sim.shape}")
    if np.issubdtype(sim.dtype, np.floating) and np.isnan(sim).any():
        where = np.argwhere(np.isnan(sim))[0].tolist()
        raise ScoreInputError(path, f"similarity matrix contains NaN (first at [text, video] = {where})")
    return sim


def load_text_video_index(path: Path, n_texts: int) -> np.ndarray:
    """A JSON list giving each text's video index."""
    data = read_json(path)
    if not isinstance(data, list) or len(data) != n_texts:
        got = f"a list of {len(data)}" if isinstance(data, list) else type(data).__name__
        raise ScoreInputError(path, f"expected a JSON list with one video index per text ({n_texts}), got {got}")
    for i, value in enumerate(data):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ScoreInputError(path, f"entry {i}: expected an integer video index, got {value!r}")
    return np.asarray(data, dtype=np.int64)


# -- captioning --------------------------------------------------------------------------------

def load_caption_predictions(path: Path) -> dict[str, str]:
    """COCO results list ``[{"video_id": ..., "caption": ...}]``; ids compared as strings."""
    data = read_json(path)
    if not isinstance(data, list):
        raise ScoreInputError(path, "expected a COCO results list [{\"video_id\": ..., \"caption\": ...}]")
    out: dict[str, str] = {}
    for i, record in enumerate(data):
        video = str(_require(path, f"entry {i}", record, "video_id"))
        caption = _require(path, f"entry {i}", record, "caption")
        if not isinstance(caption, str):
            raise ScoreInputError(path, f"entry {i}: caption must be a string, got {caption!r}")
        if video in out:
            raise ScoreInputError(path, f"entry {i}: second caption for video {video!r} (one per video)")
        out[video] = caption
    return out


def load_caption_references(path: Path) -> dict[str, list[str]]:
    """``{video_id: [caption, ...]}``."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise ScoreInputError(path, "expected an object {video_id: [caption, ...]}")
    for video, refs in data.items():
        if not isinstance(refs, list) or not refs or not all(isinstance(r, str) for r in refs):
            raise ScoreInputError(path, f"video {video!r}: expected a non-empty list of caption strings")
    return {str(k): v for k, v in data.items()}


# -- QA ----------------------------------------------------------------------------------------

def load_qa_predictions(path: Path) -> dict[str, str]:
    data = read_json(path)
    if not isinstance(data, dict):
        raise ScoreInputError(path, "expected an object {question_id: answer}")
    for qid, answer in data.items():
        if not isinstance(answer, str):
            raise ScoreInputError(path, f"question {qid!r}: answer must be a string, got {answer!r}")
    return {str(k): v for k, v in data.items()}


def load_qa_ground_truth(path: Path) -> list[QAItem]:
    data = read_json(path)
    if not isinstance(data, list):
        raise ScoreInputError(path, "expected a list of {\"question_id\", \"answer\", \"question_type\"?}")
    items = []
    for i, record in enumerate(data):
        qid = _require(path, f"entry {i}", record, "question_id")
        answer = _require(path, f"entry {i}", record, "answer")
        qtype = record.get("question_type")
        if not isinstance(answer, str) or (qtype is not None and not isinstance(qtype, str)):
            raise ScoreInputError(path, f"entry {i}: answer and question_type must be strings")
        items.append(QAItem(str(qid), answer, qtype))
    return items


def load_answer_vocab(path: Path) -> list[str]:
    data = read_json(path)
    if not isinstance(data, list) or not all(isinstance(a, str) for a in data):
        raise ScoreInputError(path, "expected a JSON list of answer strings")
    return data


# -- TAL ---------------------------------------------------------------------------------------

def load_tal_ground_truth(path: Path, subset: str) -> SegmentTable:
    """ActivityNet v1.3 format, keeping the videos of ``subset`` (exact match, as the reference)."""
    data = read_json(path)
    database = _require(path, "top level", data, "database")
    if not isinstance(database, dict):
        raise ScoreInputError(path, "'database' must be an object {video_id: {...}}")
    videos, labels, starts, ends = [], [], [], []
    subsets: set[str] = set()
    for video, entry in database.items():
        entry_subset = _require(path, f"video {video!r}", entry, "subset")
        subsets.add(str(entry_subset))
        if entry_subset != subset:
            continue
        annotations = _require(path, f"video {video!r}", entry, "annotations")
        if not isinstance(annotations, list):
            raise ScoreInputError(path, f"video {video!r}: 'annotations' must be a list")
        for j, ann in enumerate(annotations):
            where = f"video {video!r} annotation {j}"
            start, end = _segment(path, where, _require(path, where, ann, "segment"))
            videos.append(video)
            labels.append(str(_require(path, where, ann, "label")))
            starts.append(start)
            ends.append(end)
    if not videos:
        raise ScoreInputError(path, f"no ground-truth segment in subset {subset!r}; subsets present: {sorted(subsets)}")
    return SegmentTable(videos, labels, np.array(starts), np.array(ends))


def load_tal_predictions(path: Path) -> SegmentTable:
    """Official submission format ``{"results": {video_id: [{"label", "score", "segment"}]}}``."""
    data = read_json(path)
    results = _require(path, "top level", data, "results")
    if not isinstance(results, dict):
        raise ScoreInputError(path, "'results' must be an object {video_id: [detections]}")
    videos, labels, starts, ends, scores = [], [], [], [], []
    for video, detections in results.items():
        if not isinstance(detections, list):
            raise ScoreInputError(path, f"video {video!r}: expected a list of detections")
        for j, det in enumerate(detections):
            where = f"video {video!r} detection {j}"
            start, end = _segment(path, where, _require(path, where, det, "segment"))
            scores.append(_number(path, f"{where} score", _require(path, where, det, "score")))
            labels.append(str(_require(path, where, det, "label")))
            videos.append(video)
            starts.append(start)
            ends.append(end)
    return SegmentTable(videos, labels, np.array(starts), np.array(ends), np.array(scores))


# -- moment retrieval --------------------------------------------------------------------------

def load_moment_ground_truth(path: Path) -> list[MomentQuery]:
    """QVHighlights JSONL: ``qid``, ``vid``, ``duration``, ``relevant_windows`` (+ saliency)."""
    queries = []
    for number, record in enumerate(read_jsonl(path), start=1):
        where = f"line {number}"
        qid = _require(path, where, record, "qid")
        _require(path, where, record, "vid")
        duration = _number(path, f"{where} duration", _require(path, where, record, "duration"))
        windows = _require(path, where, record, "relevant_windows")
        if not isinstance(windows, list) or not windows:
            raise ScoreInputError(path, f"{where} (qid {qid}): relevant_windows must be a non-empty list")
        parsed = [_segment(path, f"{where} (qid {qid}) relevant_windows", w) for w in windows]
        queries.append(MomentQuery(qid, duration, parsed, record.get("relevant_clip_ids"),
                                   record.get("saliency_scores")))
    return queries


def load_moment_predictions(path: Path) -> list[MomentPrediction]:
    """Moment-DETR JSONL: ``qid``, ``pred_relevant_windows`` ``[[s, e, score], ...]`` in rank order."""
    predictions = []
    for number, record in enumerate(read_jsonl(path), start=1):
        where = f"line {number}"
        qid = _require(path, where, record, "qid")
        windows = _require(path, where, record, "pred_relevant_windows")
        if not isinstance(windows, list) or not windows:
            raise ScoreInputError(path, f"{where} (qid {qid}): pred_relevant_windows must be a non-empty list")
        array = _number_array(path, f"{where} (qid {qid}) pred_relevant_windows", windows)
        if array.ndim != 2 or array.shape[1] != 3:
            raise ScoreInputError(path, f"{where} (qid {qid}): pred_relevant_windows must be [[start, end, score], "
                                        f"...], got shape {array.shape}")
        saliency = record.get("pred_saliency_scores")
        if saliency is not None:
            saliency = _number_array(path, f"{where} (qid {qid}) pred_saliency_scores", saliency)
            if saliency.ndim != 1 or saliency.size == 0:
                raise ScoreInputError(path, f"{where} (qid {qid}): pred_saliency_scores must be a non-empty list")
        predictions.append(MomentPrediction(qid, array, saliency))
    return predictions
