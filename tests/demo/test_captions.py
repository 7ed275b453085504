"""Demo MSR-VTT, MSVD and LSMDC: exact file shapes; captions and QA answers true of the video."""

from __future__ import annotations

import csv
import json
import pickle
import re
from pathlib import Path

import pytest

from tempvl_core.data.demo.lsmdc import FILES, LsmdcCounts, generate_lsmdc
from tempvl_core.data.demo.msrvtt import MsrvttCounts, generate_msrvtt
from tempvl_core.data.demo.msvd import MsvdCounts, generate_msvd
from tempvl_core.data.demo.scenes import count_word
from tempvl_core.data.demo.vocab import COLOURS, parse_event_phrase


@pytest.fixture(scope="module")
def msrvtt(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("root") / "msrvtt"
    generate_msrvtt(out, seed=1, counts=MsrvttCounts(train=10, test=6))
    return out


@pytest.fixture(scope="module")
def msvd(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("root") / "msvd"
    generate_msvd(out, seed=1, counts=MsvdCounts(train=6, val=2, test=4))
    return out


@pytest.fixture(scope="module")
def lsmdc(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("root") / "lsmdc"
    generate_lsmdc(out, seed=1, counts=LsmdcCounts(train=8, val=2, test=4))
    return out


def _check_clip_caption(pixels, path: Path, caption: str) -> None:
    """Every event named by a clip caption names an object whose colour is in the video."""
    frames, _ = pixels.decode(path)
    present = pixels.colours_present(frames)
    for part in re.split(r", then | and ", caption.rstrip(".")):
        part = re.sub(r"^SOMEONE watches as ", "", part)
        part = part[0].lower() + part[1:]
        colour, _shape, _motion = parse_event_phrase(part)
        assert colour in present, (path.name, caption, present)


def test_msrvtt_files(msrvtt, pixels):
    data = json.loads((msrvtt / "MSRVTT_data.json").read_text())
    assert list(data) == ["info", "videos", "sentences"]
    videos = data["videos"]
    assert list(videos[0]) == ["category", "url", "video_id", "start time", "end time", "split", "id"]
    assert [v["video_id"] for v in videos] == [f"video{i}" for i in range(16)]
    assert {v["split"] for v in videos} == {"train", "validate", "test"}
    assert all(list(s) == ["caption", "video_id", "sen_id"] for s in data["sentences"])
    assert sorted(s["sen_id"] for s in data["sentences"]) == list(range(16 * 5))
    with (msrvtt / "MSRVTT_JSFUSION_test.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["key", "vid_key", "video_id", "sentence"]
    assert [r["key"] for r in rows] == [f"ret{k}" for k in range(6)]
    assert all(r["vid_key"] == "msr" + r["video_id"][5:] for r in rows)
    nine_k = (msrvtt / "MSRVTT_train.9k.csv").read_text().splitlines()
    seven_k = (msrvtt / "MSRVTT_train.7k.csv").read_text().splitlines()
    assert nine_k[0] == seven_k[0] == "video_id" and len(nine_k) == 11 and set(seven_k) < set(nine_k)
    assert not {r["video_id"] for r in rows} & set(nine_k)
    for r in rows[:3]:
        _check_clip_caption(pixels, msrvtt / "videos" / f"{r['video_id']}.mp4", r["sentence"])


def test_msrvtt_qa_and_multiple_choice(msrvtt, pixels):
    splits = {v["video_id"]: v["split"] for v in json.loads((msrvtt / "MSRVTT_data.json").read_text())["videos"]}
    ids = []
    for name, split in (("train_qa.json", "train"), ("val_qa.json", "validate"), ("test_qa.json", "test")):
        items = json.loads((msrvtt / name).read_text())
        assert items and all(list(q) == ["answer", "category_id", "id", "question", "video_id"] for q in items)
        assert all(splits[f"video{q['video_id']}"] == split for q in items)
        ids += [q["id"] for q in items]
    assert len(ids) == len(set(ids))
    for q in json.loads((msrvtt / "test_qa.json").read_text())[:12]:
        frames, _ = pixels.decode(msrvtt / "videos" / f"video{q['video_id']}.mp4")
        present = pixels.colours_present(frames)
        if q["question"].startswith("what color"):
            assert q["answer"] in present
        if q["question"] == "how many objects are there?":
            assert q["answer"] == count_word(len(present))
    mc = json.loads((msrvtt / "msrvtt_mc.json").read_text())
    assert len(mc) == 6 and all(list(m) == ["video", "caption", "answer"] and len(m["caption"]) == 5 for m in mc)
    rows = {r["video_id"]: r["sentence"] for r in csv.DictReader((msrvtt / "MSRVTT_JSFUSION_test.csv").open())}
    assert all(m["caption"][m["answer"]] == rows[m["video"][:-4]] for m in mc)


class _OnlyContainers(pickle.Unpickler):
    def find_class(self, module, name):  # the pickle must need no class at all
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed")


def test_msvd_files(msvd, pixels):
    with (msvd / "raw-captions.pkl").open("rb") as f:
        raw = f.read()
    assert raw[:2] == b"\x80\x02"  # protocol 2
    import io

    captions = _OnlyContainers(io.BytesIO(raw)).load()
    assert len(captions) == 12 and all(4 <= len(v) <= 8 for v in captions.values())
    assert all(isinstance(t, str) for v in captions.values() for c in v for t in c)
    assert any("-" in c and "_" in c.rsplit("_", 2)[0] for c in captions)
    for clip in captions:
        yt, start, end = clip.rsplit("_", 2)
        assert len(yt) == 11 and int(end) > int(start)
    lists = {s: (msvd / f"{s}_list.txt").read_text() for s in ("train", "val", "test")}
    assert not lists["train"].endswith("\n") and lists["test"].endswith("\n")
    assert sorted(sum((t.split() for t in lists.values()), [])) == sorted(captions)
    mapping = dict(line.split(" ") for line in (msvd / "youtube_mapping.txt").read_text().splitlines())
    assert sorted(mapping) == sorted(captions) and sorted(mapping.values(), key=lambda v: int(v[3:]))[0] == "vid1"
    by_vid = {v: c for c, v in mapping.items()}
    for name in ("train_qa.json", "val_qa.json", "test_qa.json"):
        items = json.loads((msvd / name).read_text())
        assert all(list(q) == ["answer", "id", "question", "video_id"] for q in items)
        assert all(f"vid{q['video_id']}" in by_vid for q in items)
    clip = sorted(captions)[0]
    frames, fps = pixels.decode(msvd / "YouTubeClips" / f"{clip}.avi")
    yt, start, end = clip.rsplit("_", 2)
    assert len(frames) / fps == int(end) - int(start)
    present = pixels.colours_present(frames)
    assert all(t in present for c in captions[clip] for t in c if t in COLOURS)


def test_lsmdc_files(lsmdc, pixels):
    time_re = r"\d\d\.\d\d\.\d\d\.\d\d\d"
    for split, name in FILES.items():
        lines = (lsmdc / name).read_text().splitlines()
        rows = [line.split("\t") for line in lines]
        assert all(len(r) == 6 for r in rows)
        assert all(re.fullmatch(rf"\d{{4}}_\w+_{time_re}-{time_re}", r[0]) for r in rows)
        assert all(re.fullmatch(time_re, t) for r in rows for t in r[1:5])
        ids = [r[0] for r in rows]
        if split == "test":
            assert len(ids) == len(set(ids)) == 4
        for clip_id, *_times, sentence in rows:
            movie = clip_id.rsplit("_", 1)[0]
            path = lsmdc / "videos" / movie / f"{clip_id}.avi"
            assert path.is_file()
    train = [r.split("\t") for r in (lsmdc / FILES["train"]).read_text().splitlines()]
    test = [r.split("\t") for r in (lsmdc / FILES["test"]).read_text().splitlines()]
    assert any("SOMEONE" in r[5] for r in train + test)
    clip_id, *_t, sentence = train[0]
    _check_clip_caption(pixels, lsmdc / "videos" / clip_id.rsplit("_", 1)[0] / f"{clip_id}.avi", sentence)
