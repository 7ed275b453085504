"""Charades-STA, ActivityNet Captions, TACoS and QVHighlights loaders on the real files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tempvl_core.data import catalogue
from tempvl_core.data.errors import AnnotationError
from tempvl_core.data.loaders.anet_captions import (
    read_anet_captions_moments,
    read_anet_captions_retrieval,
)
from tempvl_core.data.loaders.charades_sta import read_charades_sta
from tempvl_core.data.loaders.qvhighlights import read_qvhighlights
from tempvl_core.data.loaders.tacos import read_tacos


# --- Charades-STA -------------------------------------------------------------------------------


def test_charades_real_train_drops_inverted_windows(realdata: Path) -> None:
    result = read_charades_sta(realdata / "charades-sta/charades_sta_train.txt", split="train")
    assert len(result) == 12404  # 12408 lines, 4 with start >= end
    assert result.stats == {"clipped": 0, "dropped": 4}
    first = result.records[0]
    assert (first.video_id, first.video_name, first.windows) == ("AO8RW", "AO8RW.mp4", ((0.0, 6.9),))
    assert first.query == "a person is putting a book on a shelf."


def test_charades_real_test_clips_to_csv_length(realdata: Path) -> None:
    d = realdata / "charades-sta"
    result = read_charades_sta(d / "charades_sta_test.txt", d / "Charades_v1_test.csv", "test")
    assert len(result) == 3720
    assert result.stats == {"clipped": 562, "dropped": 0, "no_duration": 0}
    assert all(q.windows[0][1] <= q.duration for q in result.records)
    assert len({q.video_id for q in result.records}) == 1334


def test_charades_sample_root(write) -> None:
    write("cs/charades_sta_test.txt", "AB12C 0.0 6.9##a person sits.\r\nAB12C 5.0 40.0##then stands up.\nZZ99Z 3 2##bad")
    csv_text = 'id,subject,scene,quality,relevance,verified,script,objects,descriptions,actions,length\n'
    csv_text += 'AB12C,X,Kitchen,5,6,Yes,"A person, sitting.",chair,"desc ""quoted""",c001 0.0 5.0,30.5\n'
    path = write("cs/Charades_v1_test.csv", csv_text)
    queries = catalogue.load("charades-sta", path.parent, "moments", "test").records
    assert [q.windows for q in queries] == [((0.0, 6.9),), ((5.0, 30.5),)]
    result = read_charades_sta(path.parent / "charades_sta_test.txt", path, "test")
    assert result.stats == {"clipped": 1, "dropped": 1, "no_duration": 1}


@pytest.mark.parametrize(
    "line",
    ["AO8RW 0.0 6.9 a person sits.", "AO8RW 0.0##a person", "AO8RW 0.0 x##a person", "AO8RW 1 2##  ", "AO8RW nan 2##a"],
)
def test_charades_malformed_line(write, line: str) -> None:
    path = write("charades_sta_train.txt", "AO8RW 0.0 6.9##fine.\n" + line + "\n")
    with pytest.raises(AnnotationError, match=r"charades_sta_train\.txt line 2: expected .*'<vid> <start> <end>##<sentence>'"):
        read_charades_sta(path)


def test_charades_csv_errors(write) -> None:
    sta = write("charades_sta_test.txt", "AO8RW 0.0 6.9##fine.\n")
    bad_header = write("Charades_v1_test.csv", "id,subject,len\nAO8RW,X,3\n")
    with pytest.raises(AnnotationError, match=r"Charades_v1_test\.csv line 1: expected a header with columns \['id', 'length'\]"):
        read_charades_sta(sta, bad_header)
    bad_number = write("Charades_v1_test.csv", 'id,length\nAO8RW,3.0\nB,"?"\n')
    with pytest.raises(AnnotationError, match=r"Charades_v1_test\.csv line 3 column 'length': expected seconds"):
        read_charades_sta(sta, bad_number)


# --- ActivityNet Captions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,videos,sentences,clipped,dropped",
    [("train", 10009, 37421, 261, 4), ("val", 4917, 17505, 134, 0), ("test", 4885, 17031, 111, 0)],
)
def test_anet_captions_real(realdata: Path, parse_once, name, videos, sentences, clipped, dropped) -> None:
    path = realdata / f"anet-captions/{name}.json"  # 2D-TAN names: val = val_1, test = val_2
    moments = parse_once(read_anet_captions_moments, path)
    assert len(moments) == sentences - dropped
    assert moments.stats == {"clipped": clipped, "dropped": dropped}
    assert len({q.video_id for q in moments.records}) == videos
    assert all(0 <= s < e <= q.duration for q in moments.records for s, e in q.windows)
    ce_list = {"train": "train_list.txt", "val": "val_1_list.txt", "test": "val_2_list.txt"}[name]
    listed = (realdata / "anet-captions/ce_splits" / ce_list).read_text().split()
    retrieval = read_anet_captions_retrieval(path, name)
    assert len(retrieval) == videos
    assert {i.video_id for i in retrieval.records} == set(listed)


def test_anet_captions_paragraph_and_id_list(write) -> None:
    data = write(
        "an/val_1.json",
        '{"v_a-b_c": {"duration": 20, "timestamps": [[0, 5], [4.5, 25.0], [9, 9]], '
        '"sentences": [" A man walks.", "  He sits.", "x"]}, "v_zz": {"duration": 3.5, "timestamps": [], "sentences": []}}',
    )
    moments = read_anet_captions_moments(data)
    assert [q.windows for q in moments.records] == [((0.0, 5.0),), ((4.5, 20.0),)]
    assert moments.stats == {"clipped": 1, "dropped": 1}
    write("an/val_ids.json", '["v_zz", "a-b_c", "v_missing"]')
    items = catalogue.load("anet-captions", data.parent, "retrieval", "val_1").records
    assert [i.video_id for i in items] == ["v_zz", "v_a-b_c"]  # id order, ids without v_ accepted
    assert items[1].texts == ("A man walks. He sits. x",)
    assert read_anet_captions_retrieval(data, "val_1", data.parent / "val_ids.json").stats == {"missing": 1}


@pytest.mark.parametrize(
    "text,match",
    [
        ('{"v_a": {"duration": 5, "timestamps": [[0, 1]]}}', r"key 'v_a': expected key 'sentences'"),
        ('{"v_a": {"duration": "?", "timestamps": [], "sentences": []}}', r"key 'v_a' 'duration': expected a finite number"),
        ('{"v_a": {"duration": 5, "timestamps": [[0, 1]], "sentences": []}}', r"key 'v_a': expected 'timestamps' and 'sentences' lists of equal length"),
        ('{"v_a": {"duration": 5, "timestamps": [[0]], "sentences": ["x"]}}', r"key 'v_a' 'timestamps'\[0\]: expected a \[start, end\] pair"),
        ('[1, 2]', r"top level: expected a JSON object"),
        ('{"v_a": {"duration": NaN, "timestamps": [], "sentences": []}}', r"key 'v_a' 'duration': expected a finite number"),
    ],
)
def test_anet_captions_malformed(write, text: str, match: str) -> None:
    with pytest.raises(AnnotationError, match=r"val_1\.json " + match):
        read_anet_captions_moments(write("val_1.json", text))


def test_anet_captions_too_deep(write) -> None:
    with pytest.raises(AnnotationError, match=r"val_1\.json: expected JSON nested less deeply"):
        read_anet_captions_moments(write("val_1.json", "[" * 100000 + "]" * 100000))


# --- TACoS ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("split,videos,queries,clipped", [("train", 75, 9790, 43), ("val", 27, 4436, 0), ("test", 25, 4001, 5)])
def test_tacos_real(realdata: Path, split, videos, queries, clipped) -> None:
    result = read_tacos(realdata / f"tacos/{split}.json")
    assert len({q.video_id for q in result.records}) == videos
    assert len(result) == queries
    assert result.stats == {"clipped": clipped, "dropped": 0}


def test_tacos_frames_to_seconds(write) -> None:
    path = write("t/test.json", '{"s30-d52.avi": {"timestamps": [[147, 294], [0, 400]], "sentences": ["She took out kiwi", "x"], "fps": 29.4, "num_frames": 294}}')
    queries = catalogue.load("tacos", path.parent, "moments", "test").records
    assert queries[0].windows == ((5.0, 10.0),)
    assert queries[1].windows == ((0.0, 10.0),)
    assert queries[0].video_name == "s30-d52.avi"
    bad = write("test.json", '{"s1.avi": {"timestamps": [], "sentences": [], "fps": 0, "num_frames": 1}}')
    with pytest.raises(AnnotationError, match=r"test\.json key 's1.avi' 'fps': expected a positive frame rate"):
        read_tacos(bad)


# --- QVHighlights ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name,count,gt", [("train", 7218, True), ("val", 1550, True), ("test", 1542, False)])
def test_qvhighlights_real(realdata: Path, parse_once, name: str, count: int, gt: bool) -> None:
    result = parse_once(read_qvhighlights, realdata / f"qvhighlights/highlight_{name}_release.jsonl")
    assert len(result) == count
    assert result.stats == {"clipped": 0, "dropped": 0, "without_gt": 0 if gt else count}
    if gt:
        q = result.records[0]
        assert q.windows and len(q.saliency_scores) == len(q.saliency_clip_ids)
        assert all(len(s) == 3 for q in result.records for s in q.saliency_scores)
    else:
        assert all(q.windows == () and q.saliency_scores is None for q in result.records)


def test_qvhighlights_test_with_gt_matches_release(realdata: Path, parse_once) -> None:
    released = parse_once(read_qvhighlights, realdata / "qvhighlights/highlight_test_release.jsonl").records
    with_gt = read_qvhighlights(realdata / "qvhighlights/highlight_test_with_gt.jsonl").records
    assert [q.query_id for q in released] == [q.query_id for q in with_gt]
    assert all(q.windows for q in with_gt)


def test_qvhighlights_sample_and_errors(write) -> None:
    good = '{"qid": 1, "query": "a", "duration": 150, "vid": "j7r_J-s_210.0_360.0", "relevant_clip_ids": [48, 49], "saliency_scores": [[2, 3, 3], [1, 0, 4]], "relevant_windows": [[96, 100], [148, 152]]}'
    path = write("q/highlight_val_release.jsonl", good + "\n\n")
    (q,) = catalogue.load("qvhighlights", path.parent, "moments", "val").records
    assert q.windows == ((96.0, 100.0), (148.0, 150.0)) and q.video_name == "j7r_J-s_210.0_360.0.mp4"
    assert q.saliency_scores == ((2, 3, 3), (1, 0, 4))
    partial = '{"qid": 2, "query": "a", "duration": 150, "vid": "v", "relevant_windows": [[0, 2]]}'
    with pytest.raises(AnnotationError, match=r"highlight_val_release\.jsonl line 2: expected all of"):
        read_qvhighlights(write("highlight_val_release.jsonl", good + "\n" + partial + "\n"))
    with pytest.raises(AnnotationError, match=r"highlight_val_release\.jsonl line 1: expected one JSON object per line"):
        read_qvhighlights(write("highlight_val_release.jsonl", good[:-1] + "\n"))
    with pytest.raises(AnnotationError, match=r"line 1 'saliency_scores': expected one score list per relevant clip id"):
        read_qvhighlights(write("highlight_val_release.jsonl", good.replace("[1, 0, 4]", "") .replace("[2, 3, 3], ", "[2, 3, 3]")))
