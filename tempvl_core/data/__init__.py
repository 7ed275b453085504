"""Annotation loaders, typed records, demo data and the torch data pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Callable


def split_loader(dataset: str, kind: str) -> Callable[[Path, str], tuple[list, list[Path]]]:
    """``load(annotation_dir, split) -> (records, files read)`` for one dataset and annotation
    kind, through the dataset catalogue (:mod:`tempvl_core.data.catalogue`, imported on the
    first call so that naming a loader costs nothing): the files ``validate`` reads."""

    def load(annotation_dir: Path, split: str) -> tuple[list, list[Path]]:
        from tempvl_core.data.catalogue import load as load_split

        result, files = load_split(dataset, Path(annotation_dir), kind, split)
        return list(result.records), files

    return load
