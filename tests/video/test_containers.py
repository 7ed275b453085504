"""Exact frames across the containers and codecs benchmark videos come in (avi, mpg, mkv, ...).

decord's seeking returned wrong frames for MPEG-4 Part 2 and MPEG-2 video with B-frames; the
reader's ``auto`` mode must still return exactly the sampled frames for every one of them.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from tempvl_core.video import probe, read_frames
from tempvl_core.video.reader import DECORD_EXACT_CODECS

from .videogen import decoded_indices, frame_colour

# (file name, encoder, container format or None for the suffix's, codec name the decoder reports)
CASES = [
    ("clip.avi", "mpeg4", None, "mpeg4"),
    ("clip.mpg", "mpeg2video", "mpeg", "mpeg2video"),
    ("clip.mkv", "libx264", None, "h264"),
    ("clip.webm", "libvpx-vp9", None, "vp9"),
    ("clip.mov", "libx264", None, "h264"),
    ("clip.mp4", "libx264", None, "h264"),
    ("mpeg4.mp4", "mpeg4", None, "mpeg4"),
    ("mjpeg.avi", "mjpeg", None, "mjpeg"),
]


def _write(path: Path, codec: str, fmt: str | None, n: int = 40) -> Path:
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=4)
        stream.width, stream.height = 64, 48
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        stream.codec_context.gop_size = 12
        if codec in ("mpeg4", "mpeg2video"):
            stream.codec_context.max_b_frames = 2
            stream.codec_context.qscale = 2
        for i in range(n):
            img = np.empty((48, 64, 3), np.uint8)
            img[...] = frame_colour(i)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="module", params=CASES, ids=[c[0] for c in CASES])
def video_and_codec(request, tmp_path_factory) -> tuple[Path, str]:
    name, codec, fmt, decoded_codec = request.param
    if codec not in av.codecs_available:
        pytest.skip(f"this FFmpeg build has no {codec} encoder")
    return _write(tmp_path_factory.mktemp("containers") / name, codec, fmt), decoded_codec


@pytest.fixture()
def container_video(video_and_codec) -> Path:
    return video_and_codec[0]


def test_auto_reader_is_exact_in_every_container(video_and_codec):
    container_video, codec = video_and_codec
    assert probe(container_video).frame_count == 40
    sparse = read_frames(container_video, num_frames=5, size=None)
    assert decoded_indices(sparse.frames) == [4, 12, 20, 28, 36]
    # Dense requests (over half the frames) go to decord where it is exact.
    window = read_frames(
        container_video, sampling="fps", fps=4.0, window=(2.5, 10.0), num_frames=None, size=None
    )
    assert decoded_indices(window.frames) == list(range(10, 40))  # starts past a keyframe
    assert window.backend == ("decord" if codec in DECORD_EXACT_CODECS else "pyav")
    gaps = read_frames(container_video, sampling="fps", fps=3.0, num_frames=None, size=None)
    assert decoded_indices(gaps.frames) == [int(k * 4 / 3 + 1e-6) for k in range(30)]


def test_pyav_backend_is_exact_in_every_container(container_video):
    clip = read_frames(
        container_video, sampling="window", window=(7.0, 9.5), num_frames=3, size=None, backend="pyav"
    )
    assert decoded_indices(clip.frames) == [29, 33, 36]
