"""The answer vocabulary of open-ended video QA: the most frequent training answers.

As in just-ask and ALPRO, a model answers by classifying over a fixed list of answers built from
the training split; a test answer outside the list can never be predicted and counts as wrong.
Ties in frequency are broken alphabetically so the list does not depend on file order.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

#: just-ask / ALPRO keep the 1,500 most frequent training answers for MSRVTT-QA and MSVD-QA.
DEFAULT_VOCAB_SIZE = 1500


@dataclass(frozen=True)
class AnswerVocab:
    """Answers in classifier order (most frequent first) with their training counts."""

    answers: tuple[str, ...]
    counts: tuple[int, ...]

    @classmethod
    def build(cls, answers: Iterable[str], size: int = DEFAULT_VOCAB_SIZE) -> "AnswerVocab":
        """The ``size`` most frequent of ``answers`` (the training split's answers, repeats included)."""
        if size < 1:
            raise ValueError(f"options.answer_vocab_size must be >= 1, got {size}")
        counts = Counter(answers)
        if not counts:
            raise ValueError("cannot build an answer vocabulary from an empty training split")
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:size]
        return cls(tuple(a for a, _ in ranked), tuple(c for _, c in ranked))

    def __len__(self) -> int:
        return len(self.answers)

    def index(self) -> dict[str, int]:
        """Answer -> class index."""
        return {a: i for i, a in enumerate(self.answers)}

    def coverage(self, answers: Sequence[str]) -> float:
        """Fraction of ``answers`` inside the vocabulary (the accuracy a perfect classifier reaches)."""
        if not answers:
            return 0.0
        known = set(self.answers)
        return sum(a in known for a in answers) / len(answers)

    def sha256(self) -> str:
        """Hash of the answer list (order included), to tell vocabularies apart across runs."""
        return hashlib.sha256(json.dumps(list(self.answers)).encode("utf-8")).hexdigest()


def candidates_by_type(
    train_items: Sequence, vocab: AnswerVocab, limit: int
) -> tuple[dict[str | None, list[int]], list[int]]:
    """Per question type, the vocabulary indices of its ``limit`` most frequent training answers.

    Zero-shot answering scores each candidate with the video; restricting the candidates to
    answers seen with the question's type (its first word) keeps a "how many" question from
    being answered with a colour, and bounds the cost. Returns ``(per type, fallback)``, the
    fallback (the ``limit`` most frequent answers overall) serving types unseen in training.
    """
    if limit < 1:
        raise ValueError(f"options.zero_shot_candidates must be >= 1, got {limit}")
    index = vocab.index()
    per_type: dict[str | None, Counter] = {}
    for item in train_items:
        if item.answer in index:
            per_type.setdefault(item.question_type, Counter())[item.answer] += 1
    ranked = {
        qtype: [index[a] for a, _ in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]
        for qtype, c in per_type.items()
    }
    return ranked, list(range(min(limit, len(vocab))))
