"""How deep should the grounding encoder be, and does comparing neighbouring frames help?

Pretrains the study's +MR+TL variant (configs/study/demo.yaml, seed 0) with each grounding
setting, then measures zero-shot moment retrieval on the demo Charades-STA *train* split (a
validation set here: the test split is never used to choose anything). Prints the settings side
by side with 95% bootstrap intervals over queries.

    python benchmarks/grounding_depth.py [--steps 400] [--output DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from tabulate import tabulate

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tempvl_bench.manager import load_plugins  # noqa: E402
from tempvl_bench.study import evaluate as ev  # noqa: E402
from tempvl_bench.study import runner  # noqa: E402
from tempvl_bench.study.config import load_study_config  # noqa: E402
from tempvl_bench.study.data import EpisodeTensors  # noqa: E402
from tempvl_bench.study.stats import bootstrap_mean  # noqa: E402

SETTINGS = {  # name -> (grounding_layers, grounding_kernel)
    "1 layer, no neighbour conv": (1, 1),
    "1 layer + neighbour conv": (1, 3),
    "2 layers + neighbour conv": (2, 3),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "study" / "demo.yaml")
    parser.add_argument("--steps", type=int, default=None, help="pretraining steps (default: the study's)")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = load_study_config(args.config)
    if args.steps:
        cfg.pretrain["steps"] = args.steps
    output = args.output or Path(tempfile.mkdtemp(prefix="tempvl-grounding-"))
    host = load_plugins()
    data = runner._load_data(cfg, output / "cache", progress=True)
    dataset = EpisodeTensors(data["episodes"], cfg.pretrain["clip_frames"])
    variant = cfg.variant("mr_tl")
    text_len = int(cfg.model["overrides"].get("max_text_len", 32))
    rows = []
    for name, (layers, kernel) in SETTINGS.items():
        trial = dataclasses.replace(cfg, model={**cfg.model, "overrides": {**cfg.model["overrides"],
                                                                              "grounding_layers": layers,
                                                                              "grounding_kernel": kernel}})
        start = time.perf_counter()
        model = runner._pretrain(trial, variant, 0, dataset, output / f"g{layers}k{kernel}", host, progress=False)
        outcomes, top1 = ev.moment_outcomes(model, data["mr_train"], cfg.eval["batch_videos"], text_len)
        cells = [bootstrap_mean(outcomes[m], resamples=1000, seed=0) for m in ("mr/R1@0.5", "mr/mIoU", "probe/hit")]
        rows.append([name, *(f"{c.mean:.2f} [{c.low:.2f}, {c.high:.2f}]" for c in cells), len(set(top1)),
                     f"{time.perf_counter() - start:.0f}"])
    print(f"\nGrounding encoder settings: +MR+TL, seed 0, {cfg.pretrain['steps']} steps; zero-shot on demo "
          f"Charades-STA train ({len(data['mr_train'].texts)} queries, used as validation)")
    print(tabulate(rows, headers=["grounding", "mr/R1@0.5", "mr/mIoU", "probe hit", "distinct top-1", "seconds"]))
    baselines = ev.baseline_outcomes(data["mr_train"], data["mr_train"], cfg.eval["mr_frames"], 50, seed=0)
    print("baselines on the same queries: " + ", ".join(
        f"{name} R1@0.5 {values['mr/R1@0.5'].mean():.2f}" for name, values in baselines.items()))

if __name__ == "__main__":
    main()
