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


def _from_catalogue(dataset: str):
    """An adapter's ``load``: the split's files as the dataset catalogue finds them. MSR-VTT's
    captioning split is the ``split`` field of MSRVTT_data.json (6513/497/2990 videos)."""

    def load(root: Path, split: str):
        from tempvl_core.data.catalogue import load as load_split

        result, files = load_split(dataset, root, "captioning", split)
        return result.records, files

    return load


ADAPTERS: dict[str, CaptionAdapter] = {
    "msrvtt-cap": CaptionAdapter("MSR-VTT video captioning", _from_catalogue("msrvtt")),
    "msvd-cap": CaptionAdapter("MSVD video captioning", _from_catalogue("msvd")),
}
