"""THUMOS14 temporal action localization: official per-class files and ActionFormer JSON.

Official files: ``annotations_val/<Class>_val.txt`` and ``annotations_test/<Class>_test.txt``,
lines ``<video_name>  <start> <end>`` (two spaces after the name, seconds). ``Ambiguous_*.txt``
marks spans excluded from evaluation: they are counted, not loaded. Class ids are the 20
class names in alphabetical order (0-19), as in ActionFormer.

ActionFormer ``thumos14.json``: ``{"version", "database": {video: {"subset": "Validation"|"Test",
"duration", "fps", "annotations": [{"label", "segment", "segment(frames)", "label_id"}]}}}``.
mmtad ``thumos14_{val,test}.json``: ``{video: {"segments": [[s, e], ...], "labels": [...],
"duration", "FPS", "num_frame", "segments_f"}}`` with ``Ambiguous`` spans included (excluded
and counted here). All three sources describe the same 200 validation / 212 test videos.
"""

from __future__ import annotations

from pathlib import Path

from tempvl_core.data.errors import AnnotationError
from tempvl_core.data.loaders._io import (
    as_number, as_pair, as_str, check_split, get_key, num_field, read_json, read_lines, str_field,
)
from tempvl_core.data.records import ActionInstance, ActionVideo, LoadResult

SPLITS = ("val", "test")
AMBIGUOUS = "Ambiguous"
_SUBSET_NAMES = {"val": "validation", "test": "test"}


def _class_files(ann_dir: Path, split: str) -> dict[str, Path]:
    suffix = f"_{split}.txt"
    files = {p.name[: -len(suffix)]: p for p in sorted(Path(ann_dir).glob(f"*{suffix}"))}
    if not any(name != AMBIGUOUS for name in files):
        raise AnnotationError(ann_dir, "", f"per-class files '<Class>{suffix}'", "none found")
    return files


def read_thumos14_txt(ann_dir: Path, split: str) -> LoadResult[ActionVideo]:
    """Videos of ``split`` (``val``/``test``) from the official per-class files in ``ann_dir``.

    Videos come sorted by name with instances sorted by (start, end, label). Videos whose only
    spans are ``Ambiguous`` are left out. ``stats``: ``ambiguous`` spans,
    ``ambiguous_only_videos``. Durations are not in these files (``duration`` is ``None``).
    """
    check_split(split, SPLITS, "thumos14")
    files = _class_files(ann_dir, split)
    classes = sorted(name for name in files if name != AMBIGUOUS)
    per_video: dict[str, list[ActionInstance]] = {}
    ambiguous_videos: set[str] = set()
    ambiguous = 0
    for name, path in files.items():
        for number, line in read_lines(path, f"THUMOS14 {name} annotations"):
            fields = line.split()
            if len(fields) != 3:
                raise AnnotationError(path, f"line {number}", "'<video_name>  <start> <end>'", line)
            try:
                start, end = as_number(fields[1], path, ""), as_number(fields[2], path, "")
            except AnnotationError:
                raise AnnotationError(path, f"line {number}", "numeric '<start> <end>' in seconds", line) from None
            if name == AMBIGUOUS:
                ambiguous += 1
                ambiguous_videos.add(fields[0])
                continue
            instance = ActionInstance(name, start, end, classes.index(name))
            per_video.setdefault(fields[0], []).append(instance)
    videos = [
        ActionVideo(vid, f"{vid}.mp4", None, _SUBSET_NAMES[split], tuple(sorted(inst, key=_instance_key)))
        for vid, inst in sorted(per_video.items())
    ]
    stats = {"ambiguous": ambiguous, "ambiguous_only_videos": len(ambiguous_videos - per_video.keys())}
    return LoadResult(videos, stats)


def _instance_key(instance: ActionInstance) -> tuple[float, float, str]:
    return instance.start, instance.end, instance.label


def read_thumos14_actionformer(path: Path, split: str) -> LoadResult[ActionVideo]:
    """Videos of ``split`` (``val``/``test``) from an ActionFormer ``thumos14.json``, file order.

    Instances keep file order; ``stats["dropped"]`` counts segments with ``start >= end``.
    """
    check_split(split, SPLITS, "thumos14")
    data = read_json(path, "ActionFormer THUMOS14 annotations")
    database = get_key(data, "database", path, "top level")
    if not isinstance(database, dict):
        raise AnnotationError(path, "key 'database'", "a JSON object keyed by video name", type(database).__name__)
    wanted = _SUBSET_NAMES[split]
    videos, dropped = [], 0
    for vid, entry in database.items():
        where = f"key 'database'.{vid!r}"
        subset = str_field(entry, "subset", path, where)
        if subset.lower() != wanted:
            continue
        duration = num_field(entry, "duration", path, where)
        fps = as_number(entry["fps"], path, f"{where} 'fps'") if "fps" in entry else None
        annotations = get_key(entry, "annotations", path, where)
        if not isinstance(annotations, list):
            raise AnnotationError(path, f"{where} 'annotations'", "a list", annotations)
        instances = []
        for i, ann in enumerate(annotations):
            at = f"{where} 'annotations'[{i}]"
            start, end = as_pair(get_key(ann, "segment", path, at), path, f"{at} 'segment'")
            label = str_field(ann, "label", path, at)
            label_id = ann.get("label_id")
            if label_id is not None and (isinstance(label_id, bool) or not isinstance(label_id, int)):
                raise AnnotationError(path, f"{at} 'label_id'", "an integer class id", label_id)
            if start >= end:
                dropped += 1
                continue
            instances.append(ActionInstance(label, start, end, label_id))
        videos.append(ActionVideo(vid, f"{vid}.mp4", duration, wanted, tuple(instances), fps))
    return LoadResult(videos, {"dropped": dropped})


def read_thumos14_mmtad(path: Path, split: str) -> LoadResult[ActionVideo]:
    """Videos of an mmtad ``thumos14_<split>.json`` in file order, ``Ambiguous`` spans left out.

    Class ids are the sorted non-ambiguous labels of the file. ``stats``: ``ambiguous``,
    ``dropped`` (segments with ``start >= end``).
    """
    check_split(split, SPLITS, "thumos14")
    data = read_json(path, "mmtad THUMOS14 annotations")
    if not isinstance(data, dict):
        raise AnnotationError(path, "top level", "a JSON object keyed by video name", type(data).__name__)
    parsed, labels = [], set()
    for vid, entry in data.items():
        where = f"key {vid!r}"
        segments, names = get_key(entry, "segments", path, where), get_key(entry, "labels", path, where)
        if not isinstance(segments, list) or not isinstance(names, list) or len(segments) != len(names):
            raise AnnotationError(path, where, "'segments' and 'labels' lists of equal length", entry)
        pairs = [as_pair(seg, path, f"{where} 'segments'[{i}]") for i, seg in enumerate(segments)]
        names = [as_str(n, path, f"{where} 'labels'[{i}]") for i, n in enumerate(names)]
        fps = num_field(entry, "FPS", path, where) if "FPS" in entry else None
        parsed.append((vid, num_field(entry, "duration", path, where), fps, pairs, names))
        labels.update(n for n in names if n != AMBIGUOUS)
    ids = {name: i for i, name in enumerate(sorted(labels))}
    videos, ambiguous, dropped = [], 0, 0
    for vid, duration, fps, pairs, names in parsed:
        instances = []
        for (start, end), name in zip(pairs, names):
            if name == AMBIGUOUS:
                ambiguous += 1
            elif start >= end:
                dropped += 1
            else:
                instances.append(ActionInstance(name, start, end, ids[name]))
        videos.append(ActionVideo(vid, f"{vid}.mp4", duration, _SUBSET_NAMES[split], tuple(instances), fps))
    return LoadResult(videos, {"ambiguous": ambiguous, "dropped": dropped})
