"""Fixtures: small real videos (written once per session) and broken files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from .videogen import write_video


@pytest.fixture(scope="session")
def video_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("videos")


@pytest.fixture(scope="session")
def short_video(video_dir: Path) -> Path:
    """16 frames at 4 fps (4 s), 64x48, keyframe every 8 frames, B-frames."""
    return write_video(video_dir / "short.mp4")


@pytest.fixture(scope="session")
def long_gop_video(video_dir: Path) -> Path:
    """60 frames at 4 fps (15 s), keyframe every 25 frames: exercises GOP skipping."""
    return write_video(video_dir / "long_gop.mp4", num_frames=60, gop=25, bframes=3)


@pytest.fixture(scope="session")
def tiny_video(video_dir: Path) -> Path:
    """3 frames: fewer than the 8 usually sampled."""
    return write_video(video_dir / "tiny.mp4", num_frames=3, gop=3, bframes=0)


@pytest.fixture(scope="session")
def garbage_file(video_dir: Path) -> Path:
    path = video_dir / "garbage.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return path


@pytest.fixture(scope="session")
def truncated_video(video_dir: Path, short_video: Path) -> Path:
    """The first third of a valid mp4 (its index, written at the end, is lost)."""
    data = short_video.read_bytes()
    path = video_dir / "truncated.mp4"
    path.write_bytes(data[: len(data) // 3])
    return path


@pytest.fixture(scope="session")
def truncated_tail_video(video_dir: Path) -> Path:
    """Index first (faststart), then cut: the container still lists every frame."""
    full = write_video(video_dir / "faststart.mp4", num_frames=40, faststart=True)
    data = full.read_bytes()
    path = video_dir / "truncated_tail.mp4"
    path.write_bytes(data[: int(len(data) * 0.7)])
    return path


@pytest.fixture(scope="session")
def image_file(video_dir: Path) -> Path:
    from PIL import Image

    path = video_dir / "still.png"
    img = np.zeros((30, 50, 3), dtype=np.uint8)
    img[:, :25] = (200, 10, 10)
    img[:, 25:] = (10, 10, 200)
    Image.fromarray(img).save(path)
    return path
