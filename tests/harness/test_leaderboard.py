import csv
import io
import json
from pathlib import Path

import pytest

from tempvl_bench.report.leaderboard import collect, render
from tempvl_bench.report.results import write_json_atomic


def _record(run_id: str, mode: str, r1: float, mdr: float, created: str) -> dict:
    return {
        "schema_version": 1, "run_id": run_id, "task": "didemo", "family": "retrieval", "split": "test",
        "mode": mode, "demo": True, "metrics": {"t2v/R@1": r1, "t2v/MdR": mdr}, "primary_metric": "t2v/R@1",
        "backbone": "cnn-tiny", "text_encoder": "minilm", "checkpoint": None, "checkpoint_sha256": None,
        "num_samples": 32, "created_at": created,
    }


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    write_json_atomic(tmp_path / "didemo" / "a" / "results.json", _record("a", "zero-shot", 3.125, 15.5, "2026-01-01"))
    write_json_atomic(tmp_path / "didemo" / "b" / "results.json", _record("b", "finetune", 40.625, 2.0, "2026-01-02"))
    return tmp_path


def test_markdown_marks_best_per_column_respecting_direction(results_dir):
    text = render(collect(results_dir), "markdown")
    assert "## didemo" in text
    assert "t2v/R@1 ↑" in text and "t2v/MdR ↓" in text
    finetune_row = next(line for line in text.splitlines() if line.startswith("| b "))
    zero_row = next(line for line in text.splitlines() if line.startswith("| a "))
    assert "**40.62**" in finetune_row and "**2.00**" in finetune_row
    assert "**" not in zero_row


def test_latex_bold_and_escaping(results_dir):
    text = render(collect(results_dir), "latex")
    assert r"\textbf{40.62}" in text and r"\textbf{2.00}" in text
    assert r"zero-shot" in text and r"cnn-tiny" in text
    assert r"$\downarrow$" in text and r"\begin{tabular}" in text


def test_csv_is_numeric_with_a_best_row(results_dir):
    rows = list(csv.reader(io.StringIO(render(collect(results_dir), "csv"))))
    header, b, a, best = rows  # ordered by t2v/R@1, the primary metric: b first
    assert header[8:-1:3] == ["t2v/R@1 (higher is better)", "t2v/MdR (lower is better)"]  # primary first
    assert header[9:11] == ["t2v/R@1 ci95 low", "t2v/R@1 ci95 high"]
    assert float(a[8]) == 3.125 and float(b[11]) == 2.0
    assert best[1] == "best" and best[8:-1:3] == ["b", "b"]


def test_html_is_self_contained_and_highlights_best(results_dir):
    text = render(collect(results_dir), "html")
    assert text.startswith("<!DOCTYPE html>") and "<style>" in text and "<script>" in text
    assert '<td class="best">40.62</td>' in text and '<td class="best">2.00</td>' in text
    for fetch in ("src=", "href=", "@import", "url(", "fetch(", "XMLHttpRequest"):  # nothing from elsewhere
        assert fetch not in text


def test_filter_by_task_and_empty(results_dir, tmp_path):
    assert collect(results_dir, "msvd") == []
    assert render([], "markdown") == "No results found.\n"


@pytest.mark.parametrize(
    "content, reason",
    [
        ("{not json", "not a readable results file"),
        ("[1, 2]", "expected a JSON object"),
        (json.dumps(_record("c", "zero-shot", 1.0, 1.0, None)).replace('"run_id": "c"', '"run_id": 7'), "'run_id'"),
        (json.dumps(_record("c", "zero-shot", 1.0, 1.0, "x") | {"metrics": {"t2v/R@1": "high"}}), "'metrics'"),
    ],
)
def test_a_damaged_results_file_is_skipped_with_a_warning_naming_it(results_dir, content, reason):
    bad = results_dir / "didemo" / "c" / "results.json"
    bad.parent.mkdir()
    bad.write_text(content)
    warnings = []
    boards = collect(results_dir, warn=warnings.append)
    assert [r["run_id"] for r in boards[0].rows] == ["b", "a"]  # the other runs still make the board (by t2v/R@1)
    assert len(warnings) == 1 and str(bad) in warnings[0] and reason in warnings[0]


def test_null_created_at_does_not_abort_the_leaderboard(results_dir):
    write_json_atomic(results_dir / "didemo" / "c" / "results.json", _record("c", "zero-shot", 9.0, 3.0, None))
    (board,) = collect(results_dir, warn=pytest.fail)
    assert [r["run_id"] for r in board.rows] == ["b", "c", "a"]  # ranked by t2v/R@1, the undated run included


def test_leaderboard_cli_skips_a_corrupt_file_and_refuses_a_folder_as_output(results_dir, tmp_path, capsys):
    from tempvl_bench.cli.app import main

    bad = results_dir / "didemo" / "c" / "results.json"
    bad.parent.mkdir()
    bad.write_text("{not json")
    assert main(["leaderboard", "--results", str(results_dir)]) == 0
    captured = capsys.readouterr()
    assert "| a " in captured.out and "| b " in captured.out
    assert f"warning: {bad}" in captured.err
    folder = tmp_path / "board"
    folder.mkdir()
    assert main(["leaderboard", "--results", str(results_dir), "--output", str(folder)]) == 2
    err = capsys.readouterr().err
    assert f"--output {folder}: is a folder" in err and "Traceback" not in err


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    target = tmp_path / "x" / "results.json"
    write_json_atomic(target, {"a": 1})
    write_json_atomic(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert [p.name for p in target.parent.iterdir()] == ["results.json"]
    with pytest.raises(ValueError):
        write_json_atomic(target, {"a": float("nan")})
    assert json.loads(target.read_text()) == {"a": 2}
    assert [p.name for p in target.parent.iterdir()] == ["results.json"]


def _write(root: Path, run_id: str, r1: float, mdr: float, created: str, primary: str = "t2v/R@1") -> None:
    record = _record(run_id, "zero-shot", r1, mdr, created)
    record["primary_metric"] = primary
    write_json_atomic(root / "didemo" / run_id / "results.json", record)


def test_rows_are_ordered_by_the_primary_metric_respecting_direction(tmp_path):
    _write(tmp_path, "old-weak", 1.0, 9.0, "2026-01-01")
    _write(tmp_path, "strong", 50.0, 1.0, "2026-01-02")
    _write(tmp_path, "middle", 20.0, 4.0, "2026-01-03")
    (board,) = collect(tmp_path)
    assert board.primary == "t2v/R@1" and [r["run_id"] for r in board.rows] == ["strong", "middle", "old-weak"]
    _write(tmp_path, "latest", 10.0, 2.0, "2026-01-04", primary="t2v/MdR")  # lower is better
    (board,) = collect(tmp_path)
    assert board.primary == "t2v/MdR"
    assert [r["run_id"] for r in board.rows] == ["strong", "latest", "middle", "old-weak"]
    text = render([board], "markdown")
    assert "Ordered by t2v/MdR, the primary metric, best first." in text


def test_every_tied_best_value_is_highlighted(tmp_path):
    _write(tmp_path, "a", 40.0, 3.0, "2026-01-01")
    _write(tmp_path, "b", 40.0, 2.0, "2026-01-02")
    _write(tmp_path, "c", 10.0, 2.0, "2026-01-03")
    (board,) = collect(tmp_path)
    assert board.best_indices("t2v/R@1") == {0, 1}
    rows = {line.split("|")[1].strip(): line for line in render([board], "markdown").splitlines()
            if line.startswith("| ") and not line.startswith("| run")}
    assert rows["a"].count("**") == 2 and rows["b"].count("**") == 4 and rows["c"].count("**") == 2
    assert render([board], "html").count('class="best"') == 4
    best = list(csv.reader(io.StringIO(render([board], "csv"))))[-1]
    assert best[8:-1:3] == ["a b", "b c"]  # each metric: value, ci95 low, ci95 high


def test_baseline_rows_intervals_and_group_summary(tmp_path):
    record = _record("run1", "finetune", 40.0, 2.0, "2026-01-01")
    record["ci95"] = {"t2v/R@1": [35.0, 45.0], "t2v/MdR": [1.0, 3.0]}
    record["baselines"] = {"chance": {"t2v/R@1": 3.125, "t2v/MdR": 16.5}}
    record["baselines_ci95"] = {"chance": {"t2v/R@1": [3.125, 3.125]}}
    write_json_atomic(tmp_path / "didemo" / "run1" / "results.json", record)
    boards = collect(tmp_path)
    assert boards[0].metrics[0] == "t2v/R@1"  # the primary metric first
    text = render(boards, "markdown", groups={"retrieval": ["didemo", "msrvtt"]})
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert "**40.00 ± 5.00**" in rows[1] and "**2.00 ± 1.00**" in rows[1]
    assert rows[2].startswith("| baseline: chance") and "3.12 ± 0.00" in rows[2] and "**" not in rows[2]
    summary = [line.split("|")[1:5] for line in rows if line.startswith("| retrieval")]
    assert [[c.strip() for c in row] for row in summary] == [["retrieval", "tempvl cnn-tiny finetune", "40.00", "1/2"],
                                                             ["retrieval", "best baseline", "3.12", "1/2"]]
    latex = render(boards, "latex")
    assert r"40.00 $\pm$ 5.00" in latex and "baseline: chance" in latex
    header, run, baseline, best = list(csv.reader(io.StringIO(render(boards, "csv"))))
    assert run[8:11] == ["40.0", "35.0", "45.0"] and baseline[1] == "baseline: chance"
