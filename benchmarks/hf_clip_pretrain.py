"""Pretrain a small transformers CLIP on the demo pretraining corpus, as a user's CLIP checkpoint.

No pretrained CLIP is on these machines, and a CLIP trained from nothing on the 96 demo MSR-VTT
training videos does not beat chance (docs/tasks.md). Users arrive with a CLIP pretrained on a
web corpus; this script makes the demo world's counterpart: a ``CLIPModel`` built by
``tests/models/tiny_clip.py`` (random init, its word-level tokenizer), trained with CLIP4Clip
meanP's symmetric InfoNCE (the ``hf-clip`` adapter's own ``encode_video``/``encode_text``/
``vtc_loss``) on a demo WebVid corpus: ``--videos`` clips of the demo world rendered by its
generator (seed ``--corpus-seed``, never the seed of an evaluation set), read back through the
catalogue (``webvid``/``pretrain``) and decoded from their mp4 files like any task's videos.
No MSR-VTT video or caption is read. Every setting is fixed in :data:`DEFAULTS` before any
MSR-VTT number exists; ``--val-fraction`` of the corpus is held out and scored each epoch
(InfoNCE and t2v R@1 among the held-out clips) so the curve shows whether it learns, but nothing
is chosen on it: the last epoch's weights are saved.

The output folder is what ``save_pretrained`` writes (config, safetensors weights, tokenizer
and processor files): ``--model hf-clip --set model.path=OUT/model`` loads it, and
``pretrain.json`` beside it records the settings, the corpus and the curve.

    python benchmarks/hf_clip_pretrain.py --output DIR [--videos 4000] [--epochs 30] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "models"))

from tiny_clip import save_tiny_clip  # noqa: E402

from tempvl_bench.metrics.retrieval import retrieval_metrics  # noqa: E402
from tempvl_core.atomic import write_atomic  # noqa: E402
from tempvl_core.data import catalogue  # noqa: E402
from tempvl_core.data.demo.pretrain import WebvidCounts, generate_webvid  # noqa: E402
from tempvl_core.video.reader import read_frames  # noqa: E402
from tempvl_core.video.sampling import random_indices, uniform_indices  # noqa: E402
from tempvl_plugins.hf_models.clip import HFClipVideo, clip_classes, load_model_and_processor  # noqa: E402


@dataclass(frozen=True)
class PretrainSettings:
    """Everything that decides the pretrained weights (recorded in pretrain.json)."""

    videos: int = 4000  # clips in the corpus (demo WebVid format)
    corpus_seed: int = 1  # the demo generator's seed for the corpus (evaluation sets use 0 and 251)
    val_fraction: float = 0.1  # clips held out of training, scored each epoch (nothing is chosen on them)
    width: int = 64  # both towers' width (2 layers each, ViT patch 8)
    embed: int = 64  # the joint space
    image_size: int = 64  # the processor's resize and crop (the demo videos are 64 px)
    stored_frames: int = 8  # frames decoded per clip (uniform), kept in memory
    train_frames: int = 4  # of those, one random frame in each of this many equal segments per step
    epochs: int = 30
    batch: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.1
    warmup_ratio: float = 0.05
    seed: int = 0  # model init, data order and frame draws


DEFAULTS = PretrainSettings()


def corpus(folder: Path, settings: PretrainSettings) -> list:
    """The corpus's pretraining records (generated into ``folder`` once, then read back)."""
    webvid = folder / "webvid"
    if not (webvid / "results_train.csv").is_file():
        generate_webvid(webvid, seed=settings.corpus_seed, counts=WebvidCounts(videos=settings.videos))
    records = catalogue.load("webvid", webvid, "pretrain", "train").records
    if len(records) != settings.videos:
        raise ValueError(f"{webvid}: {len(records)} clips, expected {settings.videos} (delete the folder to regenerate)")
    return [(webvid / "videos" / r.media_name, r.caption) for r in records]


def decode(model: HFClipVideo, items: list, settings: PretrainSettings) -> torch.Tensor:
    """``[N, stored_frames, 3, S, S]`` pixel values: uniform frames through the model's processor."""
    out = []
    for path, _ in tqdm(items, desc="decode corpus", unit="clip", disable=None):
        clip = read_frames(path, num_frames=settings.stored_frames, sampling="uniform", size=None)
        out.append(model.frame_transform(clip.frames))
    return torch.stack(out)


@torch.no_grad()
def score_heldout(model: HFClipVideo, pixels: torch.Tensor, captions: list[str], settings: PretrainSettings) -> dict:
    """InfoNCE and t2v R@1 (%) among the held-out clips, each with its own caption, frames uniform."""
    model.eval()
    pick = torch.as_tensor(uniform_indices(settings.stored_frames, settings.train_frames))
    videos = torch.cat([model.encode_video(pixels[i:i + 256][:, pick])
                        for i in range(0, len(pixels), 256)])
    texts = torch.cat([model.encode_text(model.tokenize(captions[i:i + 256])) for i in range(0, len(captions), 256)])
    loss = float(model.vtc_loss(videos, texts))
    r1 = retrieval_metrics((texts @ videos.T).numpy())["t2v/R@1"]
    model.train()
    return {"heldout_infonce": round(loss, 4), "heldout_t2v_R@1": round(r1, 2), "heldout_clips": len(texts)}


def pretrain(output: Path, settings: PretrainSettings = DEFAULTS, *, progress: bool = True) -> Path:
    """Pretrain and save; returns the model folder (``output/model``)."""
    output.mkdir(parents=True, exist_ok=True)
    items = corpus(output / "corpus", settings)
    init = save_tiny_clip(output / "init", seed=settings.seed, image_size=settings.image_size,
                          embed=settings.embed, width=settings.width)
    model = HFClipVideo(*load_model_and_processor(*clip_classes(init), init))
    pixels = decode(model, items, settings)
    captions = [caption for _, caption in items]
    order = np.random.default_rng(settings.seed).permutation(len(items))
    n_val = int(round(settings.val_fraction * len(items)))
    val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
    val_pixels, val_captions = pixels[val], [captions[i] for i in val]

    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    steps_per_epoch = len(train) // settings.batch
    total = steps_per_epoch * settings.epochs
    warmup = max(1, int(settings.warmup_ratio * total))
    optim = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / total))))
    curve = [{"epoch": 0, **score_heldout(model, val_pixels, val_captions, settings)}]  # leaves it training
    start = time.time()
    bar = tqdm(total=total, desc="pretrain hf-clip", unit="step", disable=None if progress else True)
    for epoch in range(1, settings.epochs + 1):
        perm = train[rng.permutation(len(train))]
        losses = []
        for k in range(steps_per_epoch):
            batch = perm[k * settings.batch:(k + 1) * settings.batch]
            frames = np.stack([random_indices(settings.stored_frames, settings.train_frames, rng) for _ in batch])
            clip = pixels[torch.as_tensor(batch)[:, None], torch.as_tensor(frames)]
            loss = model.vtc_loss(model.encode_video(clip),
                                  model.encode_text(model.tokenize([captions[i] for i in batch])))
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            sched.step()
            losses.append(loss.item())
            bar.update(1)
        curve.append({"epoch": epoch, "train_infonce": round(float(np.mean(losses)), 4),
                      **score_heldout(model, val_pixels, val_captions, settings)})
        bar.set_postfix(loss=curve[-1]["train_infonce"], val_r1=curve[-1]["heldout_t2v_R@1"])
        print(json.dumps(curve[-1]), flush=True)
    bar.close()

    folder = output / "model"
    model.clip.save_pretrained(folder, safe_serialization=True)
    # A processor loaded afresh: the one used for training carries its tokenizer's last
    # truncation and padding state, which would be written into tokenizer.json.
    processor = clip_classes(init)[1].from_pretrained(str(init), local_files_only=True)
    processor.save_pretrained(folder)
    record = {"settings": asdict(settings), "train_clips": len(train), "heldout_clips": len(val),
              "steps": total, "minutes": round((time.time() - start) / 60, 2), "curve": curve,
              "corpus": f"demo webvid, generator seed {settings.corpus_seed}, {settings.videos} clips"}
    write_atomic(output / "pretrain.json", json.dumps(record, indent=2) + "\n")
    return folder


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output", type=Path, required=True, help="folder: corpus/, init/, model/, pretrain.json")
    for field, default in asdict(DEFAULTS).items():
        p.add_argument(f"--{field.replace('_', '-')}", type=type(default), default=default)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = replace(DEFAULTS, **{f: getattr(args, f) for f in asdict(DEFAULTS)})
    folder = pretrain(args.output, settings, progress=not args.no_progress)
    print(f"saved {folder} (run it with --model hf-clip --set model.path={folder})")


if __name__ == "__main__":
    main()
