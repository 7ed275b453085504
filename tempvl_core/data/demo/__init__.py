"""Procedural, learnable demo data for every benchmark, written in the real file formats.

``ensure_demo_dataset(name)`` returns a cached data root; ``generate_demo_dataset`` writes one
without caching. The renderer and vocabulary live in ``renderer``/``vocab``; one module per
benchmark family writes the files.
"""

from tempvl_core.data.demo.cache import (
    DEMO_DATASETS,
    FORMAT_VERSION,
    ensure_demo_dataset,
    generate_demo_dataset,
)

__all__ = ["DEMO_DATASETS", "FORMAT_VERSION", "ensure_demo_dataset", "generate_demo_dataset"]
