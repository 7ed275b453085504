"""Demo DiDeMo: the real file shapes, and descriptions that are true of the pixels."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import av
import pytest

from tempvl_core.data.demo.didemo import DidemoCounts, generate_didemo
from tempvl_core.data.demo.vocab import parse_event_phrase

KEYS = ["num_segments", "description", "dl_link", "times", "video", "annotation_id"]
NAME = re.compile(r"^\d+@N\d\d_\d+_[0-9a-f]{10}\.[a-z0-9]*$")
COUNTS = DidemoCounts(train=3, val=2, test=12)


@pytest.fixture(scope="module")
def didemo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("root") / "didemo"
    generate_didemo(out, seed=3, counts=COUNTS)
    return out


def _load(didemo: Path, split: str) -> list[dict]:
    return json.loads((didemo / f"{split}_data.json").read_text())


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_files_have_the_real_shapes(didemo, split):
    raw = (didemo / f"{split}_data.json").read_text()
    anns = json.loads(raw)
    assert raw == json.dumps(anns)  # default separators, one line, no trailing newline
    assert all(list(a) == KEYS for a in anns)
    names = (didemo / f"{split}_list.txt").read_text()
    assert names.endswith("\n")
    listed = names.splitlines()
    assert listed == sorted(set(a["video"] for a in anns)) and len(listed) == getattr(COUNTS, split)
    assert all(NAME.match(n) for n in listed), listed
    assert any(n.endswith(".") for n in listed)  # the bare-dot quirk
    assert {a["num_segments"] for a in anns} == {5, 6}  # 30 s videos and a shorter one
    for a in anns:
        assert len(a["times"]) in (4, 7)
        assert all(0 <= s <= e < a["num_segments"] for s, e in a["times"])
        flickr_id = a["video"].split("_")[1]
        assert a["dl_link"] == f"https://www.flickr.com/video_download.gne?id={flickr_id}"


def test_names_and_ids_are_unique_across_splits(didemo):
    anns = [a for s in ("train", "val", "test") for a in _load(didemo, s)]
    ids = [a["annotation_id"] for a in anns]
    assert len(set(ids)) == len(ids)
    lists = [set((didemo / f"{s}_list.txt").read_text().split()) for s in ("train", "val", "test")]
    assert sum(map(len, lists)) == len(set().union(*lists))
    assert {a["video"] for a in anns} == {p.name for p in (didemo / "videos").iterdir()}


def test_videos_decode_to_their_segment_count(didemo, pixels):
    segments = {a["video"]: a["num_segments"] for a in _load(didemo, "test")}
    for name, num_segments in segments.items():
        frames, fps = pixels.decode(didemo / "videos" / name)
        assert frames.shape[1:] == (64, 64, 3) and fps == 4.0
        expected_s = 30.0 if num_segments == 6 else 23.0
        assert len(frames) / fps == expected_s, name
        with av.open(str(didemo / "videos" / name)) as container:
            assert sum(1 for _ in container.decode(video=0)) == len(frames)


def test_descriptions_are_true_of_the_pixels(didemo, pixels):
    checked = 0
    for a in _load(didemo, "test"):
        (span, votes), = Counter(map(tuple, a["times"])).most_common(1)
        if votes < 3:
            continue  # annotators disagree too much to name one span
        colour, _shape, motion = parse_event_phrase(a["description"])
        frames, fps = pixels.decode(didemo / "videos" / a["video"])
        duration = len(frames) / fps
        start, end = 5.0 * span[0], min(5.0 * (span[1] + 1), duration)
        pixels.check_motion(frames, fps, colour, motion, start, end)
        checked += 1
    assert checked >= 20


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    small = DidemoCounts(train=1, val=1, test=2)
    a, b, other = tmp_path / "a", tmp_path / "b", tmp_path / "other"
    generate_didemo(a, seed=3, counts=small)
    generate_didemo(b, seed=3, counts=small)
    generate_didemo(other, seed=4, counts=small)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    assert (other / "test_data.json").read_bytes() != (a / "test_data.json").read_bytes()
