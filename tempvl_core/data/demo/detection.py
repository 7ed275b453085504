"""Demo temporal action detection: THUMOS14 (per-class txt + ActionFormer JSON) and
ActivityNet v1.3 (``activity_net.v1-3.min.json``).

Action classes are the motions of the demo world (``MoveLeft``, ``Spin``...), with several
instances per video. THUMOS14 quirks kept: two spaces after the video name, ``Ambiguous_*``
files, one test video whose only span is ambiguous (so the ActionFormer JSON leaves it out).
ActivityNet: one class per video, keys without ``v_``, a taxonomy tree, empty test labels.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from tempvl_core.data.demo.common import VideoJob, render_all, write_json, write_lines, youtube_id
from tempvl_core.data.demo.renderer import Scene
from tempvl_core.data.demo.scenes import RenderSettings, random_spans, sample_objects, sample_scene
from tempvl_core.data.demo.vocab import ACTIVITY_LABELS, ACTIVITY_PARENTS, MOTIONS, action_classes

THUMOS_SUBSETS = {"val": ("validation", "Validation"), "test": ("test", "Test")}


@dataclass(frozen=True)
class ThumosCounts:
    """Videos per split (real: 200 validation / 212 test)."""

    val: int = 24
    test: int = 64


@dataclass(frozen=True)
class ActivityNetCounts:
    """Videos per subset (real: 10024 / 4926 / 5044)."""

    training: int = 160
    validation: int = 64
    testing: int = 8


def _multi_instance_scene(rng: random.Random, render: RenderSettings, n_classes: int) -> Scene:
    """40-60 s, 4-7 short instances of one or two classes (more if those cannot fit)."""
    duration = float(rng.choice((40, 48, 60)))
    spans = random_spans(rng, duration, rng.randint(4, 7), min_len=2.0, max_len=6.0)
    motions = rng.sample(sorted(MOTIONS), n_classes)
    while True:
        try:
            return sample_scene(rng, duration, spans, n_objects=3, motions=motions, render=render, tries=20)
        except ValueError:
            motions.append(rng.choice(sorted(set(MOTIONS) - set(motions))))


def _gap(scene: Scene) -> tuple[float, float] | None:
    """The longest stretch where nothing happens (for an ``Ambiguous`` span)."""
    edges = sorted((e.start_s, e.end_s) for e in scene.events)
    best, t = None, 0.0
    for s, e in edges + [(scene.duration_s, scene.duration_s)]:
        if s - t > 1.0 and (best is None or s - t > best[1] - best[0]):
            best = (t + 0.3, s - 0.3)
        t = max(t, e)
    return best


def generate_thumos14(
    out_dir: Path,
    seed: int = 0,
    *,
    counts: ThumosCounts = ThumosCounts(),
    render: RenderSettings = RenderSettings(),
) -> None:
    """Write demo THUMOS14 into ``out_dir`` (the ``thumos14/`` folder of a data root)."""
    rng = random.Random(f"thumos14-{seed}")
    classes = action_classes()
    database, jobs = {}, []
    for split, (word, subset) in THUMOS_SUBSETS.items():
        numbers = sorted(rng.sample(range(1, 1700), getattr(counts, split)))
        per_class: dict[str, list[str]] = {c: [] for c in classes + ["Ambiguous"]}
        for k, number in enumerate(numbers):
            name = f"video_{word}_{number:07d}"
            if split == "test" and k == len(numbers) - 1:
                # Only an ambiguous span: listed in Ambiguous_test.txt, absent from the JSON.
                scene = Scene(40.0, sample_objects(rng, 2), background="black", width=render.width,
                              height=render.height, fps=render.fps)  # fmt: skip
                per_class["Ambiguous"].append(f"{name}  3.0 9.5")
                jobs.append(VideoJob(scene, out_dir / "videos" / f"{name}.mp4"))
                continue
            scene = _multi_instance_scene(rng, render, rng.choice((1, 2)))
            annotations = []
            for ev in sorted(scene.events, key=lambda e: (MOTIONS[e.motion].action_class, e.start_s)):
                label = MOTIONS[ev.motion].action_class
                per_class[label].append(f"{name}  {ev.start_s:.1f} {ev.end_s:.1f}")
                annotations.append(
                    {"label": label, "segment": [ev.start_s, ev.end_s],
                     "segment(frames)": [ev.start_s * scene.fps, ev.end_s * scene.fps],
                     "label_id": classes.index(label)}  # fmt: skip
                )
            gap = _gap(scene)
            if gap is not None and rng.random() < 0.3:
                per_class["Ambiguous"].append(f"{name}  {gap[0]:.1f} {gap[1]:.1f}")
            database[name] = {"subset": subset, "duration": scene.duration_s, "fps": scene.fps,
                              "annotations": annotations}  # fmt: skip
            jobs.append(VideoJob(scene, out_dir / "videos" / f"{name}.mp4"))
        for label, lines in per_class.items():
            write_lines(out_dir / f"annotations_{split}" / f"{label}_{split}.txt", sorted(lines))
    version = f"Thumos14-{render.fps:g}fps"
    (out_dir / "thumos14.json").write_text(json.dumps({"version": version, "database": database}, indent=4))
    render_all(jobs, desc="demo thumos14")


def _taxonomy() -> list[dict]:
    nodes = [{"nodeId": 0, "nodeName": "Root", "parentId": None, "parentName": None}]
    parents = sorted(set(ACTIVITY_PARENTS.values()))
    for p in parents:
        nodes.append({"nodeId": len(nodes), "nodeName": p, "parentId": 0, "parentName": "Root"})
    for motion, label in ACTIVITY_LABELS.items():
        parent = ACTIVITY_PARENTS[motion]
        nodes.append({"nodeId": len(nodes), "nodeName": label, "parentId": 1 + parents.index(parent),
                      "parentName": parent})  # fmt: skip
    return nodes


def _single_class_scene(rng: random.Random, render: RenderSettings) -> Scene:
    duration = float(rng.choice((40, 50, 60)))
    motion = rng.choice(sorted(MOTIONS))
    for n in (rng.randint(1, 3), 2, 1):
        spans = random_spans(rng, duration, n, min_len=4.0, max_len=12.0)
        try:
            return sample_scene(rng, duration, spans, n_objects=3, motions=[motion], render=render, tries=20)
        except ValueError:
            continue
    raise ValueError(f"cannot place a single {motion!r} instance in {duration}s")


def generate_activitynet(
    out_dir: Path,
    seed: int = 0,
    *,
    counts: ActivityNetCounts = ActivityNetCounts(),
    render: RenderSettings = RenderSettings(),
) -> None:
    """Write demo ActivityNet v1.3 into ``out_dir`` (the ``activitynet/`` folder of a data root)."""
    rng = random.Random(f"activitynet-{seed}")
    database, jobs = {}, []
    for subset in ("training", "validation", "testing"):
        for _ in range(getattr(counts, subset)):
            ytid = youtube_id(rng)
            while ytid in database:
                ytid = youtube_id(rng)
            scene = _single_class_scene(rng, render)
            annotations = [
                {"segment": [ev.start_s, ev.end_s], "label": ACTIVITY_LABELS[ev.motion]}
                for ev in sorted(scene.events, key=lambda e: e.start_s)
            ]
            database[ytid] = {
                "duration": scene.duration_s, "subset": subset,
                "resolution": f"{render.width}x{render.height}",
                "url": f"https://www.youtube.com/watch?v={ytid}",
                "annotations": annotations if subset != "testing" else [],  # hidden, as in the public file
            }  # fmt: skip
            jobs.append(VideoJob(scene, out_dir / "videos" / f"v_{ytid}.mp4"))
    data = {"version": "VERSION 1.3", "taxonomy": _taxonomy(), "database": database}
    write_json(out_dir / "activity_net.v1-3.min.json", data)
    render_all(jobs, desc="demo activitynet")
