import csv
import io
import json
from pathlib import Path

import pytest

from tempvl_bench.leaderboard import collect, render
from tempvl_bench.results import write_json_atomic


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
    header, a, b, best = rows
    assert header[-2:] == ["t2v/R@1 (higher is better)", "t2v/MdR (lower is better)"]
    assert float(a[-2]) == 3.125 and float(b[-1]) == 2.0
    assert best[1] == "best" and best[-2:] == ["b", "b"]


def test_html_is_self_contained_and_highlights_best(results_dir):
    text = render(collect(results_dir), "html")
    assert text.startswith("<!DOCTYPE html>") and "<style>" in text and "<script" not in text
    assert '<td class="best">40.62</td>' in text and '<td class="best">2.00</td>' in text
    assert "http" not in text  # nothing fetched from elsewhere


def test_filter_by_task_and_empty(results_dir, tmp_path):
    assert collect(results_dir, "msvd") == []
    assert render([], "markdown") == "No results found.\n"


def test_unreadable_results_file_is_named(results_dir):
    bad = results_dir / "didemo" / "c" / "results.json"
    bad.parent.mkdir()
    bad.write_text("{not json")
    with pytest.raises(ValueError, match=str(bad)):
        collect(results_dir)


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
