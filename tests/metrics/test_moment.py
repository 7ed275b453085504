"""Moment retrieval (2D-TAN single-moment, QVHighlights) and highlight metrics: hand-worked cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tempvl_bench.metrics import MomentGroundTruth, MomentPrediction, moment_metrics_single, qvhighlights_metrics
from tempvl_bench.metrics.highlights import ranking_ap
from tempvl_bench.metrics.moment import nms_keep


def test_nms_keeps_at_most_five_in_rank_order() -> None:
    windows = np.array([[0, 10], [0, 9], [20, 30], [1, 10], [40, 50], [60, 70], [80, 90], [100, 110]], float)
    assert nms_keep(windows).tolist() == [0, 2, 4, 5, 6]
    assert nms_keep(windows[:2], threshold=0.95).tolist() == [0, 1]  # IoU 0.9 <= 0.95 survives


def test_single_moment_hand_case() -> None:
    gt = {"q1": (0, 10), "q2": (0, 10)}
    preds = {
        "q1": [[0, 5], [20, 30], [2, 10]],  # top-1 IoU 0.5 exactly; [2,10] (IoU 0.8) survives NMS
        "q2": [[50, 60]],
    }
    out = moment_metrics_single(preds, gt)
    assert out == {
        "mr/R1@0.3": 50.0, "mr/R1@0.5": 0.0, "mr/R1@0.7": 0.0,  # IoU > m is strict
        "mr/R5@0.3": 50.0, "mr/R5@0.5": 50.0, "mr/R5@0.7": 50.0,
        "mr/mIoU": 25.0,
    }


def test_single_moment_suppressed_candidates_do_not_count() -> None:
    # [0, 9.5] overlaps [0, 6] by 0.63 > 0.5: NMS drops it, so R5@0.7 misses.
    out = moment_metrics_single({"q": [[0, 6], [0, 9.5]]}, {"q": (0, 10)})
    assert out["mr/R5@0.7"] == 0.0 and out["mr/R5@0.5"] == 100.0


def test_single_moment_zero_length_and_errors() -> None:
    out = moment_metrics_single({"q": [[5, 5]]}, {"q": (5, 5)})  # 0/0 counts as IoU 0, not NaN
    assert out["mr/mIoU"] == 0.0
    with pytest.raises(ValueError, match="unknown"):
        moment_metrics_single({"q": [[0, 1]], "zzz": [[0, 1]]}, {"q": (0, 1)})
    with pytest.raises(ValueError, match="NaN"):
        moment_metrics_single({"q": [[0, float("nan")]]}, {"q": (0, 1)})


def query(qid: str, windows: list, duration: float = 150, clips=None, saliency=None) -> MomentGroundTruth:
    return MomentGroundTruth(qid, duration, [tuple(w) for w in windows], clips, saliency)


def pred(qid: str, windows: list, saliency=None) -> MomentPrediction:
    return MomentPrediction(qid, np.array(windows, float), None if saliency is None else np.array(saliency, float))


def test_qvh_r1_uses_first_window_and_inclusive_threshold() -> None:
    gt = [query("a", [[0, 10]]), query("b", [[0, 10], [20, 30]]), query("c", [[0, 10]])]
    preds = [
        pred("a", [[0, 10, 0.1], [50, 60, 0.9]]),  # first window right, best-scored wrong
        pred("b", [[20, 30, 0.5]]),  # matched against the GT it overlaps most
        pred("c", [[0, 5, 0.5]]),  # IoU exactly 0.5: hit at 0.5 (>=), miss at 0.7
    ]
    out = qvhighlights_metrics(preds, gt)
    assert out["mr/R1@0.5"] == 100.0
    assert out["mr/R1@0.7"] == pytest.approx(200 / 3)
    # a: FP (score .9) then TP -> AP .5 at every threshold; b: recall 1/2 at precision 1 -> .5;
    # c: TP at 0.5 only.
    assert out["mr/mAP@0.5"] == pytest.approx((0.5 + 0.5 + 1) / 3 * 100)
    assert out["mr/mAP@0.75"] == pytest.approx((0.5 + 0.5 + 0) / 3 * 100)


def test_qvh_map_uses_only_first_ten_windows() -> None:
    windows = [[100 + 5 * i, 102 + 5 * i, 0.5] for i in range(10)] + [[0, 10, 0.99]]
    out = qvhighlights_metrics([pred("a", windows)], [query("a", [[0, 10]])])
    assert out["mr/mAP@avg"] == 0.0
    out = qvhighlights_metrics([pred("a", windows[-1:] + windows[:9])], [query("a", [[0, 10]])])
    assert out["mr/mAP@avg"] == 100.0


@pytest.mark.filterwarnings("error::RuntimeWarning")  # an empty bucket is NaN without numpy's warning
def test_qvh_length_buckets_filter_ground_truth_windows() -> None:
    gt = [query("a", [[0, 4], [10, 50]])]  # one short (4 s) and one long (40 s) window
    out = qvhighlights_metrics([pred("a", [[0, 4, 0.9]])], gt)
    assert out["mr/mAP@avg"] == 50.0  # recall 1/2 at precision 1
    assert out["mr/mAP-short"] == 100.0
    assert out["mr/mAP-long"] == 0.0
    assert math.isnan(out["mr/mAP-middle"])  # no query in the bucket, as the reference (NaN)


def test_highlights_hand_case() -> None:
    # 8 s -> 4 clips; clip 1 scores [4, 2, 0], clip 2 [1, 3, 4].
    gt = [query("a", [[2, 6]], duration=8, clips=[1, 2], saliency=[[4, 2, 0], [1, 3, 4]])]
    out = qvhighlights_metrics([pred("a", [[2, 6, 1.0]], saliency=[0.1, 0.9, 0.5, 0.2, 0.99])], gt)
    # argmax is clip 4, past the last clip: no hit. VeryGood AP per annotator: 1, 0 (no positive), .5.
    assert out["hd/HIT@1"] == 0.0
    assert out["hd/mAP"] == pytest.approx(50.0)
    out = qvhighlights_metrics([pred("a", [[2, 6, 1.0]], saliency=[0.1, 0.9, 0.5])], gt)  # zero-padded
    assert out["hd/HIT@1"] == 100.0 and out["hd/HIT@1@Fair"] == 100.0
    # Fair (>= 2): annotator 0 positive at clip 1 only (AP 1), annotator 1 at clips 1-2 (AP 1),
    # annotator 2 at clip 2 only (ranked second: AP .5).
    assert out["hd/mAP@Fair"] == pytest.approx(2.5 / 3 * 100)


def _sklearn_get_ap(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """The reference's recipe on scikit-learn's curve, written out for comparison."""
    from sklearn.metrics import precision_recall_curve

    if len(set(y_true.tolist())) == 1:
        return float(y_true[0])
    precision, recall, _ = precision_recall_curve(y_true, y_score)
    recall = recall.astype(np.float32)
    precision = np.maximum.accumulate(precision)
    return float(np.mean(precision[np.where(np.diff(recall))]))


def test_ranking_ap_equals_scikit_learn_curve_recipe() -> None:
    rng = np.random.default_rng(0)
    for _ in range(40):
        n = int(rng.integers(1, 40))
        y_true = (rng.random((n, 3)) < rng.random()).astype(float)
        y_score = np.round(rng.standard_normal(n), 1)  # rounding makes ties
        ours = ranking_ap(y_true, y_score)
        for col in range(3):
            assert ours[col] == pytest.approx(_sklearn_get_ap(y_true[:, col], y_score), abs=1e-12)


def test_qvh_errors() -> None:
    gt = [query("a", [[0, 10]])]
    with pytest.raises(ValueError, match="without prediction"):
        qvhighlights_metrics([], gt)
    with pytest.raises(ValueError, match="score"):
        qvhighlights_metrics([pred("a", [[0, 10]])], gt)
    with pytest.raises(ValueError, match="relevant_clip_ids"):
        qvhighlights_metrics([pred("a", [[0, 10, 1]], saliency=[1.0])], gt)
