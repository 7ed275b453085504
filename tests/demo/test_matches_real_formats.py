"""Side by side with the public annotation files (``../shared/realdata``, skipped when absent):
the demo files have the same key order, headers, separators, line ends and layout."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from tempvl_core.data.demo import anet_captions, charades, detection, didemo, msrvtt, msvd, qvhighlights


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("root")
    didemo.generate_didemo(root / "didemo", counts=didemo.DidemoCounts(train=1, val=2, test=2))
    qvh_counts = qvhighlights.QvhCounts(train=1, val=2, test=2)
    qvhighlights.generate_qvhighlights(root / "qvhighlights", counts=qvh_counts)
    anet_captions.generate_anet_captions(root / "anet-captions", counts=anet_captions.AnetCaptionsCounts(1, 1))
    detection.generate_thumos14(root / "thumos14", counts=detection.ThumosCounts(val=2, test=2))
    charades.generate_charades_sta(root / "charades-sta", counts=charades.CharadesCounts(train=1, test=2))
    msrvtt.generate_msrvtt(root / "msrvtt", counts=msrvtt.MsrvttCounts(train=2, test=2))
    msvd.generate_msvd(root / "msvd", counts=msvd.MsvdCounts(train=1, val=1, test=1))
    return root


def _first_line(path: Path) -> bytes:
    return path.read_bytes().split(b"\n", 1)[0]


def test_didemo(realdata, demo):
    real = (realdata / "didemo" / "val_data.json").read_text()
    ours = (demo / "didemo" / "val_data.json").read_text()
    assert list(json.loads(real)[0]) == list(json.loads(ours)[0])
    assert real[:17] == ours[:17] == '[{"num_segments":'
    assert real[-2:] == ours[-2:] == "}]"  # no trailing newline
    for split in ("train", "val", "test"):
        assert (realdata / "didemo" / "ce_splits" / f"{split}_list.txt").read_text().endswith("\n")
        assert (demo / "didemo" / f"{split}_list.txt").read_text().endswith("\n")


def test_qvhighlights(realdata, demo):
    for split in ("val", "test"):
        real = (realdata / "qvhighlights" / f"highlight_{split}_release.jsonl").read_text()
        ours = (demo / "qvhighlights" / f"highlight_{split}_release.jsonl").read_text()
        assert list(json.loads(real.split("\n", 1)[0])) == list(json.loads(ours.split("\n", 1)[0]))
        assert real.endswith("}") and ours.endswith("}")
        vid = json.loads(ours.split("\n", 1)[0])["vid"]
        assert re.fullmatch(r".{11}_\d+\.\d_\d+\.\d", vid)


def test_anet_captions(realdata, demo):
    real = json.loads((realdata / "anet-captions" / "train.json").read_text())
    ours = json.loads((demo / "anet-captions" / "train.json").read_text())
    assert list(next(iter(real.values()))) == list(next(iter(ours.values())))
    assert all(k.startswith("v_") for k in list(real)[:50] + list(ours))


def test_thumos14(realdata, demo):
    real_text = (realdata / "thumos14" / "actionformer" / "thumos14.json").read_text()
    ours_text = (demo / "thumos14" / "thumos14.json").read_text()
    assert real_text[:20] == ours_text[:20] and real_text[-1] == ours_text[-1] == "}"
    real, ours = json.loads(real_text), json.loads(ours_text)
    assert list(real) == list(ours)
    r, o = next(iter(real["database"].values())), next(iter(ours["database"].values()))
    assert list(r) == list(o) and list(r["annotations"][0]) == list(o["annotations"][0])
    line = re.compile(rb"video_(validation|test)_\d{7}  \d+\.\d \d+\.\d")
    for split in ("val", "test"):
        name = f"annotations_{split}/Ambiguous_{split}.txt"
        assert line.fullmatch(_first_line(realdata / "thumos14" / name))
        assert line.fullmatch(_first_line(demo / "thumos14" / name))


def test_charades_sta(realdata, demo):
    real_csv = (realdata / "charades-sta" / "Charades_v1_test.csv").read_bytes()
    ours_csv = (demo / "charades-sta" / "Charades_v1_test.csv").read_bytes()
    assert _first_line(realdata / "charades-sta" / "Charades_v1_test.csv") == _first_line(
        demo / "charades-sta" / "Charades_v1_test.csv")
    assert real_csv.count(b"\r\n") == real_csv.count(b"\n") and ours_csv.count(b"\r\n") == ours_csv.count(b"\n")
    with (demo / "charades-sta" / "Charades_v1_test.csv").open(newline="") as f:
        assert all(len(row) == 11 for row in csv.reader(f))
    line = re.compile(rb"[A-Z0-9]{5} \d+\.\d \d+\.\d##[^\n]+")
    assert line.fullmatch(_first_line(realdata / "charades-sta" / "charades_sta_test.txt"))
    assert line.fullmatch(_first_line(demo / "charades-sta" / "charades_sta_test.txt"))


def test_msrvtt_and_msvd(realdata, demo):
    for name in ("MSRVTT_JSFUSION_test.csv", "MSRVTT_train.9k.csv"):
        assert _first_line(realdata / "msrvtt" / name) == _first_line(demo / "msrvtt" / name)
        assert b"\r" not in (demo / "msrvtt" / name).read_bytes()
    for split in ("train", "val", "test"):
        real = (realdata / "msvd" / "ce_splits" / f"{split}_list.txt").read_text()
        ours = (demo / "msvd" / f"{split}_list.txt").read_text()
        assert real.endswith("\n") == ours.endswith("\n"), split
