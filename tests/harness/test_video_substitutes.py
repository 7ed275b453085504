"""A video whose own file is missing is read from another file only when the task says so
(``video.allow_substitutes``), and then results.json and the check-videos report list it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tempvl_bench.cli.app import main
from tempvl_bench.config import builtin_task_file

TINY = ["--set", "model.preset=tiny", "--set", "model.backbone=cnn-tiny", "--set", "video.size=64",
        "--set", "video.num_frames=2", "--limit", "4", "--no-progress", "--device", "cpu"]


@pytest.fixture
def renamed(tmp_path) -> tuple[Path, str, Path]:
    """Demo DiDeMo whose first test video exists only under another extension."""
    from tempvl_core.data import catalogue
    from tempvl_core.data.demo import ensure_demo_dataset

    root = tmp_path / "data"
    shutil.copytree(Path(ensure_demo_dataset("didemo")) / "didemo", root / "didemo")
    name = catalogue.load("didemo", root / "didemo", "retrieval", "test").records[0].video_name
    original = root / "didemo" / "videos" / name
    substitute = original.with_name(Path(name).stem + ".mkv")
    original.rename(substitute)
    return root, name, substitute


def _task_file(tmp_path: Path, allow: bool) -> Path:
    """The built-in didemo task as a user's own file, with ``video.allow_substitutes``."""
    raw = yaml.safe_load(builtin_task_file("didemo").read_text(encoding="utf-8"))
    raw["name"] = "didemo-own"
    raw.setdefault("video", {})["allow_substitutes"] = allow
    path = tmp_path / "didemo-own.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_run_refuses_a_fallback_match_by_default_naming_it(renamed, tmp_path, capsys):
    root, name, substitute = renamed
    out = tmp_path / "out"
    assert main(["run", "--task", "didemo", "--data-root", str(root), "--output", str(out), *TINY]) == 2
    err = capsys.readouterr().err
    assert name in err and substitute.name in err and "video.allow_substitutes" in err
    assert not list(out.glob("didemo/*/results.json"))


def test_run_with_substitutes_enabled_records_each_substitution(renamed, tmp_path, capsys):
    root, name, substitute = renamed
    out = tmp_path / "out"
    args = ["run", "--task", "didemo", "--data-root", str(root), "--output", str(out), *TINY]
    assert main([*args, "--set", "video.allow_substitutes=true"]) == 0
    assert f"{name} -> {substitute}" in capsys.readouterr().out  # the log says so
    (path,) = out.glob("didemo/*/results.json")
    record = json.loads(path.read_text())
    assert record["video_substitutions"] == {name: str(substitute)}
    assert record["failed_videos"] == [] and record["config"]["video"]["allow_substitutes"] is True


def test_check_videos_names_the_fallback_then_lists_it_when_enabled(renamed, tmp_path, capsys):
    root, name, substitute = renamed
    report_path = tmp_path / "report.json"
    base = ["check-videos", "--data-root", str(root), "--output", str(report_path), "--no-progress"]
    assert main([*base, "--task", "didemo"]) == 1
    report = json.loads(report_path.read_text())
    (failure,) = report["failed"]
    assert failure["path"] == str(root / "didemo" / "videos" / name)
    assert substitute.name in failure["error"] and "video.allow_substitutes" in failure["error"]
    assert report["video_substitutions"] == {}

    assert main([*base, "--task", str(_task_file(tmp_path, allow=True))]) == 0
    report = json.loads(report_path.read_text())
    assert report["failed"] == [] and report["video_substitutions"] == {name: str(substitute)}
    assert f"{name} -> {substitute}" in capsys.readouterr().out


def test_an_ambiguous_match_fails_even_with_substitutes_enabled(renamed, tmp_path, capsys):
    root, name, substitute = renamed
    shutil.copy(substitute, substitute.with_suffix(".webm"))  # two files could stand in
    out = tmp_path / "out"
    args = ["run", "--task", "didemo", "--data-root", str(root), "--output", str(out), *TINY]
    assert main([*args, "--set", "video.allow_substitutes=true"]) == 2
    err = capsys.readouterr().err
    assert name in err and "2 other files could stand in" in err


@pytest.mark.parametrize("where", ["set", "file"])
def test_the_key_is_type_checked_naming_it_and_its_source(tmp_path, capsys, where):
    from tempvl_bench.config import ConfigError, load_task_config

    task = _task_file(tmp_path, allow=False)
    if where == "set":
        with pytest.raises(ConfigError, match=r"key 'video.allow_substitutes' \(set with --set\): expected true or false"):
            load_task_config(task, overrides=["video.allow_substitutes=maybe"])
    else:
        task.write_text(task.read_text().replace("allow_substitutes: false", "allow_substitutes: 2"))
        with pytest.raises(ConfigError, match=rf"{task}: key 'video.allow_substitutes': expected true or false"):
            load_task_config(task)
    assert load_task_config(_task_file(tmp_path, allow=False)).video.allow_substitutes is False
