"""Readers for the prediction and ground-truth files ``tempvl-bench score`` accepts.

Every problem raises :class:`ScoreInputError` naming the file, the entry (key or line) and
what was expected. Nothing here executes code from a file: JSON, JSONL and ``.npy`` without
pickles only. JSON objects must not repeat a key and no file may list an id twice: both would
otherwise silently keep one of the entries. TAL readers validate column-wise (fast on
ActivityNet-sized submissions) and re-walk entry by entry only to name a problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import numpy as np

from tempvl_bench.metrics.highlights import CLIP_SECONDS
from tempvl_bench.metrics.jsonio import ScoreInputError, finite_number, load_npy, read_score_json, read_score_jsonl
from tempvl_bench.metrics.moment_records import MomentGroundTruth, MomentPrediction
from tempvl_bench.metrics.qa import Prediction, QAGroundTruth
from tempvl_bench.metrics.tal_files import load_tal_ground_truth, load_tal_predictions

__all__ = [
    "ScoreInputError", "load_similarity", "load_text_video_index", "load_caption_predictions",
    "load_caption_references", "load_qa_predictions", "load_qa_ground_truth", "load_answer_vocab",
    "load_tal_ground_truth", "load_tal_predictions", "load_moment_ground_truth", "load_moment_predictions",
]

#: Longest video duration read (seconds): the highlight metrics allocate one slot per two-second
#: clip, so an absurd duration (1e308) must be refused here, naming the field.
MAX_DURATION_SECONDS = 1e6


def _number_array(path: Path, where: str, value: Any) -> np.ndarray:
    """A nested list of finite numbers as float64 (booleans and strings rejected)."""
    try:
        array = np.asarray(value)
    except (ValueError, OverflowError):
        raise ScoreInputError(path, f"{where}: ragged nested list") from None
    if array.dtype.kind not in "iuf":
        raise ScoreInputError(path, f"{where}: expected numbers, got {str(value)[:80]}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ScoreInputError(path, f"{where}: expected finite numbers, found NaN or infinity")
    return array


def _require(path: Path, where: str, record: Any, key: str) -> Any:
    if not isinstance(record, dict):
        raise ScoreInputError(path, f"{where}: expected a JSON object, got {type(record).__name__}")
    if key not in record:
        raise ScoreInputError(path, f"{where}: missing key {key!r}")
    return record[key]


def _identifier(path: Path, where: str, value: Any, key: str) -> str | int:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ScoreInputError(path, f"{where}: {key} must be a string or an integer, got {value!r:.80}")
    return value


def _segment(path: Path, where: str, value: Any) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ScoreInputError(path, f"{where}: expected a [start, end] pair, got {value!r:.80}")
    start, end = (finite_number(path, where, v) for v in value)
    if end < start:
        raise ScoreInputError(path, f"{where}: segment {value!r} ends before it starts")
    return start, end


def _first_seen(path: Path, where: str, key: Any, seen: dict, what: str) -> None:
    if key in seen:
        raise ScoreInputError(path, f"{where}: {what} {key!r} already appeared at {seen[key]}; ids must be unique")
    seen[key] = where


# -- retrieval ---------------------------------------------------------------------------------

def load_similarity(path: Path) -> np.ndarray:
    """A texts x videos ``.npy`` matrix (no pickles, size checked against the header)."""
    return load_npy(path)


def load_text_video_index(path: Path, n_texts: int, n_videos: int) -> np.ndarray:
    """A JSON list giving each text's video index (0 .. n_videos - 1, every video captioned)."""
    data = read_score_json(path)
    if not isinstance(data, list) or len(data) != n_texts:
        got = f"a list of {len(data)}" if isinstance(data, list) else type(data).__name__
        raise ScoreInputError(path, f"expected a JSON list with one video index per text ({n_texts}), got {got}")
    for i, value in enumerate(data):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < n_videos:
            raise ScoreInputError(path, f"entry {i}: expected a video index in 0..{n_videos - 1} (the "
                                        f"similarity matrix has {n_videos} columns), got {value!r:.80}")
    index = np.asarray(data, dtype=np.int64)
    captioned = np.bincount(index, minlength=n_videos)
    if (captioned == 0).any():
        raise ScoreInputError(path, f"video {int(np.flatnonzero(captioned == 0)[0])} has no caption: every "
                                    "video needs at least one text")
    return index


# -- captioning --------------------------------------------------------------------------------

def load_caption_predictions(path: Path) -> dict[str, str]:
    """COCO results list ``[{"video_id": ..., "caption": ...}]``; ids compared as strings."""
    data = read_score_json(path)
    if not isinstance(data, list):
        raise ScoreInputError(path, "expected a COCO results list [{\"video_id\": ..., \"caption\": ...}]")
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for i, record in enumerate(data):
        where = f"entry {i}"
        video = str(_identifier(path, where, _require(path, where, record, "video_id"), "video_id"))
        caption = _require(path, where, record, "caption")
        if not isinstance(caption, str):
            raise ScoreInputError(path, f"{where}: caption must be a string, got {caption!r:.80}")
        _first_seen(path, where, video, seen, "video_id")
        out[video] = caption
    return out


def load_caption_references(path: Path) -> dict[str, list[str]]:
    """``{video_id: [caption, ...]}``."""
    data = read_score_json(path)
    if not isinstance(data, dict):
        raise ScoreInputError(path, "expected an object {video_id: [caption, ...]}")
    for video, refs in data.items():
        if not isinstance(refs, list) or not refs or not all(isinstance(r, str) for r in refs):
            raise ScoreInputError(path, f"video {video!r}: expected a non-empty list of caption strings")
    return data


# -- QA ----------------------------------------------------------------------------------------

def load_qa_predictions(path: Path) -> dict[str, Prediction]:
    """``{question_id: answer}``; an answer may be a list of the answers tied for the top score."""
    data = read_score_json(path)
    if not isinstance(data, dict):
        raise ScoreInputError(path, "expected an object {question_id: answer}")
    for qid, answer in data.items():
        tied = isinstance(answer, list) and answer and all(isinstance(a, str) for a in answer)
        if not isinstance(answer, str) and not tied:
            raise ScoreInputError(path, f"question {qid!r}: answer must be a string or a non-empty list of tied "
                                        f"answer strings, got {answer!r:.80}")
        if tied and len(set(answer)) != len(answer):
            raise ScoreInputError(path, f"question {qid!r}: the tied answers repeat an answer: {answer!r:.80}")
    return data


def load_qa_ground_truth(path: Path) -> list[QAGroundTruth]:
    data = read_score_json(path)
    if not isinstance(data, list):
        raise ScoreInputError(path, "expected a list of {\"question_id\", \"answer\", \"question_type\"?}")
    items = []
    seen: dict[str, str] = {}
    for i, record in enumerate(data):
        where = f"entry {i}"
        qid = str(_identifier(path, where, _require(path, where, record, "question_id"), "question_id"))
        answer = _require(path, where, record, "answer")
        qtype = record.get("question_type")
        if not isinstance(answer, str) or (qtype is not None and not isinstance(qtype, str)):
            raise ScoreInputError(path, f"{where}: answer and question_type must be strings")
        _first_seen(path, where, qid, seen, "question_id")
        items.append(QAGroundTruth(qid, answer, qtype))
    return items


def load_answer_vocab(path: Path) -> list[str]:
    data = read_score_json(path)
    if not isinstance(data, list) or not all(isinstance(a, str) for a in data):
        raise ScoreInputError(path, "expected a JSON list of answer strings")
    return data


# -- moment retrieval --------------------------------------------------------------------------

def _moment_lines(path: Path) -> Iterator[tuple[str, str | int, Any]]:
    """``(where, qid, record)`` for each line of a moment-retrieval JSONL file; each qid appears once."""
    seen: dict[Any, str] = {}
    for number, record in read_score_jsonl(path):
        where = f"line {number}"
        qid = _identifier(path, where, _require(path, where, record, "qid"), "qid")
        _first_seen(path, where, qid, seen, "qid")
        yield where, qid, record


def _window_list(path: Path, where: str, qid: str | int, record: Any, key: str) -> list:
    windows = _require(path, where, record, key)
    if not isinstance(windows, list) or not windows:
        raise ScoreInputError(path, f"{where} (qid {qid}): {key} must be a non-empty list")
    return windows


def load_moment_ground_truth(path: Path) -> list[MomentGroundTruth]:
    """QVHighlights JSONL: ``qid``, ``vid``, ``duration``, ``relevant_windows`` (+ saliency)."""
    queries = []
    for where, qid, record in _moment_lines(path):
        _require(path, where, record, "vid")
        duration = finite_number(path, f"{where} duration", _require(path, where, record, "duration"))
        if not 0 < duration <= MAX_DURATION_SECONDS:
            raise ScoreInputError(path, f"{where} (qid {qid}): duration must be positive and at most "
                                        f"{MAX_DURATION_SECONDS:.0f} s (11.6 days), got {duration:g}")
        windows = _window_list(path, where, qid, record, "relevant_windows")
        parsed = [_segment(path, f"{where} (qid {qid}) relevant_windows", w) for w in windows]
        clip_ids, saliency = record.get("relevant_clip_ids"), record.get("saliency_scores")
        if clip_ids is not None or saliency is not None:
            _check_saliency(path, f"{where} (qid {qid})", clip_ids, saliency, duration)
        queries.append(MomentGroundTruth(qid, duration, parsed, clip_ids, saliency))
    return queries


def _check_saliency(path: Path, where: str, clip_ids: Any, saliency: Any, duration: float) -> None:
    ids = _number_array(path, f"{where} relevant_clip_ids", clip_ids if clip_ids is not None else [])
    scores = _number_array(path, f"{where} saliency_scores", saliency if saliency is not None else [])
    n_clips = int(duration / CLIP_SECONDS)
    if ids.ndim != 1 or (ids != np.round(ids)).any() or (ids < 0).any() or (ids >= n_clips).any():
        raise ScoreInputError(path, f"{where}: relevant_clip_ids must be integers in 0..{n_clips - 1} "
                                    f"({CLIP_SECONDS}-second clips of a {duration} s video)")
    if ids.size and (scores.ndim != 2 or scores.shape[0] != ids.size) or (not ids.size and scores.size):
        raise ScoreInputError(path, f"{where}: saliency_scores must hold one list of annotator scores per "
                                    f"relevant clip ({ids.size}), got shape {scores.shape}")


def load_moment_predictions(path: Path) -> list[MomentPrediction]:
    """Moment-DETR JSONL: ``qid``, ``pred_relevant_windows`` ``[[s, e, score], ...]`` in rank order."""
    predictions = []
    for where, qid, record in _moment_lines(path):
        windows = _window_list(path, where, qid, record, "pred_relevant_windows")
        array = _number_array(path, f"{where} (qid {qid}) pred_relevant_windows", windows)
        if array.ndim != 2 or array.shape[1] != 3:
            raise ScoreInputError(path, f"{where} (qid {qid}): pred_relevant_windows must be [[start, end, score], "
                                        f"...], got shape {array.shape}")
        reversed_rows = np.flatnonzero(array[:, 1] < array[:, 0])
        if reversed_rows.size:
            i = int(reversed_rows[0])
            raise ScoreInputError(path, f"{where} (qid {qid}): pred_relevant_windows[{i}] = "
                                        f"{array[i].tolist()} ends before it starts")
        saliency = record.get("pred_saliency_scores")
        if saliency is not None:
            saliency = _number_array(path, f"{where} (qid {qid}) pred_saliency_scores", saliency)
            if saliency.ndim != 1 or saliency.size == 0:
                raise ScoreInputError(path, f"{where} (qid {qid}): pred_saliency_scores must be a non-empty list")
        predictions.append(MomentPrediction(qid, array, saliency))
    return predictions
