"""Cold vs warm evaluation with the feature cache, on a demo task.

Runs the same zero-shot evaluation of a demo task (default: DiDeMo, 300 test videos) three times
in one process, with a fresh cache folder: ``--no-cache`` first (decoded and encoded, nothing
stored; it also pays the process's one-time warm-up), then cold (every video decoded, encoded and
stored) and warm (every video read from the cache). Prints each run's wall time as results.json
records it (the task's whole evaluation: model, videos, texts, metrics), the cold/warm and
no-cache/warm ratios, and whether the metrics are identical.

Run: ``python benchmarks/feature_cache.py [--task didemo] [--limit N]``. Never asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="didemo", help="a demo task whose family encodes clips or frames")
    parser.add_argument("--limit", type=int, help="evaluate at most N queries")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TEMPVL_FEATURE_CACHE"] = str(Path(tmp) / "cache")
        from tempvl_bench.plugin.manager import load_plugins
        from tempvl_bench.run.runner import run_task
        from tempvl_bench.run.types import RunOptions

        host = load_plugins()
        runs = {}
        for label, cached in (("no cache", False), ("cold", True), ("warm", True)):
            options = RunOptions(demo=True, output=Path(tmp) / "out", limit=args.limit, progress=False,
                                 feature_cache=cached)  # fmt: skip
            record = json.loads(run_task(host, args.task, options, echo=lambda _: None).read_text())
            runs[label] = record
            print(f"{label:>9}: {record['wall_time_s']:7.2f} s  ({record['num_samples']} queries)")
        cold, warm = runs["cold"]["wall_time_s"], runs["warm"]["wall_time_s"]
        same = runs["cold"]["metrics"] == runs["warm"]["metrics"]
        plain = runs["no cache"]["wall_time_s"]
        print(f"{args.task}: cold/warm = {cold / warm:.1f}x, no-cache/warm = {plain / warm:.1f}x; "
              f"warm metrics identical to cold: {same}")


if __name__ == "__main__":
    main()
