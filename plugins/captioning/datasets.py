"""Per-dataset adapters of the captioning tasks: which annotation files a task reads and how.

Each adapter returns :class:`tempvl_core.data.records.CaptionItem` lists (one item per video
with all its reference captions).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class CaptionAdapter:
    description: str
    #: (annotation folder, split) -> (items, annotation files read)
    load: Callable[[Path, str], tuple[list, list[Path]]]
    #: The dataset (catalogue name) it reads, so a task file of one's own finds it.
    dataset: str = ""


def _from_catalogue(dataset: str):
    """An adapter's ``load``: the split's files as the dataset catalogue finds them. MSR-VTT's
    captioning split is the ``split`` field of MSRVTT_data.json (6513/497/2990 videos)."""

    def load(root: Path, split: str):
        from tempvl_core.data.catalogue import load as load_split

        result, files = load_split(dataset, root, "captioning", split)
        return result.records, files

    return load


ADAPTERS: dict[str, CaptionAdapter] = {
    "msrvtt-cap": CaptionAdapter("MSR-VTT video captioning", _from_catalogue("msrvtt"), "msrvtt"),
    "msvd-cap": CaptionAdapter("MSVD video captioning", _from_catalogue("msvd"), "msvd"),
}


def adapter_for(config) -> CaptionAdapter:
    """The adapter of a task: a built-in task's by its name, a task file of one's own
    (``--task ./mine.yaml``) by its ``dataset``."""
    if config.name in ADAPTERS:
        return ADAPTERS[config.name]
    for adapter in ADAPTERS.values():
        if adapter.dataset == config.dataset:
            return adapter
    known = sorted({a.dataset for a in ADAPTERS.values()})
    raise ValueError(f"{config.source}: key 'dataset': captioning reads {', '.join(known)}, not {config.dataset!r}")
