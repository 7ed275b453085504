"""MSR-VTT, MSVD, LSMDC, WebVid and CC3M loaders: real split files plus hand-written samples."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from tempvl_core.data import catalogue
from tempvl_core.data.errors import AnnotationError
from tempvl_core.data.loaders.lsmdc import parse_lsmdc_time, read_lsmdc
from tempvl_core.data.loaders.msrvtt import (
    read_msrvtt_mc,
    read_msrvtt_retrieval_test,
    read_msrvtt_video_list,
)
from tempvl_core.data.loaders.msvd import (
    read_msvd_mapping,
    read_msvd_qa,
    read_msvd_retrieval,
)
from tempvl_core.data.loaders.pretrain import parse_iso_duration, read_cc3m, read_webvid

# --- MSR-VTT --------------------------------------------------------------------------------------


def test_msrvtt_real_jsfusion_test(realdata: Path) -> None:
    result = read_msrvtt_retrieval_test(realdata / "msrvtt/MSRVTT_JSFUSION_test.csv")
    assert len(result) == 1000
    first = result.records[0]
    assert (first.video_id, first.video_name, first.texts) == (
        "video9770", "video9770.mp4", ("a person is connecting something to system",)
    )  # fmt: skip
    assert len({i.video_id for i in result.records}) == 1000
    ce = (realdata / "msrvtt/ce_splits/val_list_jsfusion.txt").read_text().split()
    assert {i.video_id for i in result.records} == set(ce)


def test_msrvtt_real_train_9k(realdata: Path) -> None:
    ids = read_msrvtt_video_list(realdata / "msrvtt/MSRVTT_train.9k.csv")
    assert len(ids) == len(set(ids)) == 9000
    assert ids == (realdata / "msrvtt/ce_splits/train_list_jsfusion.txt").read_text().split()


def test_msrvtt_sample_retrieval(samples: Path) -> None:
    root = samples / "msrvtt"
    train = catalogue.load("msrvtt", root, "retrieval", "train_9k").records
    assert [i.video_id for i in train] == ["video0", "video1", "video6513"]
    assert train[0].texts == ("a car is shown", "a red car drives down a road")  # file order
    assert train[1].texts[0] == 'a group of people are dancing, singing "la la"'
    assert [i.video_id for i in catalogue.load("msrvtt", root, "retrieval", "train_7k").records] == ["video0", "video1"]
    test = catalogue.load("msrvtt", root, "retrieval", "test").records
    assert [(i.video_id, i.texts) for i in test] == [
        ("video9770", ("a person is connecting something to system",)),
        ("video7010", ("a cartoon girl, smiling",)),
    ]


def test_msrvtt_sample_captioning_qa_mc(samples: Path) -> None:
    root = samples / "msrvtt"
    assert [i.video_id for i in catalogue.load("msrvtt", root, "captioning", "test").records] == ["video7010", "video9770"]
    assert [i.video_id for i in catalogue.load("msrvtt", root, "captioning", "validate").records] == ["video6513"]
    qa = catalogue.load("msrvtt", root, "qa", "test").records
    assert [(q.question_id, q.video_id, q.video_name, q.answer, q.question_type) for q in qa] == [
        ("158581", "video7010", "video7010.mp4", "car", "what"),
        ("158582", "video9770", "video9770.mp4", "man", "who"),
    ]
    mc = catalogue.load("msrvtt", root, "mc", "test").records
    assert [(m.video_id, m.video_name, m.answer_index, len(m.options)) for m in mc] == [
        ("video7010", "video7010.mp4", 0, 5),
        ("video9770", "video9770.mp4", 1, 5),
    ]


@pytest.mark.parametrize(
    "text,match",
    [
        ('[{"video": "video1.mp4", "caption": ["a", "b"], "answer": 2}]', r"item 0 'answer': expected an index in \[0, 2\)"),
        ('[{"video": "video1.mp4", "caption": "a", "answer": 0}]', r"item 0 'caption': expected a list of option strings"),
        ('[{"video": "video1.mp4", "caption": ["a", "b"], "answer": true}]', r"item 0 'answer': expected an integer option index"),
        ('{"video": "video1.mp4"}', r"top level: expected a JSON list"),
    ],
)
def test_msrvtt_mc_malformed(write, text: str, match: str) -> None:
    with pytest.raises(AnnotationError, match=r"msrvtt_mc\.json " + match):
        read_msrvtt_mc(write("msrvtt_mc.json", text))


def test_msrvtt_malformed_data_and_csv(write, samples: Path) -> None:
    root = write("m/MSRVTT_data.json", '{"videos": [{"video_id": "video0", "split": "val"}], "sentences": []}').parent
    write("m/MSRVTT_train.9k.csv", "video_id\nvideo0\n")
    with pytest.raises(AnnotationError, match=r"MSRVTT_data\.json 'videos'\[0\] 'split': expected one of \['train', 'validate', 'test'\], got 'val'"):
        catalogue.load("msrvtt", root, "retrieval", "train_9k")
    write("m/MSRVTT_data.json", '{"videos": [], "sentences": [{"caption": "x", "video_id": "video3", "sen_id": 0}]}')
    with pytest.raises(AnnotationError, match=r"'sentences'\[0\] 'video_id': expected a video listed under 'videos'"):
        catalogue.load("msrvtt", root, "retrieval", "train_9k")
    bad = write("MSRVTT_JSFUSION_test.csv", "key,vid_key,video_id,sentence\nret0,msr1,video1,ok\nret1,msr2,video2\n")
    with pytest.raises(AnnotationError, match=r"MSRVTT_JSFUSION_test\.csv line 3: expected 4 fields"):
        read_msrvtt_retrieval_test(bad)
    with pytest.raises(ValueError, match=r"dataset 'msrvtt' has no 'retrieval' split 'train'; splits: train_9k, train_7k, test"):
        catalogue.load("msrvtt", samples / "msrvtt", "retrieval", "train")
    with pytest.raises(AnnotationError, match=r"test_qa\.json item 0 'video_id': expected an integer video id"):
        catalogue.load("msrvtt", write("q/test_qa.json", '[{"answer": "a", "id": 1, "question": "what?", "video_id": "video7"}]').parent, "qa", "test")


# --- MSVD -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("split,count", [("train", 1200), ("val", 100), ("test", 670)])
def test_msvd_real_split_lists(realdata: Path, tmp_path: Path, split: str, count: int) -> None:
    list_txt = realdata / f"msvd/ce_splits/{split}_list.txt"
    clips = list_txt.read_text().split()
    pkl = tmp_path / "raw-captions.pkl"  # the real pickle is not public: captions made up per clip
    pkl.write_bytes(pickle.dumps({c: [["a", c], ["b"]] for c in clips}, protocol=2))
    result = read_msvd_retrieval(pkl, list_txt, split)
    assert len(result) == count and result.stats == {"missing": 0, "captions": 2 * count}
    assert [i.video_id for i in result.records] == clips  # last entry read despite no final newline
    assert result.records[0].video_name == f"{clips[0]}.avi"


def test_msvd_sample(samples: Path) -> None:
    root = samples / "msvd"
    train = catalogue.load("msvd", root, "retrieval", "train").records
    assert [i.video_id for i in train] == ["-4wsuPCjDBc_5_15", "-_hbPLsZvvo_19_25", "00jrXRMlZOY_0_10"]
    assert train[0].texts == ("a man is dancing", "someone is dancing", "a man dances")
    result = read_msvd_retrieval(root / "raw-captions.pkl", root / "test_list.txt", "test")
    assert [i.video_id for i in result.records] == ["zv2RIbUsnSw_335_341"] and result.stats["missing"] == 1
    assert catalogue.load("msvd", root, "captioning", "test").records[0].captions == ("a woman slices an onion",)
    assert read_msvd_mapping(root / "youtube_mapping.txt")["vid2"] == "-_hbPLsZvvo_19_25"  # CRLF file
    qa = read_msvd_qa(root / "test_qa.json", root / "youtube_mapping.txt")
    assert [(q.question_id, q.video_id, q.video_name, q.question_type) for q in qa.records] == [
        ("30933", "zv2RIbUsnSw_335_341", "zv2RIbUsnSw_335_341.avi", "what"),
        ("30934", "zv2RIbUsnSw_335_341", "zv2RIbUsnSw_335_341.avi", "who"),
    ]
    assert qa.stats == {"missing": 1}
    assert len(catalogue.load("msvd", root, "qa", "test").records) == 2


def test_msvd_malformed(write) -> None:
    with pytest.raises(AnnotationError, match=r"youtube_mapping\.txt line 2: expected '<clip_id> vid<N>'"):
        read_msvd_mapping(write("youtube_mapping.txt", "a_1_2 vid1\r\na_1_3\tvid2 extra\r\n"))
    pkl = write("raw-captions.pkl", pickle.dumps({"a_1_2": ["not", "token", "lists"]}))
    with pytest.raises(AnnotationError, match=r"raw-captions\.pkl key 'a_1_2': expected a list of token lists"):
        read_msvd_retrieval(pkl, write("test_list.txt", "a_1_2"), "test")
    # Found by the loader fuzz test: a token that is not a string was a TypeError from str.join.
    pkl = write("raw-captions.pkl", pickle.dumps({"a_1_2": [["a", "woman", {}, "slices"]]}))
    with pytest.raises(AnnotationError, match=r"raw-captions\.pkl key 'a_1_2': expected a list of token lists"):
        read_msvd_retrieval(pkl, write("test_list.txt", "a_1_2"), "test")


# --- LSMDC ----------------------------------------------------------------------------------------


def test_lsmdc_sample(samples: Path) -> None:
    result = read_lsmdc(samples / "lsmdc/LSMDC16_annos_training.csv", "train")
    assert len(result) == 3 and result.stats == {"repeated_ids": 1}
    first = result.records[0]
    assert first.video_id == "0001_American_Beauty_00.00.51.926-00.00.54.129"
    assert first.video_name == "0001_American_Beauty/0001_American_Beauty_00.00.51.926-00.00.54.129.avi"
    assert first.texts == ('SOMEONE looks up, "surprised".',)
    test = catalogue.load("lsmdc", samples / "lsmdc", "retrieval", "test").records
    assert [i.texts[0] for i in test] == ["SOMEONE walks in.", "The door closes."]  # CRLF, no final newline
    assert test[1].video_name.startswith("3035_INSIDE_MAN/")
    assert parse_lsmdc_time("01.02.03.456") == pytest.approx(3723.456)


@pytest.mark.parametrize(
    "line,match",
    [
        ("clip_00.00.01.000-00.00.02.000 00.00.01.000 00.00.02.000 00.00.01.000 00.00.02.000 spaces only", "expected 6 TAB-separated fields"),
        ("clip\t00.00.01.000\t00.00.02.000\t00.00.01.000\t00.00.02.000\ttext\textra", "expected 6 TAB-separated fields"),
        ("clip\t00:00:01.000\t00.00.02.000\t00.00.01.000\t00.00.02.000\ttext", "line 2 field START_ALIGNED: expected a time 'hh.mm.ss.mmm'"),
    ],
)
def test_lsmdc_malformed(write, line: str, match: str) -> None:
    good = "c_00.00.01.000-00.00.02.000\t00.00.01.000\t00.00.02.000\t00.00.01.000\t00.00.02.000\tok\n"
    with pytest.raises(AnnotationError, match=r"LSMDC16_annos_val\.csv line 2.*" + match.split("line 2 ")[-1]):
        read_lsmdc(write("LSMDC16_annos_val.csv", good + line + "\n"), "val")


# --- WebVid and CC3M ------------------------------------------------------------------------------


def test_webvid_sample(samples: Path) -> None:
    items = catalogue.load("webvid", samples / "webvid", "pretrain", "train").records
    assert [(i.media_name, i.duration, i.is_image) for i in items] == [
        ("006001_006050/31353427.mp4", 17.0, False),
        ("1026249896.mp4", 8.0, False),
    ]
    assert items[0].caption == 'Merida, mexico - may 23, 2017: tourists walking "downtown" at night.'
    assert read_webvid(samples / "webvid/results_train.csv").stats == {"flat": 1}


@pytest.mark.parametrize("text,seconds", [("PT00H00M17S", 17.0), ("PT1M5.5S", 65.5), ("PT2H", 7200.0), ("P1DT1S", 86401.0)])
def test_iso_durations(text: str, seconds: float) -> None:
    assert parse_iso_duration(text) == seconds


def test_webvid_malformed(write) -> None:
    header = "videoid,name,page_idx,page_dir,duration,contentUrl\n"
    with pytest.raises(AnnotationError, match=r"results_train\.csv line 3 column 'duration': expected an ISO-8601 duration"):
        read_webvid(write("results_train.csv", header + "1,a,1,d,PT00H00M01S,u\n2,b,1,d,17s,u\n"))
    with pytest.raises(AnnotationError, match=r"results_train\.csv line 1: expected a header with columns"):
        read_webvid(write("results_train.csv", "id,caption\n1,a\n"))


def test_cc3m_sample_and_errors(samples: Path, write) -> None:
    items = catalogue.load("cc3m", samples / "cc3m", "pretrain", "train").records
    assert [(i.media_name, i.is_image, i.duration) for i in items] == [("0.jpg", True, None), ("1.jpg", True, None)]
    assert items[1].caption == 'the player shoots "the ball" , and scores'
    with pytest.raises(AnnotationError, match=r"Train_GCC-training\.tsv line 2: expected 'caption<TAB>url'"):
        read_cc3m(write("Train_GCC-training.tsv", "a\thttp://x\nno url here\n"))
