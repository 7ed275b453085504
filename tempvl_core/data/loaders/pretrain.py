"""Pretraining corpora: WebVid (CSV) and CC3M (TSV).

WebVid ``results_*.csv``: header ``videoid,name,page_idx,page_dir,duration,contentUrl`` (columns
found by name), ``name`` is the caption and ``duration`` ISO-8601 (``PT00H00M17S``). Videos are
``videos/<page_dir>/<videoid>.mp4``, or flat ``videos/<videoid>.mp4`` when ``page_dir`` is empty.

CC3M ``Train_GCC-training.tsv``: no header, ``caption<TAB>url`` per line. Images are
``images/<row index>.jpg`` with the 0-based row index, and are used as 1-frame videos.
"""

from __future__ import annotations

import re
from pathlib import Path

from tempvl_core.data.errors import AnnotationError
from tempvl_core.data.loaders._io import physical_lines, read_csv_rows, read_text
from tempvl_core.data.records import LoadResult, PretrainItem

_ISO_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def parse_iso_duration(text: str) -> float:
    """ISO-8601 duration (``PT00H00M17S``, ``PT1M5.5S``, ``P1DT2H``) -> seconds."""
    match = _ISO_DURATION.match(text.strip())
    if not match or text.strip() in ("P", "PT"):
        raise ValueError(text)
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + seconds


def read_webvid(path: Path) -> LoadResult[PretrainItem]:
    """WebVid pairs in file order; ``stats["flat"]`` counts rows with an empty ``page_dir``."""
    items, flat = [], 0
    for number, row in read_csv_rows(path, "WebVid CSV", ("videoid", "name", "page_dir", "duration")):
        try:
            duration = parse_iso_duration(row["duration"])
        except ValueError:
            where, expected = f"line {number} column 'duration'", "an ISO-8601 duration like 'PT00H00M17S'"
            raise AnnotationError(path, where, expected, row["duration"]) from None
        videoid, page_dir = row["videoid"].strip(), row["page_dir"].strip()
        if not videoid:
            raise AnnotationError(path, f"line {number} column 'videoid'", "a video id", row["videoid"])
        flat += not page_dir
        name = f"{page_dir}/{videoid}.mp4" if page_dir else f"{videoid}.mp4"
        items.append(PretrainItem(name, row["name"], duration, False))
    return LoadResult(items, {"flat": flat})


def read_cc3m(path: Path) -> LoadResult[PretrainItem]:
    """CC3M pairs; the image of line ``i`` (0-based, counting every line) is ``<i>.jpg``.

    Split on TAB only: captions carry quotes that a CSV parser would mangle.
    """
    items = []
    for index, line in enumerate(physical_lines(read_text(path, "CC3M TSV"))):
        fields = line.split("\t")
        if len(fields) != 2 or not fields[0].strip():
            raise AnnotationError(path, f"line {index + 1}", "'caption<TAB>url'", line)
        items.append(PretrainItem(f"{index}.jpg", fields[0].strip(), None, True))
    return LoadResult(items, {})
