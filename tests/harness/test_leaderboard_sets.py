"""The leaderboard ranks only runs of one evaluation set (task, split, annotation files,
evaluated queries): a ``--limit`` smoke test, a run on other annotations and a captioning run
on the old 0-1 scale never share a ranking, a bold mark or a baseline row with full runs."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from tempvl_bench.cli.app import main
from tempvl_bench.report.leaderboard import collect, render
from tempvl_bench.report.results import write_json_atomic
from tempvl_bench.report.outcomes_file import write_outcomes
from tempvl_bench.report.uncertainty import Outcomes

ANNOTATIONS = {"didemo/test_data.json": "a" * 64}
GROUPS = {"retrieval": ["didemo"]}


def write_run(root: Path, run_id: str, r1: float, ids: list[str], *, limit: int | None = None, created: str,
              annotations: dict | None = None, task: str = "didemo", **extra) -> Path:
    """A run folder as ``run`` writes it: results.json, outcomes.npz over ``ids``, run.json."""
    chance = 100.0 / len(ids)
    record = {
        "schema_version": 4, "run_id": run_id, "task": task, "family": "retrieval", "split": "test",
        "mode": "zero-shot" if limit else "finetune", "demo": False, "metrics": {"t2v/R@1": r1, "t2v/MdR": 2.0},
        "primary_metric": "t2v/R@1", "backbone": "tubelets", "checkpoint_sha256": None, "num_samples": len(ids),
        "created_at": created, "annotation_sha256": ANNOTATIONS if annotations is None else annotations,
        "ci95": {"t2v/R@1": [max(r1 - 1, 0), r1 + 1]}, "baselines": {"chance": {"t2v/R@1": chance}},
        "baselines_ci95": {"chance": {"t2v/R@1": [chance, chance]}}, **extra,
    }
    run_dir = root / task / run_id
    write_json_atomic(run_dir / "results.json", record)
    hits = np.zeros(len(ids))
    write_outcomes(run_dir / "outcomes.npz", {"model": Outcomes.per_unit("text", ids, {"t2v/R@1": hits})})
    write_json_atomic(run_dir / "run.json", {"limit": limit, "mode": record["mode"]})
    return run_dir / "results.json"


QUERIES = [f"video{i:03d}#0" for i in range(300)]


@pytest.fixture
def full_and_limited(tmp_path: Path) -> Path:
    """A finetune on all 300 queries (R@1 10) and a later --limit 16 smoke test (R@1 50, chance 6.25)."""
    write_run(tmp_path, "full-finetune", 10.0, QUERIES, created="2026-01-01")
    write_run(tmp_path, "smoke-16", 50.0, QUERIES[:16], limit=16, created="2026-01-02")
    return tmp_path


def _table_rows(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("| ") and not line.startswith("| run")
            and not line.startswith("| group")]


def test_a_limited_run_is_left_out_by_default_and_the_full_run_keeps_its_baseline(full_and_limited):
    warnings = []
    boards = collect(full_and_limited, warn=warnings.append)
    assert [[r["run_id"] for r in b.rows] for b in boards] == [["full-finetune"]]
    assert boards[0].baselines == {"chance": {"t2v/R@1": pytest.approx(100 / 300)}}
    assert len(warnings) == 1 and "smoke-16" in warnings[0] and "--include-limited" in warnings[0]
    text = render(boards, "markdown", GROUPS)
    assert "smoke-16" not in text and "**10.00 ± 1.00**" in text and "6.25" not in text
    assert "| retrieval | best baseline            | 0.3333" in text


@pytest.mark.parametrize("fmt", ["markdown", "latex", "csv", "html"])
def test_with_include_limited_the_smoke_test_is_listed_apart_in_every_format(full_and_limited, fmt):
    boards = collect(full_and_limited, include_limited=True, warn=pytest.fail)
    assert [(b.section, [r["run_id"] for r in b.rows]) for b in boards] == [
        (None, ["full-finetune"]), ("made with --limit: smoke tests, not ranked with full runs", ["smoke-16"])]
    assert boards[1].baselines["chance"]["t2v/R@1"] == 6.25 and "16 queries" in boards[1].evaluation
    text = render(boards, fmt, GROUPS)
    full_at, smoke_at = text.index("full-finetune"), text.index("smoke-16")
    label = text.rindex("made with --limit", 0, smoke_at) if fmt != "csv" else text.index("made with --limit")
    assert full_at < label  # a labelled section of its own, after the full run
    bold = {"markdown": "**10.00 ± 1.00**", "latex": r"\textbf{10.00 $\pm$ 1.00}", "csv": "full-finetune",
            "html": '<td class="best">10.00'}[fmt]
    assert bold in text[:smoke_at]  # the full run is the best of its own board, not beaten by the smoke test
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(text)))
        best = [row for row in rows if row[1] == "best"]
        assert [row[8] for row in best] == ["full-finetune", "smoke-16"]
        assert all(row[-1].startswith("made with --limit") for row in rows if "smoke-16" in row[1])
    if fmt in ("markdown", "html"):  # the group summary reads the full run only
        assert "0.3333" in text and "mean primary" in text
        summary = text[text.index("Groups"):].split("<h2>didemo")[0]  # last in markdown, first in HTML
        assert "50.00" not in summary and "6.25" not in summary


def test_runs_on_other_queries_or_other_annotations_are_never_ranked_together(tmp_path):
    write_run(tmp_path, "a", 10.0, QUERIES, created="2026-01-01")
    write_run(tmp_path, "same-count-other-ids", 90.0, [q + "x" for q in QUERIES], created="2026-01-02")
    write_run(tmp_path, "other-annotations", 80.0, QUERIES, created="2026-01-03",
              annotations={"didemo/test_data.json": "b" * 64})
    write_run(tmp_path, "b", 20.0, list(reversed(QUERIES)), created="2026-01-04")  # same set, other order
    boards = collect(tmp_path, warn=pytest.fail)
    assert [[r["run_id"] for r in board.rows] for board in boards] == [
        ["b", "a"], ["other-annotations"], ["same-count-other-ids"]]
    assert [b.section for b in boards] == [None] + ["another evaluation set: not ranked with the runs above"] * 2
    markdown = render(boards, "markdown")
    assert [row.split("|")[1].strip() for row in _table_rows(markdown) if row.split("|")[8].startswith(" **")] == [
        "b", "other-annotations", "same-count-other-ids"]


def test_a_finetune_that_also_read_the_training_files_is_ranked_with_the_zero_shot_run(tmp_path):
    """A finetune records the training split's annotation files too; on the same evaluated files
    and queries it is ranked with the zero-shot run (as after `make demo`), and a run whose
    evaluated file differs still stands apart."""
    train = {"didemo/train_data.json": "b" * 64}
    write_run(tmp_path, "zero-shot", 1.0, QUERIES, created="2026-01-01")
    write_run(tmp_path, "finetune", 3.0, QUERIES, created="2026-01-02", annotations={**ANNOTATIONS, **train})
    write_run(tmp_path, "other-test-file", 9.0, QUERIES, created="2026-01-03",
              annotations={"didemo/test_data.json": "c" * 64, **train})
    boards = collect(tmp_path, warn=lambda message: None)
    assert [[r["run_id"] for r in b.rows] for b in boards] == [["other-test-file"], ["finetune", "zero-shot"]]
    assert boards[1].section == "another evaluation set: not ranked with the runs above"


def test_a_damaged_outcomes_file_is_named_and_the_run_identified_by_its_count(tmp_path):
    write_run(tmp_path, "a", 10.0, QUERIES, created="2026-01-01")
    bad = write_run(tmp_path, "b", 20.0, QUERIES, created="2026-01-02").parent / "outcomes.npz"
    bad.write_bytes(os.urandom(300))
    warnings = []
    boards = collect(tmp_path, warn=warnings.append)
    assert len(warnings) == 1 and str(bad) in warnings[0] and "by their count" in warnings[0]
    assert [[r["run_id"] for r in b.rows] for b in boards] == [["b"], ["a"]]
    assert "evaluated ids unknown" in boards[0].evaluation


def _meta(units) -> str:
    return json.dumps({"format": 2, "identity": None, "runs": {"model": {"metrics": {}, "units": units}}})


@pytest.mark.parametrize("case, write, field", [
    ("pickled meta", lambda p: np.savez(p, meta=np.array([{"units": 1}], dtype=object)), "dtype object"),
    ("ids not strings", lambda p: np.savez(p, meta=np.array(_meta({"text": [1, 2]}))), "meta.runs.model.units.text"),
    ("no model run", lambda p: np.savez(p, meta=np.array(json.dumps({"format": 2, "runs": {}}))), "meta.runs.model"),
    ("units not a mapping", lambda p: np.savez(p, meta=np.array(_meta(["a"]))), "meta.runs.model.units"),
])
def test_outcomes_meta_is_read_by_the_checked_reader_and_its_damage_named(tmp_path, case, write, field):
    """The leaderboard reads the evaluated ids through the outcomes file's own checked reader (no
    pickle, every field checked): a damaged meta is named by file and field, never hashed."""
    write_run(tmp_path, "a", 10.0, QUERIES, created="2026-01-01")
    bad = write_run(tmp_path, "b", 20.0, QUERIES, created="2026-01-02").parent / "outcomes.npz"
    with open(bad, "wb") as handle:
        write(handle)
    warnings = []
    boards = collect(tmp_path, warn=warnings.append)
    assert len(warnings) == 1 and str(bad) in warnings[0] and field in warnings[0], warnings
    assert "by their count" in warnings[0]
    assert [[r["run_id"] for r in b.rows] for b in boards] == [["b"], ["a"]]
    assert "evaluated ids unknown" in boards[0].evaluation


def _caption_run(root: Path, run_id: str, schema: int, cider: float, created: str) -> Path:
    path = root / "msrvtt-cap" / run_id / "results.json"
    write_json_atomic(path, {
        "schema_version": schema, "run_id": run_id, "task": "msrvtt-cap", "family": "captioning", "split": "test",
        "mode": "finetune", "demo": True, "metrics": {"cap/CIDEr": cider, "cap/BLEU-4": cider / 2},
        "primary_metric": "cap/CIDEr", "backbone": "cnn-tiny", "num_samples": 40, "created_at": created})
    return path


def test_captioning_runs_of_the_two_scales_are_never_ranked_together(tmp_path):
    old = _caption_run(tmp_path, "old-scale", 4, 0.52, "2026-01-03")
    _caption_run(tmp_path, "x100", 5, 48.0, "2026-01-01")
    _caption_run(tmp_path, "x100-b", 5, 51.0, "2026-01-02")
    warnings = []
    boards = collect(tmp_path, warn=warnings.append)
    assert len(warnings) == 1 and str(old) in warnings[0] and "0-1 scale" in warnings[0]
    assert [(b.section, [r["run_id"] for r in b.rows]) for b in boards] == [
        (None, ["x100-b", "x100"]), ("captioning metrics on the 0-1 scale (results schema_version < 5)",
                                     ["old-scale"])]
    text = render(boards, "markdown", {"captioning": ["msrvtt-cap"]})
    assert "| captioning | tempvl cnn-tiny finetune | 51.00" in text and "0.5200" not in text.split("## Groups")[1]


def test_every_cell_is_escaped_for_its_format(tmp_path):
    nasty = "r|1\nx=$_{&}%#^~\\"
    record_path = write_run(tmp_path, "run|a", 10.0, QUERIES, created="2026-01-01", backbone="=cmd|calc")
    record = json.loads(record_path.read_text())
    record["metrics"][nasty] = 5.0
    record["metrics"]["t2v/R@1"] = -3.0  # a negative number stays a number in CSV
    write_json_atomic(record_path, record)
    write_run(tmp_path, "+SUM(A1)", 5.0, QUERIES, created="2026-01-02")
    boards = collect(tmp_path, warn=pytest.fail)

    markdown = render(boards, "markdown")
    rows = [line for line in markdown.splitlines() if line.startswith("|")]
    assert len({len(re.findall(r"(?<!\\)\|", line)) for line in rows}) == 1  # every row has the same columns
    assert "run\\|a" in markdown and "r\\|1 x=$_{&}%#^~\\\\" in markdown

    latex = render(boards, "latex")
    assert r"r|1 x=\$\_\{\&\}\%\#\textasciicircum{}\textasciitilde{}\textbackslash{}" in latex
    body = latex.split(r"\begin{tabular}")[1].replace(r"\$", "").replace(r"\_", "").replace(r"\{", "").replace(r"\}", "")
    body = body.replace(r"\&", "").replace(r"\%", "").replace(r"\#", "")
    assert not any(char in body for char in "_%#^~") and "run|a" in body  # no special left unescaped

    rows = list(csv.reader(io.StringIO(render(boards, "csv"))))
    cells = [cell for row in rows for cell in row]
    assert "'=cmd|calc" in cells and "'+SUM(A1)" in cells and "=cmd|calc" not in cells
    assert "-3.0" in cells  # numbers are not neutralised
    assert all(not cell.startswith(("=", "+", "@", "\t", "\r")) for cell in cells)


def test_leaderboard_results_folder_must_exist(tmp_path, capsys):
    missing = tmp_path / "no-results-here"
    assert main(["leaderboard", "--results", str(missing)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "--results" in err and "Traceback" not in err


def test_leaderboard_output_is_replaced_atomically(full_and_limited, tmp_path, capsys):
    page = tmp_path / "out" / "board.md"
    page.parent.mkdir()
    page.write_text("old page\n")
    before = page.stat().st_ino
    with page.open() as reader:  # a reader of the old page keeps reading it whole
        assert main(["leaderboard", "--results", str(full_and_limited), "--output", str(page)]) == 0
        assert reader.read() == "old page\n"
    assert page.stat().st_ino != before and "full-finetune" in page.read_text()
    assert [p.name for p in page.parent.iterdir()] == ["board.md"]  # no temporary file left behind


def test_leaderboard_cli_include_limited(full_and_limited, capsys):
    assert main(["leaderboard", "--results", str(full_and_limited)]) == 0
    out, err = capsys.readouterr()
    assert "smoke-16" not in out and "smoke-16" in err and "--include-limited" in err
    assert main(["leaderboard", "--results", str(full_and_limited), "--include-limited"]) == 0
    out, err = capsys.readouterr()
    assert "## didemo (made with --limit: smoke tests, not ranked with full runs)" in out and "smoke-16" in out
    with pytest.raises(SystemExit):
        main(["leaderboard", "--help"])
    assert "--include-limited" in capsys.readouterr().out


@pytest.mark.slow
def test_a_real_limited_run_does_not_outrank_the_full_run(tmp_path, capsys):
    """The issue's case with real runs: a --limit 16 run next to a run on every demo query."""
    out = tmp_path / "results"
    common = ["run", "--task", "didemo", "--demo", "--output", str(out), "--no-progress"]
    assert main([*common, "--limit", "16"]) == 0
    assert main([*common, "--set", "video.num_frames=4"]) == 0
    capsys.readouterr()
    boards = collect(out, warn=lambda message: None)
    assert len(boards) == 1 and boards[0].rows[0]["num_samples"] == 300
    assert boards[0].baselines["chance"]["t2v/R@1"] == pytest.approx(100 / 300)
    (limited,) = [b for b in collect(out, include_limited=True, warn=pytest.fail) if b.section]
    assert limited.rows[0]["num_samples"] == 16 and "--limit" in limited.section
