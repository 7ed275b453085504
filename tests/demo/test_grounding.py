"""Demo Charades-STA, ActivityNet Captions and QVHighlights: file shapes and quirks; every
query's window shows what its sentence says."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from tempvl_core.data.demo.anet_captions import AnetCaptionsCounts, generate_anet_captions
from tempvl_core.data.demo.charades import HEADER, CharadesCounts, generate_charades_sta
from tempvl_core.data.demo.qvhighlights import QvhCounts, generate_qvhighlights
from tempvl_core.data.demo.vocab import parse_event_phrase


@pytest.fixture(scope="module")
def charades(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("root") / "charades-sta"
    generate_charades_sta(out, seed=2, counts=CharadesCounts(train=6, test=3))
    return out


@pytest.fixture(scope="module")
def anet(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("root") / "anet-captions"
    generate_anet_captions(out, seed=2, counts=AnetCaptionsCounts(train=3, val=3))
    return out


@pytest.fixture(scope="module")
def qvh(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("root") / "qvhighlights"
    generate_qvhighlights(out, seed=2, counts=QvhCounts(train=3, val=3, test=2, train_appended=0))
    return out


def _check(pixels, path: Path, sentence: str, start: float, end: float) -> None:
    frames, fps = pixels.decode(path)
    end = min(end, len(frames) / fps)
    text = sentence.strip()
    colour, _shape, motion = parse_event_phrase(text[0].lower() + text[1:])
    pixels.check_motion(frames, fps, colour, motion, start, end)


def test_charades_sta_lines_csv_and_pixels(charades, pixels):
    line_re = re.compile(r"^([A-Z0-9]{5}) (\d+\.\d) (\d+\.\d)##(.+)$")
    overruns = 0
    for split in ("train", "test"):
        with (charades / f"Charades_v1_{split}.csv").open(newline="") as f:
            reader = csv.reader(f)
            assert next(reader) == HEADER
            lengths = {row[0]: float(row[-1]) for row in reader}
        raw = (charades / f"charades_sta_{split}.txt").read_text()
        assert raw.endswith("\n")
        for line in raw.splitlines():
            vid, start, end, sentence = line_re.match(line).groups()
            assert vid in lengths and sentence.endswith(".")
            overruns += float(end) > lengths[vid]
            if split == "test":
                _check(pixels, charades / "Charades_v1_480" / f"{vid}.mp4", sentence, float(start), float(end))
    assert '"' in (charades / "Charades_v1_train.csv").read_text()  # quoted fields with commas
    assert overruns >= 1  # ends past the video length, as in the public files


def test_anet_captions_shapes_quirks_and_pixels(anet, pixels):
    files = {s: json.loads((anet / f"{s}.json").read_text()) for s in ("train", "val_1", "val_2")}
    assert set(files["val_2"]) <= set(files["val_1"])
    assert json.loads((anet / "train_ids.json").read_text()) == list(files["train"])
    assert json.loads((anet / "val_ids.json").read_text()) == list(files["val_1"])
    quirks = {"leading_space": 0, "int": 0, "empty": 0, "past_end": 0}
    for data in files.values():
        for key, entry in data.items():
            assert key.startswith("v_") and list(entry) == ["duration", "timestamps", "sentences"]
            assert len(entry["timestamps"]) == len(entry["sentences"])
            quirks["leading_space"] += sum(s.startswith(" ") for s in entry["sentences"])
            for s, e in entry["timestamps"]:
                quirks["int"] += isinstance(s, int) or isinstance(e, int)
                quirks["empty"] += s >= e
                quirks["past_end"] += e > entry["duration"]
    assert all(quirks.values()), quirks
    for key, entry in files["val_1"].items():
        for (s, e), sentence in zip(entry["timestamps"], entry["sentences"]):
            _check(pixels, anet / "videos" / f"{key}.mp4", sentence, s, e)


def test_qvhighlights_shapes_and_pixels(qvh, pixels):
    keys = ["qid", "query", "duration", "vid", "relevant_clip_ids", "saliency_scores", "relevant_windows"]
    for split in ("train", "val", "test"):
        raw = (qvh / f"highlight_{split}_release.jsonl").read_text()
        assert not raw.endswith("\n")
        for line in raw.split("\n"):
            rec = json.loads(line)
            assert list(rec) == (keys[:4] if split == "test" else keys)
            ytid, start, end = rec["vid"].rsplit("_", 2)
            assert len(ytid) == 11 and float(end) - float(start) == rec["duration"]
            assert re.fullmatch(r"\d+\.\d", start) and re.fullmatch(r"\d+\.\d", end)
            if split == "test":
                continue
            clips = [c for s, e in rec["relevant_windows"] for c in range(s // 2, e // 2)]
            assert rec["relevant_clip_ids"] == clips
            assert all(s % 2 == 0 and e % 2 == 0 and s < e for s, e in rec["relevant_windows"])
            assert len(rec["saliency_scores"]) == len(clips)
            assert all(len(x) == 3 and all(0 <= v <= 4 for v in x) for x in rec["saliency_scores"])
            for s, e in rec["relevant_windows"]:
                _check(pixels, qvh / "videos" / f"{rec['vid']}.mp4", rec["query"], s, e)
