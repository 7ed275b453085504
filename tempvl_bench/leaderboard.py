"""Per-task leaderboards from results files: markdown, LaTeX, CSV and a self-contained HTML page.

The best value of each metric column is marked (bold in markdown/LaTeX/HTML, a ``best`` row in
CSV so the numbers stay machine-readable) and every header shows the metric's direction.
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
    rows: list[ResultRecord]

    def best_index(self, metric: str) -> int | None:
        values = [(i, r["metrics"].get(metric)) for i, r in enumerate(self.rows)]
        values = [(i, v) for i, v in values if isinstance(v, (int, float)) and not math.isnan(v)]
        if not values:
            return None
        pick = max if metric_direction(metric) == "higher" else min
        return pick(values, key=lambda item: item[1])[0]


def collect(results_dir: Path, task: str | None = None, *, warn: Callable[[str], None] | None = None) -> list[Board]:
    """Read every results.json under ``results_dir`` (optionally one task) into boards.

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
        rows = sorted(by_task[name], key=lambda r: r.get("created_at") or "")
        metrics: list[str] = []
        for record in rows:
            for metric in record["metrics"]:
                if metric not in metrics:
                    metrics.append(metric)
        boards.append(Board(name, metrics, rows))
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
    best = {m: board.best_index(m) for m in board.metrics}
    table = []
    for i, record in enumerate(board.rows):
        row = [escape(c) for c in _info(record)]
        for metric in board.metrics:
            text = escape(_fmt(record["metrics"].get(metric)))
            row.append(mark(text) if best[metric] == i else text)
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
        parts.append(f"## {board.task}\n\n{table}\n")
    parts.append("Best value of each column in bold; ↑ higher is better, ↓ lower is better.\n")
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
        for metric in board.metrics:
            index = board.best_index(metric)
            best_runs.append(board.rows[index]["run_id"] if index is not None else "")
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
<p>Best value of each column highlighted; ↑ higher is better, ↓ lower is better.</p>
"""


def _html(boards: Sequence[Board]) -> str:
    out = [_HTML_HEAD]
    for board in boards:
        out.append(f"<h2>{html.escape(board.task)}</h2>\n<table>\n<tr>")
        out.extend(f"<th>{html.escape(c)}</th>" for c in INFO_COLUMNS)
        out.extend(f"<th>{html.escape(m)} {ARROW[metric_direction(m)]}</th>" for m in board.metrics)
        out.append("</tr>\n")
        best = {m: board.best_index(m) for m in board.metrics}
        for i, record in enumerate(board.rows):
            out.append("<tr>")
            out.extend(f'<td class="info">{html.escape(c)}</td>' for c in _info(record))
            for metric in board.metrics:
                css = ' class="best"' if best[metric] == i else ""
                out.append(f"<td{css}>{html.escape(_fmt(record['metrics'].get(metric)))}</td>")
            out.append("</tr>\n")
        out.append("</table>\n")
    out.append("</body></html>\n")
    return "".join(out)
