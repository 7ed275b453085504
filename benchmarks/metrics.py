"""Metric speed, side by side: vectorized TAL mAP vs a per-prediction loop, ``tempvl-bench score``
end to end on files, and retrieval at 10k.

Run: ``python benchmarks/metrics.py`` (add ``--quick`` for a small smoke run). Prints times,
ratios and whether the implementations agree; never asserts on time. Times are wall clock and
CPU seconds: on a shared machine the CPU figure is the steadier one.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections import defaultdict

from pathlib import Path

import numpy as np

from tempvl_bench.metrics.tal import ACTIVITYNET_THRESHOLDS, SegmentTable, tal_metrics
from tempvl_bench.metrics.names import format_threshold


def loop_interpolated_ap(tp: list[float], n_positives: int) -> float:
    """VOC2011 interpolated AP, one ranked list, written plainly."""
    precision, recall, hits = [], [], 0.0
    for k, flag in enumerate(tp):
        hits += flag
        precision.append(hits / (k + 1))
        recall.append(hits / n_positives)
    mprec, mrec = [0.0] + precision + [0.0], [0.0] + recall + [1.0]
    for i in range(len(mprec) - 2, -1, -1):
        mprec[i] = max(mprec[i], mprec[i + 1])
    steps = [(mrec[i] - mrec[i - 1]) * mprec[i] for i in range(1, len(mrec)) if mrec[i] != mrec[i - 1]]
    return float(np.sum(steps))


def loop_tal_metrics(gt: SegmentTable, pred: SegmentTable, thresholds) -> dict[str, float]:
    """Straightforward per-prediction loop following the ActivityNet rules literally."""
    classes: list[str] = []
    gt_by_class_video: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, (video, label) in enumerate(zip(gt.video_ids, gt.labels)):
        if label not in gt_by_class_video:
            classes.append(label)
        gt_by_class_video[label][video].append(i)
    preds_by_class: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(pred.labels):
        if label in gt_by_class_video:
            preds_by_class[label].append(i)
    ap = np.zeros((len(thresholds), len(classes)))
    for c, label in enumerate(classes):
        ranked = sorted(preds_by_class[label], key=lambda i: -pred.scores[i])  # stable
        if not ranked:
            continue
        locked = [set() for _ in thresholds]
        tp = np.zeros((len(thresholds), len(ranked)))
        for r, i in enumerate(ranked):
            candidates = gt_by_class_video[label].get(pred.video_ids[i], [])
            tious = []
            for j in candidates:
                inter = max(min(pred.ends[i], gt.ends[j]) - max(pred.starts[i], gt.starts[j]), 0.0)
                union = (gt.ends[j] - gt.starts[j]) + (pred.ends[i] - pred.starts[i]) - inter
                tious.append(inter / union if union != 0 else (float("nan") if inter == 0 else float("inf")))
            walk = list(np.argsort(np.array(tious, dtype=np.float64), kind="stable")[::-1])
            for t, threshold in enumerate(thresholds):
                for w in walk:
                    if tious[w] < threshold:
                        break
                    if candidates[w] in locked[t]:
                        continue
                    locked[t].add(candidates[w])
                    tp[t, r] = 1
                    break
        n_pos = sum(len(v) for v in gt_by_class_video[label].values())
        for t in range(len(thresholds)):
            ap[t, c] = loop_interpolated_ap(list(tp[t]), n_pos)
    per_t = ap.mean(axis=1)
    out = {f"tal/mAP@{format_threshold(t)}": float(m) * 100 for t, m in zip(thresholds, per_t)}
    out["tal/mAP@avg"] = float(per_t.mean()) * 100
    return out


def random_tal_input(n_videos: int, preds_per_video: int, n_classes: int, extra_gt: float = 0.5,
                     seed: int = 0) -> tuple[SegmentTable, SegmentTable]:
    """Random detections: 1 + Poisson(extra_gt) GT per video (ActivityNet ~1.5), 80% of the
    predictions on the video's class."""
    rng = np.random.default_rng(seed)
    labels = [f"class{c:03d}" for c in range(n_classes)]
    gt_v, gt_l, gt_s, gt_e = [], [], [], []
    p_v, p_l, p_s, p_e, p_sc = [], [], [], [], []
    for v in range(n_videos):
        vid = f"video{v:05d}"
        duration = rng.uniform(30, 240)
        n_gt = 1 + rng.poisson(extra_gt)
        video_classes = rng.choice(n_classes, size=min(2, n_classes), replace=False)
        for _ in range(n_gt):
            start = rng.uniform(0, duration * 0.8)
            gt_v.append(vid), gt_l.append(labels[video_classes[0]])
            gt_s.append(start), gt_e.append(min(duration, start + rng.uniform(2, duration * 0.5)))
        centers = rng.uniform(0, duration, preds_per_video)
        lengths = rng.uniform(1, duration * 0.6, preds_per_video)
        own = rng.random(preds_per_video) < 0.8  # mostly the video's class, as real detectors
        cls = np.where(own, video_classes[0], rng.integers(0, n_classes, preds_per_video))
        p_v.extend([vid] * preds_per_video)
        p_l.extend(labels[c] for c in cls)
        p_s.extend(np.maximum(centers - lengths / 2, 0)), p_e.extend(centers + lengths / 2)
        p_sc.extend(np.round(rng.random(preds_per_video), 3))  # rounding creates score ties
    gt = SegmentTable(gt_v, gt_l, np.array(gt_s), np.array(gt_e))
    pred = SegmentTable(p_v, p_l, np.array(p_s), np.array(p_e), np.array(p_sc))
    return gt, pred


def subsample(gt: SegmentTable, pred: SegmentTable, n_videos: int) -> tuple[SegmentTable, SegmentTable]:
    keep = {f"video{v:05d}" for v in range(n_videos)}

    def pick(table: SegmentTable) -> SegmentTable:
        idx = [i for i, v in enumerate(table.video_ids) if v in keep]
        return SegmentTable([table.video_ids[i] for i in idx], [table.labels[i] for i in idx],
                            table.starts[idx], table.ends[idx],
                            None if table.scores is None else table.scores[idx])
    return pick(gt), pick(pred)


def bench_tal(n_videos: int, preds_per_video: int, n_classes: int, loop_videos: int,
              extra_gt: float = 0.5, end_to_end: bool = False) -> None:
    gt, pred = random_tal_input(n_videos, preds_per_video, n_classes, extra_gt)
    print("  (loop = plain-Python per-prediction loop over dicts written here, not the official pandas script)")
    print(f"TAL: {n_videos} videos, {len(gt)} GT segments, {len(pred)} predictions, {n_classes} classes")
    t0 = time.perf_counter()
    ours = tal_metrics(gt, pred, thresholds=ACTIVITYNET_THRESHOLDS)
    t_ours = time.perf_counter() - t0
    print(f"  vectorized tal_metrics (full input): {t_ours:.2f} s  mAP@avg={ours['tal/mAP@avg']:.4f}")
    sub_gt, sub_pred = subsample(gt, pred, loop_videos) if loop_videos < n_videos else (gt, pred)
    t0 = time.perf_counter()
    ours_sub = tal_metrics(sub_gt, sub_pred, thresholds=ACTIVITYNET_THRESHOLDS)
    t_ours_sub = time.perf_counter() - t0
    t0 = time.perf_counter()
    loop = loop_tal_metrics(sub_gt, sub_pred, ACTIVITYNET_THRESHOLDS)
    t_loop = time.perf_counter() - t0
    max_diff = max(abs(ours_sub[k] - loop[k]) for k in loop)
    print(f"  on {loop_videos} videos ({len(sub_pred)} predictions): loop {t_loop:.2f} s, "
          f"vectorized {t_ours_sub:.3f} s, ratio {t_loop / t_ours_sub:.1f}x; "
          f"max |difference| {max_diff:.3g} ({'AGREE' if max_diff == 0 else 'DIFFER'})")
    if loop_videos < n_videos:
        extrapolated = t_loop * len(pred) / max(len(sub_pred), 1)
        print(f"  loop extrapolated linearly to the full input: ~{extrapolated:.0f} s "
              f"(ratio vs vectorized full run ~{extrapolated / t_ours:.0f}x; extrapolated, not measured)")
    if end_to_end:
        label = "loop, metric only" if loop_videos >= n_videos else "loop extrapolated, metric only"
        bench_score_end_to_end(gt, pred, ours, t_loop if loop_videos >= n_videos else extrapolated, label)


def write_official_files(gt: SegmentTable, pred: SegmentTable, folder: Path) -> tuple[Path, Path]:
    """The ActivityNet ground-truth and submission JSON files for ``gt`` and ``pred``."""
    database: dict = {}
    for video, label, start, end in zip(gt.video_ids, gt.labels, gt.starts.tolist(), gt.ends.tolist()):
        entry = database.setdefault(video, {"subset": "validation", "annotations": []})
        entry["annotations"].append({"label": label, "segment": [start, end]})
    results: dict = {}
    for video, label, start, end, score in zip(pred.video_ids, pred.labels, pred.starts.tolist(),
                                               pred.ends.tolist(), pred.scores.tolist()):
        results.setdefault(video, []).append({"label": label, "score": score, "segment": [start, end]})
    gt_path, pred_path = folder / "gt.json", folder / "submission.json"
    gt_path.write_text(json.dumps({"version": "VERSION 1.3", "database": database}))
    pred_path.write_text(json.dumps({"version": "VERSION 1.3", "results": results, "external_data": {}}))
    return gt_path, pred_path


def bench_score_end_to_end(gt: SegmentTable, pred: SegmentTable, reference: dict[str, float],
                           reference_s: float, reference_label: str) -> None:
    """``tempvl-bench score --family tal`` in a fresh process: startup, parsing, checks and metric."""
    with tempfile.TemporaryDirectory() as tmp:
        gt_path, pred_path = write_official_files(gt, pred, Path(tmp))
        size_mib = pred_path.stat().st_size / 2**20
        command = [sys.executable, "-m", "tempvl_bench.cli", "score", "--family", "tal",
                   "--predictions", str(pred_path), "--ground-truth", str(gt_path)]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        print(f"  score end to end FAILED (exit {done.returncode}): {done.stderr.strip()[-300:]}")
        return
    values = json.loads(done.stdout)
    same = values == reference
    print(f"  end to end `tempvl-bench score --family tal` ({size_mib:.0f} MiB submission): {wall:.2f} s wall, "
          f"{cpu:.2f} s CPU  |  {reference_label}: {reference_s:.2f} s  |  ratio {reference_s / wall:.0f}x; "
          f"values {'IDENTICAL' if same else 'DIFFER'}")


def strictly_greater_ranks(sim: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Speed reference: the tie-blind ``1 + count(strictly greater)`` ranks (the rule before ties
    were scored as an expectation), in 512-row and 512-column blocks."""
    n = sim.shape[0]
    t2v, v2t = np.empty(n, np.int64), np.empty(n, np.int64)
    for start in range(0, n, 512):
        stop = min(start + 512, n)
        idx = np.arange(stop - start)
        rows, cols = sim[start:stop], sim[:, start:stop]
        t2v[start:stop] = np.count_nonzero(rows > rows[idx, start + idx][:, None], axis=1) + 1
        v2t[start:stop] = np.count_nonzero(cols > cols[start + idx, idx][None, :], axis=0) + 1
    return t2v, v2t


def bench_retrieval(n: int, repeats: int = 3) -> None:
    from tempvl_bench.metrics import retrieval_metrics

    rng = np.random.default_rng(0)
    sim = rng.standard_normal((n, n), dtype=np.float32)
    matrix_mib = sim.nbytes / 2**20
    ours, blind = [], []
    for _ in range(repeats):  # interleaved, best of each: the machine may be shared
        t0 = time.perf_counter()
        out = retrieval_metrics(sim)
        ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        strictly_greater_ranks(sim)
        blind.append(time.perf_counter() - t0)
    tracemalloc.start()
    retrieval_metrics(sim)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(f"retrieval: {n} x {n} float32 ({matrix_mib:.0f} MiB): tie-aware retrieval_metrics {min(ours):.2f} s  |  "
          f"tie-blind strictly-greater count (old rule, ranks only) {min(blind):.2f} s  |  ratio "
          f"{min(ours) / min(blind):.2f}x (best of {repeats})")
    print(f"  extra peak memory {peak:.0f} MiB ({peak / matrix_mib:.2f} x one N x N matrix), "
          f"t2v/R@1={out['t2v/R@1']:.3f}; process max RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10:.0f} MiB")
    constant = np.zeros((n, n), dtype=np.float32)
    t0 = time.perf_counter()
    chance = retrieval_metrics(constant)
    print(f"  constant {n} x {n} matrix: {time.perf_counter() - t0:.2f} s, t2v/R@1={chance['t2v/R@1']!r} "
          f"(chance 100/{n} = {100 / n!r}), t2v/MnR={chance['t2v/MnR']!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    args = parser.parse_args()
    # Random predictions carry labels absent from the ground truth; that warning is expected here.
    warnings.filterwarnings("ignore", message="ignoring .* predictions whose labels")
    if args.quick:
        bench_tal(200, 100, 20, loop_videos=100, end_to_end=True)
        bench_retrieval(1000)
        return
    print("== ActivityNet-validation-sized input (4,926 videos, ~490,000 predictions) ==")
    bench_tal(4926, 100, 200, loop_videos=4926, end_to_end=True)
    print("== THUMOS14-test-shaped input (2000 predictions and ~15 GT per video) ==")
    bench_tal(212, 2000, 20, loop_videos=212, extra_gt=14)
    print("== retrieval ==")
    bench_retrieval(10_000)


if __name__ == "__main__":
    main()
