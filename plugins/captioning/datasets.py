"""Per-dataset adapters of the captioning tasks: which annotation files a task reads and how.

Each adapter returns :class:`tempvl_core.data.records.CaptionItem` lists (one item per video
with all its reference captions).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tempvl_core.data import split_loader


@dataclass(frozen=True)
class CaptionAdapter:
    description: str
    #: (annotation folder, split) -> (items, annotation files read)
    load: Callable[[Path, str], tuple[list, list[Path]]]
    #: The dataset (catalogue name) it reads, so a task file of one's own finds it.
    dataset: str = ""


ADAPTERS: dict[str, CaptionAdapter] = {
    "msrvtt-cap": CaptionAdapter("MSR-VTT video captioning", split_loader("msrvtt", "captioning"), "msrvtt"),
    "msvd-cap": CaptionAdapter("MSVD video captioning", split_loader("msvd", "captioning"), "msvd"),
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
