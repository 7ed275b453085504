"""Video question answering benchmarks: MSRVTT-QA, MSVD-QA, MSR-VTT multiple choice."""

from __future__ import annotations

from tempvl_bench.api import TaskSpec, builtin_task_file, hookimpl

from tempvl_plugins.qa.datasets import ADAPTERS

#: Each kind's family, imported only when a task runs (so listing tasks does not import torch).
FAMILY_BY_KIND = {
    "open-ended": "tempvl_plugins.qa.open_ended:OpenEndedQA",
    "multiple-choice": "tempvl_plugins.qa.multiple_choice:MultipleChoiceQA",
}


@hookimpl
def tempvl_bench_register_tasks(registry) -> None:
    for name, adapter in ADAPTERS.items():
        registry.register(TaskSpec(name, builtin_task_file(name), FAMILY_BY_KIND[adapter.kind], groups=("qa",),
                                   description=adapter.description))
