"""Damaged results.json files, each a mutation of a valid one, next to two valid runs: every
format of ``leaderboard`` still exits 0 with the valid runs, leaves the damaged file out with a
warning naming the file (and the field), and never shows a traceback."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from tempvl_bench.cli.app import main
from tempvl_bench.report.results import write_json_atomic

NAN, INF = float("nan"), float("inf")
HUGE = 10**400  # a 400-digit integer: valid JSON, too large for a float


def _valid(run_id: str, r1: float, created: str) -> dict:
    return {
        "schema_version": 4, "run_id": run_id, "task": "thumos14", "family": "action-localization",
        "split": "test", "mode": "finetune", "demo": True, "primary_metric": "tal/mAP@avg",
        "metrics": {"tal/mAP@0.5": r1, "tal/mAP@avg": r1 / 2}, "backbone": "cnn-tiny", "text_encoder": "minilm",
        "checkpoint_sha256": None, "num_samples": 40, "created_at": created,
        "annotation_sha256": {"thumos14/test.json": "c" * 64},
        "ci95": {"tal/mAP@0.5": [r1 - 1, r1 + 1], "tal/mAP@avg": None},
        "baselines": {"class-prior segments": {"tal/mAP@0.5": 2.0, "tal/mAP@avg": 1.0}},
        "baselines_ci95": {"class-prior segments": {"tal/mAP@0.5": [1.0, 3.0]}},
        "breakdowns": {"tal/AP per class": {"Diving": r1, "Shotput": 1.0}},
    }


def _set(path: str, value):
    """A mutation setting ``path`` (``metrics::tal/mAP@0.5``: ``::`` separates the keys)."""
    def mutate(record: dict) -> dict:
        keys = path.split("::")
        target = record
        for key in keys[:-1]:
            target = target[key]
        if value is _DELETE:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value
        return record
    return mutate


_DELETE = object()

# (case id, mutation, the field the warning must name; None: any damage named by the file alone)
DAMAGED = [
    ("metric-nan", _set("metrics::tal/mAP@0.5", NAN), "metrics.tal/mAP@0.5"),
    ("metric-infinity", _set("metrics::tal/mAP@0.5", INF), "metrics.tal/mAP@0.5"),
    ("metric-minus-infinity", _set("metrics::tal/mAP@avg", -INF), "metrics.tal/mAP@avg"),
    ("metric-400-digits", _set("metrics::tal/mAP@0.5", HUGE), "metrics.tal/mAP@0.5"),
    ("metric-1e300", _set("metrics::tal/mAP@0.5", 1e300), "metrics.tal/mAP@0.5"),
    ("metric-string", _set("metrics::tal/mAP@0.5", "high"), "metrics"),
    ("metric-bool", _set("metrics::tal/mAP@0.5", True), "metrics"),
    ("metric-list", _set("metrics::tal/mAP@0.5", [1, 2]), "metrics"),
    ("metric-object", _set("metrics::tal/mAP@0.5", {"a": 1}), "metrics"),
    ("metrics-list", _set("metrics", [1.0]), "metrics"),
    ("metrics-null", _set("metrics", None), "metrics"),
    ("metrics-missing", _set("metrics", _DELETE), "metrics"),
    ("ci95-number", _set("ci95", 5), "ci95"),
    ("ci95-string", _set("ci95", "narrow"), "ci95"),
    ("ci95-list", _set("ci95", [1, 2]), "ci95"),
    ("ci95-entry-number", _set("ci95::tal/mAP@0.5", 5), "ci95.tal/mAP@0.5"),
    ("ci95-entry-strings", _set("ci95::tal/mAP@0.5", ["1", "2"]), "ci95.tal/mAP@0.5"),
    ("ci95-entry-one", _set("ci95::tal/mAP@0.5", [1.0]), "ci95.tal/mAP@0.5"),
    ("ci95-entry-three", _set("ci95::tal/mAP@0.5", [1.0, 2.0, 3.0]), "ci95.tal/mAP@0.5"),
    ("ci95-entry-nan", _set("ci95::tal/mAP@0.5", [NAN, 1.0]), "ci95.tal/mAP@0.5"),
    ("ci95-entry-infinity", _set("ci95::tal/mAP@0.5", [0.0, INF]), "ci95.tal/mAP@0.5"),
    ("ci95-entry-400-digits", _set("ci95::tal/mAP@0.5", [0, HUGE]), "ci95.tal/mAP@0.5"),
    ("ci95-entry-reversed", _set("ci95::tal/mAP@0.5", [3.0, 1.0]), "ci95.tal/mAP@0.5"),
    ("ci95-entry-object", _set("ci95::tal/mAP@0.5", {"low": 1}), "ci95.tal/mAP@0.5"),
    ("primary-list", _set("primary_metric", ["tal/mAP@avg"]), "primary_metric"),
    ("primary-number", _set("primary_metric", 5), "primary_metric"),
    ("primary-object", _set("primary_metric", {"a": 1}), "primary_metric"),
    ("primary-bool", _set("primary_metric", True), "primary_metric"),
    ("baselines-list", _set("baselines", [["chance", 1.0]]), "baselines"),
    ("baselines-string", _set("baselines", "chance"), "baselines"),
    ("baseline-list", _set("baselines::class-prior segments", [1.0, 2.0]), "baselines.class-prior segments"),
    ("baseline-nan", _set("baselines::class-prior segments::tal/mAP@0.5", NAN),
     "baselines.class-prior segments.tal/mAP@0.5"),
    ("baseline-string", _set("baselines::class-prior segments::tal/mAP@0.5", "2"),
     "baselines.class-prior segments.tal/mAP@0.5"),
    ("baseline-400-digits", _set("baselines::class-prior segments::tal/mAP@0.5", HUGE),
     "baselines.class-prior segments.tal/mAP@0.5"),
    ("baselines-ci95-list", _set("baselines_ci95", [1]), "baselines_ci95"),
    ("baselines-ci95-number", _set("baselines_ci95::class-prior segments", 5), "baselines_ci95.class-prior segments"),
    ("baselines-ci95-entry", _set("baselines_ci95::class-prior segments::tal/mAP@0.5", [1.0]),
     "baselines_ci95.class-prior segments.tal/mAP@0.5"),
    ("breakdowns-list", _set("breakdowns", [1]), "breakdowns"),
    ("breakdown-list", _set("breakdowns::tal/AP per class", [1.0]), "breakdowns.tal/AP per class"),
    ("breakdown-nan", _set("breakdowns::tal/AP per class::Diving", NAN), "breakdowns.tal/AP per class.Diving"),
    ("breakdown-string", _set("breakdowns::tal/AP per class::Diving", "x"), "breakdowns.tal/AP per class.Diving"),
    ("breakdown-null", _set("breakdowns::tal/AP per class::Diving", None), "breakdowns.tal/AP per class.Diving"),
    ("num-samples-string", _set("num_samples", "40"), "num_samples"),
    ("num-samples-negative", _set("num_samples", -1), "num_samples"),
    ("num-samples-float", _set("num_samples", 1.5), "num_samples"),
    ("num-samples-bool", _set("num_samples", True), "num_samples"),
    ("num-samples-400-digits", _set("num_samples", HUGE), "num_samples"),
    ("schema-string", _set("schema_version", "4"), "schema_version"),
    ("schema-bool", _set("schema_version", True), "schema_version"),
    ("schema-negative", _set("schema_version", -1), "schema_version"),
    ("demo-string", _set("demo", "yes"), "demo"),
    ("task-number", _set("task", 7), "task"),
    ("task-null", _set("task", None), "task"),
    ("task-missing", _set("task", _DELETE), "task"),
    ("run-id-list", _set("run_id", ["a"]), "run_id"),
    ("mode-number", _set("mode", 7), "mode"),
    ("backbone-number", _set("backbone", 7), "backbone"),
    ("split-list", _set("split", ["test"]), "split"),
    ("created-at-number", _set("created_at", 20260101), "created_at"),
    ("checkpoint-sha-number", _set("checkpoint_sha256", 5), "checkpoint_sha256"),
    ("family-number", _set("family", 5), "family"),
    ("model-number", _set("model", 5), "model"),
    ("model-string", _set("model", "hf-clip"), "model"),
    ("model-list", _set("model", ["hf-clip"]), "model"),
    ("model-name-missing", _set("model", {"path": None}), "model.name"),
    ("model-name-number", _set("model", {"name": 5}), "model.name"),
    ("model-name-empty", _set("model", {"name": ""}), "model.name"),
    ("model-weights-number", _set("model", {"name": "hf-clip", "weights_sha256": 5}), "model.weights_sha256"),
    ("annotations-list", _set("annotation_sha256", ["a"]), "annotation_sha256"),
    ("annotation-number", _set("annotation_sha256::thumos14/test.json", 5), "annotation_sha256.thumos14/test.json"),
    ("limit-string", _set("limit", "16"), "limit"),
    ("limit-bool", _set("limit", True), "limit"),
]

# Files that are not JSON objects at all (or not readable text).
RAW = [
    ("empty", b""),
    ("truncated", b'{"run_id": "x", "metrics": {'),
    ("list", b"[1, 2]"),
    ("null", b"null"),
    ("bare-nan", b"NaN"),
    ("deeply-nested", b"[" * 100_000 + b"]" * 100_000),
    ("deeply-nested-object", b'{"a":' * 50_000 + b"1" + b"}" * 50_000),
    ("5000-digit-metric", b'{"run_id": "x", "task": "thumos14", "mode": "m", "metrics": {"a": 1' + b"0" * 5000 + b"}}"),
    ("not-utf8", b"\xff\xfe\x00{"),
    ("utf8-bom", b"\xef\xbb\xbf" + json.dumps(_valid("bom", 1.0, "2026-01-05")).encode()),
]

# Changes a valid file may carry: still ranked, without a warning.
ACCEPTED = [
    ("ci95-entry-null", _set("ci95::tal/mAP@0.5", None)),
    ("metric-null", _set("metrics::tal/mAP@0.5", None)),
    ("primary-null", _set("primary_metric", None)),
    ("unknown-key", _set("something_new", {"x": [1, 2]})),
    ("integer-metric", _set("metrics::tal/mAP@0.5", 7)),
    ("no-baselines", _set("baselines", _DELETE)),
    ("null-backbone-split-samples", lambda r: {**r, "backbone": None, "split": None, "num_samples": None}),
    ("odd-metric-name", _set("metrics::=cmd|calc\n%$", 3.0)),
    ("model-record", _set("model", {"name": "hf-clip", "path": "/models/clip", "config_sha256": "d" * 64,
                                    "weights_sha256": None})),
    ("model-null", _set("model", None)),
]

FORMATS = ("markdown", "latex", "csv", "html")


@pytest.fixture
def results(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    write_json_atomic(root / "thumos14" / "good-a" / "results.json", _valid("good-a", 30.0, "2026-01-01"))
    write_json_atomic(root / "thumos14" / "good-b" / "results.json", _valid("good-b", 20.0, "2026-01-02"))
    return root


def _leaderboard(results: Path, capsys) -> list[tuple[str, str]]:
    """(stdout, stderr) of ``leaderboard`` in every format; each must exit 0."""
    out = []
    for fmt in FORMATS:
        assert main(["leaderboard", "--results", str(results), "--format", fmt]) == 0, fmt
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err and "good-a" in captured.out and "good-b" in captured.out, fmt
        out.append((captured.out, captured.err))
    return out


def _write(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))  # NaN and Infinity as Python's json writes them


@pytest.mark.parametrize("case, mutate, field", DAMAGED, ids=[case for case, _, _ in DAMAGED])
def test_a_damaged_field_is_named_and_the_file_left_out(results, capsys, case, mutate, field):
    bad = results / "thumos14" / "damaged" / "results.json"
    _write(bad, mutate(copy.deepcopy(_valid("damaged", 90.0, "2026-01-03"))))
    for out, err in _leaderboard(results, capsys):
        assert "damaged" not in out  # never ranked, never bold
        warnings = [line for line in err.splitlines() if str(bad) in line]
        assert len(warnings) == 1 and (f"'{field}'" in warnings[0] or f"(missing {field})" in warnings[0]), err


@pytest.mark.parametrize("case, content", RAW, ids=[case for case, _ in RAW])
def test_a_file_that_is_not_a_results_object_is_named_and_left_out(results, capsys, case, content):
    bad = results / "thumos14" / "damaged" / "results.json"
    bad.parent.mkdir()
    bad.write_bytes(content)
    for out, err in _leaderboard(results, capsys):
        assert "| damaged" not in out and "bom" not in out
        assert len([line for line in err.splitlines() if str(bad) in line]) == 1, err


@pytest.mark.parametrize("case, mutate", ACCEPTED, ids=[case for case, _ in ACCEPTED])
def test_a_valid_variation_is_ranked_without_a_warning(results, capsys, case, mutate):
    _write(results / "thumos14" / "variant" / "results.json", mutate(_valid("variant", 90.0, "2026-01-03")))
    outputs = _leaderboard(results, capsys)
    for out, err in outputs:
        assert "variant" in out and "warning" not in err, err
    for block in outputs[0][0].split("\n\n"):  # each markdown table keeps one column count: cells are escaped
        rows = [line for line in block.splitlines() if line.startswith("|")]
        assert len({len(re.findall(r"(?<!\\)\|", line)) for line in rows}) <= 1, block


def test_a_damaged_run_json_limit_is_named(results, capsys):
    run = results / "thumos14" / "damaged"
    _write(run / "results.json", _valid("damaged", 90.0, "2026-01-03"))
    (run / "run.json").write_text('{"limit": "sixteen"}')
    for out, err in _leaderboard(results, capsys):
        assert "damaged" not in out and f"{run / 'results.json'}: key 'limit'" in err
