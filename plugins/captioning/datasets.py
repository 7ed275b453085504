"""Per-dataset adapters of the captioning tasks: which dataset a task reads.

The videos (:class:`tempvl_core.data.records.CaptionItem`, one item per video with all its
reference captions) are read through the dataset catalogue (kind ``captioning``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CaptionAdapter:
    description: str
    #: The dataset (catalogue name) it reads, so a task file of one's own finds it.
    dataset: str


ADAPTERS: dict[str, CaptionAdapter] = {
    "msrvtt-cap": CaptionAdapter("MSR-VTT video captioning", "msrvtt"),
    "msvd-cap": CaptionAdapter("MSVD video captioning", "msvd"),
}


def caption_adapter_for(config) -> CaptionAdapter:
    """The adapter of a task: a built-in task's by its name, a task file of one's own
    (``--task ./mine.yaml``) by its ``dataset``."""
    if config.name in ADAPTERS:
        return ADAPTERS[config.name]
    for adapter in ADAPTERS.values():
        if adapter.dataset == config.dataset:
            return adapter
    known = sorted({a.dataset for a in ADAPTERS.values()})
    raise ValueError(f"{config.source}: key 'dataset': captioning reads {', '.join(known)}, not {config.dataset!r}")
