"""Per-task leaderboards from results files: markdown, LaTeX, CSV and a self-contained HTML page.

Rows are ordered by the task's primary metric, best first (lower first for ranks: MdR, MnR).
The best value of each metric column is marked, every one of them when runs tie (bold in
markdown/LaTeX/HTML, a ``best`` row in CSV so the numbers stay machine-readable), and every
header shows the metric's direction.
"""

from __future__ import annotations

import csv
import html
import io
import math
import sys
from dataclasses import dataclass
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
        metrics: list[str] = []
        for record in rows:
            for metric in record["metrics"]:
                if metric not in metrics:
                    metrics.append(metric)
        boards.append(Board(name, metrics, rows, primary))
    return boards


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


def _cells(board: Board, mark, escape=lambda text: text) -> list[list[str]]:
    best = {m: board.best_indices(m) for m in board.metrics}
    table = []
    for i, record in enumerate(board.rows):
        row = [escape(c) for c in _info(record)]
        for metric in board.metrics:
            text = escape(_fmt(record["metrics"].get(metric)))
            row.append(mark(text) if i in best[metric] else text)
        table.append(row)
    return table


def render(boards: Sequence[Board], fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown leaderboard format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not boards:
        return "No results found.\n"
    return {"markdown": _markdown, "latex": _latex, "csv": _csv, "html": _html}[fmt](boards)


def _markdown(boards: Sequence[Board]) -> str:
    parts = []
    for board in boards:
        headers = list(INFO_COLUMNS) + [f"{m} {ARROW[metric_direction(m)]}" for m in board.metrics]
        table = tabulate(_cells(board, lambda t: f"**{t}**"), headers=headers, tablefmt="github")
        order = f"Ordered by {board.primary}, the primary metric, best first.\n\n" if board.primary else ""
        parts.append(f"## {board.task}\n\n{order}{table}\n")
    parts.append("Best value of each column in bold (every one of them when tied); ↑ higher is better, "
                 "↓ lower is better.\n")
    return "\n".join(parts)


def _latex_escape(text: str) -> str:
    for char, repl in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&"), ("#", r"\#")):
        text = text.replace(char, repl)
    return text


def _latex(boards: Sequence[Board]) -> str:
    parts = []
    for board in boards:
        headers = [_latex_escape(c) for c in INFO_COLUMNS] + [
            f"{_latex_escape(m)} {LATEX_ARROW[metric_direction(m)]}" for m in board.metrics
        ]
        cells = _cells(board, lambda t: f"\\textbf{{{t}}}", escape=_latex_escape)
        table = tabulate(cells, headers=headers, tablefmt="latex_raw")
        parts.append(f"% {board.task}\n\\begin{{table}}[t]\n\\centering\n\\caption{{{_latex_escape(board.task)}}}\n{table}\n\\end{{table}}\n")
    return "\n".join(parts)


def _csv(boards: Sequence[Board]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for board in boards:
        writer.writerow(["task", *INFO_COLUMNS, *(f"{m} ({metric_direction(m)} is better)" for m in board.metrics)])
        for record in board.rows:
            writer.writerow([board.task, *_info(record), *(record["metrics"].get(m, "") for m in board.metrics)])
        best_runs = []
        for metric in board.metrics:  # tied runs joined by spaces
            best_runs.append(" ".join(board.rows[i]["run_id"] for i in sorted(board.best_indices(metric))))
        writer.writerow([board.task, "best", "", "", "", "", "", *best_runs])
    return buffer.getvalue()


_HTML_HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>tempvl-bench leaderboard</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin-bottom:2rem}
th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}
th{background:#f3f3f3}td.info{text-align:left}
td.best{font-weight:bold;background:#e6f4ea}
</style></head><body>
<h1>tempvl-bench leaderboard</h1>
<p>Rows ordered by each task's primary metric, best first; the best value of each column highlighted
(every one of them when tied); ↑ higher is better, ↓ lower is better.</p>
"""


def _html(boards: Sequence[Board]) -> str:
    out = [_HTML_HEAD]
    for board in boards:
        out.append(f"<h2>{html.escape(board.task)}</h2>\n<table>\n<tr>")
        out.extend(f"<th>{html.escape(c)}</th>" for c in INFO_COLUMNS)
        out.extend(f"<th>{html.escape(m)} {ARROW[metric_direction(m)]}</th>" for m in board.metrics)
        out.append("</tr>\n")
        best = {m: board.best_indices(m) for m in board.metrics}
        for i, record in enumerate(board.rows):
            out.append("<tr>")
            out.extend(f'<td class="info">{html.escape(c)}</td>' for c in _info(record))
            for metric in board.metrics:
                css = ' class="best"' if i in best[metric] else ""
                out.append(f"<td{css}>{html.escape(_fmt(record['metrics'].get(metric)))}</td>")
            out.append("</tr>\n")
        out.append("</table>\n")
    out.append("</body></html>\n")
    return "".join(out)
