"""TAL mAP: hand-worked cases from the ActivityNet rules, and vectorized == per-prediction loop."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from tempvl_bench.metrics import tal_metrics
from tempvl_bench.metrics.tal import ACTIVITYNET_THRESHOLDS, SegmentTable

REPO = Path(__file__).resolve().parents[2]


def table(rows: list[tuple], with_scores: bool) -> SegmentTable:
    columns = list(zip(*rows)) if rows else [[], [], [], [], []]
    return SegmentTable(list(columns[0]), list(columns[1]), np.array(columns[2], float),
                        np.array(columns[3], float), np.array(columns[4], float) if with_scores else None)


def gt(*rows: tuple) -> SegmentTable:
    return table(list(rows), with_scores=False)


def pred(*rows: tuple) -> SegmentTable:
    return table(list(rows), with_scores=True)


def test_interpolated_ap_hand_case() -> None:
    truth = gt(("v1", "A", 0, 10), ("v1", "A", 20, 30))
    preds = pred(("v1", "A", 20, 30, 0.9), ("v1", "A", 50, 60, 0.8), ("v1", "A", 0, 10, 0.7))
    # TP, FP, TP: precision 1, .5, .667 at recall .5, .5, 1 -> AP = .5 * 1 + .5 * 2/3.
    out = tal_metrics(truth, preds, thresholds=[0.5])
    assert out["tal/mAP@0.5"] == pytest.approx((0.5 + 0.5 * 2 / 3) * 100)
    assert out["tal/mAP@avg"] == out["tal/mAP@0.5"]


def test_tiou_equal_to_threshold_matches() -> None:
    out = tal_metrics(gt(("v1", "A", 0, 10)), pred(("v1", "A", 0, 5, 1.0)))  # tIoU exactly 0.5
    assert out["tal/mAP@0.5"] == 100.0
    assert out["tal/mAP@0.55"] == 0.0
    assert out["tal/mAP@avg"] == pytest.approx(10.0)


def test_activitynet_thresholds_keep_the_exact_linspace_float() -> None:
    assert ACTIVITYNET_THRESHOLDS[8] == 0.8999999999999999
    tiou = ACTIVITYNET_THRESHOLDS[8]  # GT [0, 1] vs [0, tiou] has exactly this tIoU
    truth, preds = gt(("v1", "A", 0, 1)), pred(("v1", "A", 0, tiou, 1.0))
    assert tal_metrics(truth, preds)["tal/mAP@0.9"] == 100.0  # 0.8999999999999999 >= itself
    assert tal_metrics(truth, preds, thresholds=[0.9])["tal/mAP@0.9"] == 0.0  # decimal 0.9 is above


def test_class_without_predictions_counts_as_zero() -> None:
    truth = gt(("v1", "A", 0, 10), ("v2", "B", 0, 10))
    out = tal_metrics(truth, pred(("v1", "A", 0, 10, 0.5)))
    assert out["tal/mAP@avg"] == 50.0


def test_predictions_on_unknown_videos_are_false_positives() -> None:
    truth = gt(("v1", "A", 0, 10))
    preds = pred(("other", "A", 0, 10, 0.9), ("v1", "A", 0, 10, 0.8))
    # FP then TP: precision .5 at recall 1.
    assert tal_metrics(truth, preds)["tal/mAP@avg"] == 50.0


def test_score_ties_keep_submission_order() -> None:
    truth = gt(("v1", "A", 0, 10))
    fp_first = pred(("other", "A", 0, 10, 0.5), ("v1", "A", 0, 10, 0.5))
    tp_first = pred(("v1", "A", 0, 10, 0.5), ("other", "A", 0, 10, 0.5))
    assert tal_metrics(truth, fp_first)["tal/mAP@avg"] == 50.0
    assert tal_metrics(truth, tp_first)["tal/mAP@avg"] == 100.0


def test_taken_ground_truth_passes_to_next_best() -> None:
    truth = gt(("v1", "A", 0, 10), ("v1", "A", 2, 12))
    preds = pred(("v1", "A", 0, 10, 0.9), ("v1", "A", 0, 10, 0.8))
    # Second prediction: [0,10] is taken, [2,12] has tIoU 8/12: TP at 0.5, FP at 0.7.
    out = tal_metrics(truth, preds, thresholds=[0.5, 0.7])
    assert out["tal/mAP@0.5"] == 100.0
    assert out["tal/mAP@0.7"] == 50.0


def test_zero_length_and_out_of_range_segments() -> None:
    # Identical zero-length segments: 0/0 = NaN, which the reference counts as a match.
    out = tal_metrics(gt(("v1", "A", 5, 5)), pred(("v1", "A", 5, 5, 1.0)))
    assert out["tal/mAP@avg"] == 100.0
    # A zero-length prediction inside a real segment has tIoU 0.
    assert tal_metrics(gt(("v1", "A", 0, 10)), pred(("v1", "A", 3, 3, 1.0)))["tal/mAP@avg"] == 0.0
    # No clipping to the video: [-5, 15] vs [0, 10] is 10 / 20.
    out = tal_metrics(gt(("v1", "A", 0, 10)), pred(("v1", "A", -5, 15, 1.0)))
    assert out["tal/mAP@0.5"] == 100.0 and out["tal/mAP@0.55"] == 0.0


def test_unknown_predicted_label_warns_and_is_ignored() -> None:
    truth = gt(("v1", "A", 0, 10))
    preds = pred(("v1", "Zebra", 0, 10, 0.9), ("v1", "A", 0, 10, 0.8))
    with pytest.warns(UserWarning, match="Zebra"):
        out = tal_metrics(truth, preds)
    assert out["tal/mAP@avg"] == 100.0


def test_thumos_protocol_names() -> None:
    out = tal_metrics(gt(("v1", "A", 0, 10)), pred(("v1", "A", 0, 10, 1.0)), protocol="thumos14")
    assert list(out) == ["tal/mAP@0.3", "tal/mAP@0.4", "tal/mAP@0.5", "tal/mAP@0.6", "tal/mAP@0.7", "tal/mAP@avg"]


@pytest.mark.parametrize("bad, message", [
    (pred(("v1", "A", 0, 10, float("nan"))), "score is nan"),
    (pred(("v1", "A", 10, 0, 1.0)), "ends before it starts"),
    (pred(("v1", "A", 0, float("inf"), 1.0)), "end is inf"),
])
def test_malformed_predictions_raise(bad: SegmentTable, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tal_metrics(gt(("v1", "A", 0, 10)), bad)


def _loop_reference():
    spec = importlib.util.spec_from_file_location("bench_metrics", REPO / "benchmarks" / "metrics.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.loop_tal_metrics


def _crowded_random_input(seed: int) -> tuple[SegmentTable, SegmentTable]:
    """Few videos, many overlapping GT per (class, video), quantized times and scores, so
    tIoU ties, exact-threshold hits, zero-length segments and score ties all occur."""
    rng = np.random.default_rng(seed)
    rows_gt, rows_pred = [], []
    for v in range(6):
        for c in ("A", "B", "C"):
            for _ in range(rng.integers(0, 20)):
                s = float(rng.integers(0, 20))
                rows_gt.append((f"v{v}", c, s, s + float(rng.integers(0, 8))))
    for _ in range(600):
        s = float(rng.integers(-2, 20))
        rows_pred.append((f"v{rng.integers(0, 8)}", str(rng.choice(["A", "B", "C"])), s,
                          s + float(rng.integers(0, 8)), float(rng.integers(0, 10)) / 10))
    return gt(*rows_gt), pred(*rows_pred)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorized_equals_per_prediction_loop(seed: int) -> None:
    loop_tal_metrics = _loop_reference()
    truth, preds = _crowded_random_input(seed)
    thresholds = list(ACTIVITYNET_THRESHOLDS) + [0.3, 0.4, 0.6, 0.7, 0.1]
    ours = tal_metrics(truth, preds, thresholds=thresholds)
    assert ours == loop_tal_metrics(truth, preds, thresholds)
    assert 0 < ours["tal/mAP@avg"] < 100


def test_no_predictions_at_all_gives_zero() -> None:
    empty = SegmentTable([], [], np.array([]), np.array([]), np.array([]))
    assert set(tal_metrics(gt(("v1", "A", 0, 10)), empty).values()) == {0.0}
