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
        ("28894533@N02_8154842288_17dce1d555.", "28894533@N02_8154842288_17dce1d555..mp4"),  # no extension: exact stem
        ("v_QOlSCBRmfWY.mp4", "v_QOlSCBRmfWY.mp4"),
        ("video7020", "video7020.mp4"),  # no extension: exact stem
    ],
)
def test_lookup(video_dir: Path, name: str, expected: str) -> None:
    index = VideoIndex(video_dir)
    assert index.lookup(name) == video_dir / expected
    assert index.why_missing(name) is None and index.substitutions == {}


SUBSTITUTES = [
    ("35034348999@N01_6060447507_dc1a90b8ef.mov", "35034348999@N01_6060447507_dc1a90b8ef.mp4"),  # re-encoded
    ("QOlSCBRmfWY", "v_QOlSCBRmfWY.mp4"),  # ActivityNet without v_
    ("v_uqiMw7tQ1Cc.mp4", "uqiMw7tQ1Cc.mkv"),  # with v_, stored without and as .mkv
]


@pytest.mark.parametrize("name,substitute", SUBSTITUTES)
def test_substitutes_only_when_enabled_and_recorded(video_dir: Path, name: str, substitute: str) -> None:
    strict = VideoIndex(video_dir)
    assert strict.lookup(name) is None
    assert substitute in strict.why_missing(name) and "allow_substitutes" in strict.why_missing(name)
    lenient = VideoIndex(video_dir, allow_substitutes=True)
    assert lenient.lookup(name) == video_dir / substitute
    assert lenient.substitutions == {name: video_dir / substitute}


@pytest.mark.parametrize("name", ["video9999.mp4", "notes", ".hidden.mp4", "86091119@N00_8027493026_992e5e1068"])
def test_misses(video_dir: Path, name: str) -> None:
    index = VideoIndex(video_dir, allow_substitutes=True)
    assert index.lookup(name) is None
    assert "no such file" in index.why_missing(name)


def test_deleted_video_is_not_replaced_by_a_same_stem_file_in_a_subfolder(tmp_path: Path) -> None:
    # The probe from issue 9: video7.mp4 is deleted; an unrelated sub/video7.avi remains.
    videos = tmp_path / "videos"
    (videos / "sub").mkdir(parents=True)
    (videos / "video6.mp4").write_bytes(b"x")
    (videos / "sub" / "video7.avi").write_bytes(b"unrelated")
    index = VideoIndex(videos)
    assert index.lookup("video7.mp4") is None
    assert "sub/video7.avi" in index.why_missing("video7.mp4")


@pytest.mark.parametrize("name", ["clip.mp4", "a/clip.mp4", "clip"])
def test_ambiguous_names_match_nothing(tmp_path: Path, name: str) -> None:
    videos = tmp_path / "videos"
    for folder in ("b", "c"):
        (videos / folder).mkdir(parents=True)
        (videos / folder / "clip.mp4").write_bytes(b"x")
    for index in (VideoIndex(videos), VideoIndex(videos, allow_substitutes=True)):
        assert index.lookup(name) is None
        reason = index.why_missing(name)
        assert "ambiguous" in reason and "b/clip.mp4" in reason and "c/clip.mp4" in reason
        assert index.substitutions == {}
    assert VideoIndex(videos).duplicates == 1


def test_ambiguous_substitutes_match_nothing(tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("clip.mp4", "clip.mkv"):
        (videos / name).write_bytes(b"x")
    index = VideoIndex(videos, allow_substitutes=True)
    assert index.lookup("clip.mov") is None and index.substitutions == {}
    assert "2 other files" in index.why_missing("clip.mov")


def test_scans_once_until_refresh(video_dir: Path) -> None:
    index = VideoIndex(video_dir)
    assert len(index) == 9 and "video7020.mp4" in index
    (video_dir / "video1.mp4").write_bytes(b"")
    assert index.lookup("video1.mp4") is None  # cached listing
    index.refresh()
    assert index.lookup("video1.mp4") == video_dir / "video1.mp4"


def test_missing_folder_is_empty(tmp_path: Path) -> None:
    assert len(VideoIndex(tmp_path / "absent")) == 0
