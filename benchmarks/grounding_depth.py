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

SETTINGS = {  # name -> (grounding_layers, grounding_kernel)
    "1 layer, no neighbour conv": (1, 1),
    "1 layer + neighbour conv": (1, 3),
    "2 layers + neighbour conv": (2, 3),
}


def main() -> None:
    args = parser(__doc__).parse_args()
    t = prepare(args, "tempvl-grounding-")
    rows = []
    for name, (layers, kernel) in SETTINGS.items():
        start = time.perf_counter()
        model = t.pretrain(f"g{layers}k{kernel}", {"grounding_layers": layers, "grounding_kernel": kernel})
        rows.append(t.zero_shot_row(name, model, time.perf_counter() - start))
    t.print_zero_shot(f"\nGrounding encoder settings: +MR+TL, seed 0, {t.cfg.pretrain['steps']} steps; zero-shot on "
                      f"demo Charades-STA train ({len(t.data['mr_train'].texts)} queries, used as validation)",
                      "grounding", rows)


if __name__ == "__main__":
    main()
