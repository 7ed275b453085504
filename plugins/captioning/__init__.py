"""Video captioning benchmarks: MSR-VTT and MSVD captioning."""

from __future__ import annotations

from tempvl_bench.api import TaskSpec, builtin_task_file, hookimpl

from tempvl_plugins.captioning.datasets import ADAPTERS

#: The family's steps, imported only when a task runs (so listing tasks does not import torch).
FAMILY = "tempvl_plugins.captioning.task:CaptioningFamily"


@hookimpl
def tempvl_bench_register_tasks(registry) -> None:
    for name, adapter in ADAPTERS.items():
        registry.register(TaskSpec(name, builtin_task_file(name), FAMILY, groups=("captioning",),
                                   description=adapter.description))
