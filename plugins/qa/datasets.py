"""Per-dataset adapters of the QA tasks: which dataset and question kind a task reads.

The records are read through the dataset catalogue: open-ended questions
(:class:`tempvl_core.data.records.QAItem`, kind ``qa``), multiple-choice items
(:class:`tempvl_core.data.records.MCItem`, kind ``mc``) and, for finetuning multiple choice,
MSR-VTT training captions (:class:`tempvl_core.data.records.RetrievalItem`, kind ``retrieval``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QAAdapter:
    description: str
    #: ``open-ended`` (answer vocabulary) or ``multiple-choice`` (pick one of the options).
    kind: str
    #: The dataset (catalogue name) it reads, so a task file of one's own finds it.
    dataset: str

    @property
    def annotation_kind(self) -> str:
        """The catalogue's kind of the records: ``qa`` (open-ended) or ``mc`` (multiple choice)."""
        return "mc" if self.kind == "multiple-choice" else "qa"


ADAPTERS: dict[str, QAAdapter] = {
    "msrvtt-qa": QAAdapter("MSRVTT-QA open-ended video question answering", "open-ended", "msrvtt"),
    "msvd-qa": QAAdapter("MSVD-QA open-ended video question answering", "open-ended", "msvd"),
    "msrvtt-mc": QAAdapter("MSR-VTT multiple choice: pick the caption of the video among 5", "multiple-choice",
                           "msrvtt"),
}


def qa_adapter_for(config) -> QAAdapter:
    """The adapter of a task: a built-in task's by its name, a task file of one's own
    (``--task ./mine.yaml``) by its ``dataset`` and question kind (``splits.eval_kind: mc``:
    multiple choice)."""
    if config.name in ADAPTERS:
        return ADAPTERS[config.name]
    kind = "multiple-choice" if config.splits.eval_kind == "mc" else "open-ended"
    for adapter in ADAPTERS.values():
        if (adapter.dataset, adapter.kind) == (config.dataset, kind):
            return adapter
    known = sorted(f"{a.dataset} ({a.kind})" for a in ADAPTERS.values())
    raise ValueError(f"{config.source}: key 'dataset': QA reads {', '.join(known)}, not {config.dataset!r} ({kind})")
