"""The annotation loaders read the demo files exactly as they read the real ones, and every
record's media file is found where the loader's data-root convention says."""

from __future__ import annotations

import pytest

from tempvl_core.data import catalogue, validate, video_index
from tempvl_core.data.catalogue import DATASETS
from tempvl_core.data.demo import (
    anet_captions,
    charades,
    detection,
    didemo,
    lsmdc,
    msrvtt,
    msvd,
    pretrain,
    qvhighlights,
)


TINY = {
    "msrvtt": lambda out: msrvtt.generate_msrvtt(out, counts=msrvtt.MsrvttCounts(train=8, test=4)),
    "didemo": lambda out: didemo.generate_didemo(out, counts=didemo.DidemoCounts(train=2, val=2, test=2)),
    "msvd": lambda out: msvd.generate_msvd(out, counts=msvd.MsvdCounts(train=4, val=2, test=2)),
    "lsmdc": lambda out: lsmdc.generate_lsmdc(out, counts=lsmdc.LsmdcCounts(train=8, val=2, test=2)),
    "charades-sta": lambda out: charades.generate_charades_sta(
        out, counts=charades.CharadesCounts(train=2, test=2)),
    "anet-captions": lambda out: anet_captions.generate_anet_captions(
        out, counts=anet_captions.AnetCaptionsCounts(train=2, val=2)),
    "qvhighlights": lambda out: qvhighlights.generate_qvhighlights(
        out, counts=qvhighlights.QvhCounts(train=2, val=2, test=2, train_appended=1)),
    "thumos14": lambda out: detection.generate_thumos14(out, counts=detection.ThumosCounts(val=2, test=2)),
    "activitynet": lambda out: detection.generate_activitynet(
        out, counts=detection.ActivityNetCounts(training=2, validation=2, testing=1)),
    "webvid": lambda out: pretrain.generate_webvid(out, counts=pretrain.WebvidCounts(videos=3)),
    "cc3m": lambda out: pretrain.generate_cc3m(out, counts=pretrain.Cc3mCounts(images=3)),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(TINY))
def test_loader_reads_every_split_of_the_demo_dataset(name, tmp_path):
    spec = DATASETS[name]
    TINY[name](tmp_path / spec.folder)
    report = validate.validate_dataset(name, tmp_path)
    assert all(s.status == validate.OK for s in report.splits), report.format_table()
    assert all(s.records > 0 for s in report.splits if s.split != "testing"), report.format_table()
    index = video_index.VideoIndex(tmp_path / spec.folder / spec.video_dir)
    for source in spec.sources:
        for record in catalogue.load(name, tmp_path / spec.folder, source.task, source.split).records:
            media = getattr(record, "video_name", None) or record.media_name
            assert index.lookup(media) is not None, f"{name} {source.task}/{source.split}: {media} not found"
