"""Pixel-level checks shared by the demo-data tests: decode a clip and measure where a colour
is, independently of the renderer's own geometry."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from tempvl_core.data.demo.vocab import BACKGROUNDS, COLOURS

_NAMES = list(COLOURS) + [f"bg:{k}" for k in BACKGROUNDS]
_PALETTE = np.array(list(COLOURS.values()) + list(BACKGROUNDS.values()), np.float32)


def decode(path: Path) -> tuple[np.ndarray, float]:
    """All frames (T, H, W, 3) and the frame rate, read with decord (cached, read-only)."""
    return _decode(str(path), Path(path).stat().st_mtime_ns)


@lru_cache(maxsize=16)
def _decode(path: str, _mtime: int) -> tuple[np.ndarray, float]:
    import decord

    reader = decord.VideoReader(path)
    frames = reader.get_batch(list(range(len(reader)))).asnumpy()
    frames.flags.writeable = False
    return frames, reader.get_avg_fps()


def _labels(frames: np.ndarray) -> np.ndarray:
    """Nearest palette index per pixel (-1: near no palette colour), for (..., H, W, 3)."""
    key = id(frames)
    hit = _LABEL_CACHE.get(key)
    if hit is not None and hit[0] is frames:
        return hit[1]
    flat = frames.reshape(-1, 3).astype(np.float32)
    # Squared distances by expansion: one matrix product instead of a (N, 12, 3) temporary.
    d2 = (flat * flat).sum(1, keepdims=True) - 2 * flat @ _PALETTE.T + (_PALETTE * _PALETTE).sum(1)
    best = d2.argmin(1)
    labels = np.where(d2[np.arange(len(best)), best] < 80**2, best, -1).reshape(frames.shape[:-1])
    if len(_LABEL_CACHE) > 32:
        _LABEL_CACHE.clear()
    _LABEL_CACHE[key] = (frames, labels)  # keeps ``frames`` alive, so the id stays unique
    return labels


_LABEL_CACHE: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def colour_mask(frame: np.ndarray, colour: str) -> np.ndarray:
    """Pixels whose nearest palette colour is ``colour`` (and close to it)."""
    return _labels(frame) == _NAMES.index(colour)


@dataclass(frozen=True)
class Blob:
    area: int
    cx: float
    cy: float


def blob(frame: np.ndarray, colour: str, labels: np.ndarray | None = None) -> Blob:
    mask = (labels == _NAMES.index(colour)) if labels is not None else colour_mask(frame, colour)
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return Blob(0, float("nan"), float("nan"))
    return Blob(len(xs), float(xs.mean()), float(ys.mean()))


def check_motion(frames: np.ndarray, fps: float, colour: str, motion: str, start: float, end: float) -> None:
    """Assert that the ``colour`` object performs ``motion`` between ``start`` and ``end`` s."""
    last = len(frames) - 1
    i0 = min(int(round(start * fps)), last)
    i1 = min(int(round(end * fps)) - 1, last)
    labels = _labels(frames)  # once per video (cached), not once per frame and colour

    def at(i: int) -> Blob:
        return blob(frames[i], colour, labels[i])

    before, after = at(max(i0 - 1, 0)), at(i1)
    shift = 0.2 * frames.shape[2]
    msg = f"{colour} {motion} in [{start}, {end}]: before={before} after={after}"
    if motion in ("move_left", "move_right", "move_up", "move_down"):
        dx, dy = after.cx - before.cx, after.cy - before.cy
        main, other = (dx, dy) if motion in ("move_left", "move_right") else (dy, dx)
        sign = -1 if motion in ("move_left", "move_up") else 1
        assert sign * main > shift and abs(other) < 0.1 * frames.shape[2], msg
    elif motion == "grow":
        assert after.area > 1.6 * before.area > 0, msg
    elif motion == "shrink":
        assert 0 < after.area < 0.6 * before.area, msg
    elif motion == "appear":
        assert before.area == 0 and after.area > 0, msg
    elif motion == "disappear":
        if i1 + 1 <= last:
            assert before.area > 0 and at(i1 + 1).area == 0, msg
        else:  # the clip ends while it fades: it must at least be shrinking away
            assert 0 <= after.area < 0.5 * before.area, msg
    elif motion == "blink":
        areas = [at(i).area for i in range(i0, i1 + 1)]
        assert min(areas) == 0 and max(areas) > 0, f"{msg} areas={areas}"
    elif motion == "spin":
        masks = [labels[i] == _NAMES.index(colour) for i in (i0, min(i0 + 1, i1))]
        iou = (masks[0] & masks[1]).sum() / max((masks[0] | masks[1]).sum(), 1)
        assert iou < 0.9 and abs(after.cx - before.cx) < 3, f"{msg} iou={iou}"
    else:
        raise AssertionError(f"unknown motion {motion}")


def check_any_colour(frames: np.ndarray, fps: float, motion: str, start: float, end: float) -> str:
    """Assert that SOME object performs ``motion`` in ``[start, end]`` (detection labels do
    not say which); returns its colour."""
    failures = []
    for colour in sorted(colours_present(frames)):
        try:
            check_motion(frames, fps, colour, motion, start, end)
            return colour
        except AssertionError as err:
            failures.append(str(err).splitlines()[0])
    raise AssertionError(f"no object performs {motion} in [{start}, {end}]: {failures}")


def colours_present(frames: np.ndarray, min_area: int = 6) -> set[str]:
    """Object colours visible in at least one frame."""
    labels = _labels(frames)
    areas = [(labels == k).sum(axis=(-2, -1)).max() for k in range(len(COLOURS))]
    return {c for k, c in enumerate(COLOURS) if areas[k] >= min_area}


@pytest.fixture(scope="session")
def pixels():
    """The helpers above, as a fixture (tests/ is not a package)."""

    class _Pixels:
        decode = staticmethod(decode)
        blob = staticmethod(blob)
        colour_mask = staticmethod(colour_mask)
        check_motion = staticmethod(check_motion)
        check_any_colour = staticmethod(check_any_colour)
        colours_present = staticmethod(colours_present)

    return _Pixels
