"""The CLI end to end on demo data: results schema, predictions, resume, bad videos, leaderboard."""

import json
import shutil
from pathlib import Path

import pytest

from tempvl_bench.cli.app import main
from tempvl_bench.report.results import ResultRecord

FAST = ["--set", "video.num_frames=4", "--no-progress"]


@pytest.fixture(scope="module")
def demo_root() -> Path:
    from tempvl_core.data.demo import ensure_demo_dataset

    return Path(ensure_demo_dataset("didemo"))


@pytest.fixture(scope="module")
def zero_shot_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("results")
    assert main(["run", "--task", "didemo", "--demo", "--output", str(out), "--limit", "12", *FAST]) == 0
    (path,) = out.glob("didemo/*/results.json")
    return path


def test_results_file_follows_the_documented_schema(zero_shot_run):
    record = json.loads(zero_shot_run.read_text())
    assert set(record) == set(ResultRecord.__annotations__)
    assert record["task"] == "didemo" and record["mode"] == "zero-shot" and record["demo"] is True
    assert record["num_samples"] == 12 and record["failed_videos"] == []
    assert record["frames"] == 4 and record["resolution"] == 64 and record["sampling"] == "uniform"
    assert record["config"]["video"]["num_frames"] == 4  # the resolved config, after --set
    assert set(record["metrics"]) == {f"{d}/{m}" for d in ("t2v", "v2t") for m in ("R@1", "R@5", "R@10", "MdR", "MnR")}
    assert sorted(record["annotation_sha256"]) == ["didemo/test_data.json", "didemo/test_list.txt"]
    assert all(len(h) == 64 for h in record["annotation_sha256"].values())
    assert "torch" in record["package_versions"] and record["world_size"] == 1


def test_predictions_have_one_row_per_query_with_consistent_ranks(zero_shot_run):
    rows = [json.loads(line) for line in (zero_shot_run.parent / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 12
    record = json.loads(zero_shot_run.read_text())
    r1 = 100.0 * sum(r["rank"] == 1 for r in rows) / len(rows)
    assert r1 == pytest.approx(record["metrics"]["t2v/R@1"])
    for row in rows:
        assert (row["top10"][0] == row["video_id"]) == (row["rank"] == 1)


def test_resume_skips_a_completed_run(zero_shot_run, capsys):
    out = zero_shot_run.parents[2]
    before = zero_shot_run.stat().st_mtime_ns
    assert main(["run", "--task", "didemo", "--demo", "--output", str(out), "--limit", "12", "--resume", *FAST]) == 0
    assert "already complete" in capsys.readouterr().out
    assert zero_shot_run.stat().st_mtime_ns == before
    assert len(list(out.glob("didemo/*/results.json"))) == 1


def test_leaderboard_cli_writes_every_format(zero_shot_run, tmp_path, capsys):
    out = zero_shot_run.parents[2]
    for fmt, marker in (("markdown", "## didemo"), ("latex", r"\begin{tabular}"), ("csv", "t2v/R@1 (higher is better)"),
                        ("html", "<!DOCTYPE html>")):
        target = tmp_path / f"board.{fmt}"
        assert main(["leaderboard", "--results", str(out), "--format", fmt, "--output", str(target),
                     "--include-limited"]) == 0  # the run is a --limit smoke test
        assert marker in target.read_text()


def test_missing_data_root_error_says_what_to_do(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("TEMPVL_DATA", raising=False)
    assert main(["run", "--task", "didemo", "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--data-root" in err and "TEMPVL_DATA" in err and "--demo" in err
    assert main(["run", "--task", "didemo", "--data-root", str(tmp_path), "--output", str(tmp_path)]) == 2
    assert f"{tmp_path / 'didemo'} does not exist" in capsys.readouterr().err


def test_unknown_task_and_backbone_suggest_names(tmp_path, capsys):
    assert main(["run", "--task", "didemoo", "--demo", "--output", str(tmp_path)]) == 2
    assert "Did you mean 'didemo'" in capsys.readouterr().err
    assert main(["run", "--task", "didemo", "--demo", "--backbone", "cnn-tiyn", "--output", str(tmp_path)]) == 2
    assert "Did you mean 'cnn-tiny'" in capsys.readouterr().err


@pytest.fixture
def broken_copy(demo_root, tmp_path) -> tuple[Path, Path, Path]:
    root = tmp_path / "data"
    shutil.copytree(demo_root / "didemo", root / "didemo")
    names = (root / "didemo" / "test_list.txt").read_text().split("\n")
    corrupt, missing = root / "didemo" / "videos" / names[0], root / "didemo" / "videos" / names[1]
    corrupt.write_bytes(b"\x00not a video" * 100)
    missing.unlink()
    return root, corrupt, missing


def test_check_videos_reports_corrupt_and_missing(broken_copy, tmp_path, capsys):
    root, corrupt, missing = broken_copy
    report_path = tmp_path / "report.json"
    assert main(["check-videos", "--task", "didemo", "--data-root", str(root), "--output", str(report_path), "--no-progress"]) == 1
    report = json.loads(report_path.read_text())
    assert {f["path"] for f in report["failed"]} == {str(corrupt), str(missing)}
    assert report["checked"] == 428  # 128 train + 300 test videos


def test_evaluation_stops_on_bad_videos_then_lists_them_when_allowed(broken_copy, tmp_path, capsys):
    root, corrupt, missing = broken_copy
    tiny = ["--set", "model.preset=tiny", "--set", "model.backbone=cnn-tiny", "--set", "video.size=64"]
    args = ["run", "--task", "didemo", "--data-root", str(root), "--output", str(tmp_path), *tiny, *FAST]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "2 of 300 videos failed to decode" in err and corrupt.name in err
    assert main([*args, "--set", "video.max_failed_fraction=0.1"]) == 0
    (path,) = [p for p in tmp_path.glob("didemo/*/results.json")]
    record = json.loads(path.read_text())
    assert {f["path"] for f in record["failed_videos"]} == {str(corrupt), str(missing)}
    assert record["num_samples"] == 298  # their queries are dropped, never answered by another video
    rows = [json.loads(line) for line in (path.parent / "predictions.jsonl").read_text().splitlines()]
    assert {corrupt.name, missing.name}.isdisjoint({r["video_id"] for r in rows})
