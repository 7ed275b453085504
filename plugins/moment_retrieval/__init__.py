"""Moment retrieval benchmarks: Charades-STA, ActivityNet Captions, QVHighlights."""

from __future__ import annotations

from tempvl_bench.api import TaskSpec, builtin_task_file, hookimpl

from tempvl_plugins.moment_retrieval.datasets import ADAPTERS

GROUP = "moment-retrieval"
#: The family's steps, imported only when a task runs (so listing tasks does not import torch).
FAMILY = "tempvl_plugins.moment_retrieval.task:MomentRetrievalFamily"


@hookimpl
def tempvl_bench_register_tasks(registry) -> None:
    for name, adapter in ADAPTERS.items():
        registry.register(TaskSpec(name, builtin_task_file(name), FAMILY, groups=(GROUP,),
                                   description=adapter.description))
