"""How deep should the grounding encoder be, and does comparing neighbouring frames help?

Pretrains the study's +MR+TL variant (configs/study/demo.yaml, seed 0) with each grounding
setting, then measures zero-shot moment retrieval on the demo Charades-STA *train* split (a
validation set here: the test split is never used to choose anything). Prints the settings side
by side with 95% bootstrap intervals over queries.

    python benchmarks/grounding_depth.py [--steps 400] [--output DIR]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from study_trials import parser, prepare  # noqa: E402
from tabulate import tabulate  # noqa: E402

from tempvl_bench.study import evaluate as ev  # noqa: E402
from tempvl_bench.study.stats import bootstrap_mean  # noqa: E402

SETTINGS = {  # name -> (grounding_layers, grounding_kernel)
    "1 layer, no neighbour conv": (1, 1),
    "1 layer + neighbour conv": (1, 3),
    "2 layers + neighbour conv": (2, 3),
}


def main() -> None:
    args = parser(__doc__).parse_args()
    t = prepare(args, "tempvl-grounding-")
    cfg, data, text_len = t.cfg, t.data, t.text_len
    rows = []
    for name, (layers, kernel) in SETTINGS.items():
        start = time.perf_counter()
        model = t.pretrain(f"g{layers}k{kernel}", {"grounding_layers": layers, "grounding_kernel": kernel})
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
