"""validate_dataset over the registry: real files laid out as a data root, samples, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tempvl_core.data.catalogue import DATASETS
from tempvl_core.data.validate import validate_dataset


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.symlink_to(src)


@pytest.fixture(scope="module")
def data_root(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root in the documented layout whose files are symlinks to the real ones."""
    root = tmp_path_factory.mktemp("data_root")
    for split in ("val", "test"):
        _link(realdata / f"didemo/{split}_data.json", root / f"didemo/{split}_data.json")
        _link(realdata / f"didemo/ce_splits/{split}_list.txt", root / f"didemo/{split}_list.txt")
    for name in ("charades_sta_test.txt", "Charades_v1_test.csv", "charades_sta_train.txt"):
        _link(realdata / f"charades-sta/{name}", root / f"charades-sta/{name}")
    _link(realdata / "anet-captions/val.json", root / "anet-captions/val_1.json")
    _link(realdata / "thumos14/actionformer/thumos14.json", root / "thumos14/thumos14.json")
    _link(realdata / "thumos14/annotations_test", root / "thumos14/annotations_test")
    return root


def test_real_didemo(data_root: Path) -> None:
    report = validate_dataset("didemo", data_root)
    assert report.ok and report.dataset_dir == data_root / "didemo"
    val = report.get("retrieval", "val")
    assert (val.status, val.records, val.videos, val.other) == ("ok", 1065, 1065, {"missing": 0, "annotated_not_listed": 29})
    moments = report.get("moments", "test")
    assert (moments.records, moments.videos) == (4021, 1037)
    assert report.get("moments", "train").status == "missing"  # train_data.json is not public here
    table = report.format_table()
    assert "retrieval" in table and "1065" in table and "MISSING retrieval/train: not found: train_data.json" in table


def test_real_charades_anet_thumos(data_root: Path) -> None:
    charades = validate_dataset("charades-sta", data_root)
    test = charades.get("moments", "test")
    assert (test.records, test.clipped, test.dropped) == (3720, 562, 0)
    assert charades.get("moments", "train").message == "not found: Charades_v1_train.csv"
    anet = validate_dataset("anet-captions", data_root).get("moments", "val_1")
    assert (anet.records, anet.videos, anet.clipped) == (17505, 4917, 134)
    thumos = validate_dataset("thumos14", data_root)
    assert thumos.get("action", "val").other == {"instances": 3007}
    assert thumos.get("action", "test").layout == "ActionFormer"  # thumos14.json comes first


def test_real_thumos_per_class_files_alone(realdata: Path, tmp_path: Path) -> None:
    """Only the official per-class txt files: the split is read from them (a run reads them too)."""
    _link(realdata / "thumos14/annotations_test", tmp_path / "thumos14/annotations_test")
    test = validate_dataset("thumos14", tmp_path).get("action", "test")
    assert (test.status, test.layout) == ("ok", "per-class txt")
    assert test.other == {"instances": 3358, "ambiguous": 99, "ambiguous_only_videos": 1}
    assert len(test.paths) == 21 and all(p.name.endswith("_test.txt") for p in test.paths)  # readme.txt left out
    assert "read action/test from the per-class txt layout: annotations_test/*_test.txt" in validate_dataset(
        "thumos14", tmp_path).format_table()


def test_real_activitynet_bsn_files_alone(realdata: Path, tmp_path: Path) -> None:
    _link(realdata / "activitynet-v1.3/bsn", tmp_path / "activitynet")
    report = validate_dataset("activitynet", tmp_path)
    val = report.get("action", "validation")
    assert (val.status, val.layout, val.records) == ("ok", "BSN", 4728)
    assert [p.name for p in val.paths] == ["anet_anno_action.json", "video_info_new.csv"]


def test_dataset_folder_given_directly(samples: Path) -> None:
    report = validate_dataset("msrvtt", samples / "msrvtt")
    assert report.ok and report.get("retrieval", "train_9k").other == {"missing": 0, "pairs": 5}


def test_malformed_split_is_reported_not_raised(tmp_path: Path) -> None:
    folder = tmp_path / "qvhighlights"
    folder.mkdir()
    (folder / "highlight_val_release.jsonl").write_text('{"qid": 1, "query": "q", "duration": 150, "vid": "v"}\n{"qid": 2\n')
    (folder / "highlight_test_release.jsonl").write_text('{"qid": 3, "query": "q", "duration": 150, "vid": "v"}\n')
    report = validate_dataset("qvhighlights", tmp_path)
    assert not report.ok
    val = report.get("moments", "val")
    assert val.status == "error" and "highlight_val_release.jsonl line 2" in val.message
    assert report.get("moments", "test").records == 1
    assert "ERROR moments/val: " in report.format_table()


def test_unknown_dataset(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="known: .*didemo"):
        validate_dataset("didemo2", tmp_path)


def test_registry_covers_the_layout() -> None:
    assert set(DATASETS) == {
        "msrvtt", "didemo", "msvd", "lsmdc", "charades-sta", "anet-captions", "tacos",
        "qvhighlights", "thumos14", "activitynet", "webvid", "cc3m",
    }  # fmt: skip
    assert DATASETS["didemo"].splits("retrieval") == ("train", "val", "test")
    assert DATASETS["msvd"].video_dir == "YouTubeClips" and DATASETS["cc3m"].video_dir == "images"


@pytest.mark.parametrize("name", ["didemo", "msrvtt", "msvd", "lsmdc", "activitynet", "webvid", "cc3m"])
def test_every_sample_parses_through_the_registry(samples: Path, name: str) -> None:
    report = validate_dataset(name, samples)
    assert report.ok, report.format_table()
