"""The leaderboard's model column: runs of different models (``run --model``) of one task are
told apart at a glance in every format, and a run older than results.json's ``model`` field
shows ``tempvl``, the only model there was."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from tempvl_bench.cli.app import main
from tempvl_bench.report.results import write_json_atomic

FORMATS = ("markdown", "latex", "csv", "html")


def model_cells(text: str, fmt: str) -> dict[str, str]:
    """run id -> the model column's cell, read from the rendered table by the column's position."""
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(text)))
        header = rows[0]
        run, model = header.index("run"), header.index("model")
        return {row[run]: row[model] for row in rows[1:] if row[run] not in ("run", "best")}
    if fmt == "html":
        header = re.findall(r"<th>([^<]*)</th>", text[text.index("<tr><th>run</th>"):].split("</tr>")[0])
        assert header[:2] == ["run", "model"]
        return dict(re.findall(r'<td class="info run">([^<]*)</td><td class="info">([^<]*)</td>', text))
    separator = "|" if fmt == "markdown" else "&"
    out, header = {}, None
    for line in text.splitlines():  # the rows of each board's table, after its header
        cells = [cell.strip() for cell in line.strip().strip("|").removesuffix(r"\\").split(separator)]
        if not line.strip():  # a board's table ends at a blank line
            header = None
        elif len(cells) < 2:  # a rule
            continue
        elif cells[0] == "run":
            header = cells
            assert header[1] == "model"
        elif header and not cells[0].startswith("-"):
            out[cells[0]] = cells[1]
    return out


def _runs(output: Path) -> dict[str, str]:
    """model name -> run id of each run under ``output``."""
    records = [json.loads(p.read_text()) for p in output.glob("*/*/results.json")]
    return {r["model"]["name"]: r["run_id"] for r in records}


@pytest.fixture(scope="module")
def two_models(tiny_clip_dir, tmp_path_factory) -> Path:
    """A TemPVL run and an hf-clip run of demo msrvtt, on the same four queries."""
    output = tmp_path_factory.mktemp("results")
    common = ["run", "--task", "msrvtt", "--demo", "--limit", "4", "--no-progress", "--output", str(output)]
    assert main(common) == 0
    assert main([*common, "--model", "hf-clip", "--set", f"model.path={tiny_clip_dir}"]) == 0
    return output


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_tempvl_and_an_hf_clip_run_are_told_apart_by_the_model_column(two_models, fmt, capsys):
    runs = _runs(two_models)
    assert set(runs) == {"tempvl", "hf-clip"}
    assert main(["leaderboard", "--results", str(two_models), "--include-limited", "--format", fmt]) == 0
    captured = capsys.readouterr()
    assert "left out of the leaderboard" not in captured.err  # neither run read as damaged
    cells = model_cells(captured.out, fmt)
    assert cells[runs["tempvl"]] == "tempvl" and cells[runs["hf-clip"]] == "hf-clip"
    assert {cells[name] for name in cells if name.startswith("baseline: ")} == {"-"}


def test_the_group_summary_keeps_the_two_models_apart(two_models, capsys):
    assert main(["leaderboard", "--results", str(two_models), "--include-limited", "--format", "markdown"]) == 0
    text = capsys.readouterr().out
    board = text.split("## msrvtt")[1]
    assert re.search(r"\| tempvl\s+\| cnn-tiny", board) and re.search(r"\| hf-clip\s+\| hf-clip", board)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_run_without_the_model_field_shows_tempvl(tmp_path, fmt, capsys):
    record = {"schema_version": 4, "run_id": "older", "task": "didemo", "family": "retrieval", "split": "test",
              "mode": "finetune", "demo": True, "metrics": {"t2v/R@1": 3.0}, "primary_metric": "t2v/R@1",
              "backbone": "cnn-tiny", "num_samples": 4, "created_at": "2026-01-01"}
    write_json_atomic(tmp_path / "didemo" / "older" / "results.json", record)
    assert main(["leaderboard", "--results", str(tmp_path), "--format", fmt]) == 0
    assert model_cells(capsys.readouterr().out, fmt) == {"older": "tempvl"}
