"""Temporal action localization benchmarks: THUMOS14 and ActivityNet v1.3."""

from __future__ import annotations

from tempvl_bench.api import TaskSpec, builtin_task_file, hookimpl

from tempvl_plugins.action_localization.datasets import ADAPTERS, TASKS

#: The family's steps, imported only when a task runs (so listing tasks does not import torch).
FAMILY = "tempvl_plugins.action_localization.task:ActionLocalizationFamily"


@hookimpl
def tempvl_bench_register_tasks(registry) -> None:
    for task, dataset in TASKS.items():
        registry.register(TaskSpec(task, builtin_task_file(task), FAMILY, groups=("action-localization",),
                                   description=ADAPTERS[dataset].description))
