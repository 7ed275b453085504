"""Feature-pack reading speed and the end-to-end evaluation time of a model finetuned on a pack.

Generates a pack the size of QVHighlights val (1,550 videos of 75 x 2,816; ``--small``: 40
videos) twice, in float32 and float16, as plain ``np.save`` files (``{vid}.npy``, the
container the reader memory-maps). Prints:

1. read throughput of :class:`tempvl_core.data.features.PackReader` (checks, float32 rows)
   against plain ``np.load`` of the same files, warm page cache, best of three passes each
   (target >= 0.8x);
2. the wall time of ``run --task qvhighlights --features PACK --mode finetune`` on synthetic
   QVHighlights annotations of the same size (the float32 pack; the demo's CPU-sized model;
   finetuning on 8 training videos for one epoch, so the time is the evaluation of all queries:
   reading, encoding, localization, highlight scores, metrics, intervals and baselines;
   target <= 2 minutes on 2 cores).

Run: ``python benchmarks/feature_packs.py [--small] [--skip-run]``. Never asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

ROWS, DIM, CLIP = 75, 2816, 2.0


def write_pack(root: Path, videos: list[str], dtype, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for vid in videos:
        np.save(root / f"{vid}.npy", rng.standard_normal((ROWS, DIM), dtype=np.float32).astype(dtype))


def layout():
    from tempvl_core.data.features import layout_from_mapping

    return layout_from_mapping({"container": "npy", "path": "{vid}.npy", "dims": [DIM],
                                "time_base": {"clip_seconds": CLIP}}, "benchmark")


def throughput(root: Path, videos: list[str]) -> tuple[float, float]:
    """(reader MB/s, np.load MB/s), best of three warm passes each, bytes as stored."""
    from tempvl_core.data.features import PackReader

    size = sum((root / f"{v}.npy").stat().st_size for v in videos) / 1e6
    reader = PackReader(root, layout())

    def plain():
        for v in videos:
            np.load(root / f"{v}.npy", allow_pickle=False)

    def packed():
        for v in videos:
            reader.read(v, duration=ROWS * CLIP)

    best = {}
    for _ in range(3):
        for name, fn in (("plain", plain), ("reader", packed)):
            start = time.perf_counter()
            fn()
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - start)
    return size / best["reader"], size / best["plain"]


def write_annotations(folder: Path, videos: list[str], train: list[str], seed: int = 0) -> None:
    """QVHighlights JSONL in the official shape: one query per val video, 150-s videos."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, names in (("val", videos), ("train", train), ("test", videos[:1])):
        with open(folder / f"highlight_{split}_release.jsonl", "w", encoding="utf-8") as handle:
            for i, vid in enumerate(names):
                start = int(rng.integers(0, 65)) * 2
                clips = list(range(start // 2, start // 2 + 5))
                row = {"qid": i + (0 if split == "val" else 100000), "query": f"a person does thing {i % 7}",
                       "duration": 150, "vid": vid, "relevant_clip_ids": clips,
                       "saliency_scores": [[int(x) for x in rng.integers(1, 5, 3)] for _ in clips],
                       "relevant_windows": [[start, start + 10]]}
                if split == "test":
                    row = {k: row[k] for k in ("qid", "query", "duration", "vid")}
                handle.write(json.dumps(row) + "\n")


def evaluation_time(tmp: Path, pack: Path, videos: list[str], train: list[str]) -> dict:
    from tempvl_bench.plugin.manager import load_plugins
    from tempvl_bench.run.runner import run_task
    from tempvl_bench.run.types import RunOptions

    write_annotations(tmp / "data" / "qvhighlights", videos, train)
    overrides = ["model.preset=tiny", "model.backbone=cnn-tiny", "video.num_frames=16", "video.size=64",
                 "finetune.epochs=1", "finetune.train_text_layers=0", "batch.train=4", "batch.eval=32",
                 f"features.dims=[{DIM}]", "features.normalize=false", "features.streams=null",
                 "features.path='{vid}.npy'", "features.container=npy", "features.key=null",
                 "features.max_rows=null", "options.max_window_frames=8"]
    options = RunOptions(mode="finetune", data_root=tmp / "data", output=tmp / "out", progress=False,
                         overrides=overrides, features=pack, feature_cache=False)
    start = time.perf_counter()
    path = run_task(load_plugins(), "qvhighlights", options, echo=lambda _: None)
    wall = time.perf_counter() - start
    record = json.loads(path.read_text())
    return {"wall_s": wall, "queries": record["num_samples"], "R1@0.5": record["metrics"].get("mr/R1@0.5")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="40 videos instead of 1,550 (a smoke run)")
    parser.add_argument("--skip-run", action="store_true", help="only the read throughput")
    args = parser.parse_args()
    count = 40 if args.small else 1550
    videos = [f"vid{i:05d}_{i * 150:.1f}_{i * 150 + 150:.1f}" for i in range(count)]
    train = [f"train{i:03d}_0.0_150.0" for i in range(8)]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ.setdefault("TEMPVL_FEATURE_CACHE", str(tmp / "cache"))
        for name, dtype in (("float32", np.float32), ("float16", np.float16)):
            write_pack(tmp / name, videos + train, dtype)
            reader, plain = throughput(tmp / name, videos)
            print(f"{name}: {count} videos of {ROWS} x {DIM}: reader {reader:8.1f} MB/s, np.load {plain:8.1f} MB/s, "
                  f"ratio {reader / plain:.2f}x (target >= 0.8x)")
        if not args.skip_run:
            result = evaluation_time(tmp, tmp / "float32", videos, train)
            print(f"end to end: finetune on {len(train)} videos (1 epoch) + evaluation of {result['queries']} queries, "
                  f"scoring included: {result['wall_s']:.1f} s (target <= 120 s); R1@0.5 {result['R1@0.5']}")


if __name__ == "__main__":
    main()
