"""Detections and ground truth in the official ActivityNet formats, and as metric tables.

The run writes ``submission.json`` (``{"version", "results": {video: [{"label", "score",
"segment"}]}, "external_data"}``, the format the official evaluator and ``tempvl-bench score
--family tal`` read) and ``ground_truth.json`` (``{"database": {video: {"subset", "duration",
"annotations": [{"label", "segment"}]}}}``) next to results.json. The metrics of the run are
computed from exactly these rows, so re-scoring the files gives the same numbers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from tempvl_bench.api import SegmentTable
from tempvl_core.atomic import write_atomic

SUBMISSION_FILE = "submission.json"
GROUND_TRUTH_FILE = "ground_truth.json"


def detection_rows(detections, classes: Sequence[str]) -> list[dict]:
    """:class:`~.decode.Detection` list -> submission rows (seconds and scores rounded to 1e-6)."""
    return [
        {"label": classes[d.label], "score": round(d.score, 6), "segment": [round(d.start, 6), round(d.end, 6)]}
        for d in detections
    ]


def prediction_table(results: dict[str, list[dict]]) -> SegmentTable:
    """Submission rows -> predictions table (submission order breaks score ties)."""
    videos, labels, starts, ends, scores = [], [], [], [], []
    for video, rows in results.items():
        for row in rows:
            videos.append(video)
            labels.append(row["label"])
            starts.append(row["segment"][0])
            ends.append(row["segment"][1])
            scores.append(row["score"])
    return SegmentTable(videos, labels, np.array(starts), np.array(ends), np.array(scores))


def ground_truth_table(videos) -> SegmentTable:
    """Ground-truth table of :class:`ActionVideo` records, file order."""
    rows = [(v.video_id, inst) for v in videos for inst in v.instances]
    return SegmentTable(
        [vid for vid, _ in rows],
        [inst.label for _, inst in rows],
        np.array([inst.start for _, inst in rows]),
        np.array([inst.end for _, inst in rows]),
    )


def write_submission(path: Path, results: dict[str, list[dict]], *, external_data: bool = False) -> None:
    payload = {
        "version": "VERSION 1.3",
        "results": results,
        "external_data": {"used": external_data, "details": "TemPVL frame features, tempvl-bench localization head"},
    }
    write_atomic(path, json.dumps(payload) + "\n")


def write_ground_truth(path: Path, videos) -> None:
    """The evaluated videos in the ActivityNet v1.3 layout (``subset`` as the loader names it)."""
    database = {
        v.video_id: {
            "subset": v.subset,
            "duration": v.duration,
            "annotations": [{"label": i.label, "segment": [i.start, i.end]} for i in v.instances],
        }
        for v in videos
    }
    write_atomic(path, json.dumps({"version": "tempvl-bench", "database": database}) + "\n")
