"""Write small real H.264 videos whose frames say which frame they are.

Frame ``i`` is a solid colour: red = 16 + 14 * (i % 16), green = 16 + 14 * (i // 16), blue = 128.
Decoded frames map back to their index with :func:`frame_index` (robust to YUV rounding).
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def frame_colour(i: int) -> tuple[int, int, int]:
    return 16 + 14 * (i % 16), 16 + 14 * (i // 16), 128


def frame_index(frame: np.ndarray) -> int:
    """Recover the index encoded by :func:`frame_colour` from an RGB frame (any size)."""
    r, g = frame[..., 0].mean(), frame[..., 1].mean()
    return int(round((g - 16) / 14)) * 16 + int(round((r - 16) / 14))


def write_video(
    path: Path,
    *,
    num_frames: int = 16,
    fps: int = 4,
    width: int = 64,
    height: int = 48,
    gop: int = 8,
    bframes: int = 2,
    faststart: bool = False,
) -> Path:
    """Encode ``num_frames`` colour-coded frames as H.264 (``gop`` frames per keyframe)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = gop
        stream.options = {
            "preset": "ultrafast" if bframes == 0 else "veryfast",
            "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes={bframes}",
            "qp": "4",
        }
        for i in range(num_frames):
            img = np.empty((height, width, 3), dtype=np.uint8)
            img[...] = frame_colour(i)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def decoded_indices(frames: np.ndarray) -> list[int]:
    return [frame_index(f) for f in frames]


def write_noise_video(
    path: Path,
    codec: str,
    *,
    container_format: str | None = None,
    num_frames: int = 120,
    fps: int = 4,
    gop: int = 8,
    seed: int = 0,
) -> Path:
    """Encode ``num_frames`` frames of 64x48 noise with any codec PyAV can write into ``path``'s
    container; noise keeps every frame large, so a cut usually lands inside one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    with av.open(str(path), "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.gop_size = gop
        for _ in range(num_frames):
            img = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def packet_spans(path: Path) -> list[tuple[int, int]]:
    """``(byte offset, size)`` of each video packet of ``path``, in file order."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sorted((p.pos, p.size) for p in container.demux(stream) if p.size > 0 and p.pos is not None and p.pos >= 0)
