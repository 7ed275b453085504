"""Video captioning benchmarks: MSR-VTT and MSVD captioning."""

from __future__ import annotations

from tempvl_bench import hookimpl
from tempvl_bench.config import builtin_task_file
from tempvl_bench.registry import TaskSpec

from tempvl_plugins.captioning.datasets import ADAPTERS


def _run(ctx):
    # Imported on first run so listing tasks does not import torch.
    from tempvl_plugins.captioning.task import run_captioning

    return run_captioning(ctx)


@hookimpl
def tempvl_bench_register_tasks(registry) -> None:
    for name, adapter in ADAPTERS.items():
        registry.register(
            TaskSpec(name, "captioning", builtin_task_file(name), _run, groups=("captioning",), description=adapter.description)
        )
