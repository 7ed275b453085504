"""ActivityNet v1.3 temporal action localization: the official JSON and the BSN files.

Official ``activity_net.v1-3.min.json``: ``{"version", "taxonomy": [...], "database": {ytid:
{"duration", "subset": "training"|"validation"|"testing", "resolution", "url", "annotations":
[{"segment": [s, e], "label"}]}}}`` with keys WITHOUT ``v_``.
BSN files: ``anet_anno_action.json`` (``{"v_<ytid>": {"duration_second", "duration_frame",
"annotations", "feature_frame"}}``) with the subset and fps of each video in
``video_info_new.csv`` (header ``video,numFrame,seconds,fps,rfps,subset,featureFrame``).

Both give records with ``video_id`` = the bare YouTube id (the key the official evaluator
uses) and ``video_name`` = ``v_<ytid>.mp4``. Segments are clipped to ``[0, duration]`` and
dropped when empty; both are counted. ``label_id`` is the index of the label in the sorted
list of class names found in the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tempvl_core.data.errors import AnnotationError
from tempvl_core.data.loaders._io import (
    as_number, as_pair, check_split, clip_window, get_key, num_field, str_field, read_csv_rows,
    read_json,
)
from tempvl_core.data.records import ActionInstance, ActionVideo, LoadResult

SPLITS = ("training", "validation", "testing")


def _bare_id(key: str) -> str:
    return key[2:] if key.startswith("v_") else key


def _labels(path: Path, videos: dict[str, Any]) -> list[str]:
    labels = set()
    for key, entry in videos.items():
        annotations = get_key(entry, "annotations", path, f"key {key!r}")
        if not isinstance(annotations, list):
            raise AnnotationError(path, f"key {key!r} 'annotations'", "a list", annotations)
        for i, ann in enumerate(annotations):
            labels.add(str_field(ann, "label", path, f"key {key!r} 'annotations'[{i}]"))
    return sorted(labels)


def _instances(
    path: Path, key: str, entry: Any, duration: float, ids: dict[str, int], stats: dict[str, int]
) -> tuple[ActionInstance, ...]:
    out = []
    for i, ann in enumerate(entry["annotations"]):
        at = f"key {key!r} 'annotations'[{i}]"
        start, end = as_pair(get_key(ann, "segment", path, at), path, f"{at} 'segment'")
        window, was_clipped = clip_window(start, end, duration)
        stats["clipped"] += was_clipped
        if window is None:
            stats["dropped"] += 1
            continue
        out.append(ActionInstance(ann["label"], window[0], window[1], ids[ann["label"]]))
    return tuple(out)


def read_activitynet_v13(path: Path, subset: str) -> LoadResult[ActionVideo]:
    """Videos of ``subset`` (``training``/``validation``/``testing``) in file order."""
    check_split(subset, SPLITS, "activitynet")
    data = read_json(path, "ActivityNet v1.3 annotations")
    database = get_key(data, "database", path, "top level")
    if not isinstance(database, dict):
        raise AnnotationError(path, "key 'database'", "a JSON object keyed by YouTube id", type(database).__name__)
    ids = {label: i for i, label in enumerate(_labels(path, database))}
    stats = {"clipped": 0, "dropped": 0}
    videos = []
    for key, entry in database.items():
        where = f"key {key!r}"
        entry_subset = str_field(entry, "subset", path, where)
        if entry_subset not in SPLITS:
            raise AnnotationError(path, f"{where} 'subset'", f"one of {list(SPLITS)}", entry_subset)
        if entry_subset != subset:
            continue
        duration = num_field(entry, "duration", path, where)
        instances = _instances(path, key, entry, duration, ids, stats)
        videos.append(ActionVideo(_bare_id(key), f"v_{_bare_id(key)}.mp4", duration, subset, instances))
    return LoadResult(videos, stats)


def read_activitynet_bsn(anno_json: Path, video_info_csv: Path, subset: str) -> LoadResult[ActionVideo]:
    """Videos of ``subset`` from the BSN files, in the CSV's order.

    ``stats["missing"]`` counts CSV videos absent from the JSON (left out).
    """
    check_split(subset, SPLITS, "activitynet")
    data = read_json(anno_json, "BSN ActivityNet annotations")
    if not isinstance(data, dict):
        raise AnnotationError(anno_json, "top level", "a JSON object keyed by v_<ytid>", type(data).__name__)
    ids = {label: i for i, label in enumerate(_labels(anno_json, data))}
    stats = {"clipped": 0, "dropped": 0, "missing": 0}
    videos = []
    for number, row in read_csv_rows(video_info_csv, "BSN video info", ("video", "subset", "fps")):
        if row["subset"] not in SPLITS:
            where = f"line {number} column 'subset'"
            raise AnnotationError(video_info_csv, where, f"one of {list(SPLITS)}", row["subset"])
        if row["subset"] != subset:
            continue
        key = row["video"]
        if key not in data:
            stats["missing"] += 1
            continue
        where = f"key {key!r}"
        duration = num_field(data[key], "duration_second", anno_json, where)
        fps = as_number(row["fps"], video_info_csv, f"line {number} column 'fps'")
        instances = _instances(anno_json, key, data[key], duration, ids, stats)
        videos.append(ActionVideo(_bare_id(key), f"v_{_bare_id(key)}.mp4", duration, subset, instances, fps))
    return LoadResult(videos, stats)
