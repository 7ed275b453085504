"""The ``options:`` section of the QA task files, parsed into a typed dataclass, and the files
``tempvl-bench score --family qa`` re-scores a run from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from tempvl_bench.api import QAGroundTruth
from tempvl_bench.api import QAPrediction, checked, options_from_mapping, write_json_atomic

from tempvl_plugins.qa.vocab import DEFAULT_VOCAB_SIZE

ZERO_SHOT_METHODS = ("auto", "similarity", "head")
MC_SCORERS = ("similarity", "fused")

#: Files written next to results.json; ``tempvl-bench score --family qa --predictions
#: qa_predictions.json --ground-truth qa_ground_truth.json [--answer-vocab answer_vocab.json]``
#: reproduces the run's metrics.
PREDICTIONS_JSON = "qa_predictions.json"
GROUND_TRUTH_JSON = "qa_ground_truth.json"
VOCAB_JSON = "answer_vocab.json"


@dataclass(frozen=True)
class QAOptions:
    """Family settings of the QA tasks (``options:`` in the task YAML)."""

    #: Open-ended: size of the answer vocabulary (most frequent training answers).
    answer_vocab_size: int = checked(DEFAULT_VOCAB_SIZE, ge=1, expected="a positive integer")
    #: Open-ended zero-shot: ``similarity`` scores "question answer" texts against the video in
    #: the joint space; ``head`` uses a QA classifier (from --checkpoint); ``auto`` takes the head
    #: when the checkpoint has one of the vocabulary's size, else similarity.
    zero_shot: str = checked("auto", choices=ZERO_SHOT_METHODS)
    #: Open-ended zero-shot by similarity: candidates per question (most frequent training
    #: answers of the question's type).
    zero_shot_candidates: int = checked(100, ge=1, expected="a positive integer")
    #: Open-ended finetuning: questions of each video per step (``None``: all of them).
    train_questions_per_video: int | None = checked(None, ge=1, expected="a positive integer or null")
    #: Multiple choice: ``similarity`` (joint-space cosine) or ``fused`` (the VTM head).
    mc_scorer: str = checked("similarity", choices=MC_SCORERS)

    @classmethod
    def parse(cls, raw: Mapping[str, Any], source: str) -> "QAOptions":
        return options_from_mapping(cls, raw, source)


def write_qa_score_files(run_dir: Path, answers: Mapping[str, QAPrediction], ground_truth: Sequence[QAGroundTruth],
                         vocab: Sequence[str] | None) -> None:
    """The run's answers and ground truth in the formats ``tempvl-bench score --family qa`` reads.

    An answer tied for the top score with others is written as the list of them, which ``score``
    credits as the run did (a uniformly random pick among them).
    """
    run_dir = Path(run_dir)
    write_json_atomic(run_dir / PREDICTIONS_JSON, {str(q): a for q, a in answers.items()})
    write_json_atomic(
        run_dir / GROUND_TRUTH_JSON,
        [{"question_id": str(item.question_id), "answer": item.answer, "question_type": item.question_type}
         for item in ground_truth],
    )
    if vocab is not None:
        write_json_atomic(run_dir / VOCAB_JSON, list(vocab))
