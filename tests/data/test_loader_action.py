"""THUMOS14 (per-class files and ActionFormer JSON) and ActivityNet v1.3 (official and BSN)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tempvl_core.data import catalogue
from tempvl_core.data.errors import AnnotationError
from tempvl_core.data.loaders.activitynet import (
    read_activitynet_bsn,
    read_activitynet_v13,
)
from tempvl_core.data.loaders.thumos14 import (
    read_thumos14_actionformer,
    read_thumos14_mmtad,
    read_thumos14_txt,
)


@pytest.fixture(scope="module")
def thumos(realdata: Path, parse_once):
    d = realdata / "thumos14"
    return {
        split: (
            parse_once(read_thumos14_txt, d / f"annotations_{split}", split),
            parse_once(read_thumos14_actionformer, d / "actionformer/thumos14.json", split),
            parse_once(read_thumos14_mmtad, d / f"mmtad/thumos14_{split}.json", split),
        )
        for split in ("val", "test")
    }


@pytest.mark.parametrize("split,videos,instances,ambiguous", [("val", 200, 3007, 89), ("test", 212, 3358, 99)])
def test_thumos14_real_counts(thumos, split, videos, instances, ambiguous) -> None:
    txt, af, mmtad = thumos[split]
    for result in (txt, af, mmtad):
        assert len(result) == videos
        assert sum(len(v.instances) for v in result.records) == instances
    assert txt.stats == {"ambiguous": ambiguous, "ambiguous_only_videos": 1 if split == "test" else 0}
    assert af.stats == {"dropped": 0}
    # mmtad omits the one test video whose spans are all Ambiguous, with its 3 spans
    assert mmtad.stats == {"ambiguous": ambiguous - 3 * (split == "test"), "dropped": 0}


@pytest.mark.parametrize("split", ["val", "test"])
def test_thumos14_txt_actionformer_and_mmtad_agree(thumos, split) -> None:
    txt, af, mmtad = thumos[split]
    key = lambda i: (i.start, i.end, i.label, i.label_id)  # noqa: E731
    for other_source in (af, mmtad):
        by_id = {v.video_id: v for v in other_source.records}
        assert set(by_id) == {v.video_id for v in txt.records}
        for video in txt.records:
            other = by_id[video.video_id]
            assert sorted(map(key, video.instances)) == sorted(map(key, other.instances)), video.video_id
            assert other.duration > 0 and other.fps > 0


def test_thumos14_txt_quirks(write) -> None:
    write("a/BaseballPitch_val.txt", "video_validation_0000266  72.8 76.4\nvideo_validation_0000266  1.0 2.5\n")
    write("a/Ambiguous_val.txt", "video_validation_0000266  10.0 11.0\nvideo_validation_0000999  0.0 1.4")
    write("a/Diving_val.txt", "video_validation_0000001  3 4\r\n")
    path = write("a/readme.txt", "not an annotation file\n")
    result = read_thumos14_txt(path.parent, "val")
    assert [v.video_id for v in result.records] == ["video_validation_0000001", "video_validation_0000266"]
    assert result.records[1].instances[0].start == 1.0  # sorted by start
    assert [i.label_id for i in result.records[1].instances] == [0, 0]
    assert result.records[0].instances[0].label_id == 1
    assert result.stats == {"ambiguous": 2, "ambiguous_only_videos": 1}


def test_thumos14_load_root_prefers_actionformer(write) -> None:
    write("t/annotations_test/Billiards_test.txt", "video_test_0000004  0.2 1.1\n")
    assert catalogue.load("thumos14", write("t/x", "").parent, "action", "test").records[0].instances[0].label == "Billiards"
    write("t/thumos14.json", '{"version": "v", "database": {"video_test_0000004": {"subset": "Test", "duration": 33.83, "fps": 30.0, "annotations": [{"label": "CricketBowling", "segment": [0.2, 1.1], "segment(frames)": [6.0, 33.0], "label_id": 5}, {"label": "CricketBowling", "segment": [3, 3], "label_id": 5}]}, "video_validation_1": {"subset": "Validation", "duration": 1, "annotations": []}}}')
    (video,) = catalogue.load("thumos14", write("t/x", "").parent, "action", "test").records
    assert video.instances == (video.instances[0],) and video.instances[0].label_id == 5
    assert video.duration == 33.83 and video.video_name == "video_test_0000004.mp4"


@pytest.mark.parametrize(
    "line,match",
    [("video_validation_0000266  72.8", "expected '<video_name>  <start> <end>'"), ("video_validation_0000266  7a 8", "expected numeric")],
)
def test_thumos14_malformed_line(write, line: str, match: str) -> None:
    path = write("ann/Diving_val.txt", "video_validation_0000001  3 4\n\n" + line + "\n")
    with pytest.raises(AnnotationError, match=r"Diving_val\.txt line 3: " + match):
        read_thumos14_txt(path.parent, "val")


def test_thumos14_errors(write, tmp_path: Path) -> None:
    with pytest.raises(AnnotationError, match=r"per-class files '<Class>_val\.txt'"):
        read_thumos14_txt(tmp_path, "val")
    with pytest.raises(AnnotationError, match=r"split: expected one of \['val', 'test'\], got 'validation'"):
        read_thumos14_txt(tmp_path, "validation")
    bad = write("thumos14.json", '{"database": {"v1": {"subset": "Test", "duration": 3, "annotations": [{"label": "A", "segment": [1, 2], "label_id": "5"}]}}}')
    with pytest.raises(AnnotationError, match=r"thumos14\.json key 'database'\.'v1' 'annotations'\[0\] 'label_id': expected an integer"):
        read_thumos14_actionformer(bad, "test")
    with pytest.raises(AnnotationError, match=r"thumos14\.json top level: expected key 'database'"):
        read_thumos14_actionformer(write("thumos14.json", '{"version": 1}'), "test")


# --- ActivityNet v1.3 -------------------------------------------------------------------------------


def test_activitynet_v13_sample_quirks(samples: Path) -> None:
    root = samples / "activitynet"
    (train,) = catalogue.load("activitynet", root, "action", "training").records
    assert (train.video_id, train.video_name) == ("---9CpRcKoU", "v_---9CpRcKoU.mp4")
    result = read_activitynet_v13(root / "activity_net.v1-3.min.json", "validation")
    first, second = result.records
    assert [(i.label, i.label_id, i.end) for i in first.instances] == [
        ("Blow-drying hair", 0, 205.2318595943838),
        ("Discus throw", 1, 211.53),  # clipped to the duration
    ]
    assert result.stats == {"clipped": 2, "dropped": 1}  # [212, 214] is past the end
    assert (second.video_id, second.video_name, second.duration) == ("Xyz-_12abc", "v_Xyz-_12abc.mp4", 60.0)
    assert catalogue.load("activitynet", root, "action", "testing").records[0].instances == ()


def test_activitynet_v13_errors(write) -> None:
    with pytest.raises(AnnotationError, match=r"key 'a' 'subset': expected one of \['training', 'validation', 'testing'\], got 'val'"):
        read_activitynet_v13(write("activity_net.v1-3.min.json", '{"database": {"a": {"subset": "val", "duration": 3, "annotations": []}}}'), "training")
    with pytest.raises(AnnotationError, match=r"key 'a' 'annotations'\[0\]: expected key 'label'"):
        read_activitynet_v13(write("activity_net.v1-3.min.json", '{"database": {"a": {"subset": "training", "duration": 3, "annotations": [{"segment": [0, 1]}]}}}'), "training")


@pytest.mark.parametrize("subset,videos,instances", [("training", 9649, 14850), ("validation", 4728, 7290), ("testing", 4851, 0)])
def test_activitynet_bsn_real(realdata: Path, parse_once, subset: str, videos: int, instances: int) -> None:
    d = realdata / "activitynet-v1.3/bsn"
    result = parse_once(read_activitynet_bsn, d / "anet_anno_action.json", d / "video_info_new.csv", subset)
    assert len(result) == videos
    assert sum(len(v.instances) for v in result.records) == instances
    assert result.stats["missing"] == 0
    assert all(0 <= i.start < i.end <= v.duration for v in result.records for i in v.instances)
    labels = {i.label for v in result.records for i in v.instances}
    assert not instances or len(labels) == 200
    assert all(v.fps and v.video_name == f"v_{v.video_id}.mp4" for v in result.records)


def test_thumos14_mmtad_errors(write) -> None:
    bad = write("thumos14_val.json", '{"video_validation_1": {"segments": [[1, 2]], "labels": [], "duration": 3, "FPS": 30}}')
    with pytest.raises(AnnotationError, match=r"thumos14_val\.json key 'video_validation_1': expected 'segments' and 'labels'"):
        read_thumos14_mmtad(bad, "val")
    bad = write("thumos14_val.json", '{"v": {"segments": [[1, "x"]], "labels": ["Diving"], "duration": 3}}')
    with pytest.raises(AnnotationError, match=r"key 'v' 'segments'\[0\]: expected a finite number"):
        read_thumos14_mmtad(bad, "val")
