"""QVHighlights moment retrieval and highlight detection (Moment-DETR JSONL).

Files ``highlight_{train,val,test}_release.jsonl``: one object per line with ``qid, query,
duration, vid`` and, where ground truth is released, ``relevant_clip_ids``, ``saliency_scores``
(per clip, one 0-4 score per rater) and ``relevant_windows`` (seconds, end-exclusive).
``vid`` is ``<ytid>_<start>_<end>`` and names the video file ``<vid>.mp4``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tempvl_core.data.errors import AnnotationError
from tempvl_core.data.loaders._io import as_pair, clip_window, get_key, num_field, str_field, read_jsonl
from tempvl_core.data.records import LoadResult, MomentQuery

SPLITS = ("train", "val", "test")
_GT_KEYS = ("relevant_clip_ids", "saliency_scores", "relevant_windows")


def _int_list(value: Any, path: Path, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise AnnotationError(path, where, "a list of integers", value)
    return tuple(value)


def _parse_line(obj: Any, path: Path, where: str, stats: dict[str, int]) -> MomentQuery:
    qid = get_key(obj, "qid", path, where)
    if isinstance(qid, bool) or not isinstance(qid, (int, str)):
        raise AnnotationError(path, f"{where} 'qid'", "an integer or string query id", qid)
    query = str_field(obj, "query", path, where)
    duration = num_field(obj, "duration", path, where)
    vid = str_field(obj, "vid", path, where)
    present = [k for k in _GT_KEYS if k in obj]
    if present and len(present) != len(_GT_KEYS):
        raise AnnotationError(path, where, f"all of {list(_GT_KEYS)} or none", f"only {present}")
    if not present:
        return MomentQuery(str(qid), vid, f"{vid}.mp4", query, duration, ())
    raw = obj["relevant_windows"]
    if not isinstance(raw, list):
        raise AnnotationError(path, f"{where} 'relevant_windows'", "a list of [start, end] pairs", raw)
    windows = []
    for i, pair in enumerate(raw):
        window, was_clipped = clip_window(*as_pair(pair, path, f"{where} 'relevant_windows'[{i}]"), duration)
        stats["clipped"] += was_clipped
        if window is None:
            stats["dropped"] += 1
        else:
            windows.append(window)
    clip_ids = _int_list(obj["relevant_clip_ids"], path, f"{where} 'relevant_clip_ids'")
    scores_raw = obj["saliency_scores"]
    if not isinstance(scores_raw, list) or len(scores_raw) != len(clip_ids):
        raise AnnotationError(path, f"{where} 'saliency_scores'", "one score list per relevant clip id", scores_raw)
    scores = tuple(_int_list(s, path, f"{where} 'saliency_scores'[{i}]") for i, s in enumerate(scores_raw))
    return MomentQuery(str(qid), vid, f"{vid}.mp4", query, duration, tuple(windows), clip_ids, scores)


def read_qvhighlights(path: Path) -> LoadResult[MomentQuery]:
    """Queries of one JSONL file in line order; test files without ground truth give ``windows == ()``.

    ``stats``: ``clipped``/``dropped`` windows, and ``without_gt`` (queries with no labels).
    """
    stats = {"clipped": 0, "dropped": 0}
    queries = [_parse_line(obj, path, f"line {n}", stats) for n, obj in read_jsonl(path, "QVHighlights JSONL")]
    stats["without_gt"] = sum(q.saliency_clip_ids is None for q in queries)
    return LoadResult(queries, stats)
