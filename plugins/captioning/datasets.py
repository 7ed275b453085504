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


def _msrvtt(root: Path, split: str):
    from tempvl_core.data.loaders import load_msrvtt_captioning

    # The captioning split is the ``split`` field of MSRVTT_data.json (6513/497/2990 videos).
    return load_msrvtt_captioning(root, split), [root / "MSRVTT_data.json"]


def _msvd(root: Path, split: str):
    from tempvl_core.data.loaders import load_msvd_captioning

    return load_msvd_captioning(root, split), [root / "raw-captions.pkl", root / f"{split}_list.txt"]


ADAPTERS: dict[str, CaptionAdapter] = {
    "msrvtt-cap": CaptionAdapter("MSR-VTT video captioning", _msrvtt),
    "msvd-cap": CaptionAdapter("MSVD video captioning", _msvd),
}
