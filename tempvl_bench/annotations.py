"""Loads a task's annotation split through the dataset catalogue (``tempvl_core.data.catalogue``).

One entry point for every plugin: which files a split reads (hashed into results.json), the
typed records, and the loader's counts of clipped or dropped items.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Annotations:
    records: list
    files: list[Path]
    stats: dict[str, int] = field(default_factory=dict)


def load_annotations(dataset: str, annotation_dir: Path, kind: str, split: str) -> Annotations:
    """Records of ``kind`` (retrieval, moments, qa, captioning, mc, action, pretrain) for ``split``.

    The files are the first layout of the split the catalogue finds (the ones ``validate``
    reads). Raises ``ValueError`` naming the dataset, the kind and the splits that exist when
    the combination is unknown, and ``FileNotFoundError`` naming the missing annotation files.
    """
    from tempvl_core.data.catalogue import load

    result, files = load(dataset, Path(annotation_dir), kind, split)
    return Annotations(list(result.records), files, dict(result.stats))
