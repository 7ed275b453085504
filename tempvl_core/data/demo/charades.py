"""Demo Charades-STA: ``<vid> <start> <end>##<sentence>`` lines and the Charades CSVs.

Durations live in ``Charades_v1_train.csv``/``Charades_v1_test.csv`` (the real header,
fields quoted where they contain commas, CRLF line ends); as in the public files, some query ends run past
the video's length. Videos: ``Charades_v1_480/<vid>.mp4``.
"""

from __future__ import annotations

import csv
import io
import random
import string
from dataclasses import dataclass
from pathlib import Path

from tempvl_core.data.demo.common import VideoJob, render_all, write_lines
from tempvl_core.data.demo.renderer import Scene
from tempvl_core.data.demo.scenes import (
    RenderSettings,
    clip_caption,
    event_caption,
    random_spans,
    sample_scene,
    still_caption,
)
from tempvl_core.data.demo.vocab import MOTIONS

HEADER = ["id", "subject", "scene", "quality", "relevance", "verified", "script", "objects",
          "descriptions", "actions", "length"]  # fmt: skip
ACTION_IDS = {m: f"c{k:03d}" for k, m in enumerate(MOTIONS)}


@dataclass(frozen=True)
class CharadesCounts:
    """Videos per split (real: 5338 / 1334 with STA queries)."""

    train: int = 160
    test: int = 300  # about 1,050 queries: R1@0.5 differences of 5 points are measurable


def _code(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(n))


def _video(rng: random.Random, render: RenderSettings, overrun: bool) -> tuple[Scene, bool]:
    duration = float(rng.choice((20, 24, 28, 32)))
    n = rng.choice((3, 4))
    spans = random_spans(rng, duration, n, min_len=3.0, max_len=8.0)
    if overrun:  # the last action lasts to the end of the video
        spans[-1] = (spans[-1][0], duration)
    return sample_scene(rng, duration, spans, n_objects=rng.choice((2, 3)), render=render), overrun


def _csv_row(rng: random.Random, vid: str, scene: Scene) -> list[str]:
    events = sorted(scene.events, key=lambda e: e.start_s)
    actions = ";".join(f"{ACTION_IDS[e.motion]} {e.start_s:.2f} {e.end_s:.2f}" for e in events)
    descriptions = ";".join(
        [clip_caption(scene).capitalize() + ".", still_caption(scene).capitalize() + ", nothing else."]
    )
    return [
        vid, _code(rng, 4), scene.background.capitalize(), str(rng.randint(3, 7)),
        str(rng.randint(4, 7)), "Yes", clip_caption(scene).capitalize() + ".",
        ";".join(sorted({o.shape for o in scene.objects})), descriptions, actions,
        f"{scene.duration_s:.2f}",
    ]  # fmt: skip


def generate_charades_sta(
    out_dir: Path,
    seed: int = 0,
    *,
    counts: CharadesCounts = CharadesCounts(),
    render: RenderSettings = RenderSettings(),
) -> None:
    """Write demo Charades-STA into ``out_dir`` (the ``charades-sta/`` folder of a data root)."""
    rng = random.Random(f"charades-{seed}")
    jobs, used = [], set()
    for split in ("train", "test"):
        lines, buf = [], io.StringIO()
        writer = csv.writer(buf)  # "\r\n" line ends, as in the public Charades CSVs
        writer.writerow(HEADER)
        for k in range(getattr(counts, split)):
            vid = _code(rng, 5)
            while vid in used:
                vid = _code(rng, 5)
            used.add(vid)
            scene, overrun = _video(rng, render, overrun=k == 0 or rng.random() < 0.2)
            events = sorted(scene.events, key=lambda e: e.start_s)
            for k, ev in enumerate(events):
                end = ev.end_s
                if overrun and k == len(events) - 1:
                    end += rng.uniform(0.3, 4.0)  # annotators overshoot the end of the clip
                lines.append(f"{vid} {ev.start_s:.1f} {end:.1f}##{event_caption(scene, ev)}.")
            writer.writerow(_csv_row(rng, vid, scene))
            jobs.append(VideoJob(scene, out_dir / "Charades_v1_480" / f"{vid}.mp4"))
        write_lines(out_dir / f"charades_sta_{split}.txt", lines)
        (out_dir / f"Charades_v1_{split}.csv").write_text(buf.getvalue(), encoding="utf-8")
    render_all(jobs, desc="demo charades-sta")
