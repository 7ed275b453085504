"""VideoIndex lookups for the naming schemes the datasets use."""

from __future__ import annotations

from pathlib import Path

import pytest

from tempvl_core.data.video_index import VideoIndex


@pytest.fixture()
def video_dir(tmp_path: Path) -> Path:
    names = [
        "videos/0001_American_Beauty/0001_American_Beauty_00.00.51.926-00.00.54.129.avi",
        "videos/86091119@N00_8027493026_992e5e1068.",
        "videos/35034348999@N01_6060447507_dc1a90b8ef.mp4",
        "videos/v_QOlSCBRmfWY.mp4",
        "videos/uqiMw7tQ1Cc.mkv",
        "videos/video7020.mp4",
        "videos/006001_006050/31353427.mp4",
        "videos/28894533@N02_8154842288_17dce1d555..mp4",
        "videos/notes.json",
        "videos/.hidden.mp4",
    ]
    for name in names:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    return tmp_path / "videos"


@pytest.mark.parametrize(
    "name,expected",
    [
        ("video7020.mp4", "video7020.mp4"),  # exact
        ("006001_006050/31353427.mp4", "006001_006050/31353427.mp4"),  # exact relative path
        ("0001_American_Beauty_00.00.51.926-00.00.54.129.avi", "0001_American_Beauty/0001_American_Beauty_00.00.51.926-00.00.54.129.avi"),  # LSMDC basename
        ("other_dir/0001_American_Beauty_00.00.51.926-00.00.54.129.avi", "0001_American_Beauty/0001_American_Beauty_00.00.51.926-00.00.54.129.avi"),
        ("86091119@N00_8027493026_992e5e1068.", "86091119@N00_8027493026_992e5e1068."),  # bare trailing dot
        ("28894533@N02_8154842288_17dce1d555.", "28894533@N02_8154842288_17dce1d555..mp4"),  # "x." re-encoded
        ("35034348999@N01_6060447507_dc1a90b8ef.mov", "35034348999@N01_6060447507_dc1a90b8ef.mp4"),  # re-encoded
        ("v_QOlSCBRmfWY.mp4", "v_QOlSCBRmfWY.mp4"),
        ("QOlSCBRmfWY", "v_QOlSCBRmfWY.mp4"),  # ActivityNet without v_
        ("v_uqiMw7tQ1Cc.mp4", "uqiMw7tQ1Cc.mkv"),  # with v_, stored without and as .mkv
        ("video7020", "video7020.mp4"),  # stem only
    ],
)
def test_lookup(video_dir: Path, name: str, expected: str) -> None:
    index = VideoIndex(video_dir)
    assert index.lookup(name) == video_dir / expected


@pytest.mark.parametrize("name", ["video9999.mp4", "notes", ".hidden.mp4", "86091119@N00_8027493026_992e5e1068"])
def test_misses(video_dir: Path, name: str) -> None:
    assert VideoIndex(video_dir).lookup(name) is None


def test_scans_once_until_refresh(video_dir: Path) -> None:
    index = VideoIndex(video_dir)
    assert len(index) == 9 and "video7020.mp4" in index
    (video_dir / "video1.mp4").write_bytes(b"")
    assert index.lookup("video1.mp4") is None  # cached listing
    index.refresh()
    assert index.lookup("video1.mp4") == video_dir / "video1.mp4"


def test_missing_folder_is_empty(tmp_path: Path) -> None:
    assert len(VideoIndex(tmp_path / "absent")) == 0
