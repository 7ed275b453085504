"""The fast TAL path (one parse, column checks, coded strings, TP-row AP) against the plain
per-prediction loop of benchmarks/metrics.py, through files: values must be bit-identical."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from tempvl_bench.metrics import tal_files, tal_metrics
from tempvl_bench.metrics.files import load_tal_predictions
from tempvl_bench.metrics.tal import ACTIVITYNET_THRESHOLDS, SegmentTable, StringColumn, class_average_precision

from .test_score import run_score

REPO = Path(__file__).resolve().parents[2]


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_metrics", REPO / "benchmarks" / "metrics.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _random_submission(seed: int) -> tuple[dict, dict, SegmentTable, SegmentTable]:
    """ActivityNet-shaped files with score ties, zero-length segments, a label with colons,
    predicted labels and videos absent from the ground truth."""
    rng = np.random.default_rng(seed)
    labels = ["Long jump", "Drinking: coffee", "Surfing", "Ping-pong"]
    database, results = {}, {}
    gt_rows, pred_rows = [], []
    for v in range(40):
        video = f"vid{v:03d}"
        duration = float(rng.integers(20, 120))
        annotations = []
        for _ in range(1 + rng.poisson(0.7)):
            start = float(rng.integers(0, int(duration) - 5))
            end = start + float(rng.integers(0, 30)) if rng.random() > 0.1 else start
            label = labels[rng.integers(0, 3)]
            annotations.append({"segment": [start, end], "label": label})
            gt_rows.append((video, label, start, end))
        database[video] = {"subset": "validation", "annotations": annotations}
    for v in range(45):  # five videos without ground truth
        video = f"vid{v:03d}"
        detections = []
        for _ in range(rng.integers(0, 30)):
            start = float(rng.integers(0, 100)) / 2
            end = start + float(rng.integers(0, 40)) / 2
            label = labels[rng.integers(0, 4)] if rng.random() > 0.05 else "Unknown: class"
            score = float(rng.integers(0, 20)) / 20
            detections.append({"label": label, "score": score, "segment": [start, end]})
            pred_rows.append((video, label, start, end, score))
        results[video] = detections
    return {"version": "VERSION 1.3", "database": database}, {"results": results, "external_data": {"a:b": 1}}, _table(gt_rows), _table(pred_rows)


def _table(rows: list[tuple]) -> SegmentTable:
    videos, labels, *numbers = (list(column) for column in zip(*rows))
    return SegmentTable(videos, labels, *(np.array(column, dtype=float) for column in numbers))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.filterwarnings("ignore:ignoring .* predictions whose labels")
def test_score_through_files_equals_the_loop_reference(capsys, tmp_path: Path, seed: int) -> None:
    database, submission, gt, pred = _random_submission(seed)
    (tmp_path / "gt.json").write_text(json.dumps(database))
    (tmp_path / "pred.json").write_text(json.dumps(submission))
    code, metrics, err = run_score(capsys, "--family", "tal", "--predictions", tmp_path / "pred.json",
                                   "--ground-truth", tmp_path / "gt.json")
    assert code == 0, err
    expected = _bench_module().loop_tal_metrics(gt, pred, ACTIVITYNET_THRESHOLDS)
    assert metrics == expected
    assert tal_metrics(gt, pred) == expected  # plain string columns give the same values


def _general_path(path: Path) -> SegmentTable:
    results = json.loads(path.read_text())["results"]
    return tal_files._columns(path, results, "results", with_score=True)


def _same_table(a: SegmentTable, b: SegmentTable) -> None:
    assert list(a.video_ids) == list(b.video_ids) and list(a.labels) == list(b.labels)
    for column in ("starts", "ends", "scores"):
        assert np.array_equal(getattr(a, column), getattr(b, column)), column


@pytest.mark.parametrize("seed", [0, 1])
def test_the_typed_decoder_reads_what_the_general_path_reads(tmp_path: Path, seed: int) -> None:
    pytest.importorskip("msgspec")
    _, submission, _, _ = _random_submission(seed)
    path = _write(tmp_path / "pred.json", submission)
    typed = tal_files._typed_submission(path.read_bytes())
    assert typed is not None  # a regular submission takes the typed path
    _same_table(typed, _general_path(path))


def test_numbers_are_read_exactly_as_python_reads_them(tmp_path: Path) -> None:
    """Long mantissas, exponents, subnormals and integers beyond 64 bits, as json.loads reads them."""
    literals = ["0.1", "0.30000000000000004", "1e-7", "2.2250738585072011e-308", "4.9e-324", "123456789012345678901234567890",
                "0.99999999999999999999999", "1.7976931348623157e308", "3", "-0.0", "7.0e2", "1.00000000000000011102230246251565"]
    detections = ", ".join(f'{{"label": "A", "score": {lit}, "segment": [0, {lit.lstrip("-")}]}}' for lit in literals)
    path = tmp_path / "pred.json"
    path.write_text(f'{{"results": {{"v1": [{detections}]}}}}')
    table = load_tal_predictions(path)
    expected = [float(json.loads(lit)) for lit in literals]
    assert [repr(x) for x in table.scores.tolist()] == [repr(x) for x in expected]  # -0.0 too
    assert table.ends.tolist() == [abs(x) for x in expected]
    _same_table(table, _general_path(path))
    if tal_files._submission_decoders() is not None:
        assert tal_files._typed_submission(path.read_bytes()) is not None


def test_entries_with_extra_keys_are_read_the_same(tmp_path: Path) -> None:
    _, submission, _, _ = _random_submission(0)
    plain = load_tal_predictions(_write(tmp_path / "plain.json", submission))
    for detections in submission["results"].values():
        for d in detections:
            d["note"] = {"source": "x:y"}
    extra = load_tal_predictions(_write(tmp_path / "extra.json", submission))
    assert list(extra.video_ids) == list(plain.video_ids) and list(extra.labels) == list(plain.labels)
    assert np.array_equal(extra.scores, plain.scores) and np.array_equal(extra.starts, plain.starts)


def test_a_repeated_key_is_refused_even_beside_an_extra_key(capsys, tmp_path: Path) -> None:
    """An extra key elsewhere must not make up for the colon a dropped repeated key removed."""
    text = ('{"results": {"v1": [{"label": "A", "score": 0.9, "segment": [0, 1], "x": 1}, '
            '{"label": "A", "score": 0.1, "score": 0.8, "segment": [0, 1]}]}}')
    (tmp_path / "pred.json").write_text(text)
    (tmp_path / "gt.json").write_text(json.dumps(
        {"database": {"v1": {"subset": "validation", "annotations": [{"label": "A", "segment": [0, 1]}]}}}))
    code, _, err = run_score(capsys, "--family", "tal", "--predictions", tmp_path / "pred.json",
                             "--ground-truth", tmp_path / "gt.json")
    assert code == 2 and "pred.json" in err and "'score'" in err


def test_class_average_precision_equals_the_loop_on_random_flags() -> None:
    loop_ap = _bench_module().loop_interpolated_ap
    rng = np.random.default_rng(0)
    sizes = rng.integers(0, 300, size=30)
    tp = rng.random((int(sizes.sum()), 3)) < rng.random(3)
    bounds = np.r_[0, np.cumsum(sizes)]
    n_positives = np.maximum([tp[bounds[c]:bounds[c + 1]].sum(axis=0).max() + rng.integers(0, 3)
                              for c in range(sizes.size)], 1)
    ap = class_average_precision(tp, bounds, n_positives)
    for c in range(sizes.size):
        for t in range(3):
            flags = [float(f) for f in tp[bounds[c]:bounds[c + 1], t]]
            assert ap[t, c] == (loop_ap(flags, int(n_positives[c])) if flags else 0.0)


def test_string_column_reads_like_a_list() -> None:
    strings = ["b", "a", "b", "c", "a"]
    column = StringColumn.from_strings(strings)
    assert column.distinct == ["b", "a", "c"] and list(column) == strings and len(column) == 5
    assert column[3] == "c" and column[1:4] == strings[1:4]
    runs = StringColumn.from_runs(["x", "empty", "y"], [2, 0, 1])
    assert list(runs) == ["x", "x", "y"] and runs.distinct == ["x", "y"]


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_score_imports_neither_torch_nor_the_run_machinery(tmp_path: Path) -> None:
    """Start-up is part of every `score` call: it loads the reader and the metric only."""
    import subprocess
    import sys

    database, submission, _, _ = _random_submission(0)
    gt, pred = _write(tmp_path / "gt.json", database), _write(tmp_path / "pred.json", submission)
    code = ("import sys, warnings; warnings.simplefilter('ignore'); from tempvl_bench.cli.app import main; "
            f"assert main(['score', '--family', 'tal', '--predictions', {str(pred)!r}, '--ground-truth', {str(gt)!r}]) == 0; "
            "print(sorted(m for m in ('torch', 'transformers', 'yaml', 'tempvl_bench.run.runner', 'tempvl_bench.config', "
            "'tempvl_bench.metrics.retrieval', 'numpy.ma') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
