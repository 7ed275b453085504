"""Trivial baselines: the shared priors, and each family's baselines step through a real demo
run (results.json gets baselines, intervals and the paired test; outcomes.npz holds them all)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tempvl_bench.cli.app import main
from tempvl_bench.metrics.priors import (
    best_constant_window,
    class_prior_segments,
    majority,
    sampled_prior_windows,
    window_iou,
)
from tempvl_bench.report.outcomes_file import read_outcomes

FAST = ["--set", "video.num_frames=4", "--no-progress"]


def test_best_constant_window_covers_the_typical_training_window():
    rng = np.random.default_rng(0)
    starts = rng.uniform(0.0, 0.1, 50)
    windows = np.stack([starts, starts + 0.5], 1)  # most windows sit on the first half
    best = best_constant_window(windows, 8)
    assert np.mean(window_iou(np.broadcast_to(best, windows.shape), windows) > 0.5) > 0.9
    assert best[0] == 0 and best[1] == 0.5


def test_sampled_windows_come_from_the_training_windows_and_follow_the_seed():
    train = np.array([[0.0, 0.2], [0.5, 0.9], [0.1, 0.3]])
    drawn = sampled_prior_windows(train, 4, 5, seed=1)
    assert drawn.shape == (4, 5, 2)
    assert all(any(np.array_equal(w, t) for t in train) for w in drawn.reshape(-1, 2))
    assert np.array_equal(drawn, sampled_prior_windows(train, 4, 5, seed=1))


def test_majority_and_class_priors():
    assert majority(["b", "a", "a", "b", "c"]) == "b"  # tied counts: the first seen
    priors = class_prior_segments(["x", "y", "x"], np.array([[0.0, 0.2], [0.5, 1.0], [0.2, 0.4]]))
    assert priors["x"] == pytest.approx((0.1, 0.3, 2 / 3)) and priors["y"] == pytest.approx((0.5, 1.0, 1 / 3))


def _run(tmp_path: Path, task: str, *extra: str) -> dict:
    out = tmp_path / "out"
    assert main(["run", "--task", task, "--demo", "--output", str(out), *FAST, *extra]) == 0
    (path,) = out.glob(f"{task}/*/results.json")
    return json.loads(path.read_text()) | {"_dir": str(path.parent)}


def _check_evidence(record: dict, baselines: set[str]) -> None:
    assert set(record["baselines"]) == baselines
    assert set(record["ci95"]) == set(record["metrics"])
    for metric, value in record["metrics"].items():
        low, high = record["ci95"][metric]
        assert low - 1e-9 <= value <= high + 1e-9, metric
    for name in baselines:
        assert set(record["baselines_ci95"][name]) == set(record["baselines"][name])
    versus = record["vs_best_baseline"]
    primary = record["primary_metric"]
    best = max(record["baselines"], key=lambda n: record["baselines"][n][primary])
    assert versus["metric"] == primary and versus["baseline"] == best
    assert versus["difference"] == pytest.approx(record["metrics"][primary] - record["baselines"][best][primary])
    assert versus["ci95"][0] <= versus["difference"] <= versus["ci95"][1]
    assert versus["beats"] == (versus["ci95"][0] > 0)
    runs = read_outcomes(Path(record["_dir"]) / "outcomes.npz")
    assert set(runs) == {"model", *baselines}
    # compare accepts the run's own outcomes: they give every recorded metric of this family
    assert main(["compare", record["_dir"], record["_dir"]]) == 0


def test_moment_retrieval_baselines(tmp_path):
    record = _run(tmp_path, "charades-sta", "--limit", "20")
    _check_evidence(record, {"best constant window", "prior-sampled windows"})
    assert record["bootstrap"]["units"]["mr/R1@0.5"] == "query"
    assert "charades-sta/charades_sta_train.txt" in record["annotation_sha256"]  # fitted on train: hashed


def test_action_localization_baselines(tmp_path):
    record = _run(tmp_path, "activitynet-tal")
    _check_evidence(record, {"class-prior segments"})
    assert record["bootstrap"]["units"]["tal/mAP@avg"] == "video"
    assert record["baselines"]["class-prior segments"]["tal/mAP@0.5"] > 0  # a prior does find something


def test_retrieval_chance_is_analytic(tmp_path):
    record = _run(tmp_path, "didemo", "--limit", "10")
    _check_evidence(record, {"chance"})
    assert record["baselines"]["chance"]["t2v/R@1"] == pytest.approx(10.0)
    assert record["baselines"]["chance"]["t2v/R@5"] == pytest.approx(50.0)
    assert record["baselines"]["chance"]["t2v/MnR"] == pytest.approx(5.5)
    assert record["baselines_ci95"]["chance"]["t2v/R@1"] == [pytest.approx(10.0), pytest.approx(10.0)]


def test_captioning_constant_caption(tmp_path):
    record = _run(tmp_path, "msvd-cap", "--limit", "6", "--set", "options.max_caption_length=4")
    _check_evidence(record, {"constant caption"})
    assert record["bootstrap"]["units"]["cap/CIDEr"] == "video"
    assert record["baselines"]["constant caption"]["cap/CIDEr"] > 0  # a training caption shares words
    assert all(low >= 0 for low, _ in record["ci95"].values())


def test_open_ended_qa_majority_answers(tmp_path):
    record = _run(tmp_path, "msvd-qa", "--limit", "20")
    _check_evidence(record, {"majority answer", "majority answer per type"})
    for metrics in record["baselines"].values():  # the same metrics as the model, per type too
        assert set(metrics) == set(record["metrics"])
    assert record["bootstrap"]["units"]["qa/acc"] == "question"


def test_multiple_choice_chance(tmp_path):
    record = _run(tmp_path, "msrvtt-mc", "--limit", "20")
    _check_evidence(record, {"chance"})
    assert record["baselines"]["chance"]["qa/acc"] == pytest.approx(20.0)  # five options


def test_tal_per_class_ap_breakdown_averages_to_the_map(tmp_path):
    record = _run(tmp_path, "thumos14")
    per_class = record["breakdowns"]["tal/AP per class"]
    assert per_class and np.mean(list(per_class.values())) == pytest.approx(record["metrics"]["tal/mAP@avg"])
