"""Canonical names: directions, threshold formatting, and the names each function emits."""

from __future__ import annotations

import numpy as np

from tempvl_bench.metrics import metric_direction, moment_metrics_single, retrieval_metrics, tal_metrics
from tempvl_bench.metrics.families import FAMILIES
from tempvl_bench.metrics.names import MOMENT_SINGLE, RETRIEVAL, format_threshold, tal_names
from tempvl_bench.metrics.tal import ACTIVITYNET_THRESHOLDS, THUMOS14_THRESHOLDS, SegmentTable


def test_directions() -> None:
    assert metric_direction("t2v/MdR") == "lower" and metric_direction("v2t/MnR") == "lower"
    for name in ("t2v/R@1", "cap/CIDEr", "qa/acc/what", "tal/mAP@avg", "mr/mIoU", "hd/HIT@1"):
        assert metric_direction(name) == "higher"


def test_threshold_names_round_only_the_name() -> None:
    assert ACTIVITYNET_THRESHOLDS[8] == 0.8999999999999999
    assert tal_names(ACTIVITYNET_THRESHOLDS)[8] == "tal/mAP@0.9"
    assert tal_names(THUMOS14_THRESHOLDS) == ("tal/mAP@0.3", "tal/mAP@0.4", "tal/mAP@0.5", "tal/mAP@0.6",
                                              "tal/mAP@0.7", "tal/mAP@avg")
    assert format_threshold(0.55) == "0.55" and format_threshold(1) == "1.0"


def test_functions_emit_canonical_names() -> None:
    assert tuple(retrieval_metrics(np.eye(3))) == RETRIEVAL == FAMILIES["retrieval"].metric_names()
    assert tuple(moment_metrics_single({"q": [[0, 1]]}, {"q": (0, 1)})) == MOMENT_SINGLE
    assert MOMENT_SINGLE == FAMILIES["moment-retrieval"].metric_names("single")
    truth = SegmentTable(["v"], ["A"], np.array([0.0]), np.array([1.0]))
    preds = SegmentTable(["v"], ["A"], np.array([0.0]), np.array([1.0]), np.array([1.0]))
    assert tuple(tal_metrics(truth, preds)) == tal_names(ACTIVITYNET_THRESHOLDS) == FAMILIES["tal"].metric_names()
