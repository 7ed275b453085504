"""The leaderboard as one self-contained HTML page: tables and plots, no network.

Each task gets its table (runs, then baselines; values with their 95% interval) and the plots
of its family, drawn as inline SVG by the page's own script from JSON embedded in the page:
recall@K curves (retrieval), recall against the tIoU threshold (moment retrieval), AP against
tIoU and per-class AP (action localization), per-type accuracy (QA), with error bars from
``ci95``. After drawing, the script sets ``data-drawn="true"`` on each plot and
``data-plots-drawn`` on ``<body>`` (with ``data-js-errors`` for any script error, and the
laid-out widths of the page and of its widest table), which the browser test reads back.
Legends name runs by model, backbone and mode (:func:`run_labels`) and the y axes use round
ticks; tables wrap long run ids and put each interval under its value, so the page fits a
1400 px window.
"""

from __future__ import annotations

import html
import json
import re
from typing import Sequence

from tempvl_bench.report.board import ARROW, INFO_COLUMNS, Board, baseline_record, format_value, info_cells, model_key, value_with_ci
from tempvl_bench.metrics import metric_direction

_THRESHOLD = re.compile(r"^(?P<prefix>(?:mr/R\d+|tal/mAP))@(?P<t>\d+(?:\.\d+)?)$")
_RECALL_K = re.compile(r"^(?P<prefix>t2v|v2t)/R@(?P<k>\d+)$")


def run_labels(board: Board) -> list[str]:
    """A legend label per run: model, backbone and mode (what a reader compares); runs sharing
    those are told apart by when they finished."""
    keys = [model_key(r) for r in board.rows]
    labels = list(keys)
    for i, record in enumerate(board.rows):
        if keys.count(keys[i]) > 1:
            labels[i] += " " + ((record.get("created_at") or "")[:19].replace("T", " ") or record["run_id"])
    return labels


def _records(board: Board) -> list[tuple[str, dict, bool]]:
    """(label, record, dashed) for each run (best first) and each baseline."""
    records = list(zip(run_labels(board), board.rows, [False] * len(board.rows)))
    return records + [(f"baseline: {n}", baseline_record(board, n), True) for n in board.baselines]


def _series(board: Board, pick) -> list[dict]:
    """One series per run (best first) and per baseline: points ``pick(metric)`` -> x."""
    out = []
    for label, record, dashed in _records(board):
        points = sorted((x, m) for m in record["metrics"] if (x := pick(m)) is not None)
        if not points:
            continue
        ci = record.get("ci95") or {}
        out.append({"label": label, "dashed": dashed, "x": [p[0] for p in points],
                    "y": [record["metrics"][m] for _, m in points],
                    "lo": [(ci.get(m) or [None, None])[0] for _, m in points],
                    "hi": [(ci.get(m) or [None, None])[1] for _, m in points]})
    return out


def _line(title: str, xlabel: str, ylabel: str, series: list[dict]) -> dict | None:
    return {"kind": "line", "title": title, "xlabel": xlabel, "ylabel": ylabel, "series": series} if series else None


def _bars(title: str, ylabel: str, categories: list[str], series: list[dict]) -> dict | None:
    if not categories or not series:
        return None
    return {"kind": "bars", "title": title, "ylabel": ylabel, "categories": categories, "series": series}


def plots_for(board: Board) -> list[dict]:
    """The plots of one task, by the metrics it reports."""
    plots = []
    for prefix in ("t2v", "v2t"):
        def recall_k(m, prefix=prefix):
            found = _RECALL_K.match(m)
            return int(found["k"]) if found and found["prefix"] == prefix else None
        plots.append(_line(f"{board.task}: {prefix} recall@K", "K", "R@K (%)", _series(board, recall_k)))
    prefixes = sorted({found["prefix"] for m in board.metrics if (found := _THRESHOLD.match(m))})
    for prefix in prefixes:
        def at_threshold(m, prefix=prefix):
            found = _THRESHOLD.match(m)
            return float(found["t"]) if found and found["prefix"] == prefix else None
        what = "AP" if prefix.startswith("tal") else prefix.split("/")[1]
        plots.append(_line(f"{board.task}: {what} vs tIoU threshold", "tIoU threshold", f"{prefix} (%)",
                           _series(board, at_threshold)))
    types = [m for m in board.metrics if m.startswith("qa/acc/")]
    if types:
        plots.append(_bars(f"{board.task}: accuracy per question type", "accuracy (%)",
                           [t.split("/", 2)[2] for t in types], _category_series(board, types)))
    per_class = _per_class(board)
    if per_class:
        plots.append(per_class)
    return [p for p in plots if p]


def _category_series(board: Board, metrics: list[str]) -> list[dict]:
    out = []
    for label, record, dashed in _records(board):
        ci = record.get("ci95") or {}
        out.append({"label": label, "dashed": dashed, "y": [record["metrics"].get(m) for m in metrics],
                    "lo": [(ci.get(m) or [None, None])[0] for m in metrics],
                    "hi": [(ci.get(m) or [None, None])[1] for m in metrics]})
    return out


def _per_class(board: Board) -> dict | None:
    """Per-class AP (averaged over the thresholds) of the best run, from its ``breakdowns``."""
    for label, record in zip(run_labels(board), board.rows):
        classes = (record.get("breakdowns") or {}).get("tal/AP per class")
        if classes:
            names = sorted(classes, key=lambda c: -classes[c])
            series = [{"label": label, "dashed": False,
                       "y": [classes[c] for c in names], "lo": [None] * len(names), "hi": [None] * len(names)}]
            return _bars(f"{board.task}: AP per class (best run, mean over thresholds)", "AP (%)", names, series)
    return None


def _value(record: dict, metric: str) -> str:
    """A value cell's text: the value, then its ``±`` on a line of its own (keeps columns narrow)."""
    value, _, ci = value_with_ci(record, metric, "±").partition(" ± ")
    return html.escape(value) + (f'<br><span class="ci">± {html.escape(ci)}</span>' if ci else "")


def _info_cells(record: dict) -> str:
    """The run's descriptive cells; only the run id may wrap (anywhere: it has no spaces)."""
    run, *rest = info_cells(record)
    return f'<td class="info run">{html.escape(run)}</td>' + "".join(
        f'<td class="info">{html.escape(c)}</td>' for c in rest)


def _table(board: Board) -> str:
    out = ['<div class="table"><table>\n<tr>']
    out.extend(f"<th>{html.escape(c)}</th>" for c in INFO_COLUMNS)
    out.extend(f"<th>{html.escape(m)} {ARROW[metric_direction(m)]}</th>" for m in board.metrics)
    out.append("</tr>\n")
    best = {m: board.best_indices(m) for m in board.metrics}
    for i, record in enumerate(board.rows):
        out.append("<tr>")
        out.append(_info_cells(record))
        for metric in board.metrics:
            css = ' class="best"' if i in best[metric] else ""
            out.append(f"<td{css}>{_value(record, metric)}</td>")
        out.append("</tr>\n")
    for name in board.baselines:
        record = baseline_record(board, name)
        out.append('<tr class="baseline">')
        out.append(_info_cells(record))
        out.extend(f"<td>{_value(record, m)}</td>" for m in board.metrics)
        out.append("</tr>\n")
    out.append("</table></div>\n")
    return "".join(out)


def _summary(summary: list[dict]) -> str:
    if not summary:
        return ""
    rows = "".join(f'<tr><td class="info">{html.escape(s["group"])}</td><td class="info">{html.escape(s["model"])}'
                   f'</td><td>{format_value(s["mean"])}</td><td>{s["tasks"]}/{s["of"]}</td></tr>\n' for s in summary)
    return ("<h2>Groups</h2>\n<p>Mean primary metric over each group's tasks (best run of each model per task; "
            "full runs of each task's ranked evaluation set only).</p>\n"
            f"<table>\n<tr><th>group</th><th>model</th><th>mean primary</th><th>tasks</th></tr>\n{rows}</table>\n")


def html_report(boards: Sequence[Board], summary: list[dict]) -> str:
    parts = [_HEAD, _summary(summary)]
    count = 0
    for board in boards:
        parts.append(f"<h2>{html.escape(board.title)}</h2>\n")
        order = f"Ordered by {html.escape(board.primary)}, the primary metric, best first. " if board.primary else ""
        parts.append(f"<p>{order}Evaluation set: {html.escape(board.evaluation)}.</p>\n")
        parts.append(_table(board))
        plots = plots_for(board)
        if plots:
            parts.append('<div class="plots">')
            for plot in plots:
                data = html.escape(json.dumps(plot, allow_nan=False), quote=True)
                parts.append(f'<div class="plot" id="plot-{count}" data-plot="{data}"></div>')
                count += 1
            parts.append("</div>\n")
    parts.append(f"<script>\n{_SCRIPT}\n</script>\n</body></html>\n")
    return "".join(parts)


_HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>tempvl-bench leaderboard</title>
<style>
body{font-family:system-ui,sans-serif;margin:1rem;color:#222;max-width:100%}
h2{overflow-wrap:anywhere}
div.table{max-width:100%;overflow-x:auto;margin-bottom:1rem}
table{border-collapse:collapse;font-size:.85rem}
th,td{border:1px solid #ccc;padding:.2rem .4rem;text-align:right}
th{background:#f3f3f3}td.info{text-align:left;white-space:nowrap}
td.run{white-space:normal;overflow-wrap:anywhere;min-width:8rem;max-width:12rem}
span.ci{font-size:.8em;color:#555;font-weight:normal}
td.best{font-weight:bold;background:#e6f4ea}
tr.baseline td{font-style:italic;color:#555;background:#fafafa}
.plots{display:flex;flex-wrap:wrap;gap:1rem;margin-bottom:2rem}
.plot{border:1px solid #ddd;padding:.3rem}
</style></head><body>
<h1>tempvl-bench leaderboard</h1>
<p>Rows ordered by each task's primary metric, best first; the best value of each column highlighted
(every one of them when tied; baselines, in italics, never); ± is half the width of the 95% bootstrap
interval, drawn as error bars in the plots (baselines dashed); ↑ higher is better, ↓ lower is better.
Runs are ranked only against runs of the same evaluation set (split, annotation files, evaluated queries).</p>
"""

_SCRIPT = r"""
(function () {
  var NS = "http://www.w3.org/2000/svg";
  var COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];
  var errors = [];
  window.addEventListener("error", function (e) { errors.push(String(e.message)); });
  function el(name, attrs, parent, text) {
    var node = document.createElementNS(NS, name);
    for (var k in attrs) { node.setAttribute(k, attrs[k]); }
    if (text !== undefined) { node.textContent = text; }
    if (parent) { parent.appendChild(node); }
    return node;
  }
  function finite(v) { return typeof v === "number" && isFinite(v); }
  function niceTicks(lo, hi) {
    // Round ticks (steps of 1, 2, 2.5 or 5 times a power of ten) covering [lo, hi], about five of them.
    var raw = (hi - lo) / 4, mag = Math.pow(10, Math.floor(Math.log10(raw))), norm = raw / mag;
    var step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * mag;
    var digits = 0;
    while (digits < 8 && Math.abs(step * Math.pow(10, digits) - Math.round(step * Math.pow(10, digits))) > 1e-6) {
      digits++;
    }
    var first = Math.floor(lo / step + 1e-9), last = Math.ceil(hi / step - 1e-9), ticks = [];
    for (var i = first; i <= last; i++) { ticks.push({v: i * step, text: (i * step).toFixed(digits)}); }
    return ticks;
  }
  function draw(div) {
    var spec = JSON.parse(div.getAttribute("data-plot"));
    var W = 440, L = 52, R = 16, T = 28, B = 44, ph = 200, LEGEND = 14;
    var H = T + ph + B + LEGEND * spec.series.length + 6;
    var svg = el("svg", {width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img"}, div);
    el("text", {x: L, y: 16, "font-size": 13, "font-weight": "bold"}, svg, spec.title);
    var ys = [0];
    spec.series.forEach(function (s) {
      s.y.concat(s.hi, s.lo).forEach(function (v) { if (finite(v)) { ys.push(v); } });
    });
    var ylo = Math.min.apply(null, ys), yhi = Math.max.apply(null, ys);
    if (yhi <= ylo) { yhi = ylo + 1; }
    var yticks = niceTicks(ylo, yhi);
    var ymin = yticks[0].v, ymax = yticks[yticks.length - 1].v;
    var n = spec.kind === "line" ? null : spec.categories.length;
    var xs = [];
    if (spec.kind === "line") { spec.series.forEach(function (s) { xs = xs.concat(s.x); }); }
    var xmin = spec.kind === "line" ? Math.min.apply(null, xs) : 0;
    var xmax = spec.kind === "line" ? Math.max.apply(null, xs) : n;
    if (xmax === xmin) { xmax = xmin + 1; }
    var pw = W - L - R;
    function px(x) { return L + (spec.kind === "line" ? (x - xmin) / (xmax - xmin) * pw : x / n * pw); }
    function py(y) { return T + ph - (y - ymin) / (ymax - ymin) * ph; }
    el("line", {x1: L, y1: py(0), x2: L + pw, y2: py(0), stroke: "#444"}, svg);
    el("line", {x1: L, y1: T, x2: L, y2: T + ph, stroke: "#444"}, svg);
    yticks.forEach(function (tick) {
      el("text", {x: L - 6, y: py(tick.v) + 4, "font-size": 10, "text-anchor": "end", "class": "ytick"}, svg,
         tick.text);
      el("line", {x1: L, y1: py(tick.v), x2: L + pw, y2: py(tick.v), stroke: "#eee"}, svg);
    });
    el("text", {x: 12, y: T + ph / 2, "font-size": 11, transform: "rotate(-90 12 " + (T + ph / 2) + ")",
                "text-anchor": "middle"}, svg, spec.ylabel);
    if (spec.kind === "line") {
      var ticks = {}; xs.forEach(function (x) { ticks[x] = true; });
      Object.keys(ticks).forEach(function (x) {
        el("text", {x: px(+x), y: T + ph + 14, "font-size": 10, "text-anchor": "middle"}, svg, String(+x));
      });
      el("text", {x: L + pw / 2, y: T + ph + 34, "font-size": 11, "text-anchor": "middle"}, svg, spec.xlabel);
    } else {
      spec.categories.forEach(function (c, j) {
        el("text", {x: px(j + 0.5), y: T + ph + 14, "font-size": 9, "text-anchor": "middle"}, svg,
           c.length > 10 ? c.slice(0, 9) + "…" : c);
      });
    }
    spec.series.forEach(function (s, k) {
      var color = COLORS[k % COLORS.length], dash = s.dashed ? "5,3" : "";
      var pts = [];
      s.y.forEach(function (y, j) {
        if (!finite(y)) { return; }
        var cx, width = 0;
        if (spec.kind === "line") { cx = px(s.x[j]); }
        else {
          width = pw / n / (spec.series.length + 1);
          cx = px(j) + width * (k + 1);
          el("rect", {x: cx - width / 2, y: Math.min(py(y), py(0)), width: width * 0.9,
                      height: Math.abs(py(0) - py(y)), fill: color,
                      "fill-opacity": s.dashed ? 0.35 : 0.8, stroke: color, "stroke-dasharray": dash}, svg);
        }
        pts.push(cx + "," + py(y));
        if (finite(s.lo[j]) && finite(s.hi[j])) {
          el("line", {x1: cx, y1: py(s.lo[j]), x2: cx, y2: py(s.hi[j]), stroke: color, "stroke-width": 1.2}, svg);
          el("line", {x1: cx - 3, y1: py(s.lo[j]), x2: cx + 3, y2: py(s.lo[j]), stroke: color}, svg);
          el("line", {x1: cx - 3, y1: py(s.hi[j]), x2: cx + 3, y2: py(s.hi[j]), stroke: color}, svg);
        }
        if (spec.kind === "line") { el("circle", {cx: cx, cy: py(y), r: 2.5, fill: color}, svg); }
      });
      if (spec.kind === "line" && pts.length) {
        el("polyline", {points: pts.join(" "), fill: "none", stroke: color, "stroke-width": 1.8,
                        "stroke-dasharray": dash}, svg);
      }
      var ly = T + ph + B + LEGEND * k + 4;  // the legend below the plot: room for the whole label
      el("line", {x1: 8, y1: ly, x2: 24, y2: ly, stroke: color, "stroke-width": 2, "stroke-dasharray": dash}, svg);
      el("text", {x: 28, y: ly + 4, "font-size": 10, "class": "legend"}, svg,
         s.label.length > 70 ? s.label.slice(0, 69) + "…" : s.label);
    });
    div.setAttribute("data-drawn", "true");
  }
  var plots = document.querySelectorAll("div.plot"), drawn = 0;
  for (var i = 0; i < plots.length; i++) {
    try { draw(plots[i]); drawn++; } catch (e) { errors.push(String(e)); }
  }
  document.body.setAttribute("data-plots-drawn", String(drawn));
  document.body.setAttribute("data-plots-total", String(plots.length));
  document.body.setAttribute("data-js-errors", errors.join(" | "));
  // The laid-out widths (page and widest table, in CSS pixels), so a test can check the page fits its window.
  var widest = 0, tables = document.querySelectorAll("table");
  for (var t = 0; t < tables.length; t++) { widest = Math.max(widest, tables[t].offsetWidth); }
  document.body.setAttribute("data-page-width", String(document.documentElement.scrollWidth));
  document.body.setAttribute("data-widest-table", String(widest));
})();
"""
