"""A user's own task YAML for a registered family runs and validates by path (``--task ./my.yaml``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tempvl_bench.cli.app import main
from tempvl_bench.config import builtin_task_file


def _task_file(folder: Path, name: str = "my-didemo", **changes) -> Path:
    """A copy of the built-in DiDeMo task under another name (and with ``changes``)."""
    raw = yaml.safe_load(builtin_task_file("didemo").read_text())
    raw.update(name=name, description="my own DiDeMo evaluation", groups=[], **changes)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_run_and_validate_a_task_file_by_relative_path(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _task_file(tmp_path)
    assert main(["validate", "--task", "./my-didemo.yaml", "--demo"]) == 0
    assert "my-didemo (didemo," in capsys.readouterr().out

    args = ["run", "--task", "./my-didemo.yaml", "--demo", "--limit", "6", "--set", "video.num_frames=4",
            "--output", "out", "--no-progress"]
    assert main(args) == 0
    (results,) = (tmp_path / "out" / "my-didemo").glob("*/results.json")
    record = json.loads(results.read_text())
    assert record["task"] == "my-didemo" and record["family"] == "retrieval" and record["num_samples"] == 6
    assert set(record["metrics"]) == set(record["config"]["metrics"])


def test_a_task_file_in_a_comma_list_with_registered_tasks(tmp_path, capsys):
    path = _task_file(tmp_path)
    assert main(["validate", "--task", f"didemo,{path}", "--demo"]) == 0
    out = capsys.readouterr().out
    assert "didemo (didemo," in out and "my-didemo (didemo," in out


def test_errors_name_the_file_and_the_key(tmp_path, capsys):
    assert main(["validate", "--task", str(tmp_path / "absent.yaml"), "--demo"]) == 2
    assert "absent.yaml: no such task file" in capsys.readouterr().err

    clash = _task_file(tmp_path, name="didemo-copy")
    clash.write_text(clash.read_text().replace("name: didemo-copy", "name: msvd"))
    assert main(["validate", "--task", str(clash), "--demo"]) == 2
    err = capsys.readouterr().err
    assert "didemo-copy.yaml: key 'name': 'msvd' is already a registered task" in err

    orphan = _task_file(tmp_path, name="orphan", family="segmentation")
    assert main(["validate", "--task", str(orphan), "--demo"]) == 2
    assert "orphan.yaml: keys 'family: segmentation' and 'plugin: retrieval' match no registered task" in capsys.readouterr().err

    broken = _task_file(tmp_path, name="broken")
    broken.write_text(broken.read_text().replace("num_frames: 8", "num_frames: many"))
    assert main(["validate", "--task", str(broken), "--demo"]) == 2
    assert "broken.yaml: key 'video.num_frames'" in capsys.readouterr().err


@pytest.mark.parametrize("task", ["charades-sta", "thumos14"])
def test_a_task_file_takes_the_steps_of_its_family_and_dataset(tmp_path, task):
    from tempvl_bench.plugin.manager import load_plugins
    from tempvl_bench.cli.task_files import register_task_file

    raw = yaml.safe_load(builtin_task_file(task).read_text())
    raw.update(name=f"my-{task}")
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(raw))
    host = load_plugins()
    assert register_task_file(host, path) == f"my-{task}"
    mine, builtin = host.tasks.get(f"my-{task}"), host.tasks.get(task)
    assert (mine.family, mine.plugin) == (builtin.family, builtin.plugin)
    assert mine.config_path == path.resolve()
    assert register_task_file(host, path) == f"my-{task}"  # naming the same file twice is fine


@pytest.mark.parametrize("task, family_module, adapter_for", [("msvd-cap", "captioning", "caption_adapter_for"),
                                                             ("msrvtt-mc", "qa", "qa_adapter_for"),
                                                             ("msvd-qa", "qa", "qa_adapter_for")])
def test_caption_and_qa_adapters_are_found_for_a_task_file(tmp_path, task, family_module, adapter_for):
    import importlib

    from tempvl_bench.config import load_task_config

    datasets = importlib.import_module(f"tempvl_plugins.{family_module}.datasets")
    raw = yaml.safe_load(builtin_task_file(task).read_text())
    raw.update(name="mine")
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert getattr(datasets, adapter_for)(load_task_config(path)) is datasets.ADAPTERS[task]


@pytest.mark.slow
@pytest.mark.parametrize("task", ["msrvtt-cap", "msvd-qa", "msrvtt-mc"])
def test_a_caption_or_qa_task_file_runs_by_path(tmp_path, task):
    """Captioning and QA find their dataset adapter from the task file (caption_adapter_for,
    qa_adapter_for), not from the registered task's name: a copy under a name of one's own runs."""
    raw = yaml.safe_load(builtin_task_file(task).read_text())
    raw.update(name=f"my-{task}", groups=[])
    path = tmp_path / f"my-{task}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    args = ["run", "--task", str(path), "--demo", "--limit", "3", "--set", "video.num_frames=4", "--output",
            str(tmp_path / "out"), "--no-progress"]
    if task == "msrvtt-cap":
        args += ["--set", "options.max_caption_length=4"]
    assert main(args) == 0
    (results,) = (tmp_path / "out" / f"my-{task}").glob("*/results.json")
    record = json.loads(results.read_text())
    assert record["task"] == f"my-{task}" and Path(record["config"]["source"]).resolve() == path.resolve()
    assert record["num_samples"] >= 3 and record["primary_metric"] in record["metrics"]


def test_demo_without_a_demo_block_says_it_runs_at_full_size(tmp_path, capsys):
    raw = yaml.safe_load(builtin_task_file("didemo").read_text())
    raw.pop("demo")
    raw.update(name="no-demo-block", groups=[])
    path = tmp_path / "no-demo-block.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    small = [f"--set={key}" for key in ("model.preset=tiny", "model.backbone=cnn-tiny", "video.size=32",
                                        "video.num_frames=2", "batch.num_workers=0")]  # fmt: skip
    assert main(["run", "--task", str(path), "--demo", "--limit", "2", *small, "--output", str(tmp_path / "out"),
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"{path} has no 'demo:' block, so --demo runs the task at its full size" in out
    assert main(["run", "--task", "didemo", "--demo", "--limit", "2", "--set", "video.num_frames=2", "--output",
                 str(tmp_path / "out"), "--no-progress"]) == 0
    assert "no 'demo:' block" not in capsys.readouterr().out
