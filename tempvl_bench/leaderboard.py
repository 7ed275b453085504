"""Per-task leaderboards from results files: markdown, LaTeX, CSV and a self-contained HTML page.

Rows are ordered by the task's primary metric, best first (lower first for ranks: MdR, MnR),
and the primary metric is the first metric column. The best value of each metric column is
marked, every one of them when runs tie (bold in markdown/LaTeX/HTML, a ``best`` row in CSV so
the numbers stay machine-readable), and every header shows the metric's direction. Each value
carries its 95% bootstrap interval (``±`` half its width in markdown and LaTeX, ``low``/``high``
columns in CSV). The task's trivial baselines (from its latest run) follow the runs, never
marked best; a group summary gives each model's mean primary metric over a group's tasks.
The HTML page, with plots, is :mod:`tempvl_bench.report`.
"""

from __future__ import annotations

import csv
import io
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from tabulate import tabulate

from tempvl_bench.metrics import metric_direction
from tempvl_bench.results import ResultRecord, find_results, read_results

FORMATS = ("markdown", "latex", "csv", "html")
ARROW = {"higher": "↑", "lower": "↓"}
LATEX_ARROW = {"higher": r"$\uparrow$", "lower": r"$\downarrow$"}
INFO_COLUMNS = ("run", "backbone", "mode", "checkpoint", "data", "n")


@dataclass
class Board:
    task: str
    metrics: list[str]
    #: Best first by ``primary``, the task's primary metric (direction-aware).
    rows: list[ResultRecord]
    primary: str | None = None
    #: The task's trivial baselines (name -> metrics) and their intervals, from its latest run.
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    baselines_ci95: dict[str, dict[str, list[float] | None]] = field(default_factory=dict)

    def best_indices(self, metric: str) -> set[int]:
        """Rows holding the best value of ``metric``: every one of them when several tie."""
        values = [(i, _number(r["metrics"].get(metric))) for i, r in enumerate(self.rows)]
        values = [(i, v) for i, v in values if v is not None]
        if not values:
            return set()
        best = (max if metric_direction(metric) == "higher" else min)(v for _, v in values)
        return {i for i, v in values if v == best}


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def rank_rows(rows: Sequence[ResultRecord], primary: str | None) -> list[ResultRecord]:
    """Rows best first by ``primary`` (lower first for ranks such as MdR/MnR); rows without a
    value last; equal values oldest first."""
    by_time = sorted(rows, key=lambda r: r.get("created_at") or "")
    if primary is None:
        return by_time
    sign = -1.0 if metric_direction(primary) == "higher" else 1.0

    def key(record: ResultRecord) -> tuple[bool, float]:
        value = _number(record["metrics"].get(primary))
        return (value is None, 0.0 if value is None else sign * value)

    return sorted(by_time, key=key)


def collect(results_dir: Path, task: str | None = None, *, warn: Callable[[str], None] | None = None) -> list[Board]:
    """Read every results.json under ``results_dir`` (optionally one task) into boards, each
    ordered by the task's primary metric (that of its latest run).

    A file that is not a valid results file is skipped, and ``warn`` (default: stderr) names it
    and says why: one damaged run must not hide the others.
    """
    warn = warn or (lambda message: print(f"warning: {message}", file=sys.stderr))
    by_task: dict[str, list[ResultRecord]] = {}
    for path in find_results(results_dir, task):
        try:
            record = read_results(path)
        except ValueError as exc:
            warn(f"{exc}; left out of the leaderboard")
            continue
        by_task.setdefault(record["task"], []).append(record)
    boards = []
    for name in sorted(by_task):
        latest = max(by_task[name], key=lambda r: r.get("created_at") or "")
        primary = latest.get("primary_metric") or None
        rows = rank_rows(by_task[name], primary)
        metrics: list[str] = [primary] if primary else []
        for record in rows:
            for metric in record["metrics"]:
                if metric not in metrics:
                    metrics.append(metric)
        baselines = latest.get("baselines") or {}
        boards.append(Board(name, metrics, rows, primary, dict(baselines), dict(latest.get("baselines_ci95") or {})))
    return boards


def baseline_record(board: Board, name: str) -> dict:
    """A baseline as a row of the board (never ranked or marked best)."""
    latest = max(board.rows, key=lambda r: r.get("created_at") or "")
    return {"run_id": f"baseline: {name}", "backbone": "-", "mode": "baseline", "checkpoint_sha256": None,
            "demo": latest.get("demo"), "split": latest.get("split", ""), "num_samples": latest.get("num_samples", ""),
            "metrics": board.baselines[name], "ci95": board.baselines_ci95.get(name, {})}


def model_key(record: ResultRecord) -> str:
    """What a group summary calls one model: backbone, mode and checkpoint."""
    checkpoint = record.get("checkpoint_sha256")
    return f"{record.get('backbone', '?')} {record['mode']}" + (f" {checkpoint[:12]}" if checkpoint else "")


def group_summary(boards: Sequence[Board], groups: dict[str, list[str]]) -> list[dict]:
    """Per group and model: the mean over the group's tasks of the model's best primary metric
    (tasks without a run of the model are counted, not averaged), and the same for each task's
    best baseline."""
    by_task = {b.task: b for b in boards}
    out = []
    for group, tasks in sorted(groups.items()):
        present = [by_task[t] for t in tasks if t in by_task and by_task[t].primary]
        if not present:
            continue
        models: dict[str, list[float]] = {}
        for board in present:
            best: dict[str, float] = {}
            for record in board.rows:  # best first
                value = _number(record["metrics"].get(board.primary))
                if value is not None:
                    best.setdefault(model_key(record), value)
            for key, value in best.items():
                models.setdefault(key, []).append(value)
        baseline = [max_baseline(b) for b in present]
        baseline = [v for v in baseline if v is not None]
        for key, values in sorted(models.items(), key=lambda kv: -len(kv[1])):
            out.append({"group": group, "model": key, "mean": sum(values) / len(values), "tasks": len(values),
                        "of": len(tasks)})
        if baseline:
            out.append({"group": group, "model": "best baseline", "mean": sum(baseline) / len(baseline),
                        "tasks": len(baseline), "of": len(tasks)})
    return out


def max_baseline(board: Board) -> float | None:
    """The best baseline value of the board's primary metric (direction-aware)."""
    values = [_number(m.get(board.primary)) for m in board.baselines.values()]
    values = [v for v in values if v is not None]
    if not values:
        return None
    return (max if metric_direction(board.primary) == "higher" else min)(values)


def _info(record: ResultRecord) -> list[str]:
    checkpoint = record.get("checkpoint_sha256") or ""
    return [
        record["run_id"],
        record.get("backbone", ""),
        record["mode"],
        checkpoint[:12] if checkpoint else "-",
        "demo" if record.get("demo") else record.get("split", ""),
        str(record.get("num_samples", "")),
    ]


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) >= 1 or value == 0 else f"{value:.4f}"
    return "-" if value is None else str(value)


def _with_ci(record, metric: str, plus_minus: str, escape=lambda text: text) -> str:
    text = escape(_fmt(record["metrics"].get(metric)))
    ci = (record.get("ci95") or {}).get(metric)
    if ci and text != "-":
        text += f" {plus_minus} {escape(_fmt((ci[1] - ci[0]) / 2))}"
    return text


def _cells(board: Board, mark, escape=lambda text: text, plus_minus: str = "±") -> list[list[str]]:
    best = {m: board.best_indices(m) for m in board.metrics}
    table = []
    for i, record in enumerate(board.rows):
        row = [escape(c) for c in _info(record)]
        for metric in board.metrics:
            text = _with_ci(record, metric, plus_minus, escape)
            row.append(mark(text) if i in best[metric] else text)
        table.append(row)
    for name in board.baselines:
        record = baseline_record(board, name)
        table.append([escape(c) for c in _info(record)] + [_with_ci(record, m, plus_minus, escape) for m in board.metrics])
    return table


def render(boards: Sequence[Board], fmt: str, groups: dict[str, list[str]] | None = None) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown leaderboard format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not boards:
        return "No results found.\n"
    if fmt == "html":
        from tempvl_bench.report import html_report

        return html_report(boards, group_summary(boards, groups or {}))
    return {"markdown": _markdown, "latex": _latex, "csv": _csv}[fmt](boards, group_summary(boards, groups or {}))


def _markdown(boards: Sequence[Board], summary: list[dict]) -> str:
    parts = []
    for board in boards:
        headers = list(INFO_COLUMNS) + [f"{m} {ARROW[metric_direction(m)]}" for m in board.metrics]
        table = tabulate(_cells(board, lambda t: f"**{t}**"), headers=headers, tablefmt="github",
                         disable_numparse=True)
        order = f"Ordered by {board.primary}, the primary metric, best first.\n\n" if board.primary else ""
        parts.append(f"## {board.task}\n\n{order}{table}\n")
    if summary:
        rows = [[s["group"], s["model"], _fmt(s["mean"]), f"{s['tasks']}/{s['of']}"] for s in summary]
        parts.append("## Groups\n\nMean primary metric over the group's tasks (best run of each model per task).\n\n"
                     + tabulate(rows, headers=["group", "model", "mean primary", "tasks"], tablefmt="github",
                                disable_numparse=True) + "\n")
    parts.append("Best value of each column in bold (every one of them when tied; baselines are never marked); "
                 "± is half the width of the 95% bootstrap interval; ↑ higher is better, ↓ lower is better.\n")
    return "\n".join(parts)


def _latex_escape(text: str) -> str:
    for char, repl in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&"), ("#", r"\#")):
        text = text.replace(char, repl)
    return text


def _latex(boards: Sequence[Board], summary: list[dict]) -> str:
    parts = []
    for board in boards:
        headers = [_latex_escape(c) for c in INFO_COLUMNS] + [
            f"{_latex_escape(m)} {LATEX_ARROW[metric_direction(m)]}" for m in board.metrics
        ]
        cells = _cells(board, lambda t: f"\\textbf{{{t}}}", escape=_latex_escape, plus_minus="$\\pm$")
        table = tabulate(cells, headers=headers, tablefmt="latex_raw", disable_numparse=True)
        parts.append(f"% {board.task}\n\\begin{{table}}[t]\n\\centering\n\\caption{{{_latex_escape(board.task)}}}\n{table}\n\\end{{table}}\n")
    return "\n".join(parts)


def _csv(boards: Sequence[Board], summary: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for board in boards:
        header = ["task", *INFO_COLUMNS]
        for m in board.metrics:
            header += [f"{m} ({metric_direction(m)} is better)", f"{m} ci95 low", f"{m} ci95 high"]
        writer.writerow(header)
        records = [*board.rows, *(baseline_record(board, name) for name in board.baselines)]
        for record in records:
            row = [board.task, *_info(record)]
            for m in board.metrics:
                ci = (record.get("ci95") or {}).get(m) or ("", "")
                row += [record["metrics"].get(m, ""), *ci]
            writer.writerow(row)
        best_runs = []
        for metric in board.metrics:  # tied runs joined by spaces
            best_runs += [" ".join(board.rows[i]["run_id"] for i in sorted(board.best_indices(metric))), "", ""]
        writer.writerow([board.task, "best", "", "", "", "", "", *best_runs])
    return buffer.getvalue()
