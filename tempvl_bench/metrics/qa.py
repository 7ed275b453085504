"""Open-ended video QA accuracy, as just-ask and ALPRO's ``evaluate_qa``.

A prediction is the top-1 answer of a fixed answer vocabulary (built from the training split).
The denominator is every question; a prediction outside the vocabulary is wrong, so a
ground-truth answer outside it can never be matched. Per-type accuracy is 0 for a type with no
question. Answers are compared as exact strings. Values in percent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Collection, Hashable, Mapping, Sequence

#: MSRVTT-QA / MSVD-QA question types (first word of the question).
DEFAULT_QUESTION_TYPES: tuple[str, ...] = ("what", "who", "how", "where", "when")


@dataclass(frozen=True)
class QAItem:
    """One ground-truth question."""

    question_id: Hashable
    answer: str
    question_type: str | None = None


def qa_metrics(predictions: Mapping[Hashable, str], ground_truth: Sequence[QAItem],
               answer_vocab: Collection[str] | None = None,
               question_types: Sequence[str] | None = None) -> dict[str, float]:
    """``qa/acc`` and ``qa/acc/<type>`` (percent).

    ``question_types`` lists types always reported (0 when empty); types found in the ground
    truth are reported too. Without ``answer_vocab`` every predicted string is allowed.
    """
    if not ground_truth:
        raise ValueError("no questions to score")
    gt_ids = [item.question_id for item in ground_truth]
    if len(set(gt_ids)) != len(gt_ids):
        raise ValueError("ground truth lists a question_id more than once")
    missing = [q for q in gt_ids if q not in predictions]
    unknown = sorted(map(str, set(predictions) - set(gt_ids)))
    if missing or unknown:
        raise ValueError(f"predictions must answer exactly the ground-truth questions: {len(missing)} "
                         f"without prediction {missing[:5]}, {len(unknown)} unknown {unknown[:5]}")
    vocab = None if answer_vocab is None else set(answer_vocab)
    types = list(question_types or [])
    counts: dict[str, list[int]] = {t: [0, 0] for t in types}
    correct_total = 0
    for item in ground_truth:
        answer = predictions[item.question_id]
        if not isinstance(answer, str):
            raise ValueError(f"question {item.question_id!r}: prediction must be a string, got {answer!r}")
        correct = answer == item.answer and (vocab is None or answer in vocab)
        correct_total += correct
        if item.question_type is not None:
            tally = counts.setdefault(item.question_type, [0, 0])
            tally[0] += correct
            tally[1] += 1
    out = {"qa/acc": correct_total / len(ground_truth) * 100}
    for qtype, (right, total) in counts.items():
        out[f"qa/acc/{qtype}"] = right / total * 100 if total else 0.0
    return out
