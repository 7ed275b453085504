"""One task lifecycle for every family: the harness owns the loop, families supply the steps.

:func:`run_family` is what :func:`tempvl_bench.run.runner.run_task` calls once the run folder
and context exist: evaluation split -> ``--limit`` -> (training split) -> model -> finetuning
-> prediction (videos through :func:`tempvl_bench.run.encoding.encode_videos`) -> scores -> the
check against the task file's ``metrics:``. A task's family code is named lazily by a
``"module:attr"`` target (a :class:`~tempvl_bench.run.family.TaskFamily` subclass or instance),
imported only when the task runs, so listing tasks never imports torch.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tempvl_bench.config import ConfigError, parse_options
from tempvl_bench.run import distributed
from tempvl_bench.run.checkpoint import Checkpoint
from tempvl_bench.run.family import Scores, Split, TaskFamily
from tempvl_bench.run.tempvl_model import task_model_config
from tempvl_bench.run.types import RunContext, RunError, TaskOutput

if TYPE_CHECKING:
    from tempvl_bench.plugin.registry import TaskSpec


class LifecycleError(ValueError):
    """A task whose family code cannot be found (a wrong ``module:attr`` target); the message names it."""


def load_family(spec: "TaskSpec") -> TaskFamily:
    """The task's family, an instance: ``spec.family`` itself or its lazy ``"module:attr"`` target."""
    target = spec.family
    if isinstance(target, str):
        target = resolve_target(target, f"task {spec.name!r} (plugin {spec.plugin or '?'})")
    if isinstance(target, type) and issubclass(target, TaskFamily):
        target = target()
    if not isinstance(target, TaskFamily):
        raise LifecycleError(f"task {spec.name!r} (plugin {spec.plugin or '?'}): {target!r} is not a TaskFamily "
                             "(subclass tempvl_bench.api.TaskFamily)")
    return target


def resolve_target(target: str, owner: str) -> Any:
    """Import ``"package.module:attr"``; errors name ``owner`` and the target."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise LifecycleError(f"{owner}: target {target!r} is not of the form 'package.module:attr'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise LifecycleError(f"{owner}: cannot import {module_name!r} for target {target!r}: {exc}") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise LifecycleError(f"{owner}: module {module_name!r} has no attribute {attr!r} (target {target!r})") from None


def check_task(spec: "TaskSpec", config, checkpoint: Checkpoint | None = None) -> tuple[TaskFamily, Any]:
    """Everything about a task that can be checked without its data, so ``run`` fails before
    the first video is read and ``validate`` finds what ``run`` would: its code, ``options:``,
    ``metrics:`` and (without a checkpoint, whose own config is used) the model settings.
    Returns the family and the parsed options."""
    family = load_family(spec)
    task_options = parse_family_options(family, config)
    if checkpoint is None:
        task_model_config(config)
    return family, task_options


def parse_family_options(family: TaskFamily, config) -> Any:
    """The task file's ``options:`` as ``family.options``, through the one config validator, and
    the file's ``metrics:`` checked against what the family reports with those options (both
    before any data is read: ``run`` and ``validate`` call this first)."""
    options = parse_options(config, family.options)
    offered = family.metric_names(options)
    if offered is not None:
        unknown = [m for m in config.metrics if not _offered(m, offered)]
        if unknown:
            raise ConfigError(f"{config.where('metrics')}: the {config.family} family does not compute "
                              f"{', '.join(unknown)} (with these options it reports {', '.join(offered)}); "
                              "list a subset of those")
    return options


def _offered(name: str, offered: tuple[str, ...]) -> bool:
    return name in offered or any(o.endswith("/*") and name.startswith(o[:-1]) and len(name) > len(o) - 1
                                  for o in offered)


def run_family(ctx: RunContext, family: TaskFamily) -> TaskOutput:
    """Run a family's steps in the harness's loop and return the task output (None on ranks
    other than 0)."""
    config = ctx.config
    if ctx.task_options is None:
        ctx.task_options = parse_family_options(family, config)
    if ctx.mode == "finetune" and not family.supports_finetune:
        raise RunError(f"task {ctx.spec.name!r}: its family has no finetuning step; run it with --mode zero-shot")
    evaluation = family.load(ctx, config.splits.eval)
    evaluation.records = ctx.limited(evaluation.records)
    train = _load_train(ctx, family)
    model = ctx.model()
    if ctx.mode == "finetune":
        ctx.finetuned = family.finetune(ctx, model, train, evaluation)
        model.eval()
    passes_before = len(ctx.clips.evaluated)
    predictions = family.predict(ctx, model, evaluation, train)
    failed_videos = _failed_videos(ctx, passes_before)
    if not distributed.is_main():  # under torchrun rank 0 alone scores: every rank holds the same predictions
        return None
    scores = family.score(ctx, evaluation, predictions)
    metrics = checked_metrics(config, scores)
    if train is None and family.baselines_use_train and ctx.config.splits.train:  # fitted on training statistics
        train = _train_for_baselines(ctx, family)
    baselines = family.baselines(ctx, train, evaluation)
    files = list(dict.fromkeys([*(train.files if train else []), *evaluation.files]))
    return TaskOutput(
        metrics=metrics,
        outcomes=scores.outcomes,
        breakdowns=scores.breakdowns,
        split=evaluation.name,
        num_samples=scores.num_samples,
        predictions=scores.predictions,
        failed_videos=failed_videos,
        annotation_files=files,
        baselines=baselines,
    )


def _failed_videos(ctx: RunContext, since: int) -> list[dict[str, str]]:
    """The evaluation passes' failed videos, of every rank (each video once)."""
    found: dict[str, dict[str, str]] = {}
    for part in distributed.gather(ctx.clips.failed_videos(since=since)):
        for failure in part:
            found.setdefault(failure["path"], failure)
    return list(found.values())


def _load_train(ctx: RunContext, family: TaskFamily) -> Split | None:
    if ctx.mode != "finetune" and not family.needs_train_split:
        return None
    if ctx.mode != "finetune" and not ctx.config.splits.train:
        raise ValueError(f"{ctx.config.where('splits.train')}: is empty, but task {ctx.spec.name!r} reads its training "
                         "split even zero-shot (e.g. for its answer vocabulary)")
    return family.load_train(ctx, ctx.train_split)


def _train_for_baselines(ctx: RunContext, family: TaskFamily) -> Split | None:
    """The training split for the baselines of a zero-shot run; one that cannot be read (only the
    evaluation split downloaded) costs the baselines, not the run."""
    import sys

    try:
        return family.load_train(ctx, ctx.train_split)
    except (OSError, ValueError) as exc:
        print(f"{ctx.spec.name}: no trivial baselines: training split {ctx.train_split!r} unreadable ({exc})",
              file=sys.stderr)
        return None


def checked_metrics(config, scores: Scores) -> dict[str, float]:
    """Every metric the family computed: those of the task file's ``metrics:`` first, in its
    order, then the rest (results.json holds the family's full set; ``metrics:`` may list a
    subset). A listed metric must have been computed unless the family declares it undefined
    on this data (``Scores.undefined``: a question type without questions)."""
    listed = list(config.metrics)
    missing = [m for m in listed if m not in scores.metrics and m not in scores.undefined]
    if missing:
        raise RunError(f"{config.where('metrics')}: task {config.name!r} did not compute {', '.join(missing)}; the "
                       "task file's metrics: must name metrics its family reports")
    ordered = [m for m in listed if m in scores.metrics] + [m for m in scores.metrics if m not in listed]
    return {m: float(scores.metrics[m]) for m in ordered}


def check_finetuned(run_dir: Path, task: str) -> None:
    """Refuse to record a finetune row when no finetuning state was saved for the run."""
    from tempvl_bench.run.finetune import STATE_DIR, recover_state  # torch: only once a finetune has run

    if recover_state(Path(run_dir) / STATE_DIR) is None:
        raise RunError(f"task {task!r}: --mode finetune, but the task trained nothing (no finetuning state in "
                       f"{Path(run_dir) / STATE_DIR}); refusing to record zero-shot numbers as a finetune row")
