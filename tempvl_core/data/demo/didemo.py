"""Demo DiDeMo: Flickr-style names, 5-second segments, four annotators per description.

Writes ``train_data.json``/``val_data.json``/``test_data.json`` (key order
``num_segments, description, dl_link, times, video, annotation_id``, annotations shuffled as in
the public files), the split lists and ``videos/<exact video string>``. Each video holds two or
three objects with distinct colours; each description names one object's colour, shape and
motion during the segments its ``times`` point at, so moment and paragraph retrieval are
learnable.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tempvl_core.data.demo.common import SplitCounts, VideoJob, render_all, write_json, write_lines
from tempvl_core.data.demo.renderer import Scene
from tempvl_core.data.demo.scenes import RenderSettings, event_caption, sample_scene

SEGMENT_S = 5.0
#: Extensions cycled through so that every split has each, including the bare ``.``.
EXTENSIONS: tuple[str, ...] = ("", "mov", "avi", "mp4", "mpg", "m4v", "3gp", "wmv", "3g2", "mts", "m2ts")
SHORT_DURATION_S = 23.0  # a "5-segment" video: the last segment is cut short


@dataclass(frozen=True)
class DidemoCounts(SplitCounts):
    """Videos per split (real: 8392/1065/1004)."""

    train: int = 128
    val: int = 16
    test: int = 300


def video_name(rng: random.Random, ext: str) -> tuple[str, str]:
    """``(name, flickr_id)``, e.g. ``35034348999@N01_6060447507_dc1a90b8ef.mov``."""
    flickr_id = str(rng.randint(10**9, 2 * 10**10))
    owner = f"{rng.randint(10**6, 2 * 10**11)}@N{rng.randint(0, 8):02d}"
    secret = "".join(rng.choice("0123456789abcdef") for _ in range(10))
    return f"{owner}_{flickr_id}_{secret}.{ext}", flickr_id


def _segment_spans(rng: random.Random, num_segments: int, k: int) -> list[tuple[int, int]]:
    """``k`` disjoint inclusive segment ranges of length 1 or 2, in time order."""
    while True:
        taken: set[int] = set()
        spans = []
        for _ in range(k):
            length = rng.choice((1, 1, 2))
            start = rng.randint(0, num_segments - length)
            seg = set(range(start, start + length))
            if seg & taken:
                break
            taken |= seg
            spans.append((start, start + length - 1))
        if len(spans) == k:
            return sorted(spans)


def _annotator_times(rng: random.Random, span: tuple[int, int], num_segments: int) -> list[list[int]]:
    """Four annotators (rarely seven) who mostly agree; a disagreement moves one end by one."""
    n = 7 if rng.random() < 0.04 else 4
    times = []
    for _ in range(n):
        s, e = span
        if rng.random() < 0.25:
            if rng.random() < 0.5:
                s = min(max(s + rng.choice((-1, 1)), 0), e)
            else:
                e = max(min(e + rng.choice((-1, 1)), num_segments - 1), s)
        times.append([s, e])
    return times


def _video(
    rng: random.Random, name: str, flickr_id: str, render: RenderSettings, ids: Iterator[int], short: bool
) -> tuple[Scene, list[dict]]:
    num_segments = 5 if short else 6
    duration = SHORT_DURATION_S if short else num_segments * SEGMENT_S
    seg_spans = _segment_spans(rng, num_segments, rng.choice((3, 3, 4)))
    spans = [(SEGMENT_S * s, min(SEGMENT_S * (e + 1), duration)) for s, e in seg_spans]
    # Every object is described: the paragraph then names every colour and shape in view.
    n_objects = min(rng.choice((2, 2, 3)), len(spans))
    scene = sample_scene(rng, duration, spans, n_objects=n_objects, render=render, every_object_acts=True)
    events = sorted(scene.events, key=lambda ev: ev.start_s)
    annotations = []
    for ev, seg in zip(events, seg_spans):
        text = event_caption(scene, ev) + ("." if rng.random() < 0.3 else "")
        annotations.append(
            {
                "num_segments": num_segments,
                "description": text,
                "dl_link": f"https://www.flickr.com/video_download.gne?id={flickr_id}",
                "times": _annotator_times(rng, seg, num_segments),
                "video": name,
                "annotation_id": next(ids),
            }
        )
    return scene, annotations


def generate_didemo(
    out_dir: Path,
    seed: int = 0,
    *,
    counts: DidemoCounts = DidemoCounts(),
    render: RenderSettings = RenderSettings(),
) -> None:
    """Write the demo DiDeMo dataset into ``out_dir`` (the ``didemo/`` folder of a data root)."""
    rng = random.Random(f"didemo-{seed}")
    ids = iter(rng.sample(range(1, 60000), counts.total * 4))
    jobs: list[VideoJob] = []
    used: set[str] = set()
    for split, n in (("train", counts.train), ("val", counts.val), ("test", counts.test)):
        annotations, names = [], []
        for i in range(n):
            ext = EXTENSIONS[i % len(EXTENSIONS)]
            name, flickr_id = video_name(rng, ext)
            while name in used:
                name, flickr_id = video_name(rng, ext)
            used.add(name)
            # Each split holds at least one shorter, 5-segment video (the second one).
            short = i == 1 or rng.random() < 0.12
            scene, anns = _video(rng, name, flickr_id, render, ids, short)
            annotations += anns
            names.append(name)
            jobs.append(VideoJob(scene, out_dir / "videos" / name, None if ext else "mp4"))
        rng.shuffle(annotations)  # the public files are not grouped by video
        write_json(out_dir / f"{split}_data.json", annotations)
        write_lines(out_dir / f"{split}_list.txt", sorted(names))
    render_all(jobs, desc="demo didemo")
