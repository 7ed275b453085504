"""The ``options:`` section of the QA task files, parsed into a typed dataclass, and the files
``tempvl-bench score --family qa`` re-scores a run from."""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from tempvl_bench.config import ConfigError
from tempvl_bench.metrics import QAItem as ScoredQuestion
from tempvl_bench.metrics import QAPrediction
from tempvl_bench.results import write_json_atomic

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
    answer_vocab_size: int = DEFAULT_VOCAB_SIZE
    #: Open-ended zero-shot: ``similarity`` scores "question answer" texts against the video in
    #: the joint space; ``head`` uses a QA classifier (from --checkpoint); ``auto`` takes the head
    #: when the checkpoint has one of the vocabulary's size, else similarity.
    zero_shot: str = "auto"
    #: Open-ended zero-shot by similarity: candidates per question (most frequent training
    #: answers of the question's type).
    zero_shot_candidates: int = 100
    #: Open-ended finetuning: questions of each video per step (``None``: all of them).
    train_questions_per_video: int | None = None
    #: Multiple choice: ``similarity`` (joint-space cosine) or ``fused`` (the VTM head).
    mc_scorer: str = "similarity"

    @classmethod
    def parse(cls, raw: Mapping[str, Any], source: str) -> "QAOptions":
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for key in raw:
            if key not in fields:
                close = difflib.get_close_matches(str(key), list(fields), n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"{source}: key 'options.{key}': unknown QA option.{hint} "
                                  f"Allowed: {', '.join(fields)}")
        values = cls(**dict(raw))
        values._validate(source)
        return values

    def _validate(self, source: str) -> None:
        def positive_int(name: str, value: Any, optional: bool = False) -> None:
            if optional and value is None:
                return
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{source}: key 'options.{name}': expected a positive integer"
                                  f"{' or null' if optional else ''}, got {value!r}")

        positive_int("answer_vocab_size", self.answer_vocab_size)
        positive_int("zero_shot_candidates", self.zero_shot_candidates)
        positive_int("train_questions_per_video", self.train_questions_per_video, optional=True)
        if self.zero_shot not in ZERO_SHOT_METHODS:
            raise ConfigError(f"{source}: key 'options.zero_shot': expected one of {list(ZERO_SHOT_METHODS)}, "
                              f"got {self.zero_shot!r}")
        if self.mc_scorer not in MC_SCORERS:
            raise ConfigError(f"{source}: key 'options.mc_scorer': expected one of {list(MC_SCORERS)}, "
                              f"got {self.mc_scorer!r}")


def write_score_files(run_dir: Path, answers: Mapping[str, QAPrediction], ground_truth: Sequence[ScoredQuestion],
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
