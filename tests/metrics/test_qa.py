"""QA accuracy: vocabulary rule, per-type accuracy, errors."""

from __future__ import annotations

import pytest

from tempvl_bench.metrics import QAItem, qa_metrics
from tempvl_bench.metrics.qa import DEFAULT_QUESTION_TYPES


def test_accuracy_with_vocab_and_types() -> None:
    gt = [
        QAItem(1, "dog", "what"),
        QAItem(2, "man", "who"),
        QAItem(3, "xylophone", "what"),  # answer outside the vocabulary: never correct
        QAItem(4, "cat", "what"),
    ]
    preds = {1: "dog", 2: "woman", 3: "xylophone", 4: "cat"}
    out = qa_metrics(preds, gt, answer_vocab=["dog", "cat", "man", "woman"], question_types=DEFAULT_QUESTION_TYPES)
    assert out["qa/acc"] == 50.0
    assert out["qa/acc/what"] == pytest.approx(200 / 3)
    assert out["qa/acc/who"] == 0.0
    assert out["qa/acc/where"] == 0.0  # empty type reported as 0
    assert set(out) == {"qa/acc"} | {f"qa/acc/{t}" for t in DEFAULT_QUESTION_TYPES}


def test_prediction_outside_vocab_is_wrong_even_if_equal() -> None:
    out = qa_metrics({"q": "zebra"}, [QAItem("q", "zebra")], answer_vocab=["horse"])
    assert out == {"qa/acc": 0.0}
    assert qa_metrics({"q": "zebra"}, [QAItem("q", "zebra")])["qa/acc"] == 100.0


@pytest.mark.parametrize("preds, message", [
    ({}, "without prediction"),
    ({"q": "a", "other": "b"}, "unknown"),
    ({"q": 3}, "must be a string"),
])
def test_errors(preds: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        qa_metrics(preds, [QAItem("q", "a")])
