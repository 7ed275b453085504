"""``python -m tempvl_core.data.demo [DATASET ...]``: generate (or check) demo datasets in the
cache and print each data root."""

from __future__ import annotations

import argparse
from pathlib import Path

from tempvl_core.data.demo.cache import DEMO_DATASETS, ensure_demo_dataset


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tempvl_core.data.demo", description=__doc__.split("\n")[0])
    parser.add_argument("datasets", nargs="*", help=f"any of {', '.join(DEMO_DATASETS)} (default: all)")
    parser.add_argument("--cache-dir", type=Path, help="default: $TEMPVL_CACHE or ~/.cache/tempvl-bench")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verify-hashes", action="store_true", help="also check every file's sha256")
    args = parser.parse_args(argv)
    unknown = [d for d in args.datasets if d not in DEMO_DATASETS]
    if unknown:
        parser.error(f"unknown demo dataset(s) {', '.join(unknown)}; choose from {', '.join(DEMO_DATASETS)}")
    for name in args.datasets or DEMO_DATASETS:
        root = ensure_demo_dataset(
            name, cache_dir=args.cache_dir, seed=args.seed, verify_hashes=args.verify_hashes
        )
        print(f"{name}\t{root}")


if __name__ == "__main__":
    main()
