"""DiDeMo loaders on the real val/test files and on a hand-written sample with the real quirks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tempvl_core.data import catalogue
from tempvl_core.data.errors import AnnotationError
from tempvl_core.data.loaders.didemo import (
    read_didemo_moments,
    read_didemo_retrieval,
)

TRAILING_DOT = "86091119@N00_8027493026_992e5e1068."


@pytest.fixture(scope="module")
def real_val(realdata: Path, parse_once):
    d = realdata / "didemo"
    return (
        parse_once(read_didemo_retrieval, d / "val_data.json", d / "ce_splits/val_list.txt", "val"),
        parse_once(read_didemo_moments, d / "val_data.json"),
    )


@pytest.mark.parametrize(
    "split,annotations,videos,listed", [("val", 4180, 1094, 1065), ("test", 4021, 1037, 1004)]
)
def test_real_counts(realdata: Path, parse_once, split: str, annotations: int, videos: int, listed: int) -> None:
    d = realdata / "didemo"
    moments = parse_once(read_didemo_moments, d / f"{split}_data.json")
    assert len(moments) == annotations
    assert len({q.video_id for q in moments.records}) == videos
    assert moments.stats == {"clipped": 0, "dropped": 0}
    retrieval = parse_once(read_didemo_retrieval, d / f"{split}_data.json", d / f"ce_splits/{split}_list.txt", split)
    # Every list entry has annotations; the videos left out of the CE list are counted.
    assert len(retrieval) == listed
    assert retrieval.stats == {"missing": 0, "annotated_not_listed": videos - listed}


def test_real_paragraph_is_join_in_file_order(real_val) -> None:
    retrieval, moments = real_val
    by_video: dict[str, list[str]] = {}
    for q in moments.records:
        by_video.setdefault(q.video_id, []).append(q.query)
    for item in retrieval.records[:50]:
        assert item.texts == (" ".join(by_video[item.video_id]),)
    names = [i.video_name for i in retrieval.records]
    assert any(n.endswith(".") for n in names), "real lists contain names ending in a bare '.'"


def test_real_windows_are_five_second_segments(real_val) -> None:
    _, moments = real_val
    first = moments.records[0]
    assert first.query_id == "49152"
    assert first.video_name == "35034348999@N01_6060447507_dc1a90b8ef.mov"
    assert first.segment_windows == ((1, 1), (1, 1), (1, 1), (0, 0))
    assert first.windows == ((5.0, 10.0), (5.0, 10.0), (5.0, 10.0), (0.0, 5.0))
    assert {len(q.windows) for q in moments.records} == {4, 7}  # all annotators kept


def test_sample_layout_and_quirks(samples: Path, tmp_path: Path) -> None:
    root = tmp_path / "didemo"
    shutil.copytree(samples / "didemo", root)
    items = catalogue.load("didemo", root, "retrieval", "val").records
    # list order, trailing-dot name exact, descriptions stripped and joined in file order
    assert [i.video_name for i in items] == [TRAILING_DOT, "35034348999@N01_6060447507_dc1a90b8ef.mov"]
    assert items[1].texts == ("the man in the hat briefly bends over the machine man bends over again",)
    assert items[0].texts == ("camera zooms in",)
    queries = catalogue.load("didemo", root, "moments", "val").records
    assert [q.duration for q in queries] == [30.0, 25.0, 30.0, 30.0]


def test_measured_durations_clip_windows(samples: Path) -> None:
    result = read_didemo_moments(samples / "didemo/val_data.json", {TRAILING_DOT: 21.5})
    q = result.records[1]
    assert q.duration == 21.5
    assert q.windows[4] == (20.0, 21.5)
    assert result.stats == {"clipped": 1, "dropped": 0}
    dropped = read_didemo_moments(samples / "didemo/val_data.json", {TRAILING_DOT: 12.0})
    assert dropped.stats["dropped"] == 1 and len(dropped.records[1].windows) == 6


def test_unknown_split(samples: Path) -> None:
    with pytest.raises(ValueError, match="dataset 'didemo' has no 'retrieval' split 'dev'; splits: train, val, test"):
        catalogue.load("didemo", samples / "didemo", "retrieval", "dev")


@pytest.mark.parametrize(
    "text,match",
    [
        ('[{"video": "a.mov", "description": "x"', r"val_data\.json line 1 column \d+: expected valid JSON"),
        ('{"video": "a.mov"}', r"val_data\.json top level: expected a JSON list"),
        ('[{"video": "a.mov", "times": [[0, 0]]}]', r"val_data\.json item 0: expected key 'description'"),
        ('[{"video": 3, "description": "x"}]', r"val_data\.json item 0 'video': expected a string"),
    ],
)
def test_malformed_retrieval(write, text: str, match: str) -> None:
    data = write("val_data.json", text)
    lst = write("val_list.txt", "a.mov\n")
    with pytest.raises(AnnotationError, match=match):
        read_didemo_retrieval(data, lst, "val")


def test_malformed_times(write) -> None:
    entry = '{"video": "a.mov", "description": "x", "num_segments": 6, "annotation_id": 1, "times": %s}'
    data = write("val_data.json", "[" + entry % "[[0, 0]]" + "," + entry % "[[2, 1]]" + "]")
    with pytest.raises(AnnotationError, match=r"item 1 'times': expected integer segments"):
        read_didemo_moments(data)
    data = write("val_data.json", "[" + entry % "[[0]]" + "]")
    with pytest.raises(AnnotationError, match=r"item 0 'times': expected a \[start_segment, end_segment\] pair"):
        read_didemo_moments(data)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AnnotationError, match=r"val_data\.json: expected an existing file"):
        read_didemo_moments(tmp_path / "val_data.json")
