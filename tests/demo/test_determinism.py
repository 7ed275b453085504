"""Every generator writes the same bytes for the same seed, and other bytes for another."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tempvl_core.data.demo import anet_captions, charades, detection, lsmdc, msrvtt, msvd, pretrain, qvhighlights

SMALL = {
    "msrvtt": lambda out, seed: msrvtt.generate_msrvtt(out, seed, counts=msrvtt.MsrvttCounts(train=2, test=2)),
    "msvd": lambda out, seed: msvd.generate_msvd(out, seed, counts=msvd.MsvdCounts(train=1, val=1, test=1)),
    "lsmdc": lambda out, seed: lsmdc.generate_lsmdc(out, seed, counts=lsmdc.LsmdcCounts(train=2, val=1, test=1)),
    "charades-sta": lambda out, seed: charades.generate_charades_sta(
        out, seed, counts=charades.CharadesCounts(train=1, test=1)),
    "anet-captions": lambda out, seed: anet_captions.generate_anet_captions(
        out, seed, counts=anet_captions.AnetCaptionsCounts(train=1, val=1)),
    "qvhighlights": lambda out, seed: qvhighlights.generate_qvhighlights(
        out, seed, counts=qvhighlights.QvhCounts(train=1, val=1, test=1, train_appended=1)),
    "thumos14": lambda out, seed: detection.generate_thumos14(
        out, seed, counts=detection.ThumosCounts(val=1, test=2)),
    "activitynet": lambda out, seed: detection.generate_activitynet(
        out, seed, counts=detection.ActivityNetCounts(training=1, validation=1, testing=1)),
    "webvid": lambda out, seed: pretrain.generate_webvid(out, seed, counts=pretrain.WebvidCounts(videos=2)),
    "cc3m": lambda out, seed: pretrain.generate_cc3m(out, seed, counts=pretrain.Cc3mCounts(images=2)),
}  # fmt: skip


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_same_seed_same_bytes(name, tmp_path):
    for folder, seed in (("a", 11), ("b", 11), ("c", 12)):
        SMALL[name](tmp_path / folder, seed)
    a, b, c = (_files(tmp_path / f) for f in "abc")
    assert a == b
    assert a != c


def test_appended_qvhighlights_training_videos_leave_val_and_test_byte_identical(tmp_path):
    """Format 9 grew the QVHighlights training split after the evaluation split was measured:
    the new videos are drawn after the test split, so val, test and the first training videos
    are the bytes they were, and every qid stays unique."""
    for folder, appended in (("before", 0), ("after", 2)):
        counts = qvhighlights.QvhCounts(train=2, val=2, test=1, train_appended=appended)
        qvhighlights.generate_qvhighlights(tmp_path / folder, 5, counts=counts)
    before, after = _files(tmp_path / "before"), _files(tmp_path / "after")
    for name in ("highlight_val_release.jsonl", "highlight_test_release.jsonl"):
        assert before[name] == after[name]
    assert set(before) < set(after)
    assert all(after[name] == data for name, data in before.items() if name.startswith("videos/"))
    old, new = (files["highlight_train_release.jsonl"].decode() for files in (before, after))
    assert new.startswith(old + "\n") and new.count("\n") >= old.count("\n") + 2
    records = [json.loads(line) for name in after if name.endswith(".jsonl") for line in after[name].decode().split("\n")]
    assert len({r["qid"] for r in records}) == len(records)
    assert len([n for n in after if n.startswith("videos/")]) == len([n for n in before if n.startswith("videos/")]) + 2
