"""Per-query prediction records, their metrics, and the Moment-DETR files derived from them.

``predictions.jsonl`` holds one row per query (see :meth:`QueryPrediction.to_row`). From those
rows alone :func:`write_moment_detr` writes Moment-DETR's prediction JSONL and a matching
ground-truth JSONL, which ``tempvl-bench score --family moment-retrieval --protocol <single|qvhighlights>``
re-scores to the numbers of results.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from tempvl_bench.api import (
    MomentGroundTruth,
    MomentPrediction,
    moment_metrics_single,
    moment_outcomes_single,
    qvhighlights_metrics,
    qvhighlights_outcomes,
)
from tempvl_core.atomic import atomic_file

PREDICTIONS_FILE = "moment_detr_predictions.jsonl"
GROUND_TRUTH_FILE = "moment_detr_ground_truth.jsonl"
PROTOCOLS = ("single", "qvhighlights")


def json_qid(query_id: str) -> int | str:
    """QVHighlights qids are integers in the public files: keep them so, so that our prediction
    file scores against the official ground truth; other ids stay strings."""
    return int(query_id) if query_id.isdigit() and str(int(query_id)) == query_id else query_id


@dataclass
class QueryPrediction:
    """What the model predicted for one query, with the ground truth it is scored against."""

    qid: int | str
    vid: str
    query: str
    duration: float
    #: ``[K, 3]`` windows ``[start_s, end_s, score]`` in rank order.
    windows: np.ndarray
    relevant_windows: list[tuple[float, float]]
    num_frames: int
    #: Per 2-second clip (QVHighlights only).
    saliency: np.ndarray | None = None
    relevant_clip_ids: list[int] | None = None
    saliency_scores: list[list[int]] | None = None

    def to_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "qid": self.qid,
            "vid": self.vid,
            "query": self.query,
            "duration": self.duration,
            "num_frames": self.num_frames,
            # Full float precision: the file must re-score to exactly the reported numbers.
            "pred_relevant_windows": self.windows.tolist(),
            "relevant_windows": [list(w) for w in self.relevant_windows],
        }
        if self.saliency is not None:
            row["pred_saliency_scores"] = self.saliency.tolist()
            row["relevant_clip_ids"] = self.relevant_clip_ids
            row["saliency_scores"] = self.saliency_scores
        return row


def metrics_from_rows(rows: Sequence[dict[str, Any]], protocol: str) -> dict[str, float]:
    """The protocol's metrics for prediction rows (:meth:`QueryPrediction.to_row`)."""
    predictions, truth = _parsed(rows, protocol)
    if protocol == "single":
        return moment_metrics_single(predictions, truth)
    return qvhighlights_metrics(predictions, truth)


def outcomes_from_rows(rows: Sequence[dict[str, Any]], protocol: str) -> dict[str, np.ndarray]:
    """The metrics of :func:`metrics_from_rows` per query, in row order."""
    predictions, truth = _parsed(rows, protocol)
    if protocol == "single":
        return moment_outcomes_single(predictions, truth)
    return qvhighlights_outcomes(predictions, truth)


def _parsed(rows: Sequence[dict[str, Any]], protocol: str):
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown moment-retrieval protocol {protocol!r}; expected one of {PROTOCOLS}")
    if not rows:
        raise ValueError("no query was evaluated")
    if protocol == "single":
        ranked, truth = {}, {}
        for row in rows:
            if len(row["relevant_windows"]) != 1:
                raise ValueError(f"query {row['qid']!r}: the single-moment protocol needs exactly one "
                                 f"ground-truth window, got {len(row['relevant_windows'])}")
            start, end = row["relevant_windows"][0]
            ranked[row["qid"]] = np.asarray(row["pred_relevant_windows"], dtype=np.float64)[:, :2]
            # As 2D-TAN (and `tempvl-bench score`): ground truth clipped to the video.
            truth[row["qid"]] = (max(0.0, start), min(row["duration"], end))
        return ranked, truth
    predictions, queries = [], []
    for row in rows:
        saliency = row.get("pred_saliency_scores")
        predictions.append(MomentPrediction(row["qid"], np.asarray(row["pred_relevant_windows"], dtype=np.float64),
                                            None if saliency is None else np.asarray(saliency, dtype=np.float64)))
        queries.append(MomentGroundTruth(row["qid"], row["duration"], [tuple(w) for w in row["relevant_windows"]],
                                         row.get("relevant_clip_ids"), row.get("saliency_scores")))
    return predictions, queries


def moment_detr_prediction(row: dict[str, Any]) -> dict[str, Any]:
    """Moment-DETR's prediction line: ``qid, query, vid, pred_relevant_windows[, pred_saliency_scores]``."""
    out = {key: row[key] for key in ("qid", "query", "vid", "pred_relevant_windows")}
    if "pred_saliency_scores" in row:
        out["pred_saliency_scores"] = row["pred_saliency_scores"]
    return out


def moment_detr_ground_truth(row: dict[str, Any]) -> dict[str, Any]:
    """QVHighlights' ground-truth line (``relevant_clip_ids``/``saliency_scores`` when known)."""
    out = {key: row[key] for key in ("qid", "query", "duration", "vid")}
    if row.get("relevant_clip_ids") is not None:
        out["relevant_clip_ids"] = row["relevant_clip_ids"]
        out["saliency_scores"] = row["saliency_scores"]
    out["relevant_windows"] = row["relevant_windows"]
    return out


def _write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    with atomic_file(path, "w") as handle:
        for record in records:
            handle.write(json.dumps(record, allow_nan=False) + "\n")


def write_moment_detr(rows: Sequence[dict[str, Any]], directory: Path) -> tuple[Path, Path]:
    """Write Moment-DETR prediction and ground-truth JSONL files; returns their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    predictions, truth = directory / PREDICTIONS_FILE, directory / GROUND_TRUTH_FILE
    _write_jsonl(predictions, (moment_detr_prediction(r) for r in rows))
    _write_jsonl(truth, (moment_detr_ground_truth(r) for r in rows))
    return predictions, truth
