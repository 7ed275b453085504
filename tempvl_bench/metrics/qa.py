"""Open-ended video QA accuracy, as just-ask and ALPRO's ``evaluate_qa``, and top-1 choice.

A prediction is the top-1 answer of a fixed answer vocabulary (built from the training split).
The denominator is every question; a prediction outside the vocabulary is wrong, so a
ground-truth answer outside it can never be matched. Per-type accuracy is 0 for a type with no
question. Answers are compared as exact strings. Values in percent.

Ties: where several candidates share the top score, the prediction is the list of them and the
question counts the expectation over breaking the tie uniformly at random (1 / number tied
when the right answer is among them), the retrieval tie rule at K = 1. A model that scores
every candidate alike gets exactly chance, never the credit of whichever candidate comes first.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Collection, Hashable, Mapping, Sequence, Union

import numpy as np

#: MSRVTT-QA / MSVD-QA question types (first word of the question).
DEFAULT_QUESTION_TYPES: tuple[str, ...] = ("what", "who", "how", "where", "when")

#: One answer, or the answers tied for the top score (distinct, non-empty).
Prediction = Union[str, Sequence[str]]


@dataclass(frozen=True)
class QAGroundTruth:
    """One ground-truth question."""

    question_id: Hashable
    answer: str
    question_type: str | None = None


def top_choices(scores: Sequence[float] | np.ndarray) -> list[int]:
    """Indices of the candidates sharing the highest score, in candidate order.

    NaN and infinite scores are refused: they would make the choice arbitrary.
    """
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"expected a non-empty 1-D list of candidate scores, got shape {values.shape}")
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise ValueError(f"{bad.size} candidate score(s) are NaN or infinite (first: candidate {int(bad[0])} "
                         f"= {values[bad[0]]})")
    return np.flatnonzero(values == values.max()).tolist()


def top_answer(scores: Sequence[float] | np.ndarray, answers: Sequence[str]) -> Prediction:
    """The answer with the highest score, or the list of answers tied for it."""
    best = top_choices(scores)
    return answers[best[0]] if len(best) == 1 else [answers[i] for i in best]


def prediction_credit(prediction: Prediction, answer: str, vocab: Collection[str] | None = None,
                      question_id: Hashable = None) -> Fraction | int:
    """Expected correctness of ``prediction`` under uniform tie breaking (0 or 1 without ties)."""
    if isinstance(prediction, str):
        tied = [prediction]
    elif isinstance(prediction, (list, tuple)) and prediction and all(isinstance(a, str) for a in prediction):
        tied = list(prediction)
    else:
        raise ValueError(f"question {question_id!r}: prediction must be a string or a non-empty list of "
                         f"tied answer strings, got {prediction!r}")
    if len(set(tied)) != len(tied):
        raise ValueError(f"question {question_id!r}: tied answers {tied!r} repeat an answer")
    right = int(answer in tied and (vocab is None or answer in vocab))
    return right if len(tied) == 1 else Fraction(right, len(tied))


def qa_metrics(predictions: Mapping[Hashable, Prediction], ground_truth: Sequence[QAGroundTruth],
               answer_vocab: Collection[str] | None = None,
               question_types: Sequence[str] | None = None) -> dict[str, float]:
    """``qa/acc`` and ``qa/acc/<type>`` (percent).

    ``predictions[qid]`` is an answer string, or the list of answers tied for the top score.
    ``question_types`` lists types always reported (0 when empty); types found in the ground
    truth are reported too. Without ``answer_vocab`` every predicted string is allowed.
    """
    if not ground_truth:
        raise ValueError("no questions to score")
    gt_ids = [item.question_id for item in ground_truth]
    if len(set(gt_ids)) != len(gt_ids):
        seen: set = set()
        repeated = next(q for q in gt_ids if q in seen or seen.add(q))
        raise ValueError(f"ground truth lists question_id {repeated!r} more than once")
    missing = [q for q in gt_ids if q not in predictions]
    unknown = sorted(map(str, set(predictions) - set(gt_ids)))
    if missing or unknown:
        raise ValueError(f"predictions must answer exactly the ground-truth questions: {len(missing)} "
                         f"without prediction {missing[:5]}, {len(unknown)} unknown {unknown[:5]}")
    vocab = None if answer_vocab is None else set(answer_vocab)
    types = list(question_types or [])
    counts: dict[str, list] = {t: [0, 0] for t in types}
    correct_total: Fraction | int = 0
    for item in ground_truth:
        credit = prediction_credit(predictions[item.question_id], item.answer, vocab, item.question_id)
        correct_total += credit
        if item.question_type is not None:
            tally = counts.setdefault(item.question_type, [0, 0])
            tally[0] += credit
            tally[1] += 1
    # int / int and Fraction -> float are both correctly rounded: tie-free values are unchanged.
    out = {"qa/acc": float(correct_total / len(ground_truth)) * 100}
    for qtype, (right, total) in counts.items():
        out[f"qa/acc/{qtype}"] = float(right / total) * 100 if total else 0.0
    return out


def qa_outcomes(predictions: Mapping[Hashable, Prediction], ground_truth: Sequence[QAGroundTruth],
                answer_vocab: Collection[str] | None = None,
                question_types: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """The metrics of :func:`qa_metrics` per question (percent credit, in ``ground_truth``
    order); ``qa/acc/<type>`` is NaN outside its type, so each metric is its array's NaN-ignoring
    mean (a type without questions has no outcomes)."""
    qa_metrics(predictions, ground_truth, answer_vocab, question_types)  # the same checks
    vocab = None if answer_vocab is None else set(answer_vocab)
    credit = np.array([float(prediction_credit(predictions[item.question_id], item.answer, vocab, item.question_id))
                       for item in ground_truth]) * 100
    out = {"qa/acc": credit}
    kinds = np.array([item.question_type if item.question_type is not None else "" for item in ground_truth],
                     dtype=object)
    for qtype in dict.fromkeys([*(question_types or []), *(i.question_type for i in ground_truth
                                                          if i.question_type is not None)]):
        if (kinds == qtype).any():
            out[f"qa/acc/{qtype}"] = np.where(kinds == qtype, credit, np.nan)
    return out
