"""Per-dataset adapters of the QA tasks: which annotation files a task reads and how.

Open-ended adapters return :class:`tempvl_core.data.records.QAItem` lists; the multiple-choice
adapter returns :class:`tempvl_core.data.records.MCItem` lists (and, for finetuning, MSR-VTT
training captions as :class:`tempvl_core.data.records.RetrievalItem`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tempvl_core.data import split_loader


@dataclass(frozen=True)
class QAAdapter:
    description: str
    #: ``open-ended`` (answer vocabulary) or ``multiple-choice`` (pick one of the options).
    kind: str
    #: (annotation folder, split) -> (records, annotation files read)
    load: Callable[[Path, str], tuple[list, list[Path]]]
    #: The dataset (catalogue name) it reads, so a task file of one's own finds it.
    dataset: str = ""


def load_msrvtt_mc_training(root: Path, split: str):
    """MSR-VTT captions for finetuning the multiple-choice task (``train_9k``/``train_7k``): the
    9k list leaves out every JSFusion test video, hence every multiple-choice video."""
    return split_loader("msrvtt", "retrieval")(root, split)


ADAPTERS: dict[str, QAAdapter] = {
    "msrvtt-qa": QAAdapter("MSRVTT-QA open-ended video question answering", "open-ended",
                           split_loader("msrvtt", "qa"), "msrvtt"),
    "msvd-qa": QAAdapter("MSVD-QA open-ended video question answering", "open-ended",
                         split_loader("msvd", "qa"), "msvd"),
    "msrvtt-mc": QAAdapter("MSR-VTT multiple choice: pick the caption of the video among 5", "multiple-choice",
                           split_loader("msrvtt", "mc"), "msrvtt"),
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
