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

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from study_trials import parser, prepare  # noqa: E402
from tabulate import tabulate  # noqa: E402

from tempvl_bench.study import evaluate as ev  # noqa: E402
from tempvl_bench.study.stats import bootstrap_mean  # noqa: E402


def any_event_hits(moments, top1: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Per query: 100 if the top-1 window has IoU > 0.5 with any event of its video; and the
    window's length in seconds."""
    step = ev.frame_seconds(moments)
    t = np.asarray(top1)
    pred = np.stack([t[:, 0] * step, (t[:, 1] + 1) * step], 1)
    hits = np.zeros(len(pred))
    for q in range(len(pred)):
        same = np.nonzero(moments.video == moments.video[q])[0]
        hits[q] = 100.0 * float((ev.iou(np.repeat(pred[q:q + 1], len(same), 0), moments.windows[same]) > 0.5).any())
    return hits, pred[:, 1] - pred[:, 0]


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--hold", type=int, default=3, help="merge_hold_frames of the 'stills' settings")
    args = p.parse_args()
    t = prepare(args, "tempvl-merge-order-")
    cfg, variant, text_len = t.cfg, t.variant, t.text_len
    settings = {
        "shuffled": {"merge_order": "shuffled", "merge_hold_frames": 0},
        "shuffled + stills": {"merge_order": "shuffled", "merge_hold_frames": args.hold},
        "source + stills": {"merge_order": "source", "merge_hold_frames": args.hold},
    }
    moments = t.data["mr_train"]
    rows = []
    for name, overrides in settings.items():
        start = time.perf_counter()
        model = t.pretrain(name.replace(" ", "").replace("+", "_"), overrides)
        outcomes, top1 = ev.moment_outcomes(model, moments, cfg.eval["batch_videos"], text_len)
        outcomes["any event R1@0.5"], lengths = any_event_hits(moments, top1)
        cells = [bootstrap_mean(outcomes[m], resamples=1000, seed=0)
                 for m in ("mr/R1@0.5", "mr/mIoU", "probe/hit", "any event R1@0.5")]
        rows.append([name, *(f"{c.mean:.2f} [{c.low:.2f}, {c.high:.2f}]" for c in cells), f"{lengths.mean():.1f}",
                     len(set(top1)), f"{time.perf_counter() - start:.0f}"])
    truth = moments.windows[:, 1] - moments.windows[:, 0]
    print(f"\nMerge order: +MR+TL, seed 0, {cfg.pretrain['steps']} steps, K={variant.merge_clips}, "
          f"{variant.merge_sampling} sampling; zero-shot on demo Charades-STA train ({len(moments.texts)} queries, "
          f"used as validation; ground-truth windows {truth.mean():.1f} s on average)")
    print(tabulate(rows, headers=["merging", "mr/R1@0.5", "mr/mIoU", "probe hit", "any event R1@0.5",
                                  "window s", "distinct top-1", "seconds"]))
    baselines = ev.baseline_outcomes(moments, moments, cfg.eval["mr_frames"], 50, seed=0)
    print("baselines on the same queries: " + ", ".join(
        f"{name} R1@0.5 {values['mr/R1@0.5'].mean():.2f}" for name, values in baselines.items()))


if __name__ == "__main__":
    main()
