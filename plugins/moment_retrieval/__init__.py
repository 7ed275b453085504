"""Moment retrieval benchmarks: Charades-STA, ActivityNet Captions, QVHighlights."""

from __future__ import annotations

from tempvl_bench import hookimpl
from tempvl_bench.config import builtin_task_file
from tempvl_bench.registry import TaskSpec

from tempvl_plugins.moment_retrieval.datasets import ADAPTERS

GROUP = "moment-retrieval"


def _run(ctx):
    from tempvl_plugins.moment_retrieval.task import run_moment_retrieval

    return run_moment_retrieval(ctx)


@hookimpl
def tempvl_bench_register_tasks(registry) -> None:
    for name, adapter in ADAPTERS.items():
        registry.register(
            TaskSpec(name, "moment-retrieval", builtin_task_file(name), _run, groups=(GROUP,),
                     description=adapter.description)
        )
