"""Sampling demo scenes and the words that describe them.

Every generator draws its clips here: :func:`sample_scene` places a few objects with distinct
colours and gives them one event per requested time span, choosing only motions that keep the
object inside the frame (checked with the renderer's own :func:`object_state`), so every
caption is true of the pixels. :func:`clip_scene`/:func:`clip_captions` make the short
captioned clips shared by MSR-VTT, MSVD, LSMDC and WebVid.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

from tempvl_core.data.demo.renderer import (
    Event,
    ObjectState,
    Scene,
    SceneObject,
    object_state,
    state_after,
)
from tempvl_core.data.demo.vocab import (
    BACKGROUNDS,
    COLOURS,
    MOTIONS,
    NUMBER_WORDS,
    ROTATION_VISIBLE,
    SHAPES,
    event_phrase,
    object_phrase,
)

MARGIN = 0.06  # keep the drawn object at least this far from the frame edge
MIN_SIZE, MAX_SIZE = 0.06, 0.22


@dataclass(frozen=True)
class RenderSettings:
    """Frame size and rate of the rendered clips."""

    width: int = 64
    height: int = 64
    fps: float = 4.0


def sample_objects(rng: random.Random, n: int) -> tuple[SceneObject, ...]:
    """``n`` objects with distinct colours, random shapes, sizes and positions."""
    colours = rng.sample(sorted(COLOURS), n)
    return tuple(
        SceneObject(
            shape=rng.choice(SHAPES),
            colour=c,
            size=round(rng.uniform(0.09, 0.13), 3),
            x=round(rng.uniform(0.22, 0.78), 3),
            y=round(rng.uniform(0.22, 0.78), 3),
        )
        for c in colours
    )


def _fits(st: ObjectState) -> bool:
    r = st.size
    inside = MARGIN + r <= st.x <= 1 - MARGIN - r and MARGIN + r <= st.y <= 1 - MARGIN - r
    return inside and MIN_SIZE <= st.size <= MAX_SIZE


def _candidates(
    scene: Scene, index: int, span: tuple[float, float], allowed: Sequence[str]
) -> list[tuple[int, str]]:
    """``(object, motion)`` pairs that may fill ``span``: the object is free then and stays
    inside the frame (checked without building a scene per candidate: this is the hot loop)."""
    own = list(scene.events_by_object[index])
    if any(e.motion == "disappear" for e in own):
        return []
    if any(e.start_s < span[1] and span[0] < e.end_s for e in own):
        return []  # an object does one thing at a time
    out = []
    for motion in allowed:
        if motion == "spin" and scene.objects[index].shape not in ROTATION_VISIBLE:
            continue
        if motion == "appear" and (own or span[0] <= 0):
            continue
        if motion == "disappear" and len(scene.objects) < 2:
            continue
        event = Event(span[0], span[1], index, motion)
        if _fits(state_after(scene.objects[index], own + [event], span[1])):
            out.append((index, motion))
    return out


def _overlaps(scene: Scene) -> bool:
    """True if two visible objects touch at some sampled instant (it would hide colours)."""
    t = 0.0
    while t <= scene.duration_s:
        states = [object_state(scene, i, t) for i in range(len(scene.objects))]
        for i in range(len(states)):
            for j in range(i + 1, len(states)):
                a, b = states[i], states[j]
                gap = ((a.x - b.x) ** 2 + (a.y - b.y) ** 2) ** 0.5
                if a.visible and b.visible and gap < (a.radius + b.radius) * 1.15:
                    return True
        t += 0.5
    return False


def sample_scene(
    rng: random.Random,
    duration_s: float,
    spans: Sequence[tuple[float, float]],
    *,
    n_objects: int = 2,
    motions: Sequence[str] | None = None,
    render: RenderSettings = RenderSettings(),
    tries: int = 60,
    every_object_acts: bool = False,
) -> Scene:
    """A scene with one event per span (spans in seconds; they may overlap in time, as long as
    there are enough objects to perform them).

    ``every_object_acts`` asks that each object perform at least one event, so that a text
    made of the event captions names every object in view. Raises ``ValueError`` if no
    arrangement keeps every object inside the frame.
    """
    allowed = list(motions) if motions is not None else list(MOTIONS)
    order = sorted(range(len(spans)), key=lambda k: spans[k][0])
    fallback = None
    for _ in range(tries):
        scene = Scene(
            duration_s=duration_s,
            objects=sample_objects(rng, n_objects),
            background=rng.choice(sorted(BACKGROUNDS)),
            width=render.width,
            height=render.height,
            fps=render.fps,
        )
        for step, k in enumerate(order):
            actors = range(n_objects)
            if every_object_acts:
                # Once the spans left are just enough for the idle objects, only they may act.
                idle = [i for i in actors if not scene.events_by_object[i]]
                if len(idle) >= len(order) - step:
                    actors = idle
            options = [c for i in actors for c in _candidates(scene, i, spans[k], allowed)]
            if not options:
                break
            index, motion = rng.choice(options)
            scene = replace(scene, events=scene.events + (Event(*spans[k], index, motion),))
        else:
            if every_object_acts and len({e.object for e in scene.events}) < n_objects:
                continue
            if not _overlaps(scene):
                return scene
            fallback = scene
    if fallback is not None:
        return fallback
    raise ValueError(f"could not place {len(spans)} events in {duration_s}s with {allowed}")


def event_caption(scene: Scene, event: Event) -> str:
    """``"the red circle moves to the left"``."""
    obj = scene.objects[event.object]
    return event_phrase(obj.colour, obj.shape, event.motion)


def clip_caption(scene: Scene) -> str:
    """The whole clip in one sentence: its events in time order, joined by ``then``."""
    events = sorted(scene.events, key=lambda e: (e.start_s, e.object))
    if not events:
        return still_caption(scene)
    return ", then ".join(event_caption(scene, e) for e in events)


def still_caption(scene: Scene) -> str:
    """A caption for a still image: the objects and the background."""
    names = [with_article(object_phrase(o.colour, o.shape)) for o in scene.objects]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"{listed} on {with_article(scene.background)} background"


def with_article(phrase: str) -> str:
    """``"an orange circle"``, ``"a red circle"``."""
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def count_word(n: int) -> str:
    return NUMBER_WORDS[n] if n < len(NUMBER_WORDS) else str(n)


def random_spans(
    rng: random.Random,
    duration_s: float,
    n: int,
    *,
    min_len: float,
    max_len: float,
    grid: float = 0.5,
) -> list[tuple[float, float]]:
    """``n`` disjoint spans in time order, each inside its own ``duration_s / n`` slot, with
    ends on a ``grid``-second grid (so that they fall on frame times)."""
    slot = duration_s / n
    if min_len > slot:
        raise ValueError(f"{n} spans of at least {min_len}s do not fit in {duration_s}s")
    spans = []
    for k in range(n):
        # The slot's own bounds, snapped inwards to the grid, so that spans never touch.
        lo = math.ceil(k * slot / grid - 1e-9) * grid
        hi = math.floor((k + 1) * slot / grid + 1e-9) * grid
        room = hi - lo
        if room < grid:
            raise ValueError(f"slot {k} of {slot:.2f}s holds no {grid}s grid step")
        length = rng.uniform(min(min_len, room), min(max_len, room))
        start = lo + rng.uniform(0, room - length)
        s = math.ceil(start / grid - 1e-9) * grid
        e = math.floor((start + length) / grid + 1e-9) * grid
        if e <= s:
            s, e = (s, s + grid) if s + grid <= hi else (hi - grid, hi)
        spans.append((round(s, 3), round(e, 3)))
    return spans


def clip_scene(
    rng: random.Random, render: RenderSettings = RenderSettings(), *, duration_s: float | None = None
) -> Scene:
    """A short captioned clip (8-12 s, two or three events): MSR-VTT/MSVD/WebVid style."""
    duration = duration_s if duration_s is not None else float(rng.choice((8, 10, 12)))
    n_events = max(1, min(rng.choice((2, 3)), int(duration // 2.5)))
    spans = random_spans(rng, duration, n_events, min_len=2.0, max_len=duration / n_events)
    return sample_scene(rng, duration, spans, n_objects=rng.choice((2, 3)), render=render)


def clip_captions(rng: random.Random, scene: Scene, n: int) -> list[str]:
    """``n`` different true captions of a clip: the whole story first, then its parts."""
    events = sorted(scene.events, key=lambda e: e.start_s)
    pool = [clip_caption(scene)]
    pool += [event_caption(scene, e) for e in events]
    pool.append(still_caption(scene))
    pool.append(" and ".join(event_caption(scene, e) for e in events))
    pool.append("a video of " + still_caption(scene))
    out = pool[:1] + rng.sample(pool[1:], min(n - 1, len(pool) - 1))
    while len(out) < n:  # more captions asked than variants: repeat, as annotators do
        out.append(rng.choice(pool))
    return out
