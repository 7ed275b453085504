"""ActivityNet Captions: dense-caption moments and paragraph retrieval.

Files: ``train.json``, ``val_1.json``, ``val_2.json`` (2D-TAN ships them as ``train.json``,
``val.json``, ``test.json``: the ``read_*`` functions take a path so both names work), each a
dict keyed ``v_<ytid>`` -> ``{"duration", "timestamps": [[s, e], ...], "sentences": [...]}``.
Segments are clipped to ``[0, duration]`` and dropped when empty; both are counted.
Video files are ``videos/v_<ytid>.mp4``; ``VideoIndex`` also finds them without ``v_``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from tempvl_core.data.errors import AnnotationError
from tempvl_core.data.loaders._io import as_pair, as_str, clip_window, get_key, num_field, read_json
from tempvl_core.data.records import LoadResult, MomentQuery, RetrievalItem

SPLITS = ("train", "val_1", "val_2")


def _videos(path: Path) -> Iterator[tuple[str, float, list[tuple[float, float]], list[str]]]:
    """Checked ``(video key, duration, timestamps, sentences)`` per video in file order."""
    data = read_json(path, "ActivityNet Captions annotations")
    if not isinstance(data, dict):
        raise AnnotationError(path, "top level", "a JSON object keyed by video id", type(data).__name__)
    for key, entry in data.items():
        where = f"key {key!r}"
        duration = num_field(entry, "duration", path, where)
        stamps = get_key(entry, "timestamps", path, where)
        sentences = get_key(entry, "sentences", path, where)
        if not isinstance(stamps, list) or not isinstance(sentences, list) or len(stamps) != len(sentences):
            raise AnnotationError(path, where, "'timestamps' and 'sentences' lists of equal length", entry)
        windows = [as_pair(s, path, f"{where} 'timestamps'[{i}]") for i, s in enumerate(stamps)]
        texts = [as_str(s, path, f"{where} 'sentences'[{i}]") for i, s in enumerate(sentences)]
        yield key, duration, windows, texts


def _video_name(key: str) -> str:
    return f"{key}.mp4"


def read_anet_captions_moments(path: Path) -> LoadResult[MomentQuery]:
    """One query per sentence; ``query_id`` is ``"<video key>#<sentence index>"``.

    ``stats``: ``clipped`` (segments cut to ``[0, duration]``), ``dropped`` (empty afterwards).
    """
    queries, clipped, dropped = [], 0, 0
    for key, duration, windows, texts in _videos(path):
        for index, ((start, end), text) in enumerate(zip(windows, texts)):
            window, was_clipped = clip_window(start, end, duration)
            clipped += was_clipped
            if window is None:
                dropped += 1
                continue
            queries.append(MomentQuery(f"{key}#{index}", key, _video_name(key), text.strip(), duration, (window,)))
    return LoadResult(queries, {"clipped": clipped, "dropped": dropped})


def read_anet_captions_retrieval(
    path: Path, split: str, id_list: Path | None = None
) -> LoadResult[RetrievalItem]:
    """Paragraph retrieval: per video, its sentences (stripped) joined with a space, file order.

    ``id_list`` (``train_ids.json``/``val_ids.json``, a JSON list of keys) restricts and orders
    the videos; ``stats["missing"]`` counts listed ids absent from the annotations.
    """
    paragraphs = {key: " ".join(t.strip() for t in texts) for key, _, _, texts in _videos(path)}
    missing = 0
    order = list(paragraphs)
    if id_list is not None:
        ids = read_json(id_list, "ActivityNet Captions id list")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise AnnotationError(id_list, "top level", "a JSON list of video ids", type(ids).__name__)
        order = [i if i in paragraphs else f"v_{i}" for i in ids]
        missing = sum(i not in paragraphs for i in order)
        order = [i for i in order if i in paragraphs]
    items = [RetrievalItem(key, _video_name(key), (paragraphs[key],), split) for key in order]
    return LoadResult(items, {"missing": missing})
