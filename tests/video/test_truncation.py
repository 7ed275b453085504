"""Cut-off videos are reported, by check_videos and by every read, never sampled in part.

Each container is written with PyAV (30 s at 4 fps) and cut. AVI and ASF declare their length
in a header and MPEG-PS reads its last packet short, so a cut at half the bytes is caught.
MPEG-TS declares no length: a cut shows only as a damaged last frame, so those files are cut
inside a frame (a cut exactly between two frames leaves a valid shorter stream; see
tempvl_core/video/integrity.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tempvl_core.video import VideoDecodeError, probe, read_frames
from tempvl_core.video.check import check_videos

from .videogen import packet_spans, write_noise_video

# (file name, codec, container format or None to guess it from the name)
CONTAINERS = [
    ("mpeg4.avi", "mpeg4", None),
    ("msmpeg4.avi", "msmpeg4", None),
    ("wmv2.wmv", "wmv2", None),
    ("mpeg2.mpg", "mpeg2video", None),
    ("h264.mts", "libx264", "mpegts"),
    ("h264.m2ts", "libx264", None),
    ("mpeg2.ts", "mpeg2video", None),
]
TRANSPORT_STREAMS = [name for name, _, _ in CONTAINERS if name.endswith((".ts", ".mts", ".m2ts"))]
HALF_CUT = [name for name, _, _ in CONTAINERS if name.endswith((".avi", ".wmv", ".mpg"))]


@pytest.fixture(scope="module")
def whole(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("containers")
    return {name: write_noise_video(root / name, codec, container_format=fmt) for name, codec, fmt in CONTAINERS}


def cut(path: Path, size: int, tag: str) -> Path:
    out = path.with_name(f"{path.stem}-{tag}{path.suffix}")
    out.write_bytes(path.read_bytes()[:size])
    return out


def cut_inside_frame(path: Path, unit: int = 1) -> Path:
    """Cut halfway through the data of the frame that starts nearest the middle of the file (a
    frame's data starts at its offset and fills at least its size in bytes), rounded down to a
    multiple of ``unit`` bytes but past the frame's first unit."""
    middle = path.stat().st_size // 2
    pos, size = min(packet_spans(path), key=lambda span: abs(span[0] - middle))
    return cut(path, max(pos + unit, (pos + size // 2) // unit * unit), f"inside{unit}")


def assert_reported(path: Path) -> None:
    report = check_videos([path], progress=False)
    assert [f.path for f in report.failed] == [path], report.summary()
    assert "truncated" in report.failed[0].error
    with pytest.raises(VideoDecodeError, match="truncated") as err:
        read_frames(path, num_frames=8, size=None)  # auto: no backend may read the surviving part
    assert str(path) in str(err.value)
    with pytest.raises(VideoDecodeError, match="truncated"):
        probe(path)


def test_whole_files_pass(whole):
    report = check_videos(list(whole.values()), progress=False)
    assert report.ok, report.summary()
    for path in whole.values():
        info = probe(path)
        assert info.frame_count == 120 and info.fps == 4.0, path
        assert read_frames(path, num_frames=8, size=None).frames.shape == (8, 48, 64, 3)


@pytest.mark.parametrize("name", HALF_CUT)
def test_half_the_bytes_is_reported(whole, name):
    path = whole[name]
    assert_reported(cut(path, path.stat().st_size // 2, "half"))


@pytest.mark.parametrize("name", [name for name, _, _ in CONTAINERS])
def test_cut_inside_a_frame_is_reported(whole, name):
    assert_reported(cut_inside_frame(whole[name]))


@pytest.mark.parametrize("name", TRANSPORT_STREAMS)
def test_transport_stream_cut_between_packets_inside_a_frame_is_reported(whole, name):
    # Whole transport packets, so only decoding the last frames can tell the cut.
    unit = 192 if name.endswith(".m2ts") else 188
    path = cut_inside_frame(whole[name], unit)
    assert path.stat().st_size % unit == 0
    assert_reported(path)
