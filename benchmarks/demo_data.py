"""Demo data: how long each demo dataset takes to generate, and whether DiDeMo paragraph
retrieval is learnable from it.

    python benchmarks/demo_data.py            # generation times + learnability
    python benchmarks/demo_data.py --skip-learn

Generation: each demo dataset is written once into a fresh temporary folder (no cache) and
timed, next to the time to encode the same clips with nothing drawn (``gen/encode`` is the
cost of sampling scenes, drawing and writing annotations on top of bare H.264 encoding).
Learnability: a tiny model (per-pixel colour detectors over 8 uniformly sampled 64 px frames,
pooled and concatenated in time; bag-of-words text encoder) is trained contrastively on demo DiDeMo train for a fixed
CPU time budget, then paragraph-to-video R@1/R@5 on the test split are printed next to chance
(100/N) and next to the same model before training.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tempvl_core.data.demo.cache import DEMO_DATASETS, generate_demo_dataset  # noqa: E402


ANNOTATION_SUFFIXES = (".json", ".jsonl", ".txt", ".csv", ".tsv", ".pkl", ".jpg")


def _videos(root: Path) -> list[tuple[Path, float]]:
    """Every rendered video under ``root`` with its duration in seconds."""
    import av

    out = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix.lower() not in ANNOTATION_SUFFIXES:
            with av.open(str(path)) as c:
                stream = c.streams.video[0]
                out.append((path, float(stream.frames / stream.average_rate)))
    return out


def _encode_only(videos: list[tuple[Path, float]], tmp: Path) -> float:
    """Seconds to encode the same clips (same durations and containers) with nothing drawn:
    the floor that scene sampling and drawing add to."""
    from tempvl_core.data.demo.renderer import Scene, container_for, write_video

    t0 = time.perf_counter()
    for k, (path, seconds) in enumerate(videos):
        target = tmp / f"{k}_{path.name}"
        write_video(Scene(seconds, ()), target, container_format=container_for(target) or "mp4")
    return time.perf_counter() - t0


def bench_generation() -> None:
    from tabulate import tabulate

    rows = []
    for name in DEMO_DATASETS:
        if name == "pretrain":
            continue  # = webvid + cc3m, timed separately
        with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as scratch:
            t0 = time.perf_counter()
            generate_demo_dataset(name, Path(tmp), seed=0)
            elapsed = time.perf_counter() - t0
            videos = _videos(Path(tmp))
            floor = _encode_only(videos, Path(scratch))
            seconds = sum(s for _, s in videos)
            size = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
        per = f"{1000 * elapsed / seconds:.2f}" if seconds else "-"
        ratio = f"{elapsed / floor:.2f}" if videos else "-"
        rows.append((name, len(videos), f"{seconds:.0f}", f"{elapsed:.2f}", f"{floor:.2f}", ratio, per,
                     f"{size / 1e6:.1f}"))  # fmt: skip
    header = ("dataset", "clips", "video s", "gen s", "encode-only s", "gen/encode", "ms per video s", "MB")
    print(tabulate(rows, header, tablefmt="simple"))
    print(f"total generation: {sum(float(r[3]) for r in rows):.1f} s")


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def bench_learnability(budget_s: float, seed: int) -> None:
    """Train for ``budget_s`` CPU seconds on demo DiDeMo (data seed ``seed``), print test R@k."""
    import decord
    import torch
    from torch import nn

    from tempvl_core.data.demo.didemo import generate_didemo

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "didemo"
        generate_didemo(root, seed=seed)
        import json

        def split(name: str):
            anns = json.loads((root / f"{name}_data.json").read_text())
            names = (root / f"{name}_list.txt").read_text().split("\n")[:-1]
            paragraphs = {n: [] for n in names}
            for a in anns:
                paragraphs[a["video"]].append(a["description"])
            clips = []
            for n in names:
                reader = decord.VideoReader(str(root / "videos" / n))
                idx = np.linspace(0, len(reader) - 1, 8).round().astype(int).tolist()
                clips.append(reader.get_batch(idx).asnumpy())
            video = torch.from_numpy(np.stack(clips)).permute(0, 1, 4, 2, 3).float() / 255
            return video, [" ".join(paragraphs[n]) for n in names]

        train_v, train_t = split("train")
        test_v, test_t = split("test")
    vocab = sorted({w for t in train_t for w in _tokens(t)})
    index = {w: i for i, w in enumerate(vocab)}

    def bow(texts: list[str]) -> torch.Tensor:
        out = torch.zeros(len(texts), len(vocab))
        for i, t in enumerate(texts):
            for w in _tokens(t):
                if w in index:
                    out[i, index[w]] += 1
        return out

    class Video(nn.Module):
        """Per-pixel colour detectors on 16 px frames, pooled three ways (max: is the colour
        there; mean: how much; 2x2: where), concatenated over the 8 frames in time order."""

        def __init__(self) -> None:
            super().__init__()
            self.pix = nn.Sequential(nn.AvgPool2d(4), nn.Conv2d(3, 24, 1), nn.ReLU())
            self.time = nn.Sequential(nn.Linear(8 * 24 * 6, 256), nn.ReLU(), nn.Linear(256, 128))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b = x.shape[0]
            f = self.pix(x.flatten(0, 1))
            where = nn.functional.adaptive_avg_pool2d(f, 2).flatten(1)
            return self.time(torch.cat([f.amax((2, 3)), f.mean((2, 3)), where], 1).view(b, -1))

    video_net, text_net = Video(), nn.Sequential(nn.Linear(len(vocab), 256), nn.ReLU(), nn.Linear(256, 128))
    params = list(video_net.parameters()) + list(text_net.parameters())
    opt = torch.optim.AdamW(params, lr=2e-3, weight_decay=1e-4)
    train_b, test_b = bow(train_t), bow(test_t)

    def recall() -> tuple[float, float]:
        with torch.no_grad():
            v = nn.functional.normalize(video_net(test_v), dim=-1)
            t = nn.functional.normalize(text_net(test_b), dim=-1)
        ranks = (t @ v.T).argsort(dim=1, descending=True)
        pos = (ranks == torch.arange(len(t))[:, None]).float().argmax(1)
        return 100 * (pos < 1).float().mean().item(), 100 * (pos < 5).float().mean().item()

    before = recall()
    t0, steps = time.perf_counter(), 0
    while time.perf_counter() - t0 < budget_s:
        perm = torch.randperm(len(train_v))
        for i in range(0, len(perm), 32):
            b = perm[i : i + 32]
            v = nn.functional.normalize(video_net(train_v[b]), dim=-1)
            t = nn.functional.normalize(text_net(train_b[b]), dim=-1)
            logits = t @ v.T / 0.07
            target = torch.arange(len(b))
            ce = nn.functional.cross_entropy
            loss = (ce(logits, target) + ce(logits.T, target)) / 2
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
    after = recall()
    chance = 100 / len(test_v)
    print(f"DiDeMo demo (seed {seed}) paragraph->video, {len(train_v)} train / {len(test_v)} test videos, "
          "8 frames x 64 px")
    print(f"  chance R@1 {chance:.1f}")
    print(f"  untrained R@1 {before[0]:.1f}  R@5 {before[1]:.1f}")
    took = time.perf_counter() - t0
    print(f"  trained   R@1 {after[0]:.1f}  R@5 {after[1]:.1f}  ({steps} steps, {took:.0f} s CPU)")
    print(f"  R@1 / chance: {after[0] / chance:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-learn", action="store_true")
    parser.add_argument("--skip-generation", action="store_true")
    parser.add_argument("--budget-s", type=float, default=60.0, help="CPU training time per learnability run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="data (and model) seeds")
    args = parser.parse_args()
    if not args.skip_generation:
        bench_generation()
    if not args.skip_learn:
        for seed in args.seeds:
            bench_learnability(args.budget_s, seed)


if __name__ == "__main__":
    main()
