"""What a benchmark family supplies: its steps, its options and the shapes they exchange.

The harness (:mod:`tempvl_bench.run.lifecycle`) runs the same loop for every task: config, data
root, ``--limit``, model, finetuning with resume, video encoding, prediction, metrics, the check
against the task file's ``metrics:``, results. A family fills in only what differs, as methods
of a :class:`TaskFamily` subclass that a plugin registers lazily by ``"module:attr"``; the task
file's ``family:`` key names the family::

    TaskSpec("my-task", config_path, "my_plugin.family:MyFamily")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Iterable

if TYPE_CHECKING:
    from tempvl_bench.run.types import RunContext


@dataclass
class Split:
    """The records of one annotation split and the annotation files they were read from."""

    name: str
    records: list
    #: Annotation files read (hashed into results.json).
    files: list[Path] = field(default_factory=list)


@dataclass
class Scores:
    """What :meth:`TaskFamily.score` returns; the harness writes it as results and predictions."""

    metrics: dict[str, float]
    num_samples: int
    #: One JSON-able dict per query, video or question (``predictions.jsonl``).
    predictions: Iterable[dict[str, Any]] = ()
    #: Metrics of the task file that this data leaves undefined (a question type without
    #: questions, a length bucket without ground truth): listed by ``metrics:`` but not reported.
    undefined: tuple[str, ...] = ()
    #: Per-query (or per-video) outcomes of the metrics (:class:`tempvl_bench.report.uncertainty.Outcomes`),
    #: from which the harness computes their 95% bootstrap intervals and paired comparisons.
    outcomes: Any = None
    #: Named breakdowns beyond the listed metrics (``{"tal/AP per class": {class: AP}}``), kept
    #: in results.json ``breakdowns`` for reports.
    breakdowns: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class NoOptions:
    """A family without ``options:``; any key given there is an error naming it."""


class TaskFamily:
    """The steps of one benchmark family. Subclass it and override what your family does.

    Every step receives the :class:`~tempvl_bench.run.types.RunContext` (config, the parsed
    options as ``ctx.task_options``, the data folders, ``ctx.clips`` for video batches).
    """

    #: The dataclass the task file's ``options:`` is validated into (types, ranges, did-you-mean).
    options: ClassVar[type] = NoOptions
    #: True when prediction needs the training split even zero-shot (e.g. an answer vocabulary).
    needs_train_split: ClassVar[bool] = False
    #: False for a family without finetuning: ``--mode finetune`` is then refused, never run
    #: as zero-shot and recorded as a finetune row.
    supports_finetune: ClassVar[bool] = True
    #: False when :meth:`baselines` needs no training statistics (retrieval's analytic chance):
    #: a zero-shot run then reads (and hashes) no training split for them.
    baselines_use_train: ClassVar[bool] = True
    #: Model capabilities (:mod:`tempvl_bench.plugin.capabilities`) every run of the family needs. The
    #: default, the whole TemPVL interface, suits a family that calls TemPVL's own methods.
    needs: ClassVar[tuple[str, ...]] = ("tempvl-interface",)

    def capabilities_needed(self, config: Any, options: Any, mode: str) -> tuple[str, ...]:
        """What a run of this family needs of its model, for its task file, parsed ``options:``
        and mode: :attr:`needs`, plus ``finetuning`` with ``--mode finetune``. Checked before
        any video is read; override it when the need depends on the options."""
        return self.needs + (("finetuning",) if mode == "finetune" else ())

    def metric_names(self, options: Any) -> tuple[str, ...] | None:
        """Every metric this family reports with ``options`` (the parsed ``options:``), or None
        when it cannot say before running. A name ending in ``/*`` stands for any name below it
        (per question type accuracies: ``qa/acc/*``). A task file's ``metrics:`` may list any
        subset; the run and ``validate`` refuse a listed name outside this set before reading data."""
        return None

    def load(self, ctx: "RunContext", split: str) -> Split:
        """The evaluation records of ``split`` (before ``--limit``, which the harness applies)."""
        raise NotImplementedError(f"{type(self).__name__}.load")

    def load_train(self, ctx: "RunContext", split: str) -> Split:
        """The training records of ``split``; by default read as :meth:`load` reads them."""
        return self.load(ctx, split)

    def finetune(self, ctx: "RunContext", model: Any, train: Split, evaluation: Split) -> Any:
        """Train ``model`` in place on ``train``, with :func:`tempvl_bench.api.finetune` (which
        saves every epoch and resumes with ``--resume``). What it returns (e.g. a trained head)
        is kept as ``ctx.finetuned`` for :meth:`predict`."""
        raise NotImplementedError(f"{type(self).__name__}.finetune")

    def predict(self, ctx: "RunContext", model: Any, evaluation: Split, train: Split | None) -> Any:
        """Predictions for the evaluation records, from videos encoded by
        :func:`tempvl_bench.run.encoding.encode_videos` (whatever object :meth:`score` reads)."""
        raise NotImplementedError(f"{type(self).__name__}.predict")

    def score(self, ctx: "RunContext", evaluation: Split, predictions: Any) -> Scores:
        """Metrics (canonical names) and prediction rows; may write score files into ``ctx.run_dir``."""
        raise NotImplementedError(f"{type(self).__name__}.score")

    def baselines(self, ctx: "RunContext", train: Split | None, evaluation: Split) -> dict[str, Scores]:
        """Trivial baselines (name -> their scores on the evaluation records, with outcomes),
        fitted on training-split statistics only; reported beside the model's numbers and
        compared with them query by query. ``train`` is None when the task has no training split."""
        return {}
