"""What the leaderboard's text formats and its HTML report share: the :class:`Board` of one
task's evaluation set, the columns naming each run, and how values and their intervals are shown."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from tempvl_bench.metrics import metric_direction
from tempvl_bench.report.board_runs import model_name
from tempvl_bench.report.results import ResultRecord

ARROW = {"higher": "↑", "lower": "↓"}
INFO_COLUMNS = ("run", "model", "backbone", "mode", "checkpoint", "data", "n")


@dataclass
class Board:
    task: str
    metrics: list[str]
    #: Best first by ``primary``, the task's primary metric (direction-aware).
    rows: list[ResultRecord]
    primary: str | None = None
    #: The trivial baselines (name -> metrics) and their intervals, from the board's latest run.
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    baselines_ci95: dict[str, dict[str, list[float] | None]] = field(default_factory=dict)
    #: The evaluation set every row was evaluated on (:meth:`EvaluationSet.describe`).
    evaluation: str = ""
    #: None for the task's ranked board; otherwise why these runs stand apart from it.
    section: str | None = None

    @property
    def title(self) -> str:
        return self.task + (f" ({self.section})" if self.section else "")

    def best_indices(self, metric: str) -> set[int]:
        """Rows holding the best value of ``metric``: every one of them when several tie."""
        values = [(i, number(r["metrics"].get(metric))) for i, r in enumerate(self.rows)]
        values = [(i, v) for i, v in values if v is not None]
        if not values:
            return set()
        best = (max if metric_direction(metric) == "higher" else min)(v for _, v in values)
        return {i for i, v in values if v == best}


def number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def created(record: ResultRecord) -> str:
    return record.get("created_at") or ""


def baseline_record(board: Board, name: str) -> dict:
    """A baseline as a row of the board (never ranked or marked best)."""
    latest = max(board.rows, key=created)
    return {"run_id": f"baseline: {name}", "model": {"name": "-"}, "backbone": "-", "mode": "baseline", "checkpoint_sha256": None,
            "demo": latest.get("demo"), "split": latest.get("split", ""), "num_samples": latest.get("num_samples", ""),
            "metrics": board.baselines[name], "ci95": board.baselines_ci95.get(name, {})}


def model_key(record: ResultRecord) -> str:
    """What a group summary (and a plot legend) calls one model: model, backbone (unless it is
    the model's own name, as for hf-clip), mode, checkpoint."""
    checkpoint = record.get("checkpoint_sha256")
    model, backbone = model_name(record), record.get("backbone") or "?"
    parts = [model, backbone if backbone != model else None, record["mode"], checkpoint[:12] if checkpoint else None]
    return " ".join(part for part in parts if part)


def info_cells(record: ResultRecord) -> list[str]:
    checkpoint = record.get("checkpoint_sha256") or ""
    return [
        record["run_id"],
        model_name(record),
        record.get("backbone") or "",
        record["mode"],
        checkpoint[:12] if checkpoint else "-",
        "demo" if record.get("demo") else record.get("split") or "",
        "" if record.get("num_samples") is None else str(record["num_samples"]),
    ]


def format_value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) >= 1 or value == 0 else f"{value:.4f}"
    return "-" if value is None else str(value)


def value_with_ci(record, metric: str, plus_minus: str, escape=lambda text: text) -> str:
    text = escape(format_value(record["metrics"].get(metric)))
    ci = (record.get("ci95") or {}).get(metric)
    if ci and text != "-":
        text += f" {plus_minus} {escape(format_value((ci[1] - ci[0]) / 2))}"
    return text
