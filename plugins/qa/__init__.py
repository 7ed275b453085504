"""Video question answering benchmarks: MSRVTT-QA, MSVD-QA, MSR-VTT multiple choice."""

from __future__ import annotations

from tempvl_bench import hookimpl
from tempvl_bench.config import builtin_task_file
from tempvl_bench.registry import TaskSpec

from tempvl_plugins.qa.datasets import ADAPTERS


def _run(ctx):
    # Imported on first run so listing tasks does not import torch.
    if ADAPTERS[ctx.spec.name].kind == "multiple-choice":
        from tempvl_plugins.qa.multiple_choice import run_multiple_choice

        return run_multiple_choice(ctx)
    from tempvl_plugins.qa.open_ended import run_open_ended

    return run_open_ended(ctx)


@hookimpl
def tempvl_bench_register_tasks(registry) -> None:
    for name, adapter in ADAPTERS.items():
        registry.register(TaskSpec(name, "qa", builtin_task_file(name), _run, groups=("qa",), description=adapter.description))
