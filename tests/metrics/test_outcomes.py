"""Per-query outcomes reproduce every aggregate metric; bootstrap intervals and paired tests."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tempvl_bench.metrics.moment import (
    MomentGroundTruth,
    MomentPrediction,
    moment_metrics_single,
    moment_outcomes_single,
    qvhighlights_metrics,
    qvhighlights_outcomes,
    single_top1_outcomes,
)
from tempvl_bench.metrics.priors import window_iou
from tempvl_bench.metrics.qa import QAGroundTruth, qa_metrics, qa_outcomes
from tempvl_bench.metrics.retrieval import multi_caption_retrieval_metrics, retrieval_metrics, retrieval_outcomes
from tempvl_bench.metrics.tal import SegmentTable, tal_metrics, tal_outcomes
from tempvl_bench.report.outcomes_file import read_outcomes, write_outcomes
from tempvl_bench.report.uncertainty import Outcomes, PerUnit, bootstrap_ci, paired_difference


def _observed(values) -> float:
    array, statistic = values if isinstance(values, tuple) else (values, "mean")
    return PerUnit("q", array, statistic).observed


@pytest.mark.parametrize("ties", [False, True])
def test_retrieval_outcomes_give_the_metrics(ties):
    rng = np.random.default_rng(0)
    sim = rng.normal(size=(9, 9))
    if ties:
        sim = np.round(sim)
    metrics = retrieval_metrics(sim)
    outcomes = retrieval_outcomes(sim)
    assert set(outcomes) == set(metrics)
    for name, value in metrics.items():
        assert _observed(outcomes[name]) == pytest.approx(value, abs=1e-9), name


def test_multi_caption_outcomes_give_the_metrics():
    rng = np.random.default_rng(1)
    index = np.array([0, 0, 1, 2, 2, 2, 3, 4, 4, 5])
    sim = np.round(rng.normal(size=(10, 6)), 1)
    metrics = multi_caption_retrieval_metrics(sim, index)
    outcomes = retrieval_outcomes(sim, index)
    for name, value in metrics.items():
        assert _observed(outcomes[name]) == pytest.approx(value, abs=1e-4), name  # R@K in float32


def test_qa_outcomes_give_the_metrics_and_leave_other_types_out():
    items = [QAGroundTruth(str(i), a, t) for i, (a, t) in enumerate([("x", "what"), ("y", "what"), ("x", "who"),
                                                                       ("z", "who"), ("x", "how")])]
    predictions = {"0": "x", "1": ["y", "x"], "2": "y", "3": "z", "4": "q"}
    metrics = qa_metrics(predictions, items, question_types=["what", "who", "how", "when"])
    outcomes = qa_outcomes(predictions, items, question_types=["what", "who", "how", "when"])
    assert "qa/acc/when" not in outcomes  # no question of that type: nothing to resample
    for name, values in outcomes.items():
        assert _observed(values) == pytest.approx(metrics[name]), name
    assert np.isnan(outcomes["qa/acc/what"][2:]).all()


def test_moment_outcomes_give_the_metrics():
    rng = np.random.default_rng(2)
    gt = {f"q{i}": tuple(sorted(rng.uniform(0, 30, 2))) for i in range(12)}
    preds = {q: [sorted(rng.uniform(0, 30, 2)) for _ in range(8)] for q in gt}
    metrics = moment_metrics_single(preds, gt)
    outcomes = moment_outcomes_single(preds, gt)
    for name, value in metrics.items():
        assert _observed(outcomes[name]) == pytest.approx(value), name


def test_qvhighlights_outcomes_give_the_metrics():
    rng = np.random.default_rng(3)
    queries, predictions = [], []
    for i in range(10):
        s = rng.uniform(0, 100)
        windows = [(s, s + rng.choice([4.0, 20.0, 60.0]))]
        queries.append(MomentGroundTruth(i, 150.0, windows, [0, 1, 2], [[1, 2, 4], [3, 4, 2], [0, 4, 4]]))
        starts = rng.uniform(0, 120, 6)
        wins = np.stack([starts, starts + rng.uniform(2, 40, 6), rng.uniform(size=6)], 1)
        predictions.append(MomentPrediction(i, wins, rng.uniform(size=75)))
    metrics = qvhighlights_metrics(predictions, queries)
    outcomes = qvhighlights_outcomes(predictions, queries)
    assert set(outcomes) == set(metrics)
    for name, value in metrics.items():
        if np.isnan(value):
            assert np.isnan(outcomes[name]).all()
        else:
            assert _observed(outcomes[name]) == pytest.approx(value, abs=1e-9), name


def _tal_tables(rng, videos, classes=("a", "b", "c")):
    gt, pred = [], []
    for v in videos:
        for _ in range(rng.integers(1, 4)):
            s = rng.uniform(0, 80)
            gt.append((v, classes[rng.integers(len(classes))], s, s + rng.uniform(1, 20)))
        for _ in range(12):
            s = rng.uniform(0, 80)
            pred.append((v, classes[rng.integers(len(classes))], s, s + rng.uniform(1, 20), rng.uniform()))
    return gt, pred


def _table(rows):
    columns = list(zip(*rows))
    return SegmentTable(list(columns[0]), list(columns[1]), *(np.array(c) for c in columns[2:]))


def test_tal_video_bootstrap_equals_scoring_the_resampled_videos():
    """A video drawn k times counts k times: the weighted AP equals the metric on k renamed copies."""
    rng = np.random.default_rng(4)
    videos = [f"v{i}" for i in range(10)]
    gt, pred = _tal_tables(rng, videos)
    outcomes = tal_outcomes(_table(gt), _table(pred), videos)
    units = outcomes.pop("_units")
    assert units == videos
    metrics = tal_metrics(_table(gt), _table(pred))
    for name, value in metrics.items():
        assert outcomes[name].observed == pytest.approx(value, abs=1e-9)
    for _ in range(3):
        draw = rng.integers(0, len(videos), len(videos))
        copies_gt = [(str(j), *row[1:]) for j, i in enumerate(draw) for row in gt if row[0] == videos[i]]
        copies_pred = [(str(j), *row[1:]) for j, i in enumerate(draw) for row in pred if row[0] == videos[i]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a class absent from the draw
            expected = tal_metrics(_table(copies_gt), _table(copies_pred))
        for name in ("tal/mAP@0.5", "tal/mAP@avg"):
            assert outcomes[name].resampled(draw[None, :])[0] == pytest.approx(expected[name], abs=1e-9)


def test_bootstrap_interval_and_paired_difference(tmp_path):
    rng = np.random.default_rng(5)
    ids = [f"q{i}" for i in range(200)]
    good = Outcomes.per_unit("query", ids, {"m/acc": 100.0 * (rng.uniform(size=200) < 0.7)})
    bad = Outcomes.per_unit("query", ids, {"m/acc": 100.0 * (rng.uniform(size=200) < 0.4)})
    low, high = bootstrap_ci(good)["m/acc"]
    assert low < good.metrics["m/acc"].observed < high and high - low < 20
    same = paired_difference(good, good)["m/acc"]
    assert same["difference"] == 0 and same["ci95"] == [0, 0] and same["p_value"] == 1
    better = paired_difference(good, bad)["m/acc"]
    assert better["ci95"][0] > 0 and better["p_value"] < 0.01
    assert bootstrap_ci(good, seed=3) == bootstrap_ci(good, seed=3)

    path = tmp_path / "outcomes.npz"
    write_outcomes(path, {"model": good, "chance": bad})
    with np.load(path, allow_pickle=False) as data:  # a plain npz: no pickled object
        assert all(data[k].dtype != object for k in data.files)
    back = read_outcomes(path)
    assert paired_difference(back["model"], back["chance"])["m/acc"] == better
    other = Outcomes.per_unit("query", [f"x{i}" for i in range(200)], {"m/acc": bad.metrics["m/acc"].values})
    with pytest.raises(ValueError, match="different query ids"):
        paired_difference(good, other)


def test_top1_outcomes_are_the_single_protocol_r1_and_miou():
    rng = np.random.default_rng(7)
    starts = rng.uniform(0, 20, size=(30, 6))
    ranked = {q: np.stack([starts[q], starts[q] + rng.uniform(0.5, 10, 6)], 1) for q in range(30)}
    truth = {q: (s, s + 4.0) for q, s in enumerate(rng.uniform(0, 20, 30))}
    truth[0] = tuple(ranked[0][0])  # IoU exactly 1
    full = moment_outcomes_single(ranked, truth)
    top1 = np.array([window_iou(ranked[q][0], np.asarray(truth[q])) for q in range(30)])
    short = single_top1_outcomes(top1)
    assert set(short) == {"mr/R1@0.3", "mr/R1@0.5", "mr/R1@0.7", "mr/mIoU"}
    for name, values in short.items():
        np.testing.assert_array_equal(values, full[name], err_msg=name)


def test_read_units_gives_each_runs_ids_from_meta_alone(tmp_path):
    from tempvl_bench.report.outcomes_file import OutcomesFileError, read_units

    path = tmp_path / "outcomes.npz"
    model = Outcomes.per_unit("text", ["t2", "t1", "t3"], {"t2v/R@1": np.array([1.0, 0.0, 1.0])})
    chance = Outcomes.per_unit("video", ["v1"], {"v2t/R@1": np.array([0.0])})
    write_outcomes(path, {"model": model, "chance": chance})
    assert read_units(path) == {"text": ["t2", "t1", "t3"]}
    assert read_units(path, "chance") == {"video": ["v1"]}
    with pytest.raises(OutcomesFileError, match=r"outcomes.npz: meta.runs.absent: missing"):
        read_units(path, "absent")
