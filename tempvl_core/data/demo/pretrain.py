"""Demo pretraining corpora: WebVid (CSV + videos) and CC3M (TSV + JPEG images).

WebVid: header ``videoid,name,page_idx,page_dir,duration,contentUrl``, ISO-8601 durations
(``PT00H00M17S``), videos at ``videos/<page_dir>/<videoid>.mp4``; one row has an empty
``page_dir`` (its video is at ``videos/<videoid>.mp4``). CC3M: ``caption<TAB>url`` without a
header, images at ``images/<row index>.jpg``.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from tempvl_core.data.demo.common import VideoJob, render_all, write_lines
from tempvl_core.data.demo.renderer import Scene, render_image
from tempvl_core.data.demo.scenes import RenderSettings, clip_captions, clip_scene, sample_objects, still_caption
from tempvl_core.data.demo.vocab import BACKGROUNDS

WEBVID_HEADER = ["videoid", "name", "page_idx", "page_dir", "duration", "contentUrl"]
PAGE_SIZE = 50


@dataclass(frozen=True)
class WebvidCounts:
    videos: int = 128


@dataclass(frozen=True)
class Cc3mCounts:
    images: int = 128


def iso_duration(seconds: int) -> str:
    """``PT00H00M17S``."""
    return f"PT{seconds // 3600:02d}H{seconds // 60 % 60:02d}M{seconds % 60:02d}S"


def generate_webvid(
    out_dir: Path,
    seed: int = 0,
    *,
    counts: WebvidCounts = WebvidCounts(),
    render: RenderSettings = RenderSettings(),
) -> None:
    """Write demo WebVid into ``out_dir`` (the ``webvid/`` folder of a data root)."""
    rng = random.Random(f"webvid-{seed}")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(WEBVID_HEADER)
    ids = rng.sample(range(10**9, 2 * 10**9), counts.videos)
    jobs = []
    for k, videoid in enumerate(ids):
        seconds = rng.choice((6, 8, 10, 12))
        scene = clip_scene(rng, render, duration_s=float(seconds))
        caption = clip_captions(rng, scene, 1)[0]
        caption = caption[0].upper() + caption[1:]
        page_idx = k // PAGE_SIZE + 1
        page_dir = "" if k == 1 else f"{(page_idx - 1) * PAGE_SIZE + 1:06d}_{page_idx * PAGE_SIZE:06d}"
        slug = caption.lower().replace(",", "").replace(" ", "-")[:60]
        url = f"https://ak.picdn.net/shutterstock/videos/{videoid}/preview/stock-footage-{slug}.mp4"
        writer.writerow([videoid, caption, page_idx, page_dir, iso_duration(seconds), url])
        # An empty page_dir joins to the flat layout videos/<videoid>.mp4.
        jobs.append(VideoJob(scene, out_dir / "videos" / page_dir / f"{videoid}.mp4"))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results_train.csv").write_text(buf.getvalue(), encoding="utf-8")
    render_all(jobs, desc="demo webvid")


def generate_cc3m(
    out_dir: Path,
    seed: int = 0,
    *,
    counts: Cc3mCounts = Cc3mCounts(),
    render: RenderSettings = RenderSettings(),
) -> None:
    """Write demo CC3M into ``out_dir`` (the ``cc3m/`` folder of a data root)."""
    rng = random.Random(f"cc3m-{seed}")
    rows = []
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    for k in tqdm(range(counts.images), desc="demo cc3m", unit="image", leave=False, disable=None):
        scene = Scene(1.0, sample_objects(rng, rng.choice((1, 2, 3))), background=rng.choice(sorted(BACKGROUNDS)),
                      width=render.width, height=render.height, fps=render.fps)  # fmt: skip
        (out_dir / "images" / f"{k}.jpg").write_bytes(render_image(scene, image_format="jpeg"))
        token = "".join(rng.choice("0123456789abcdef") for _ in range(16))
        rows.append(f"{still_caption(scene)}\thttp://cc3m-demo.invalid/images/{token}.jpg")
    write_lines(out_dir / "Train_GCC-training.tsv", rows)
