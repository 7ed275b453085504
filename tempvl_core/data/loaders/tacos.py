"""TACoS moment localization in the 2D-TAN format.

Files ``train.json``/``val.json``/``test.json``: a dict keyed by video file name (``"s17-d69.avi"``)
-> ``{"timestamps": [[start_frame, end_frame], ...], "sentences": [...], "fps", "num_frames"}``.
Timestamps are FRAME indices: seconds = frame / fps. Windows are clipped to the video length
``num_frames / fps`` and dropped when empty; both are counted.
"""

from __future__ import annotations

from pathlib import Path

from tempvl_core.data.errors import AnnotationError
from tempvl_core.data.loaders._io import as_pair, as_str, clip_window, get_key, num_field, read_json
from tempvl_core.data.records import LoadResult, MomentQuery

SPLITS = ("train", "val", "test")


def read_tacos(path: Path) -> LoadResult[MomentQuery]:
    """One query per sentence, ``query_id`` ``"<video>#<index>"``, windows in seconds."""
    data = read_json(path, "TACoS annotations")
    if not isinstance(data, dict):
        raise AnnotationError(path, "top level", "a JSON object keyed by video file name", type(data).__name__)
    queries, clipped, dropped = [], 0, 0
    for video, entry in data.items():
        where = f"key {video!r}"
        fps = num_field(entry, "fps", path, where)
        frames = num_field(entry, "num_frames", path, where)
        if fps <= 0:
            raise AnnotationError(path, f"{where} 'fps'", "a positive frame rate", fps)
        stamps = get_key(entry, "timestamps", path, where)
        sentences = get_key(entry, "sentences", path, where)
        if not isinstance(stamps, list) or not isinstance(sentences, list) or len(stamps) != len(sentences):
            raise AnnotationError(path, where, "'timestamps' and 'sentences' lists of equal length", entry)
        duration = frames / fps
        for index, (stamp, sentence) in enumerate(zip(stamps, sentences)):
            start, end = as_pair(stamp, path, f"{where} 'timestamps'[{index}]")
            text = as_str(sentence, path, f"{where} 'sentences'[{index}]")
            window, was_clipped = clip_window(start / fps, end / fps, duration)
            clipped += was_clipped
            if window is None:
                dropped += 1
                continue
            queries.append(MomentQuery(f"{video}#{index}", video, video, text.strip(), duration, (window,)))
    return LoadResult(queries, {"clipped": clipped, "dropped": dropped})
