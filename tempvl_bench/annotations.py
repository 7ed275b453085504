"""Loads a task's annotation split through the dataset registry of ``tempvl_core.data.loaders``.

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

    Raises ``ValueError`` naming the dataset, the kind and the splits that exist when the
    combination is unknown, and ``FileNotFoundError`` naming a missing annotation file.
    """
    from tempvl_core.data.loaders import DATASETS

    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(sorted(DATASETS))}")
    spec = DATASETS[dataset]
    sources = [s for s in spec.sources if s.task == kind and s.split == split]
    if not sources:
        offered = ", ".join(spec.splits(kind)) or "none"
        raise ValueError(f"dataset {dataset!r} has no {kind!r} split {split!r}; splits: {offered}")
    source = sources[0]
    files = [Path(annotation_dir) / name for name in source.files]
    for path in files:
        if not path.exists():
            raise FileNotFoundError(
                f"{path}: annotation file of {dataset} ({kind}, split {split}) not found; "
                "check --data-root / TEMPVL_DATA and the layout in docs/data.md, or use --demo"
            )
    result = source.read(Path(annotation_dir))
    return Annotations(list(result.records), files, dict(result.stats))
