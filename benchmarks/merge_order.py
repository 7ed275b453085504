"""Does it matter whether merged clips jump at their boundaries?

Pretrains the study's +MR+TL variant (configs/study/demo.yaml, seed 0) with three ways of
merging, then measures zero-shot moment retrieval on the demo Charades-STA *train* split (a
validation set here: the test split is never used to choose anything):

* ``shuffled``: partners from the whole batch in a random order (the study's setting). Two
  clips cut from one episode in the wrong order jump at their boundary (an object is back where
  it started), and clips of different episodes change the whole picture, so a boundary can be
  found without watching the described event;
* ``shuffled + stills``: the same with ``merge_hold_frames`` stills around each clip;
* ``source + stills``: ``merge_order: source``, partners only from the anchor's own episode,
  in their episode order, with stills: the merged video is as continuous as an untrimmed test
  video, and a boundary is only where the described event starts or stops.

Beside R1@0.5, mIoU and the head-free probe it prints R1@0.5 against *any* event of the query's
video (does the model find events at all?) and the mean length of the top-1 windows.

    python benchmarks/merge_order.py [--steps 400] [--hold 3] [--output DIR]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from study_trials import parser, prepare  # noqa: E402


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--hold", type=int, default=3, help="merge_hold_frames of the 'stills' settings")
    args = p.parse_args()
    t = prepare(args, "tempvl-merge-order-")
    settings = {
        "shuffled": {"merge_order": "shuffled", "merge_hold_frames": 0},
        "shuffled + stills": {"merge_order": "shuffled", "merge_hold_frames": args.hold},
        "source + stills": {"merge_order": "source", "merge_hold_frames": args.hold},
    }
    rows = []
    for name, overrides in settings.items():
        start = time.perf_counter()
        model = t.pretrain(name.replace(" ", "").replace("+", "_"), overrides)
        rows.append(t.zero_shot_row(name, model, time.perf_counter() - start))
    moments = t.data["mr_train"]
    truth = moments.windows[:, 1] - moments.windows[:, 0]
    t.print_zero_shot(
        f"\nMerge order: +MR+TL, seed 0, {t.cfg.pretrain['steps']} steps, K={t.variant.merge_clips}, "
        f"{t.variant.merge_sampling} sampling; zero-shot on demo Charades-STA train ({len(moments.texts)} queries, "
        f"used as validation; ground-truth windows {truth.mean():.1f} s on average)", "merging", rows)


if __name__ == "__main__":
    main()
