"""Choose the settings of hf-clip finetuned on demo msrvtt on the demo *training* split only.

No pretrained CLIP is available offline. The candidates are small models built by
``tests/models/tiny_clip.py``: a random ``CLIPModel`` trained from scratch (``clip``), or a
``VisionTextDualEncoderModel`` joining a random CLIP vision tower to the packaged pretrained
MiniLM text encoder (``dual``: TemPVL's own demo setup, pretrained text and random video), or
the CLIP that ``benchmarks/hf_clip_pretrain.py`` pretrained on a demo WebVid corpus (``pre-*``,
given with ``--pretrained DIR``; docs/tasks.md reports the run that used them). Every
setting (model, frames, lr, epochs ...) is chosen here on a validation split carved out of the
demo msrvtt training videos: a seeded 80% of them train, the other 20% are scored, one caption
each (their first), as the 1k-A test split scores its videos. No test video is trained on or
scored. The chosen candidate has the lowest held-out t2v mean rank (then the highest R@1): on 19
held-out videos R@1 moves in steps of 5.26 points, and the mean rank is the steadier signal. The
script prints one row per candidate and the chosen one, with the command that runs it once on
the test split.

    python benchmarks/hf_clip_msrvtt_selection.py [--candidates a,b] [--output DIR] [--pretrained DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from tabulate import tabulate

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "models"))

from tiny_clip import save_tiny_clip, save_tiny_dual_encoder  # noqa: E402

from tempvl_core.data.demo.cache import ensure_demo_dataset  # noqa: E402

#: What builds each kind of candidate model (``tests/models/tiny_clip.py``).
BUILDERS = {"clip": save_tiny_clip, "dual": save_tiny_dual_encoder}
#: The batch keys are the demo block's, written out so the test run (with --demo) gets exactly
#: the same config; a candidate's own settings override these.
COMMON = {"batch.train": 16, "batch.eval": 32, "batch.num_workers": 1, "video.size": 64,
          "finetune.train_text_layers": "null", "finetune.warmup_ratio": 0.05}
#: name -> (builder, its keyword arguments, task-config overrides).
CANDIDATES: dict[str, tuple[str, dict, dict]] = {
    "w64-px32-f4-lr1e-3-e100": ("clip", dict(width=64, embed=64, image_size=32),
                                {"video.num_frames": 4, "finetune.lr": 1e-3, "finetune.epochs": 100}),
    "w64-px32-f4-lr1e-3-e100-wd0.2": ("clip", dict(width=64, embed=64, image_size=32),
                                      {"video.num_frames": 4, "finetune.lr": 1e-3, "finetune.epochs": 100,
                                       "finetune.weight_decay": 0.2}),
    "w32-px32-f4-lr2e-3-e100": ("clip", dict(width=32, embed=32, image_size=32),
                                {"video.num_frames": 4, "finetune.lr": 2e-3, "finetune.epochs": 100}),
    "dual-minilm-w64-px64-f4-lr5e-4-e40-top1": ("dual", dict(width=64, embed=64, image_size=64, pretrained_text=True),
                                                {"video.num_frames": 4, "finetune.lr": 5e-4, "finetune.epochs": 40,
                                                 "finetune.train_text_layers": 1}),
    "dual-minilm-w64-px64-f4-uniform-lr2e-3-e20-top1": ("dual", dict(width=64, embed=64, image_size=64,
                                                                     pretrained_text=True),
                                                        {"video.num_frames": 4, "video.train_sampling": "uniform",
                                                         "finetune.lr": 2e-3, "finetune.epochs": 20,
                                                         "finetune.train_text_layers": 1}),
    "dual-minilm-w64-px64-f4-uniform-lr1e-3-e60-top1": ("dual", dict(width=64, embed=64, image_size=64,
                                                                     pretrained_text=True),
                                                        {"video.num_frames": 4, "video.train_sampling": "uniform",
                                                         "finetune.lr": 1e-3, "finetune.epochs": 60,
                                                         "finetune.train_text_layers": 1}),
    "w32-px64-f4-uniform-lr2e-3-e100": ("clip", dict(width=32, embed=32, image_size=64),
                                        {"video.num_frames": 4, "video.train_sampling": "uniform",
                                         "finetune.lr": 2e-3, "finetune.epochs": 100}),
    "w32-px64-f4-lr2e-3-e100": ("clip", dict(width=32, embed=32, image_size=64),
                                {"video.num_frames": 4, "finetune.lr": 2e-3, "finetune.epochs": 100}),
    # Starting from the CLIP pretrained on the demo pretraining corpus (--pretrained DIR, written by
    # benchmarks/hf_clip_pretrain.py: 64 wide, 64 px, 4 frames as it was pretrained).
    "pre-w64-px64-f4-lr1e-5-e20": ("pretrained", {}, {"video.num_frames": 4, "finetune.lr": 1e-5,
                                                     "finetune.epochs": 20}),
    "pre-w64-px64-f4-lr1e-4-e20": ("pretrained", {}, {"video.num_frames": 4, "finetune.lr": 1e-4,
                                                     "finetune.epochs": 20}),
    "pre-w64-px64-f4-lr5e-4-e20": ("pretrained", {}, {"video.num_frames": 4, "finetune.lr": 5e-4,
                                                     "finetune.epochs": 20}),
}


def heldout_root(demo: Path, out: Path, fraction: float, seed: int) -> tuple[int, int]:
    """A data root in ``out``: the demo's training videos split into train (``fraction``) and
    a held-out "test" split (one caption per video); returns the two video counts."""
    source = demo / "msrvtt"
    root = out / "msrvtt"
    root.mkdir(parents=True)
    (root / "videos").symlink_to(source / "videos")
    (root / "MSRVTT_data.json").write_bytes((source / "MSRVTT_data.json").read_bytes())
    with (source / "MSRVTT_train.9k.csv").open(encoding="utf-8") as handle:
        videos = [row["video_id"] for row in csv.DictReader(handle)]
    order = np.random.default_rng(seed).permutation(len(videos))
    cut = int(round(fraction * len(videos)))
    train, held = [videos[i] for i in sorted(order[:cut])], [videos[i] for i in sorted(order[cut:])]
    (root / "MSRVTT_train.9k.csv").write_text("video_id\n" + "".join(f"{v}\n" for v in train), encoding="utf-8")
    data = json.loads((source / "MSRVTT_data.json").read_text(encoding="utf-8"))
    first = {}
    for sentence in data["sentences"]:
        first.setdefault(sentence["video_id"], sentence["caption"])
    with (root / "MSRVTT_JSFUSION_test.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["key", "vid_key", "video_id", "sentence"])
        for i, video in enumerate(held):
            writer.writerow([f"ret{i}", f"msr{video[5:]}", video, first[video]])
    return len(train), len(held)


def settings_args(settings: dict) -> list[str]:
    return [arg for key, value in {**COMMON, **settings}.items() for arg in ("--set", f"{key}={value}")]


def run_candidate(name: str, data_root: Path, work: Path, seed: int, pretrained: Path | None = None) -> dict:
    builder, size, settings = CANDIDATES[name]
    if builder == "pretrained":
        if pretrained is None:
            raise SystemExit(f"candidate {name} starts from a pretrained CLIP: pass --pretrained DIR "
                             "(the model/ folder benchmarks/hf_clip_pretrain.py writes)")
        model_dir = pretrained
    else:
        model_dir = BUILDERS[builder](work / "models" / name, seed=seed, **size)
    command = ["tempvl-bench", "run", "--task", "msrvtt", "--data-root", str(data_root), "--model", "hf-clip",
               "--set", f"model.path={model_dir}", "--mode", "finetune", "--seed", str(seed), "--no-progress",
               "--no-cache", "--output", str(work / "results" / name), *settings_args(settings)]
    start = time.time()
    subprocess.run(command, check=True, env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
    [results] = (work / "results" / name).glob("msrvtt/*/results.json")
    metrics = json.loads(results.read_text(encoding="utf-8"))["metrics"]
    return {"setting": name, "t2v/R@1": metrics["t2v/R@1"], "t2v/R@5": metrics["t2v/R@5"],
            "t2v/MnR": metrics["t2v/MnR"], "minutes": round((time.time() - start) / 60, 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--candidates", default=",".join(CANDIDATES), help="comma list of names (default: all)")
    p.add_argument("--fraction", type=float, default=0.8, help="share of the training videos trained on")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", type=Path, default=None, help="work folder (default: a temporary one)")
    p.add_argument("--pretrained", type=Path, default=None,
                   help="the pretrained CLIP folder the pre-* candidates start from (benchmarks/hf_clip_pretrain.py)")
    args = p.parse_args()
    names = [n for n in args.candidates.split(",") if n]
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        p.error(f"--candidates: unknown {', '.join(unknown)}; choose from {', '.join(CANDIDATES)}")
    work = args.output or Path(tempfile.mkdtemp(prefix="hf-clip-selection-"))
    demo = ensure_demo_dataset("msrvtt")
    trained, held = heldout_root(demo, work / "data", args.fraction, args.seed)
    print(f"training split: {trained} videos trained on, {held} held out (chance R@1 {100 / held:.2f})", flush=True)
    rows = []
    for name in names:
        rows.append(run_candidate(name, work / "data", work, args.seed, args.pretrained))
        print(tabulate(rows, headers="keys", tablefmt="github"), flush=True)
    best = min(rows, key=lambda r: (r["t2v/MnR"], -r["t2v/R@1"]))  # mean rank: steadier than R@1 on few videos
    builder, size, settings = CANDIDATES[best["setting"]]
    made = (f"DIR = {args.pretrained}" if builder == "pretrained" else
            f"{BUILDERS[builder].__name__}(DIR, seed={args.seed}, {', '.join(f'{k}={v}' for k, v in size.items())})")
    print(f"\nchosen: {best['setting']} (lowest held-out mean rank, then R@1)\n"
          f"  {made}\n"
          f"  tempvl-bench run --task msrvtt --demo --model hf-clip --set model.path=DIR --mode finetune "
          f"--seed {args.seed} " + " ".join(settings_args(settings)))


if __name__ == "__main__":
    main()
