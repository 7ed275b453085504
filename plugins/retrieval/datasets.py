"""Per-dataset adapters: which annotation files a retrieval task reads and how.

Each adapter returns :class:`tempvl_core.data.records.RetrievalItem` lists. ``protocol`` is
``paragraph`` (one text per video, square similarity matrix) or ``multi-caption`` (every caption
is a query, texts grouped by video, CLIP4Clip's multi-sentence evaluation).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class RetrievalAdapter:
    description: str
    protocol: str
    #: (annotation folder, split) -> (items, annotation files read)
    load: Callable[[Path, str], tuple[list, list[Path]]]


def _didemo(root: Path, split: str):
    from tempvl_core.data.loaders.didemo import load_didemo_retrieval

    return load_didemo_retrieval(root, split), [root / f"{split}_data.json", root / f"{split}_list.txt"]


ADAPTERS: dict[str, RetrievalAdapter] = {
    "didemo": RetrievalAdapter("DiDeMo paragraph-to-video retrieval", "paragraph", _didemo),
}
