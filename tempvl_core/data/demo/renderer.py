"""The one procedural renderer behind every demo dataset.

A :class:`Scene` is declarative: a background, some objects, and events
``(start_s, end_s, object, motion)``. :func:`object_state` says where each object is at any time
(the single source of truth, also used by the scene sampler to keep objects inside the frame),
:func:`render_frame`/:func:`iter_frames` draw it with numpy, :func:`write_video` encodes H.264
with PyAV and :func:`render_image` encodes a single frame as JPEG or PNG. Rendering is a pure
function of the scene, so a dataset is deterministic given the seed that sampled its scenes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property, lru_cache
from pathlib import Path

import av
import numpy as np

from tempvl_core.data.demo.vocab import BACKGROUNDS, COLOURS, MOTIONS, MOVE_DIRECTIONS, SHAPES

# Motion magnitudes (fractions of the frame / multiplicative factors), applied over one event.
MOVE_DISTANCE = 0.35
GROW_FACTOR = 1.6
SHRINK_FACTOR = 0.6
# 0.25 turn/s is 22.5 degrees per frame at 4 fps: never a symmetry angle of a drawn shape.
SPIN_TURNS_PER_S = 0.25
BLINK_HALF_PERIOD_S = 0.5

#: Container format for each file extension (``mpg`` as MPEG-TS: the PS muxer misreports the
#: duration at 4 fps). Names with no or an unknown extension need an explicit format.
CONTAINER_FORMATS: dict[str, str] = {
    "mp4": "mp4", "m4v": "mp4", "mov": "mov", "avi": "avi", "mkv": "matroska",
    "3gp": "3gp", "3g2": "3g2", "wmv": "asf", "mpg": "mpegts", "mts": "mpegts", "m2ts": "mpegts",
}  # fmt: skip


@dataclass(frozen=True)
class SceneObject:
    """A drawable object; ``x``/``y`` (centre) are fractions of the frame, ``size`` is the radius
    as a fraction of the frame's shorter side."""

    shape: str
    colour: str
    size: float
    x: float
    y: float

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"unknown shape {self.shape!r}; expected one of {SHAPES}")
        if self.colour not in COLOURS:
            raise ValueError(f"unknown colour {self.colour!r}; expected one of {sorted(COLOURS)}")


@dataclass(frozen=True)
class Event:
    """Object ``object`` (index into ``Scene.objects``) performs ``motion`` during
    ``[start_s, end_s]``."""

    start_s: float
    end_s: float
    object: int
    motion: str

    def __post_init__(self) -> None:
        if self.motion not in MOTIONS:
            raise ValueError(f"unknown motion {self.motion!r}; expected one of {sorted(MOTIONS)}")
        if not self.end_s > self.start_s:
            raise ValueError(f"event end {self.end_s} must be after its start {self.start_s}")


@dataclass(frozen=True)
class Scene:
    """A whole clip: what to draw, for how long, at which size and frame rate."""

    duration_s: float
    objects: tuple[SceneObject, ...]
    events: tuple[Event, ...] = ()
    background: str = "black"
    width: int = 64
    height: int = 64
    fps: float = 4.0

    def __post_init__(self) -> None:
        if self.background not in BACKGROUNDS:
            raise ValueError(f"unknown background {self.background!r}")
        if self.width % 2 or self.height % 2:
            raise ValueError(f"yuv420p needs even frame sizes, got {self.width}x{self.height}")
        for ev in self.events:
            if not 0 <= ev.object < len(self.objects):
                raise ValueError(f"event {ev} names object {ev.object}; scene has {len(self.objects)}")

    @property
    def num_frames(self) -> int:
        return max(1, round(self.duration_s * self.fps))

    @cached_property
    def events_by_object(self) -> tuple[tuple[Event, ...], ...]:
        """Each object's events in start order (computed once: every frame needs them)."""
        return tuple(
            tuple(sorted((e for e in self.events if e.object == i), key=lambda e: e.start_s))
            for i in range(len(self.objects))
        )


@dataclass(frozen=True)
class ObjectState:
    """Where an object is and how it looks at one instant."""

    x: float
    y: float
    size: float
    angle: float
    visible: bool
    scale: float = 1.0  # extra factor while appearing/disappearing

    @property
    def radius(self) -> float:
        return self.size * self.scale


@dataclass
class _Progress:
    x: float
    y: float
    size: float
    angle: float = 0.0
    visible: bool = True
    scale: float = 1.0


def object_state(scene: Scene, index: int, t: float) -> ObjectState:
    """State of object ``index`` at time ``t`` (seconds), after applying its events in order."""
    return state_after(scene.objects[index], scene.events_by_object[index], t)


def state_after(obj: SceneObject, events: Sequence[Event], t: float) -> ObjectState:
    """State of ``obj`` at time ``t`` given its own ``events`` sorted by start time."""
    st = _Progress(obj.x, obj.y, obj.size)
    # An object whose first event is "appear" is not there before it.
    st.visible = not (events and events[0].motion == "appear")
    for ev in events:
        if t < ev.start_s:
            break
        _apply(st, ev, t)
    return ObjectState(st.x, st.y, st.size, st.angle, st.visible, st.scale)


def _apply(st: _Progress, ev: Event, t: float) -> None:
    elapsed = min(t, ev.end_s) - ev.start_s
    p = elapsed / (ev.end_s - ev.start_s)
    during = t < ev.end_s
    if ev.motion in MOVE_DIRECTIONS:
        dx, dy = MOVE_DIRECTIONS[ev.motion]
        st.x += dx * MOVE_DISTANCE * p
        st.y += dy * MOVE_DISTANCE * p
    elif ev.motion == "grow":
        st.size *= GROW_FACTOR**p
    elif ev.motion == "shrink":
        st.size *= SHRINK_FACTOR**p
    elif ev.motion == "spin":
        st.angle += 2 * math.pi * SPIN_TURNS_PER_S * elapsed
    elif ev.motion == "blink":
        st.visible = (not during) or int(elapsed // BLINK_HALF_PERIOD_S) % 2 == 1
    elif ev.motion == "appear":
        st.visible, st.scale = True, (max(p, 0.15) if during else 1.0)
    elif ev.motion == "disappear":
        st.visible, st.scale = during, max(1.0 - p, 0.15)


def _shape_mask(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inside-test in object coordinates (unit = radius, v points down)."""
    if shape == "circle":
        return u * u + v * v <= 1.0
    if shape == "square":
        return np.maximum(np.abs(u), np.abs(v)) <= 0.8
    if shape == "diamond":
        return np.abs(u) + np.abs(v) <= 1.0
    if shape == "triangle":  # apex up, inscribed in a circle of radius 1.15
        u, v = u / 1.15, v / 1.15
        return (v <= 0.5) & (0.866 * u - 0.5 * v <= 0.5) & (-0.866 * u - 0.5 * v <= 0.5)
    if shape == "star":  # five points, boundary radius linear in angle between tip and notch
        k = (np.arctan2(v, u) * 5 / (2 * math.pi) + 0.25) % 1.0
        return np.hypot(u, v) <= 0.45 + 0.65 * np.abs(2 * k - 1)
    if shape == "cross":
        au, av_ = np.abs(u), np.abs(v)
        return ((au <= 0.33) & (av_ <= 1.0)) | ((av_ <= 0.33) & (au <= 1.0))
    raise ValueError(f"unknown shape {shape!r}")


@lru_cache(maxsize=8)
def _pixel_centres(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    yy.flags.writeable = xx.flags.writeable = False
    return yy, xx


def render_frame(scene: Scene, t: float) -> np.ndarray:
    """One RGB frame (H, W, 3) uint8 at time ``t``; later objects are drawn on top."""
    return _draw(scene, [object_state(scene, i, t) for i in range(len(scene.objects))])


def _draw(scene: Scene, states: list[ObjectState]) -> np.ndarray:
    h, w = scene.height, scene.width
    frame = np.empty((h, w, 3), np.uint8)
    frame[:] = BACKGROUNDS[scene.background]
    yy, xx = _pixel_centres(h, w)
    unit = min(h, w)
    for obj, st in zip(scene.objects, states):
        if not st.visible:
            continue
        r = max(st.radius * unit, 0.5)
        cx, cy = st.x * w, st.y * h
        # Only the object's bounding box is tested: 3-5x fewer pixels than the whole frame.
        x0, x1 = max(int(cx - 1.3 * r), 0), min(int(cx + 1.3 * r) + 2, w)
        y0, y1 = max(int(cy - 1.3 * r), 0), min(int(cy + 1.3 * r) + 2, h)
        if x0 >= x1 or y0 >= y1:
            continue
        dx, dy = xx[y0:y1, x0:x1] - cx, yy[y0:y1, x0:x1] - cy
        if st.angle:
            c, s = math.cos(st.angle), math.sin(st.angle)
            u, v = (dx * c + dy * s) / r, (-dx * s + dy * c) / r
        else:
            u, v = dx / r, dy / r
        frame[y0:y1, x0:x1][_shape_mask(obj.shape, u, v)] = COLOURS[obj.colour]
    return frame


def iter_frames(scene: Scene) -> Iterator[np.ndarray]:
    """Frame ``i`` shows time ``i / fps``. Between events nothing changes, so a frame whose
    object states equal the previous frame's is the same (read-only) array, not redrawn."""
    last_states, last_frame = None, None
    for i in range(scene.num_frames):
        states = [object_state(scene, k, i / scene.fps) for k in range(len(scene.objects))]
        if states != last_states:
            last_states, last_frame = states, _draw(scene, states)
            last_frame.flags.writeable = False
        yield last_frame


def container_for(path: Path) -> str | None:
    """The container format implied by ``path``'s extension, or None if there is none."""
    name = path.name
    if "." not in name or name.endswith("."):
        return None
    return CONTAINER_FORMATS.get(name.rsplit(".", 1)[1].lower())


def write_video(
    scene: Scene, path: Path, *, container_format: str | None = None, crf: int = 18
) -> Path:
    """Encode ``scene`` as H.264 (libx264, yuv420p) into ``path``.

    The container follows the extension; pass ``container_format`` (e.g. ``"mp4"``) for names
    without a known one, such as DiDeMo names that end in a bare ``.``.
    """
    path = Path(path)
    fmt = container_format or container_for(path)
    if fmt is None:
        raise ValueError(
            f"{path}: cannot tell the container from the name; pass container_format "
            f"(known extensions: {sorted(CONTAINER_FORMATS)})"
        )
    rate = Fraction(scene.fps).limit_denominator(1001)
    with av.open(str(path), mode="w", format=fmt) as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = scene.width, scene.height, "yuv420p"
        # Low CRF keeps colours intact at 64 px; one thread keeps the bytes reproducible.
        # decord seeks wrongly in AVI/ASF with several keyframes, fails at the end of MPEG-TS
        # with B-frames, and now and then returns a stale last frame for AVI/ASF with B-frames
        # (all measured, see tests/demo/test_renderer.py). So: one keyframe per clip (no
        # scene-cut keyframes either), and no B-frames in the containers without timestamps
        # for reordered frames.
        options = {
            "crf": str(crf),
            "preset": "veryfast",
            "g": str(max(250, scene.num_frames)),
            "sc_threshold": "0",
            # x264's macroblock tree made the bytes of a clip depend on what the process had
            # encoded before (measured: 8 variants in 15 runs); without it they are stable.
            "x264-params": "mbtree=0",
        }
        if fmt in ("mpegts", "asf", "avi"):
            options["bf"] = "0"
        stream.options = options
        stream.thread_count = 1
        for rgb in iter_frames(scene):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def render_image(scene: Scene, *, t: float = 0.0, image_format: str = "jpeg") -> bytes:
    """Encode the frame at ``t`` as a JPEG or PNG file's bytes (via PyAV's encoders)."""
    rgb = av.VideoFrame.from_ndarray(render_frame(scene, t), format="rgb24")
    if image_format in ("jpeg", "jpg"):
        codec, pix_fmt = "mjpeg", "yuvj444p"
    elif image_format == "png":
        codec, pix_fmt = "png", "rgb24"
    else:
        raise ValueError(f"image_format must be 'jpeg' or 'png', got {image_format!r}")
    ctx = av.CodecContext.create(codec, "w")
    ctx.width, ctx.height, ctx.pix_fmt = scene.width, scene.height, pix_fmt
    ctx.time_base = Fraction(1, 25)
    if codec == "mjpeg":
        ctx.options = {"qmin": "1", "qmax": "3"}
    packets = ctx.encode(rgb.reformat(format=pix_fmt)) + ctx.encode(None)
    return b"".join(bytes(p) for p in packets)
