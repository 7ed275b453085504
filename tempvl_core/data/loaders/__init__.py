"""Annotation loaders, one module per dataset family.

Each module has ``read_*`` functions taking explicit file paths and returning a
:class:`~tempvl_core.data.records.LoadResult` (records plus clipped/dropped counts), and
``load_*(dataset_root, split)`` conveniences that follow the data-root layout and return the
records alone.
"""

from tempvl_core.data.loaders.didemo import (
    load_didemo_moments,
    load_didemo_retrieval,
    read_didemo_moments,
    read_didemo_retrieval,
)

__all__ = [
    "load_didemo_moments",
    "load_didemo_retrieval",
    "read_didemo_moments",
    "read_didemo_retrieval",
]
