"""DiDeMo: paragraph-to-video retrieval and moment localization.

Files (``<root>/``): ``{split}_data.json`` (a JSON list of annotations, each with ``video``,
``description``, ``times``, ``num_segments``, ``annotation_id``) and ``{split}_list.txt`` (the
retrieval split list, one exact ``video`` string per line). ``video`` is the original file name,
extension included, and some names end in a bare ``.``: it is kept byte-exact as ``video_name``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tempvl_core.data.errors import AnnotationError
from tempvl_core.data.loaders._io import as_number, get_key, num_field, str_field, read_json, read_name_list
from tempvl_core.data.records import LoadResult, MomentQuery, RetrievalItem

SPLITS = ("train", "val", "test")
SEGMENT_SECONDS = 5.0
MAX_SECONDS = 30.0  # DiDeMo videos were truncated to 30 s (6 segments)


def _annotations(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """The annotation list, each entry checked to be an object: ``(where, entry)``."""
    data = read_json(path, "DiDeMo annotations")
    if not isinstance(data, list):
        raise AnnotationError(path, "top level", "a JSON list of annotations", type(data).__name__)
    out = []
    for index, entry in enumerate(data):
        where = f"item {index}"
        if not isinstance(entry, dict):
            raise AnnotationError(path, where, "a JSON object", entry)
        out.append((where, entry))
    return out


def read_didemo_retrieval(data_json: Path, list_txt: Path, split: str) -> LoadResult[RetrievalItem]:
    """Paragraph retrieval items: one per split-list video that has annotations, in list order.

    Each item's single text is that video's descriptions joined with a space in file order.
    ``stats["missing"]`` counts list entries with no annotation (left out, not replaced).
    """
    paragraphs: dict[str, list[str]] = {}
    for where, entry in _annotations(data_json):
        video = str_field(entry, "video", data_json, where)
        text = str_field(entry, "description", data_json, where)
        paragraphs.setdefault(video, []).append(text.strip())
    items, missing = [], 0
    seen: set[str] = set()
    for name in read_name_list(list_txt, "DiDeMo split list"):
        if name in seen:
            continue
        seen.add(name)
        if name not in paragraphs:
            missing += 1
            continue
        items.append(RetrievalItem(name, name, (" ".join(paragraphs[name]),), split))
    return LoadResult(items, {"missing": missing, "annotated_not_listed": len(paragraphs.keys() - seen)})


def _segment_pair(value: Any, path: Path, where: str) -> tuple[int, int]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise AnnotationError(path, where, "a [start_segment, end_segment] pair", value)
    start, end = (as_number(v, path, where) for v in value)
    if start != int(start) or end != int(end) or not 0 <= start <= end:
        raise AnnotationError(path, where, "integer segments with 0 <= start <= end", value)
    return int(start), int(end)


def read_didemo_moments(
    data_json: Path, durations: Mapping[str, float] | None = None
) -> LoadResult[MomentQuery]:
    """One query per annotation with every annotator's window (all kept, duplicates included).

    Segments ``[s, e]`` (5-second units, both inclusive) become seconds
    ``[5*s, min(5*(e+1), video_len)]``. ``video_len`` comes from ``durations`` (video name ->
    seconds, e.g. measured from the files) when given, else ``5 * num_segments`` capped at 30 s,
    the upper bound the annotation itself implies. ``stats["clipped"]`` counts windows cut by
    the video length, ``stats["dropped"]`` windows that start past it.
    """
    queries, clipped, dropped = [], 0, 0
    for where, entry in _annotations(data_json):
        video = str_field(entry, "video", data_json, where)
        text = str_field(entry, "description", data_json, where)
        times = get_key(entry, "times", data_json, where)
        if not isinstance(times, list) or not times:
            raise AnnotationError(data_json, f"{where} 'times'", "a non-empty list of segment pairs", times)
        segments = tuple(_segment_pair(t, data_json, f"{where} 'times'") for t in times)
        num_segments = num_field(entry, "num_segments", data_json, where)
        query_id = get_key(entry, "annotation_id", data_json, where)
        if durations is not None and video in durations:
            video_len = float(durations[video])
        else:
            video_len = min(SEGMENT_SECONDS * num_segments, MAX_SECONDS)
        windows = []
        for start_seg, end_seg in segments:
            start, end = SEGMENT_SECONDS * start_seg, SEGMENT_SECONDS * (end_seg + 1)
            if end > video_len:
                end = video_len
                clipped += 1
            if start >= end:  # a segment past the measured end of the video
                dropped += 1
                continue
            windows.append((start, end))
        queries.append(
            MomentQuery(str(query_id), video, video, text.strip(), video_len, tuple(windows), segment_windows=segments)
        )
    return LoadResult(queries, {"clipped": clipped, "dropped": dropped})
