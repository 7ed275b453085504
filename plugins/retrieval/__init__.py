"""Text-video retrieval benchmarks: DiDeMo, MSR-VTT, MSVD, LSMDC, ActivityNet paragraphs."""

from __future__ import annotations

from tempvl_bench import hookimpl
from tempvl_bench.config import builtin_task_file
from tempvl_bench.registry import TaskSpec

from tempvl_plugins.retrieval.datasets import TASKS


def _run(ctx):
    from tempvl_plugins.retrieval.task import run_retrieval

    return run_retrieval(ctx)


@hookimpl
def tempvl_bench_register_tasks(registry) -> None:
    for name, description in TASKS.items():
        registry.register(
            TaskSpec(name, "retrieval", builtin_task_file(name), _run, groups=("retrieval",), description=description)
        )
