"""The real split lists and class lists agree with the counts and conventions the loaders assume."""

from __future__ import annotations

from pathlib import Path

import pytest

from tempvl_core.data.loaders._io import read_csv_rows, read_name_list
from tempvl_core.data.loaders.activitynet import read_activitynet_bsn


@pytest.mark.parametrize(
    "path,count",
    [
        ("didemo/ce_splits/train_list.txt", 8392),
        ("didemo/ce_splits/val_list.txt", 1065),
        ("didemo/ce_splits/test_list.txt", 1004),
        ("anet-captions/ce_splits/train_list.txt", 10009),
        ("msrvtt/ce_splits/train_list_jsfusion.txt", 9000),
        ("msrvtt/ce_splits/val_list_jsfusion.txt", 1000),
        ("msrvtt/ce_splits/train_list_miech.txt", 6656),
        ("msrvtt/ce_splits/test_list_miech.txt", 1000),
    ],
)
def test_split_list_counts(realdata: Path, path: str, count: int) -> None:
    names = read_name_list(realdata / path, "split list")
    assert len(names) == len(set(names)) == count


def test_msrvtt_captioning_split_is_by_video_number(realdata: Path) -> None:
    """The ``split`` field of MSRVTT_data.json: video0-6512 train, 6513-7009 validate, 7010-9999 test."""
    d = realdata / "msrvtt/ce_splits"
    lists = {s: read_name_list(d / f"{s}_list_full.txt", "split list") for s in ("train", "val", "test")}
    assert {s: len(v) for s, v in lists.items()} == {"train": 6513, "val": 497, "test": 2990}
    numbers = {s: sorted(int(v.removeprefix("video")) for v in vids) for s, vids in lists.items()}
    assert numbers == {"train": list(range(6513)), "val": list(range(6513, 7010)), "test": list(range(7010, 10000))}


def test_didemo_lists_do_not_overlap(realdata: Path) -> None:
    d = realdata / "didemo/ce_splits"
    train, val, test = (set(read_name_list(d / f"{s}_list.txt", "split list")) for s in ("train", "val", "test"))
    assert not (train & val or train & test or val & test)
    assert sum(name.endswith(".") for name in train | val | test) > 0  # names ending in a bare "."


def test_activitynet_bsn_labels_are_the_200_classes(realdata: Path, parse_once) -> None:
    d = realdata / "activitynet-v1.3/bsn"
    classes = [row["action"] for _, row in read_csv_rows(d / "action_name.csv", "class list", ("action",))]
    assert len(classes) == len(set(classes)) == 200
    videos = parse_once(read_activitynet_bsn, d / "anet_anno_action.json", d / "video_info_new.csv", "training")
    labels = {(i.label, i.label_id) for v in videos.records for i in v.instances}
    assert {label for label, _ in labels} == set(classes)
    assert sorted(labels) == [(name, i) for i, name in enumerate(sorted(classes))]  # ids = sorted class names
