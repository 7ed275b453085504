"""Demo THUMOS14, ActivityNet v1.3, WebVid and CC3M: file shapes, quirks and pixels."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

from tempvl_core.data.demo.detection import (
    ActivityNetCounts,
    ThumosCounts,
    generate_activitynet,
    generate_thumos14,
)
from tempvl_core.data.demo.pretrain import (
    WEBVID_HEADER,
    Cc3mCounts,
    WebvidCounts,
    generate_cc3m,
    generate_webvid,
)
from tempvl_core.data.demo.vocab import COLOURS, ACTIVITY_LABELS, MOTIONS, action_classes, parse_event_phrase


@pytest.fixture(scope="module")
def thumos(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("root") / "thumos14"
    generate_thumos14(out, seed=5, counts=ThumosCounts(val=3, test=3))
    return out


@pytest.fixture(scope="module")
def activitynet(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("root") / "activitynet"
    generate_activitynet(out, seed=5, counts=ActivityNetCounts(training=2, validation=2, testing=1))
    return out


@pytest.fixture(scope="module")
def pretrain(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("root")
    generate_webvid(root / "webvid", seed=5, counts=WebvidCounts(videos=4))
    generate_cc3m(root / "cc3m", seed=5, counts=Cc3mCounts(images=5))
    return root


def test_thumos14_txt_json_and_pixels(thumos, pixels):
    motion_of = {m.action_class: name for name, m in MOTIONS.items()}
    data = json.loads((thumos / "thumos14.json").read_text())
    assert (thumos / "thumos14.json").read_text().startswith('{\n    "version"')
    db = data["database"]
    for split, subset in (("val", "Validation"), ("test", "Test")):
        files = sorted(p.name for p in (thumos / f"annotations_{split}").iterdir())
        assert files == sorted(f"{c}_{split}.txt" for c in action_classes() + ["Ambiguous"])
        from_txt = set()
        for path in (thumos / f"annotations_{split}").iterdir():
            for line in path.read_text().splitlines():
                word = "validation" if split == "val" else "test"
                m = re.fullmatch(rf"(video_{word}_\d{{7}})  (\d+\.\d) (\d+\.\d)", line)
                assert m, (path.name, line)
                if not path.name.startswith("Ambiguous"):
                    from_txt.add((m[1], path.name.rsplit("_", 1)[0], float(m[2]), float(m[3])))
        from_json = {
            (v, a["label"], a["segment"][0], a["segment"][1])
            for v, e in db.items() if e["subset"] == subset for a in e["annotations"]
        }
        assert from_txt == from_json
    ambiguous_txt = (thumos / "annotations_test" / "Ambiguous_test.txt").read_text()
    ambiguous_only = [ln.split()[0] for ln in ambiguous_txt.splitlines()]
    assert any(v not in db and (thumos / "videos" / f"{v}.mp4").is_file() for v in ambiguous_only)
    name, entry = next(iter(db.items()))
    assert list(entry) == ["subset", "duration", "fps", "annotations"]
    assert len(entry["annotations"]) >= 2  # several instances per video
    for a in entry["annotations"]:
        assert list(a) == ["label", "segment", "segment(frames)", "label_id"]
        assert a["label_id"] == action_classes().index(a["label"])
        assert a["segment(frames)"] == [a["segment"][0] * entry["fps"], a["segment"][1] * entry["fps"]]
        frames, fps = pixels.decode(thumos / "videos" / f"{name}.mp4")
        assert len(frames) / fps == entry["duration"]
        pixels.check_any_colour(frames, fps, motion_of[a["label"]], *a["segment"])


def test_activitynet_v13_and_pixels(activitynet, pixels):
    motion_of = {label: motion for motion, label in ACTIVITY_LABELS.items()}
    data = json.loads((activitynet / "activity_net.v1-3.min.json").read_text())
    assert list(data) == ["version", "taxonomy", "database"] and data["version"] == "VERSION 1.3"
    assert all(list(n) == ["nodeId", "nodeName", "parentId", "parentName"] for n in data["taxonomy"])
    leaves = {n["nodeName"] for n in data["taxonomy"]} & set(ACTIVITY_LABELS.values())
    assert leaves == set(ACTIVITY_LABELS.values())
    subsets = [e["subset"] for e in data["database"].values()]
    assert subsets == ["training"] * 2 + ["validation"] * 2 + ["testing"]
    for ytid, entry in data["database"].items():
        assert not ytid.startswith("v_") and len(ytid) == 11
        assert list(entry) == ["duration", "subset", "resolution", "url", "annotations"]
        assert (entry["annotations"] == []) == (entry["subset"] == "testing")
        assert len({a["label"] for a in entry["annotations"]}) <= 1
        for a in entry["annotations"]:
            frames, fps = pixels.decode(activitynet / "videos" / f"v_{ytid}.mp4")
            pixels.check_any_colour(frames, fps, motion_of[a["label"]], *a["segment"])


def test_webvid_csv_and_videos(pretrain, pixels):
    with (pretrain / "webvid" / "results_train.csv").open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == WEBVID_HEADER
    records = [dict(zip(rows[0], r)) for r in rows[1:]]
    assert any(r["page_dir"] == "" for r in records) and any(r["page_dir"] for r in records)
    for r in records:
        h, m, s = map(int, re.fullmatch(r"PT(\d\d)H(\d\d)M(\d\d)S", r["duration"]).groups())
        path = pretrain / "webvid" / "videos" / r["page_dir"] / f"{r['videoid']}.mp4"
        frames, fps = pixels.decode(path)
        assert len(frames) / fps == 3600 * h + 60 * m + s
        present = pixels.colours_present(frames)
        for part in r["name"].split(", then "):
            colour, _, _ = parse_event_phrase(part[0].lower() + part[1:])
            assert colour in present


def test_cc3m_tsv_and_images(pretrain, pixels):
    from PIL import Image

    lines = (pretrain / "cc3m" / "Train_GCC-training.tsv").read_text().splitlines()
    assert len(lines) == 5
    for k, line in enumerate(lines):
        caption, url = line.split("\t")
        assert url.startswith("http") and "\t" not in caption
        image = np.asarray(Image.open(pretrain / "cc3m" / "images" / f"{k}.jpg").convert("RGB"))
        assert image.shape == (64, 64, 3)
        objects_part = caption.split(" on ")[0]  # "... on a dark green background"
        named = {w for w in objects_part.replace(",", "").split() if w in COLOURS}
        assert named == pixels.colours_present(image[None]), caption
    assert (pretrain / "cc3m" / "images" / "0.jpg").read_bytes()[:3] == b"\xff\xd8\xff"
