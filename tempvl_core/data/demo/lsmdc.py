"""Demo LSMDC: TAB-separated annotation files without a header and ``.avi`` clips per movie.

Rows have six fields ``CLIP_ID, START_ALIGNED, END_ALIGNED, START_EXTRACTED, END_EXTRACTED,
SENTENCE`` with ``hh.mm.ss.mmm`` times; clip ids are ``<movie>_<start>-<end>``; sentences use
the ``SOMEONE`` placeholder; some training ids repeat (a second sentence for the same clip),
test ids are unique. Files: ``videos/<movie>/<CLIP_ID>.avi``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from tempvl_core.data.demo.common import VideoJob, render_all, write_lines
from tempvl_core.data.demo.renderer import Scene
from tempvl_core.data.demo.scenes import RenderSettings, clip_caption, clip_scene, event_caption

FILES = {
    "train": "LSMDC16_annos_training.csv",
    "val": "LSMDC16_annos_val.csv",
    "test": "LSMDC16_challenge_1000_publictect.csv",  # sic: the public name has this typo
}
MOVIES = {
    "train": ("0001_Morning_Walk", "0002_Quiet_Harbor", "0003_Long_Summer"),
    "val": ("0031_Night_Train",),
    "test": ("1001_Paper_Moon", "1002_Open_Road"),
}


@dataclass(frozen=True)
class LsmdcCounts:
    """Clips per split (real: 101079 / 7408 / 1000)."""

    train: int = 256
    val: int = 8
    test: int = 200  # R@1 differences of a few points are measurable


def lsmdc_time(seconds: float) -> str:
    """``hh.mm.ss.mmm``, e.g. ``00.00.51.926``."""
    ms = round(seconds * 1000)
    return f"{ms // 3600000:02d}.{ms // 60000 % 60:02d}.{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def _sentence(rng: random.Random, scene: Scene, alternative: bool = False) -> str:
    events = sorted(scene.events, key=lambda e: e.start_s)
    text = event_caption(scene, rng.choice(events)) if alternative else clip_caption(scene)
    if rng.random() < 0.4:
        text = "SOMEONE watches as " + text
    text = text[0].upper() + text[1:]
    return text + "."


def _rows(rng: random.Random, split: str, n: int, render: RenderSettings, out_dir: Path):
    rows, jobs = [], []
    clock = {m: rng.uniform(30, 90) for m in MOVIES[split]}
    for k in range(n):
        movie = MOVIES[split][k % len(MOVIES[split])]
        duration = rng.choice((4.0, 5.0, 6.0))
        scene = clip_scene(rng, render, duration_s=duration)
        start = clock[movie]
        end = start + duration
        clock[movie] = end + rng.uniform(1, 20)
        clip_id = f"{movie}_{lsmdc_time(start)}-{lsmdc_time(end)}"
        times = [lsmdc_time(start), lsmdc_time(end), lsmdc_time(int(start)), lsmdc_time(int(end) + 1)]
        rows.append([clip_id, *times, _sentence(rng, scene)])
        if split == "train" and rng.random() < 0.15:
            rows.append([clip_id, *times, _sentence(rng, scene, alternative=True)])
        jobs.append(VideoJob(scene, out_dir / "videos" / movie / f"{clip_id}.avi"))
    return rows, jobs


def generate_lsmdc(
    out_dir: Path,
    seed: int = 0,
    *,
    counts: LsmdcCounts = LsmdcCounts(),
    render: RenderSettings = RenderSettings(),
) -> None:
    """Write the demo LSMDC dataset into ``out_dir`` (the ``lsmdc/`` folder of a data root)."""
    rng = random.Random(f"lsmdc-{seed}")
    jobs: list[VideoJob] = []
    for split in ("train", "val", "test"):
        rows, split_jobs = _rows(rng, split, getattr(counts, split), render, out_dir)
        write_lines(out_dir / FILES[split], ["\t".join(r) for r in rows])
        jobs += split_jobs
    render_all(jobs, desc="demo lsmdc")
