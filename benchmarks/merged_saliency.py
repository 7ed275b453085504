"""Does a frame-level term on the merged video move the head-free alignment probe?

The study's probe asks the joint space (``video_proj`` of each frame against the text
embedding) where a query happens. MR as the paper states it trains start/end classifiers in the
grounding encoder, and nothing in it reaches that space frame by frame: in the study the probe
of +MR+TL does not differ from VTC+MLM's. ``mr_saliency_weight`` adds Moment-DETR's saliency
hinge to MR, with labels from the merge: on the merged video, every frame of the anchor clip must
match the anchor's text better than every frame of the other clips.

Pretrains (seed 0, the study's config) VTC+MLM, +MR+TL, and +MR+TL with the hinge, then scores
zero-shot moment retrieval and the probe on the demo Charades-STA *train* split (a validation set
here: the test split is never used to choose anything).

    python benchmarks/merged_saliency.py [--steps 400] [--weight 1.0] [--only NAME ...] [--output DIR]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from study_trials import parser, prepare  # noqa: E402
from tabulate import tabulate  # noqa: E402


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--weight", type=float, default=1.0, help="mr_saliency_weight of the '+ hinge' setting")
    p.add_argument("--only", nargs="*", default=None, help="run only these settings (names as printed)")
    args = p.parse_args()
    t = prepare(args, "tempvl-merged-saliency-")
    settings = {
        "VTC+MLM": ("vtc_mlm", {}),
        "+MR+TL": ("mr_tl", {"mr_saliency_weight": 0.0}),
        f"+MR+TL + hinge {args.weight:g}": ("mr_tl", {"mr_saliency_weight": args.weight}),
    }
    rows = []
    for name, (variant, overrides) in settings.items():
        if args.only and name not in args.only:
            continue
        start = time.perf_counter()
        model = t.pretrain(name.replace(" ", "").replace("+", "_"), overrides, variant)
        rows.append(t.zero_shot_row(name, model, time.perf_counter() - start))
        print(tabulate(rows[-1:], tablefmt="plain"), flush=True)
    t.print_zero_shot(f"\nMerged-video saliency hinge: seed 0, {t.cfg.pretrain['steps']} steps; zero-shot on demo "
                      f"Charades-STA train ({len(t.data['mr_train'].texts)} queries, used as validation)", "setting", rows)


if __name__ == "__main__":
    main()
