"""Per-task leaderboards from results files: markdown, LaTeX, CSV and a self-contained HTML page.

Rows are ordered by the task's primary metric, best first (lower first for ranks: MdR, MnR),
and the primary metric is the first metric column. The best value of each metric column is
marked, every one of them when runs tie (bold in markdown/LaTeX/HTML, a ``best`` row in CSV so
the numbers stay machine-readable), and every header shows the metric's direction. Each value
carries its 95% bootstrap interval (``±`` half its width in markdown and LaTeX, ``low``/``high``
columns in CSV). Each row names its model (results.json ``model.name``; ``tempvl`` for a run
older than that field), so runs of different models stand apart at a glance. The trivial
baselines (from the board's latest run) follow the runs, never marked best; a group summary
gives each model's mean primary metric over a group's tasks.

A board holds the runs of one evaluation set only (task, split, annotation files, evaluated
queries: :mod:`tempvl_bench.report.board_runs`), with that set's own baselines, so a smoke test on 16
queries is never ranked above, nor sets the chance level of, a run on the full split. Every
cell is escaped for its format (markdown ``|`` and line breaks, LaTeX specials, CSV cells that
a spreadsheet would run as a formula). The HTML page, with plots, is :mod:`tempvl_bench.report.html`.
"""

from __future__ import annotations

import dataclasses

import csv
import io
import re
import sys
from pathlib import Path
from typing import Callable, Sequence

from tabulate import tabulate

from tempvl_bench.metrics import metric_direction
from tempvl_bench.report.board import (
    ARROW,
    INFO_COLUMNS,
    Board,
    baseline_record,
    created,
    format_value,
    info_cells,
    model_key,
    number,
    value_with_ci,
)
from tempvl_bench.report.board_runs import BoardRun, DamagedRun, EvaluationSet, load_run
from tempvl_bench.report.html import html_report
from tempvl_bench.report.results import CAPTION_X100_SCHEMA, ResultRecord, find_results

FORMATS = ("markdown", "latex", "csv", "html")
LATEX_ARROW = {"higher": r"$\uparrow$", "lower": r"$\downarrow$"}


def rank_rows(rows: Sequence[ResultRecord], primary: str | None) -> list[ResultRecord]:
    """Rows best first by ``primary`` (lower first for ranks such as MdR/MnR); rows without a
    value last; equal values oldest first."""
    by_time = sorted(rows, key=created)
    if primary is None:
        return by_time
    sign = -1.0 if metric_direction(primary) == "higher" else 1.0

    def key(record: ResultRecord) -> tuple[bool, float]:
        value = number(record["metrics"].get(primary))
        return (value is None, 0.0 if value is None else sign * value)

    return sorted(by_time, key=key)


_TASK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def collect(results_dir: Path, task: str | None = None, *, warn: Callable[[str], None] | None = None,
            include_limited: bool = False) -> list[Board]:
    """Read every results.json under ``results_dir`` (optionally one task) into boards: one per
    evaluation set (:class:`~tempvl_bench.report.board_runs.EvaluationSet`), each ordered by the primary
    metric of its latest run, so runs are only ranked against runs evaluated on the same queries.

    Per task, the evaluation set of the latest full run makes the ranked board (``section`` None,
    the only one group summaries read); other full evaluation sets, captioning runs on the old
    0-1 scale and (with ``include_limited``) runs made with ``--limit`` follow it, each board
    labelled with why it stands apart. Without ``include_limited`` those smoke tests are left out
    with a note. A file that is not a valid results file is skipped, and ``warn`` (default:
    stderr) names it and the field: one damaged run must not hide the others.
    """
    warn = warn or (lambda message: print(f"warning: {message}", file=sys.stderr))
    if task is not None and not _TASK_NAME.fullmatch(task):
        raise ValueError(f"--task {task!r}: not a task name (letters, digits, '.', '_', '-')")
    by_set: dict[tuple[EvaluationSet, bool], list[BoardRun]] = {}
    for path in find_results(results_dir, task):
        try:
            run = load_run(path, warn)
        except DamagedRun as exc:
            warn(f"{exc}; left out of the leaderboard")
            continue
        _add_to_set(by_set, run)
    limited = [run for (_, is_limited), runs in by_set.items() if is_limited for run in runs]
    if limited and not include_limited:
        by_set = {key: runs for key, runs in by_set.items() if not key[1]}
        names = ", ".join(str(r.path.parent) for r in limited[:10]) + (" ..." if len(limited) > 10 else "")
        warn(f"{len(limited)} run(s) made with --limit left out (smoke tests, evaluated on a subset of the "
             f"queries; --include-limited lists them apart): {names}")
    for (evaluation, _), runs in by_set.items():
        for run in runs if evaluation.old_caption_scale else ():
            warn(f"{run.path}: captioning metrics on the 0-1 scale (results schema_version < "
                 f"{CAPTION_X100_SCHEMA}); listed apart, never ranked with runs reporting them x100")
    return [board for name in sorted({e.task for e, _ in by_set}) for board in _task_boards(name, by_set)]


def _add_to_set(by_set: dict[tuple[EvaluationSet, bool], list[BoardRun]], run: BoardRun) -> None:
    """File ``run`` under its evaluation set. Runs that agree on everything but which annotation
    files they read share a set when every file both read has the same hash: a finetune also
    reads the training split's files, a zero-shot run only the evaluated split's, and both are
    evaluated on the same queries. The set then lists the union of their files."""
    limited, own = run.limit is not None, run.evaluation
    for key in list(by_set):
        other = key[0]
        if key[1] != limited or dataclasses.replace(other, annotations=()) != dataclasses.replace(own, annotations=()):
            continue
        mine, theirs = dict(own.annotations), dict(other.annotations)
        common = mine.keys() & theirs.keys()
        if (common or not (mine or theirs)) and all(mine[name] == theirs[name] for name in common):
            runs = by_set.pop(key) + [run]
            merged = dataclasses.replace(other, annotations=tuple(sorted({**theirs, **mine}.items())))
            by_set.setdefault((merged, limited), []).extend(runs)
            return
    by_set.setdefault((own, limited), []).append(run)


def _task_boards(task: str, by_set: dict[tuple[EvaluationSet, bool], list[BoardRun]]) -> list[Board]:
    """The boards of one task: the latest full evaluation set first, then the others."""
    sets = [(key, [run.record for run in runs]) for key, runs in by_set.items() if key[0].task == task]
    sets.sort(key=lambda item: max(map(created, item[1])), reverse=True)  # latest first ...
    sets.sort(key=lambda item: (item[0][1], item[0][0].old_caption_scale))  # ... full runs on today's scale first
    boards, ranked = [], False
    for (evaluation, is_limited), records in sets:
        if is_limited:
            section = "made with --limit: smoke tests, not ranked with full runs"
        elif evaluation.old_caption_scale:
            section = f"captioning metrics on the 0-1 scale (results schema_version < {CAPTION_X100_SCHEMA})"
        elif ranked:
            section = "another evaluation set: not ranked with the runs above"
        else:
            section, ranked = None, True
        boards.append(_board(task, records, evaluation.describe(), section))
    return boards


def _board(task: str, records: list[ResultRecord], evaluation: str, section: str | None) -> Board:
    latest = max(records, key=created)
    primary = latest.get("primary_metric") or None
    rows = rank_rows(records, primary)
    metrics: list[str] = [primary] if primary else []
    for record in rows:
        metrics.extend(m for m in record["metrics"] if m not in metrics)
    return Board(task, metrics, rows, primary, dict(latest.get("baselines") or {}),
                 dict(latest.get("baselines_ci95") or {}), evaluation, section)


def group_summary(boards: Sequence[Board], groups: dict[str, list[str]]) -> list[dict]:
    """Per group and model: the mean over the group's tasks of the model's best primary metric
    (tasks without a run of the model are counted, not averaged), and the same for each task's
    best baseline. Only each task's ranked board counts: runs on another evaluation set, smoke
    tests made with ``--limit`` and captioning runs on the old scale never enter a mean."""
    by_task = {b.task: b for b in boards if b.section is None}
    out = []
    for group, tasks in sorted(groups.items()):
        present = [by_task[t] for t in tasks if t in by_task and by_task[t].primary]
        if not present:
            continue
        models: dict[str, list[float]] = {}
        for board in present:
            best: dict[str, float] = {}
            for record in board.rows:  # best first
                value = number(record["metrics"].get(board.primary))
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
    values = [number(m.get(board.primary)) for m in board.baselines.values()]
    values = [v for v in values if v is not None]
    if not values:
        return None
    return (max if metric_direction(board.primary) == "higher" else min)(values)


def _cells(board: Board, mark, escape=lambda text: text, plus_minus: str = "±") -> list[list[str]]:
    best = {m: board.best_indices(m) for m in board.metrics}
    table = []
    for i, record in enumerate(board.rows):
        row = [escape(c) for c in info_cells(record)]
        for metric in board.metrics:
            text = value_with_ci(record, metric, plus_minus, escape)
            row.append(mark(text) if i in best[metric] else text)
        table.append(row)
    for name in board.baselines:
        record = baseline_record(board, name)
        table.append([escape(c) for c in info_cells(record)] + [value_with_ci(record, m, plus_minus, escape) for m in board.metrics])
    return table


def render(boards: Sequence[Board], fmt: str, groups: dict[str, list[str]] | None = None) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown leaderboard format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not boards:
        return "No results found.\n"
    if fmt == "html":
        return html_report(boards, group_summary(boards, groups or {}))
    return {"markdown": _markdown, "latex": _latex, "csv": _csv}[fmt](boards, group_summary(boards, groups or {}))


_LINE_BREAKS = re.compile("[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+")


def markdown_escape(text: str) -> str:
    """A markdown table cell: ``|`` escaped, every line break a space (either would end the cell
    or the row)."""
    return _LINE_BREAKS.sub(" ", str(text)).replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*")


def _markdown(boards: Sequence[Board], summary: list[dict]) -> str:
    parts = []
    for board in boards:
        headers = list(INFO_COLUMNS) + [f"{markdown_escape(m)} {ARROW[metric_direction(m)]}" for m in board.metrics]
        table = tabulate(_cells(board, lambda t: f"**{t}**", markdown_escape), headers=headers, tablefmt="github",
                         disable_numparse=True)
        order = f"Ordered by {markdown_escape(board.primary)}, the primary metric, best first. " if board.primary else ""
        evaluation = markdown_escape(board.evaluation)
        parts.append(f"## {markdown_escape(board.title)}\n\n{order}Evaluation set: {evaluation}.\n\n{table}\n")
    if summary:
        rows = [[markdown_escape(s["group"]), markdown_escape(s["model"]), format_value(s["mean"]), f"{s['tasks']}/{s['of']}"]
                for s in summary]
        parts.append("## Groups\n\nMean primary metric over the group's tasks (best run of each model per task; "
                     "full runs of each task's ranked evaluation set only).\n\n"
                     + tabulate(rows, headers=["group", "model", "mean primary", "tasks"], tablefmt="github",
                                disable_numparse=True) + "\n")
    parts.append("Best value of each column in bold (every one of them when tied; baselines are never marked); "
                 "± is half the width of the 95% bootstrap interval; ↑ higher is better, ↓ lower is better. "
                 "Runs are ranked only against runs of the same evaluation set.\n")
    return "\n".join(parts)


_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "$": r"\$", "{": r"\{", "}": r"\}", "^": r"\textasciicircum{}",
                   "~": r"\textasciitilde{}", "_": r"\_", "&": r"\&", "%": r"\%", "#": r"\#"}
_LATEX_PATTERN = re.compile("|".join(re.escape(c) for c in _LATEX_SPECIALS))


def latex_escape(text: str) -> str:
    """Text for a LaTeX table: every special character escaped, line breaks as spaces."""
    return _LATEX_PATTERN.sub(lambda found: _LATEX_SPECIALS[found.group()], _LINE_BREAKS.sub(" ", str(text)))


def _latex(boards: Sequence[Board], summary: list[dict]) -> str:
    parts = []
    for board in boards:
        headers = [latex_escape(c) for c in INFO_COLUMNS] + [
            f"{latex_escape(m)} {LATEX_ARROW[metric_direction(m)]}" for m in board.metrics
        ]
        cells = _cells(board, lambda t: f"\\textbf{{{t}}}", escape=latex_escape, plus_minus="$\\pm$")
        table = tabulate(cells, headers=headers, tablefmt="latex_raw", disable_numparse=True)
        caption = latex_escape(f"{board.title}; evaluation set: {board.evaluation}")
        parts.append(f"% {latex_escape(board.title)}\n\\begin{{table}}[t]\n\\centering\n\\caption{{{caption}}}\n"
                     f"{table}\n\\end{{table}}\n")
    return "\n".join(parts)


_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")


def csv_cell(value: object) -> object:
    """A CSV cell a spreadsheet shows as text: a string starting with ``= + - @``, a tab or a
    carriage return (which it would run as a formula) gets a leading ``'``; numbers stay numbers."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") and value != "-" \
            and not _NUMBER.match(value):
        return "'" + value
    return value


def _csv(boards: Sequence[Board], summary: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def write(row: list) -> None:
        writer.writerow([csv_cell(cell) for cell in row])

    for board in boards:
        header = ["task", *INFO_COLUMNS]
        for m in board.metrics:
            header += [f"{m} ({metric_direction(m)} is better)", f"{m} ci95 low", f"{m} ci95 high"]
        write(header + ["evaluation set"])
        where = (f"{board.section}; " if board.section else "") + board.evaluation
        records = [*board.rows, *(baseline_record(board, name) for name in board.baselines)]
        for record in records:
            row = [board.task, *info_cells(record)]
            for m in board.metrics:
                ci = (record.get("ci95") or {}).get(m) or ("", "")
                row += [record["metrics"].get(m, ""), *ci]
            write(row + [where])
        best_runs = []
        for metric in board.metrics:  # tied runs joined by spaces
            best_runs += [" ".join(board.rows[i]["run_id"] for i in sorted(board.best_indices(metric))), "", ""]
        write([board.task, "best", *[""] * (len(INFO_COLUMNS) - 1), *best_runs, where])
    return buffer.getvalue()
