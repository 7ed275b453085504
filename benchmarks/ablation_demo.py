"""Ablation on demo data: does pretraining with the localization losses (MR + TL) help?

Pretrains the tiny TemPVL from the same initial weights for the same number of steps on the
demo WebVid + CC3M corpus with (a) VTC + MLM and (b) VTC + MLM + MR + TL, then evaluates each
checkpoint zero-shot on the demo Charades-STA test set (moment retrieval: ``mr/R1@0.5``,
``mr/mIoU``) and the demo DiDeMo test set (paragraph-to-video retrieval: ``t2v/R@1``,
``t2v/R@5``) with the harness's metrics (``tempvl_bench.metrics``). The untrained model is
evaluated too, as the floor. About 5-10 minutes on 2 CPU cores with the defaults.

    python benchmarks/ablation_demo.py [--steps 200] [--batch-size 8] [--output DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from tabulate import tabulate
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tempvl_bench.metrics import moment_metrics_single, paragraph_retrieval_metrics  # noqa: E402
from tempvl_core.data.demo import ensure_demo_dataset  # noqa: E402
from tempvl_core.data.loaders.charades_sta import load_charades_sta  # noqa: E402
from tempvl_core.data.loaders.didemo import load_didemo_retrieval  # noqa: E402
from tempvl_core.data.video_index import VideoIndex  # noqa: E402
from tempvl_core.model import TemPVL  # noqa: E402
from tempvl_core.train.config import PretrainConfig  # noqa: E402
from tempvl_core.train.pretrain import build_model_config, run_pretraining  # noqa: E402
from tempvl_core.video import read_frames  # noqa: E402
from tempvl_core.video.transforms import eval_transform  # noqa: E402

VARIANTS = {
    "(a) VTC+MLM": {"vtc": 1.0, "mlm": 1.0, "mr": 0.0, "tl": 0.0, "vtm": 0.0},
    "(b) VTC+MLM+MR+TL": {"vtc": 1.0, "mlm": 1.0, "mr": 1.0, "tl": 1.0, "vtm": 0.0},
}
# Smaller than the "tiny" preset so two pretraining runs fit the time budget on 2 cores.
MODEL_OVERRIDES = {"video_dim": 128, "video_heads": 4, "embed_dim": 64, "fusion_layers": 1, "text_layers": 2,
                   "max_text_len": 24, "grounding_layers": 1, "max_merged_frames": 32, "max_merged_text_len": 64}


class SmallViT(torch.nn.Module):
    """A timm ViT without pretrained weights (patch 8, 3 blocks) as the per-frame backbone."""

    def __init__(self, size: int) -> None:
        super().__init__()
        import timm

        self.vit = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=0, img_size=size,
                                     patch_size=8, depth=3)
        self.num_features = self.vit.num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.vit(x)


def pretrain_config(losses: dict[str, float], args: argparse.Namespace) -> PretrainConfig:
    return PretrainConfig.from_dict({
        "model": {"preset": "tiny", "overrides": MODEL_OVERRIDES},
        "losses": losses,
        "merge": {"k": args.merge_k, "strategy": "random"},
        "data": {"num_frames": args.frames, "size": args.size, "sampling": "random"},
        "training": {"batch_size": args.batch_size, "total_steps": args.steps, "warmup_steps": max(1, args.steps // 10),
                     "lr": args.lr, "min_lr_ratio": 0.1, "weight_decay": 0.01, "precision": "fp32",
                     "checkpoint_every": args.steps, "log_every": max(1, args.steps // 6), "seed": 0},
    }, source="ablation_demo")


def decode(path: Path, frames: int, size: int) -> torch.Tensor:
    clip = read_frames(path, num_frames=frames, sampling="uniform", size=None)
    return eval_transform(size)(clip.frames)


@torch.no_grad()
def evaluate_moments(model: TemPVL, root: Path, frames: int, size: int) -> dict[str, float]:
    """Zero-shot moment retrieval: span head over ``frames`` uniform frames, windows to seconds."""
    queries = load_charades_sta(root, "test")
    index = VideoIndex(root / "Charades_v1_480")
    by_video: dict[str, list] = {}
    for q in queries:
        by_video.setdefault(q.video_name, []).append(q)
    predictions, truth, top1 = {}, {}, set()
    for name, group in tqdm(by_video.items(), desc="charades-sta", leave=False):
        path = index.lookup(name)
        if path is None:
            raise FileNotFoundError(f"{root / 'Charades_v1_480'}: no video for {name}")
        clip = decode(path, frames, size)
        # One forward for all queries of a video: (query i, copy i of the clip) pairs.
        ranked = model.localize_batch([q.query for q in group], clip.expand(len(group), *clip.shape), top_k=5)
        for q, windows in zip(group, ranked):
            top1.add(windows[0][:2])
            step = q.duration / frames  # frame i stands for [i * step, (i + 1) * step)
            predictions[q.query_id] = [[s * step, (e + 1) * step, score] for s, e, score in windows]
            truth[q.query_id] = q.windows[0]
    metrics = moment_metrics_single(predictions, truth)
    # How many different top-1 frame windows were predicted: 1 means the same window for every
    # query (a positional prior), whatever R1@0.5 that happens to score.
    return {**{k: metrics[k] for k in ("mr/R1@0.5", "mr/mIoU")}, "distinct top-1": float(len(top1))}


@torch.no_grad()
def evaluate_retrieval(model: TemPVL, root: Path, frames: int, size: int) -> dict[str, float]:
    """Zero-shot paragraph-to-video retrieval with the dual encoder."""
    items = load_didemo_retrieval(root, "test")
    index = VideoIndex(root / "videos")
    videos = []
    for item in tqdm(items, desc="didemo", leave=False):
        path = index.lookup(item.video_name)
        if path is None:
            raise FileNotFoundError(f"{root / 'videos'}: no video for {item.video_name}")
        videos.append(decode(path, frames, size))
    video_emb = torch.cat([model.encode_video(torch.stack(videos[i : i + 16])) for i in range(0, len(videos), 16)])
    text_emb = model.encode_text([item.texts[0] for item in items])
    metrics = paragraph_retrieval_metrics((text_emb @ video_emb.t()).numpy())
    return {k: metrics[k] for k in ("t2v/R@1", "t2v/R@5")}


def evaluate(model: TemPVL, roots: dict[str, Path], args: argparse.Namespace) -> dict[str, float]:
    model.eval()
    eval_frames = args.frames * args.merge_k  # as long as a merged pretraining video (K clips)
    out = evaluate_moments(model, roots["charades-sta"], eval_frames, args.size)
    out.update(evaluate_retrieval(model, roots["didemo"], args.frames, args.size))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--merge-k", type=int, default=4, help="clips per merged video (MR/TL pretraining)")
    parser.add_argument("--output", type=Path, default=None, help="keep checkpoints and logs here")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))

    roots = {name: ensure_demo_dataset(name) / name for name in ("charades-sta", "didemo")}
    pretrain_root = ensure_demo_dataset("pretrain")
    output = args.output or Path(tempfile.mkdtemp(prefix="tempvl-ablation-"))
    rows = []
    torch.manual_seed(0)
    untrained = TemPVL(build_model_config(pretrain_config(VARIANTS["(b) VTC+MLM+MR+TL"], args)), SmallViT(args.size))
    rows.append(["untrained", "-", "-", evaluate(untrained, roots, args)])
    for name, losses in VARIANTS.items():
        start = time.perf_counter()
        final = run_pretraining(pretrain_config(losses, args), data_root=pretrain_root,
                                output_dir=output / name.split()[0].strip("()"), backbone=SmallViT(args.size))
        minutes = (time.perf_counter() - start) / 60
        model = TemPVL.from_pretrained(final, SmallViT(args.size))
        rows.append([name, args.steps, f"{minutes:.1f}", evaluate(model, roots, args)])

    keys = list(rows[0][3])
    table = [row[:3] + [f"{row[3][k]:.2f}" if k != "distinct top-1" else int(row[3][k]) for k in keys] for row in rows]
    print(f"\nAblation on demo data ({args.steps} steps x {args.batch_size} clips, {args.frames} frames, K={args.merge_k}, "
          f"{args.size}px; Charades-STA test {len(load_charades_sta(roots['charades-sta'], 'test'))} queries, "
          f"DiDeMo test {len(load_didemo_retrieval(roots['didemo'], 'test'))} videos; checkpoints in {output})")
    print(tabulate(table, headers=["pretraining losses", "steps", "minutes"] + keys))


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
