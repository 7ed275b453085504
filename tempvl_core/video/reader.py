"""The one video reader: ``read_frames(path, ...) -> Clip`` and ``probe(path) -> VideoInfo``.

Backends (``backend="auto"``): each request goes to the faster backend for its case, measured
with ``benchmarks/decode.py``, and falls back to the other when the first is not importable or
fails on the file. Sparse requests (at most ``DENSE_FRACTION`` of the frames, e.g. 8 of 900) use
the GOP-aware PyAV decoder; dense ones use decord's ``get_batch`` when the codec is one where
its seeking returned exact frames (``DECORD_EXACT_CODECS``; it returned wrong frames for MPEG-4
Part 2 and MPEG-2 with B-frames). decord is also the fallback when PyAV cannot open a file,
but never for a file PyAV found cut short (:mod:`.integrity`): decord would read the part that
survived. ``backend="decord"`` or ``"pyav"`` forces one (no fallback; forced decord skips the
truncation checks, which run in PyAV's index pass). See :mod:`tempvl_core.video.backends`
for how each decodes.
Still images (jpg, png, ...; CC3M) load through the same call as one-frame videos with PIL.

Frames come back as RGB ``uint8 [T, H, W, 3]``: resized so the short side equals ``size`` (by
FFmpeg's bilinear scaler inside the backend, which costs far less than resizing full-size RGB
frames afterwards: 8 frames of 1280x720 took about 100 ms with PIL, 12 ms in the scaler) and
then centre-cropped to ``size x size`` (``crop="none"`` keeps the aspect ratio so a training
transform can crop randomly; ``size=None`` keeps the original resolution). Timestamps are
``index / fps`` in seconds from the start of the video.

Prepared copies (lower frame rate, short keyframe interval; see :mod:`.prepare`) decode much
faster: resolve a path with ``resolve_video(path, source_root=..., prepared_root=...)`` before
calling ``read_frames``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .backends import HAVE_DECORD, BackendError, TruncatedVideoError, open_source
from .sampling import SAMPLING_STRATEGIES, sample_indices

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
BACKENDS = ("auto", "decord", "pyav")
CROPS = ("center", "none")
# Backend choice for ``backend="auto"``, measured with benchmarks/decode.py: PyAV's GOP-aware
# decoder was 1.5-2x faster than decord's get_batch for sparse requests (8 or 30 frames of 900,
# 8 of 90), on par at about half of the frames, and decord 1.05-2x faster when all frames are
# wanted (ranges over runs on a busy shared machine).
DENSE_FRACTION = 0.5
# decord's get_batch returned WRONG frames after seeking in MPEG-4 Part 2 and MPEG-2 video with
# B-frames (in avi, mp4 and mpg alike) and exact frames for these codecs
# (tests/video/test_containers.py), so dense requests go to decord only for these.
DECORD_EXACT_CODECS = frozenset({"h264", "vp9", "mjpeg"})


class VideoDecodeError(RuntimeError):
    """A video (or image) could not be read; ``path`` names the file and ``reason`` says why."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"cannot read video {self.path}: {reason}")


@dataclass(frozen=True)
class VideoInfo:
    """Stream facts: ``frame_count`` frames in the file at ``fps``; ``duration`` seconds; size in
    pixels. (``num_frames`` elsewhere is the number of frames sampled from it.)

    Images report ``frame_count=1``, ``fps=0.0`` and ``duration=0.0``.
    """

    path: Path
    frame_count: int
    fps: float
    duration: float
    width: int
    height: int


@dataclass
class Clip:
    """Decoded frames (RGB ``uint8 [T, H, W, 3]``), their times in seconds, and where they came from."""

    frames: np.ndarray
    timestamps: np.ndarray
    info: VideoInfo
    backend: str


def is_image(path: Path | str) -> bool:
    """True for still-image files that load as one-frame videos."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def _check_file(path: Path) -> None:
    if not path.exists():
        raise VideoDecodeError(path, "missing file (no such path)")
    if not path.is_file():
        raise VideoDecodeError(path, "not a regular file")
    if path.stat().st_size == 0:
        raise VideoDecodeError(path, "empty file (0 bytes)")


def _backend_order(backend: str) -> list[str]:
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if backend == "auto":
        return ["pyav", "decord"] if HAVE_DECORD else ["pyav"]
    return [backend]


def is_dense(indices: np.ndarray, frame_count: int) -> bool:
    """True when a request wants more than ``DENSE_FRACTION`` of a video's ``frame_count`` frames."""
    return len(np.unique(indices)) > DENSE_FRACTION * frame_count


def _read_image(path: Path) -> tuple[np.ndarray, VideoInfo]:
    from PIL import Image

    try:
        with Image.open(path) as img:
            rgb = np.asarray(img.convert("RGB"))
    except Exception as err:
        raise VideoDecodeError(path, f"unreadable image: {err}") from err
    info = VideoInfo(path, 1, 0.0, 0.0, int(rgb.shape[1]), int(rgb.shape[0]))
    return rgb[None], info


def probe(path: Path | str, *, backend: str = "auto") -> VideoInfo:
    """Frame count, frame rate, duration and size of a video (or image) without decoding frames.

    Uses the same backend order and frame counting as :func:`read_frames`, so ``frame_count`` is
    the range its indices live in.
    """
    path = Path(path)
    _check_file(path)
    if is_image(path):
        return _read_image(path)[1]
    errors = []
    for name in _backend_order(backend):
        try:
            source = open_source(path, name)
        except TruncatedVideoError as err:  # another backend would read only what survives
            raise VideoDecodeError(path, str(err)) from err
        except BackendError as err:
            errors.append(f"{name}: {err}")
            continue
        width, height = _frame_size(source)
        source.close()
        n, fps = source.opened.frame_count, source.opened.fps
        return VideoInfo(path, n, fps, n / fps, width, height)
    raise VideoDecodeError(path, "; ".join(errors))


def _frame_size(source) -> tuple[int, int]:
    """Source width and height (decord gives none for files PyAV cannot parse: decode one)."""
    if source.size is not None:
        return source.size
    frame = source.get(np.array([0]))[0]
    return int(frame.shape[1]), int(frame.shape[0])


def resize_short_side(frames: np.ndarray, size: int) -> np.ndarray:
    """Resize ``[T, H, W, 3]`` so ``min(H, W) == size`` keeping the aspect ratio (PIL bilinear,
    which antialiases when shrinking). Used for images and when a backend could not resize."""
    from PIL import Image

    t, h, w, _ = frames.shape
    if min(h, w) == size:
        return frames
    scale = size / min(h, w)
    new_w, new_h = max(size, round(w * scale)), max(size, round(h * scale))
    out = np.empty((t, new_h, new_w, 3), dtype=np.uint8)
    for i in range(t):
        out[i] = np.asarray(Image.fromarray(frames[i]).resize((new_w, new_h), Image.BILINEAR))
    return out


def center_crop(frames: np.ndarray, size: int) -> np.ndarray:
    """Crop the central ``size x size`` square of ``[T, H, W, 3]`` (both sides must be >= size)."""
    h, w = frames.shape[1:3]
    if h < size or w < size:
        raise ValueError(f"cannot centre-crop {size}x{size} from {w}x{h} frames")
    top, left = (h - size) // 2, (w - size) // 2
    return frames[:, top : top + size, left : left + size]


def _geometry(frames: np.ndarray, size: int | None, crop: str) -> np.ndarray:
    if crop not in CROPS:
        raise ValueError(f"unknown crop {crop!r}; expected one of {', '.join(CROPS)}")
    if size is None:
        return np.ascontiguousarray(frames)
    frames = resize_short_side(frames, size)
    if crop == "center":
        frames = center_crop(frames, size)
    return np.ascontiguousarray(frames)


def read_frames(
    path: Path | str,
    *,
    num_frames: int | None = 8,
    sampling: str = "uniform",
    fps: float | None = None,
    window: tuple[float, float] | None = None,
    rng: np.random.Generator | None = None,
    size: int | None = 224,
    crop: str = "center",
    backend: str = "auto",
) -> Clip:
    """Decode ``num_frames`` frames of ``path`` chosen by ``sampling``.

    Args:
        num_frames: frames per clip (for ``sampling="fps"``: a cap, ``None`` for no cap).
        sampling: ``uniform`` | ``random`` | ``fps`` | ``window`` (see :mod:`.sampling`).
        fps: target rate for ``sampling="fps"`` (e.g. ``1.0``).
        window: ``(start_s, end_s)``; restricts any strategy to that span; required by ``window``.
        rng: generator for ``random`` sampling (seed it for reproducible training).
        size: short side after resizing, then a ``size x size`` crop; ``None`` keeps the size.
        crop: ``center`` or ``none`` (resize only, keep aspect ratio).
        backend: ``auto`` (the faster backend for the request, then the other if it fails),
            ``decord`` or ``pyav`` (that backend only).

    Raises:
        VideoDecodeError: missing, empty, unreadable, truncated or zero-frame file (names the
            file and why). A truncated file is never read in part by the fallback backend.
        ValueError: bad arguments (unknown sampling, a window outside the video, ...).
    """
    if sampling not in SAMPLING_STRATEGIES:  # checked here too so images reject it as well
        raise ValueError(f"unknown sampling {sampling!r}; expected one of {', '.join(SAMPLING_STRATEGIES)}")
    return read_indices(
        path,
        lambda frame_count, video_fps: sample_indices(
            sampling, frame_count, video_fps, num_frames, target_fps=fps, window=window, rng=rng
        ),
        size=size,
        crop=crop,
        backend=backend,
    )


def read_indices(
    path: Path | str,
    choose: Callable[[int, float], np.ndarray],
    *,
    size: int | None = 224,
    crop: str = "center",
    backend: str = "auto",
) -> Clip:
    """Decode the frames ``choose(frame_count, fps)`` returns (the engine under ``read_frames``):
    ``frame_count`` is the number of frames in the file.

    ``choose`` is called once per distinct ``(frame_count, fps)``: if decord fails mid-way and
    PyAV counts the same frames, the fallback decodes the same draw.
    """
    if crop not in CROPS:
        raise ValueError(f"unknown crop {crop!r}; expected one of {', '.join(CROPS)}")
    path = Path(path)
    _check_file(path)
    if is_image(path):
        frames, info = _read_image(path)
        return Clip(_geometry(frames, size, crop), np.zeros(1), info, "pil")
    errors: list[str] = []
    chosen: dict[tuple[int, float], np.ndarray] = {}
    failed: set[str] = set()
    order = _backend_order(backend)

    def attempt(name: str, known_size: tuple[int, int] | None = None) -> Clip | None:
        try:
            source = open_source(path, name, size, known_size)
        except TruncatedVideoError as err:  # another backend would read only what survives
            raise VideoDecodeError(path, str(err)) from err
        except BackendError as err:
            errors.append(f"{name}: {err}")
            failed.add(name)
            return None
        try:
            n, video_fps = source.opened.frame_count, source.opened.fps
            if (n, video_fps) not in chosen:
                chosen[(n, video_fps)] = np.asarray(choose(n, video_fps), dtype=np.int64)
            indices = chosen[(n, video_fps)]
            if name == "pyav" and "decord" in order and "decord" not in failed:
                # PyAV opened first: its index is cheap and tells the codec and how dense the
                # request is; decord is faster for dense requests where its seeking is exact.
                if is_dense(indices, n) and source.codec in DECORD_EXACT_CODECS:
                    clip = attempt("decord", source.size)
                    if clip is not None:
                        return clip
            frames = source.get(indices)
        except BackendError as err:
            errors.append(f"{name}: {err}")
            failed.add(name)
            return None
        finally:
            source.close()
        width, height = source.size or (int(frames.shape[2]), int(frames.shape[1]))
        info = VideoInfo(path, n, video_fps, n / video_fps, width, height)
        timestamps = indices.astype(np.float64) / video_fps
        return Clip(_geometry(frames, size, crop), timestamps, info, name)

    for name in order:
        if name not in failed:
            clip = attempt(name)
            if clip is not None:
                return clip
    raise VideoDecodeError(path, "; ".join(errors))
