"""validate and prepare-videos through the CLI, on demo data and (when present) the real files."""

import json
import shutil
from pathlib import Path

import pytest

from tempvl_bench.cli.app import main


def test_validate_demo_prints_per_split_counts(capsys):
    assert main(["validate", "--task", "didemo", "--demo"]) == 0
    out = capsys.readouterr().out
    assert "retrieval  test     ok              300       300" in out
    assert "retrieval  train    ok              128       128" in out


def test_validate_real_didemo_counts_and_reports_missing_files(realdata, capsys):
    assert main(["validate", "--task", "didemo", "--data-root", str(realdata)]) == 1
    out = capsys.readouterr().out
    assert "moments    val      ok             4180      1094" in out
    assert "moments    test     ok             4021      1037" in out
    assert "MISSING retrieval/train: not found: train_data.json, train_list.txt" in out


def test_validate_real_charades_sta(realdata, capsys):
    main(["validate", "--task", "charades-sta", "--data-root", str(realdata)])
    out = capsys.readouterr().out
    assert "3720" in out  # test queries; train needs Charades_v1_train.csv, which realdata lacks


@pytest.mark.slow
def test_prepare_videos_writes_readable_copies_that_runs_use(tmp_path, capsys):
    from tempvl_core.data.demo import ensure_demo_dataset
    from tempvl_core.video import probe

    root = tmp_path / "data"
    shutil.copytree(Path(ensure_demo_dataset("didemo")) / "didemo", root / "didemo")
    args = ["prepare-videos", "--task", "didemo", "--data-root", str(root), "--fps", "2", "--short-side", "32", "--no-progress"]
    assert main(args) == 0
    prepared = root / "didemo" / "videos_prepared"
    copies = [p for p in prepared.rglob("*.mp4")]
    assert len(copies) == 428
    info = probe(copies[0])
    assert min(info.width, info.height) == 32 and info.fps == pytest.approx(2, abs=0.01)
    assert main(args) == 0  # resumable: everything is skipped the second time
    assert "prepared 0, skipped 428" in capsys.readouterr().out
    report = json.loads((prepared / "prepare-report.json").read_text())
    assert len(report["skipped"]) == 428 and not report["failed"]
