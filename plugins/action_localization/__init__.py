"""Temporal action localization benchmarks: THUMOS14 and ActivityNet v1.3."""

from __future__ import annotations

from tempvl_bench import hookimpl
from tempvl_bench.config import builtin_task_file
from tempvl_bench.registry import TaskSpec

from tempvl_plugins.action_localization.datasets import ADAPTERS, TASKS


def _run(ctx):
    from tempvl_plugins.action_localization.task import run_action_localization

    return run_action_localization(ctx)


@hookimpl
def tempvl_bench_register_tasks(registry) -> None:
    for task, dataset in TASKS.items():
        registry.register(
            TaskSpec(task, "tal", builtin_task_file(task), _run, groups=("action-localization",),
                     description=ADAPTERS[dataset].description)
        )
