"""Text-video retrieval benchmarks: DiDeMo, MSR-VTT, MSVD, LSMDC, ActivityNet paragraphs."""

from __future__ import annotations

from tempvl_bench.api import TaskSpec, builtin_task_file, hookimpl

from tempvl_plugins.retrieval.datasets import TASKS

#: The family's steps, imported only when a task runs (so listing tasks does not import torch).
FAMILY = "tempvl_plugins.retrieval.task:RetrievalFamily"


@hookimpl
def tempvl_bench_register_tasks(registry) -> None:
    for name, description in TASKS.items():
        registry.register(TaskSpec(name, builtin_task_file(name), FAMILY, groups=("retrieval",),
                                   description=description))
