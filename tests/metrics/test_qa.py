"""QA accuracy: vocabulary rule, per-type accuracy, errors."""

from __future__ import annotations

import numpy as np
import pytest

from tempvl_bench.metrics import QAGroundTruth, qa_metrics, top_answer, top_choices
from tempvl_bench.metrics.qa import DEFAULT_QUESTION_TYPES


def test_accuracy_with_vocab_and_types() -> None:
    gt = [
        QAGroundTruth(1, "dog", "what"),
        QAGroundTruth(2, "man", "who"),
        QAGroundTruth(3, "xylophone", "what"),  # answer outside the vocabulary: never correct
        QAGroundTruth(4, "cat", "what"),
    ]
    preds = {1: "dog", 2: "woman", 3: "xylophone", 4: "cat"}
    out = qa_metrics(preds, gt, answer_vocab=["dog", "cat", "man", "woman"], question_types=DEFAULT_QUESTION_TYPES)
    assert out["qa/acc"] == 50.0
    assert out["qa/acc/what"] == pytest.approx(200 / 3)
    assert out["qa/acc/who"] == 0.0
    assert out["qa/acc/where"] == 0.0  # empty type reported as 0
    assert set(out) == {"qa/acc"} | {f"qa/acc/{t}" for t in DEFAULT_QUESTION_TYPES}


def test_prediction_outside_vocab_is_wrong_even_if_equal() -> None:
    out = qa_metrics({"q": "zebra"}, [QAGroundTruth("q", "zebra")], answer_vocab=["horse"])
    assert out == {"qa/acc": 0.0}
    assert qa_metrics({"q": "zebra"}, [QAGroundTruth("q", "zebra")])["qa/acc"] == 100.0


@pytest.mark.parametrize("preds, message", [
    ({}, "without prediction"),
    ({"q": "a", "other": "b"}, "unknown"),
    ({"q": 3}, "must be a string"),
])
def test_errors(preds: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        qa_metrics(preds, [QAGroundTruth("q", "a")])


# -- ties: the expectation over breaking them uniformly at random --------------------------------

def test_tied_prediction_counts_one_over_the_number_tied() -> None:
    gt = [QAGroundTruth(1, "dog", "what"), QAGroundTruth(2, "man", "who"), QAGroundTruth(3, "cat", "what")]
    preds = {1: ["dog", "cat"], 2: "man", 3: ["dog", "bird", "fish"]}  # 1/2 + 1 + 0
    out = qa_metrics(preds, gt)
    assert out["qa/acc"] == pytest.approx(50.0)
    assert out["qa/acc/what"] == 25.0 and out["qa/acc/who"] == 100.0


def test_collapsed_multiple_choice_scores_exactly_chance() -> None:
    """Five options scored alike must give 20 %, not the credit of whichever option is first."""
    options = [str(i) for i in range(5)]
    gt = [QAGroundTruth(f"q{i}", str(i % 5)) for i in range(37)]
    preds = {item.question_id: top_answer(np.full(5, 0.3), options) for item in gt}
    assert preds["q0"] == options
    assert qa_metrics(preds, gt)["qa/acc"] == 20.0


def test_top_answer_without_ties_is_the_argmax() -> None:
    assert top_answer([0.1, 0.7, 0.2], ["a", "b", "c"]) == "b"
    assert top_choices([0.5, 0.9, 0.9, 0.1]) == [1, 2]


def test_tied_answers_outside_the_vocabulary_earn_nothing() -> None:
    out = qa_metrics({"q": ["zebra", "horse"]}, [QAGroundTruth("q", "zebra")], answer_vocab=["horse"])
    assert out["qa/acc"] == 0.0


@pytest.mark.parametrize("scores", [[0.1, float("nan")], [float("inf"), 0.0], []])
def test_top_choices_refuses_non_finite_or_empty_scores(scores: list[float]) -> None:
    with pytest.raises(ValueError):
        top_choices(scores)


@pytest.mark.parametrize("preds, message", [
    ({"q": ["a", "a"]}, "repeat"),
    ({"q": []}, "non-empty list"),
    ({"q": ["a", 3]}, "non-empty list"),
])
def test_malformed_tied_predictions(preds: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        qa_metrics(preds, [QAGroundTruth("q", "a")])
