"""Demo ActivityNet Captions: ``train.json``, ``val_1.json``, ``val_2.json`` and id lists.

Dicts keyed ``v_<ytid>``: ``{"duration", "timestamps", "sentences"}``. Quirks of the public
files kept on purpose: sentences after the first start with a space, some timestamps are ints,
events may overlap, one segment has ``start >= end`` and one ends past the duration. ``val_2``
re-annotates a subset of ``val_1``'s videos (slightly different times). Videos:
``videos/v_<ytid>.mp4``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from tempvl_core.data.demo.common import VideoJob, render_all, write_json, youtube_id
from tempvl_core.data.demo.renderer import Scene
from tempvl_core.data.demo.scenes import RenderSettings, event_caption, random_spans, sample_scene


@dataclass(frozen=True)
class AnetCaptionsCounts:
    """Videos in train and val_1 (real: 10009 / 4917); val_2 re-annotates most of val_1."""

    train: int = 128
    val: int = 100  # about 350 MR queries, 100 paragraph queries


def _number(x: float, as_int: bool) -> float | int:
    return int(x) if as_int and float(x).is_integer() else round(x, 2)


def _scene(rng: random.Random, render: RenderSettings) -> Scene:
    duration = float(rng.choice((40, 48, 56)))
    n = rng.choice((3, 4))
    spans = random_spans(rng, duration, n, min_len=5.0, max_len=12.0)
    # Overlapping events, as in the public annotations (another object performs them).
    k = rng.randrange(n - 1)
    overlapping = list(spans)
    overlapping[k] = (spans[k][0], min(spans[k + 1][0] + 2.0, spans[k + 1][1] - 0.5))
    try:
        return sample_scene(rng, duration, overlapping, n_objects=3, render=render)
    except ValueError:
        return sample_scene(rng, duration, spans, n_objects=3, render=render)


def _entry(rng: random.Random, scene: Scene, jitter: float = 0.0) -> dict:
    events = sorted(scene.events, key=lambda e: (e.start_s, e.object))
    int_at = rng.randrange(len(events))
    timestamps, sentences = [], []
    for k, ev in enumerate(events):
        s = max(0.0, ev.start_s + rng.uniform(-jitter, jitter))
        e = min(scene.duration_s, ev.end_s + rng.uniform(-jitter, jitter))
        timestamps.append([_number(s, k == int_at), _number(e, k == int_at)])
        text = event_caption(scene, ev)
        sentences.append((" " if k else "") + text[0].upper() + text[1:] + ".")
    return {"duration": scene.duration_s, "timestamps": timestamps, "sentences": sentences}


def generate_anet_captions(
    out_dir: Path,
    seed: int = 0,
    *,
    counts: AnetCaptionsCounts = AnetCaptionsCounts(),
    render: RenderSettings = RenderSettings(),
) -> None:
    """Write demo ActivityNet Captions into ``out_dir`` (``anet-captions/`` of a data root)."""
    rng = random.Random(f"anet-captions-{seed}")
    keys: list[str] = []
    while len(keys) < counts.train + counts.val:
        key = f"v_{youtube_id(rng)}"
        if key not in keys:
            keys.append(key)
    scenes = {k: _scene(rng, render) for k in keys}
    train_keys, val_keys = keys[: counts.train], keys[counts.train :]
    train = {k: _entry(rng, scenes[k]) for k in train_keys}
    # Two annotation slips of the public files: an empty segment and one past the end.
    first, second = train[train_keys[0]], train[train_keys[-1]]
    t = first["timestamps"][0][1]
    first["timestamps"].append([t, t])
    first["sentences"].append(" " + first["sentences"][0].strip())
    second["timestamps"][-1][1] = round(second["duration"] + 1.37, 2)
    val_1 = {k: _entry(rng, scenes[k]) for k in val_keys}
    val_2_keys = sorted(rng.sample(val_keys, max(1, round(len(val_keys) * 0.8))), key=val_keys.index)
    val_2 = {k: _entry(rng, scenes[k], jitter=0.5) for k in val_2_keys}
    for name, data in (("train", train), ("val_1", val_1), ("val_2", val_2)):
        write_json(out_dir / f"{name}.json", data)
    write_json(out_dir / "train_ids.json", train_keys)
    write_json(out_dir / "val_ids.json", val_keys)
    render_all([VideoJob(scenes[k], out_dir / "videos" / f"{k}.mp4") for k in keys], desc="demo anet-captions")
