"""LSMDC (Large Scale Movie Description Challenge) 2016 text-to-video retrieval.

Files: ``LSMDC16_annos_training.csv``, ``LSMDC16_annos_val.csv`` and the 1000-clip test
``LSMDC16_challenge_1000_publictect.csv`` (the typo is the real name). No header, TAB-separated,
exactly 6 fields, split on TAB only (sentences contain commas and quotes)::

    CLIP_ID  START_ALIGNED  END_ALIGNED  START_EXTRACTED  END_EXTRACTED  SENTENCE

Times are ``hh.mm.ss.mmm``. Videos live at ``videos/<movie_dir>/<CLIP_ID>.avi`` where the movie
folder is the CLIP_ID without its trailing ``_<time range>``; ``video_name`` is that relative
path, and ``VideoIndex`` also matches it by basename.
"""

from __future__ import annotations

import re
from pathlib import Path

from tempvl_core.data.errors import AnnotationError
from tempvl_core.data.loaders._io import read_lines
from tempvl_core.data.records import LoadResult, RetrievalItem

SPLITS = ("train", "val", "test")
FILES = {
    "train": "LSMDC16_annos_training.csv",
    "val": "LSMDC16_annos_val.csv",
    "test": "LSMDC16_challenge_1000_publictect.csv",
}
_TIME = re.compile(r"^(\d+)\.(\d{2})\.(\d{2})\.(\d{1,3})$")
_SHAPE = "6 TAB-separated fields 'CLIP_ID START_ALIGNED END_ALIGNED START_EXTRACTED END_EXTRACTED SENTENCE'"


def parse_lsmdc_time(text: str) -> float:
    """``hh.mm.ss.mmm`` -> seconds; raises ValueError on another shape."""
    match = _TIME.match(text.strip())
    if not match:
        raise ValueError(text)
    hours, minutes, seconds, millis = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds) + int(millis.ljust(3, "0")) / 1000


def movie_dir(clip_id: str) -> str:
    """``0001_American_Beauty_00.00.51.926-00.00.54.129`` -> ``0001_American_Beauty``."""
    return clip_id.rsplit("_", 1)[0]


def read_lsmdc(path: Path, split: str) -> LoadResult[RetrievalItem]:
    """One item per line (one sentence per clip), file order.

    Training ids repeat (one clip, several sentences): every line is kept and
    ``stats["repeated_ids"]`` counts lines whose CLIP_ID appeared before.
    """
    items, seen, repeated = [], set(), 0
    for number, line in read_lines(path, "LSMDC annotations"):
        fields = line.split("\t")
        if len(fields) != 6 or not fields[0].strip() or not fields[5].strip():
            raise AnnotationError(path, f"line {number}", _SHAPE, f"{len(fields)} fields: {line}")
        for column, text in zip(("START_ALIGNED", "END_ALIGNED", "START_EXTRACTED", "END_EXTRACTED"), fields[1:5]):
            try:
                parse_lsmdc_time(text)
            except ValueError:
                raise AnnotationError(path, f"line {number} field {column}", "a time 'hh.mm.ss.mmm'", text) from None
        clip = fields[0].strip()
        repeated += clip in seen
        seen.add(clip)
        items.append(RetrievalItem(clip, f"{movie_dir(clip)}/{clip}.avi", (fields[5].strip(),), split))
    return LoadResult(items, {"repeated_ids": repeated})
