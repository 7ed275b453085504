"""Demo pretraining episodes: one scene, several events, one short captioned clip per event.

An *episode* is a long scene (20-32 s, three or four events by its two or three objects, like a
demo Charades-STA video). Each event is cut out as a clip of its own with its own caption, as
a video site cuts one source video into captioned clips. Clips of one episode share objects,
colours and background, so when TemPVL merges them only the event (which object does what)
tells them apart: the localization objectives can only be solved by grounding the text in the
motion, never by colour. Nothing about where a clip sat in its episode is written down: the
merge creates the temporal labels.

Layout (our own small format, there is no public one): ``episodes/episodes.json`` is a list of
``{"episode": ID, "clips": [{"video": "videos/ID_K.mp4", "caption": TEXT}, ...]}``.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from tempvl_core.data.demo.common import VideoJob, render_all
from tempvl_core.data.demo.renderer import Event, Scene, SceneObject, object_state
from tempvl_core.data.demo.scenes import RenderSettings, event_caption, random_spans, sample_scene
from tempvl_core.data.demo.vocab import MOTIONS

EPISODES_FILE = "episodes.json"
# Appearing and disappearing change which objects a cut clip starts with; episodes keep to the
# motions every clip can show from its own first frame.
EPISODE_MOTIONS = tuple(m for m in MOTIONS if m not in ("appear", "disappear"))


@dataclass(frozen=True)
class EpisodeCounts:
    episodes: int = 160


def episode_scene(rng: random.Random, render: RenderSettings = RenderSettings()) -> Scene:
    """A Charades-like scene: 20-32 s, three or four disjoint events of 3-8 s."""
    duration = float(rng.choice((20, 24, 28, 32)))
    spans = random_spans(rng, duration, rng.choice((3, 4)), min_len=3.0, max_len=8.0)
    return sample_scene(rng, duration, spans, n_objects=rng.choice((2, 3)), motions=EPISODE_MOTIONS, render=render)


def cut_event(scene: Scene, event: Event) -> Scene:
    """The part of ``scene`` during ``event`` as a scene of its own: every object starts where
    (and as large as) it is when the event begins."""
    objects = []
    for i, obj in enumerate(scene.objects):
        st = object_state(scene, i, event.start_s)
        objects.append(SceneObject(obj.shape, obj.colour, round(st.size, 4), round(st.x, 4), round(st.y, 4)))
    shifted = Event(0.0, event.end_s - event.start_s, event.object, event.motion)
    return Scene(duration_s=shifted.end_s, objects=tuple(objects), events=(shifted,), background=scene.background,
                 width=scene.width, height=scene.height, fps=scene.fps)


def generate_episodes(
    out_dir: Path,
    seed: int = 0,
    *,
    counts: EpisodeCounts = EpisodeCounts(),
    render: RenderSettings = RenderSettings(),
) -> None:
    """Write demo episodes into ``out_dir`` (the ``episodes/`` folder of a data root)."""
    rng = random.Random(f"episodes-{seed}")
    records, jobs = [], []
    for k in range(counts.episodes):
        episode = f"ep{k:05d}"
        scene = episode_scene(rng, render)
        clips = []
        for j, event in enumerate(sorted(scene.events, key=lambda e: e.start_s)):
            name = f"videos/{episode}_{j}.mp4"
            clips.append({"video": name, "caption": event_caption(scene, event)})
            jobs.append(VideoJob(cut_event(scene, event), out_dir / name))
        records.append({"episode": episode, "clips": clips})
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / EPISODES_FILE).write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
    render_all(jobs, desc="demo episodes")
