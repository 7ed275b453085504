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

from merge_order import any_event_hits  # noqa: E402
from study_trials import parser, prepare  # noqa: E402
from tabulate import tabulate  # noqa: E402

from tempvl_bench.study import evaluate as ev  # noqa: E402
from tempvl_bench.study.stats import bootstrap_mean  # noqa: E402


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
    moments = t.data["mr_train"]
    rows = []
    for name, (variant, overrides) in settings.items():
        if args.only and name not in args.only:
            continue
        start = time.perf_counter()
        t.variant = t.cfg.variant(variant)
        model = t.pretrain(name.replace(" ", "").replace("+", "_"), overrides)
        outcomes, top1 = ev.moment_outcomes(model, moments, t.cfg.eval["batch_videos"], t.text_len)
        outcomes["any event R1@0.5"], lengths = any_event_hits(moments, top1)
        cells = [bootstrap_mean(outcomes[m], resamples=1000, seed=0)
                 for m in ("mr/R1@0.5", "mr/mIoU", "probe/hit", "any event R1@0.5")]
        rows.append([name, *(f"{c.mean:.2f} [{c.low:.2f}, {c.high:.2f}]" for c in cells), f"{lengths.mean():.1f}",
                     len(set(top1)), f"{time.perf_counter() - start:.0f}"])
        print(tabulate(rows[-1:], tablefmt="plain"), flush=True)
    print(f"\nMerged-video saliency hinge: seed 0, {t.cfg.pretrain['steps']} steps; zero-shot on demo Charades-STA "
          f"train ({len(moments.texts)} queries, used as validation)")
    print(tabulate(rows, headers=["setting", "mr/R1@0.5", "mr/mIoU", "probe hit", "any event R1@0.5",
                                  "window s", "distinct top-1", "seconds"]))
    chance = ev.baseline_outcomes(moments, moments, t.cfg.eval["mr_frames"], 50, seed=0)
    print("baselines on the same queries: " + ", ".join(
        f"{name} R1@0.5 {values['mr/R1@0.5'].mean():.2f}" for name, values in chance.items()))


if __name__ == "__main__":
    main()
