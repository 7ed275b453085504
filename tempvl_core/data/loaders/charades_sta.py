"""Charades-STA moment localization.

Files (``<root>/``): ``charades_sta_{split}.txt`` with lines ``<vid> <start> <end>##<sentence>``
and ``Charades_v1_{split}.csv`` whose ``length`` column gives each video's duration. Ends past
the duration are clipped to it; windows with ``start >= end`` (before or after clipping) are
dropped. Both are counted. Videos: ``Charades_v1_480/<vid>.mp4``.
"""

from __future__ import annotations

from pathlib import Path

from tempvl_core.data.errors import AnnotationError
from tempvl_core.data.loaders._io import as_number, clip_window, read_csv_rows, read_lines
from tempvl_core.data.records import LoadResult, MomentQuery

SPLITS = ("train", "test")
LINE_SHAPE = "'<vid> <start> <end>##<sentence>'"


def read_charades_durations(csv_path: Path) -> dict[str, float]:
    """Video id -> duration in seconds from a ``Charades_v1_*.csv`` (columns found by name)."""
    durations = {}
    for number, row in read_csv_rows(csv_path, "Charades video list", ("id", "length")):
        try:
            durations[row["id"]] = as_number(row["length"], csv_path, "")
        except AnnotationError:
            where = f"line {number} column 'length'"
            raise AnnotationError(csv_path, where, "seconds as a number", row["length"]) from None
    return durations


def read_charades_sta(
    sta_txt: Path, durations_csv: Path | None = None, split: str | None = None
) -> LoadResult[MomentQuery]:
    """Moment queries of one ``charades_sta_*.txt``, in line order.

    ``durations_csv`` (``Charades_v1_*.csv``) gives the durations used to clip; without it ends
    are kept as written and ``duration`` is ``None``. ``stats``: ``clipped``, ``dropped``, and
    ``no_duration`` (queries whose video the CSV does not list: kept, unclipped).
    ``query_id`` is ``"<split or file stem>:<line number>"``.
    """
    durations = read_charades_durations(durations_csv) if durations_csv is not None else None
    prefix = split or Path(sta_txt).stem
    queries, clipped, dropped, no_duration = [], 0, 0, 0
    for number, line in read_lines(sta_txt, "Charades-STA annotations"):
        head, sep, sentence = line.partition("##")
        fields = head.split()
        if not sep or len(fields) != 3 or not sentence.strip():
            raise AnnotationError(sta_txt, f"line {number}", LINE_SHAPE, line)
        vid, start_text, end_text = fields
        try:
            start, end = as_number(start_text, sta_txt, ""), as_number(end_text, sta_txt, "")
        except AnnotationError:
            raise AnnotationError(sta_txt, f"line {number}", f"numeric start and end in {LINE_SHAPE}", line) from None
        duration = None
        if durations is not None:
            duration = durations.get(vid)
            no_duration += duration is None
        window, was_clipped = clip_window(start, end, duration)
        clipped += was_clipped
        if window is None:
            dropped += 1
            continue
        queries.append(
            MomentQuery(f"{prefix}:{number}", vid, f"{vid}.mp4", sentence.strip(), duration, (window,))
        )
    stats = {"clipped": clipped, "dropped": dropped}
    if durations is not None:
        stats["no_duration"] = no_duration
    return LoadResult(queries, stats)
