"""``validate`` and ``run`` read the same annotation files, for every task and each of its splits.

Both go through the dataset catalogue (``tempvl_core.data.catalogue``); this checks it from the
two ends: the files ``validate`` reports for a task's split against the files the task's family
loads for a run (its ``load``/``load_train`` step, which calls ``catalogue.load``). On the demo
data every split reads; on the real annotation files (``../shared/realdata``, linked into a data
root, never copied) some splits are absent, and then both must say so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tempvl_bench.cli.commands import split_kinds
from tempvl_bench.config import builtin_task_file, load_task_config
from tempvl_bench.plugin.manager import load_plugins
from tempvl_core.data.validate import OK, validate_dataset

HOST = load_plugins()
#: The project's own tasks (their files ship in tempvl_tasks), whatever other plugins are installed.
TASKS = [spec.name for spec in HOST.tasks
         if Path(spec.config_path).resolve() == builtin_task_file(spec.name).resolve()]
#: Real folder (under ../shared/realdata) of each dataset whose layout differs from its name.
REAL_FOLDERS = {"activitynet": "activitynet-v1.3/bsn"}


def run_files(task: str, annotation_dir: Path, split: str) -> list[Path]:
    """The annotation files a run of ``task`` reads for ``split``: the family's ``load`` step
    (``load_train`` for the training split), as the harness lifecycle calls it."""
    from types import SimpleNamespace

    from tempvl_bench.run.lifecycle import load_family, parse_family_options

    spec = HOST.tasks.get(task)
    config = load_task_config(spec.config_path)
    family = load_family(spec)
    ctx = SimpleNamespace(spec=spec, config=config, annotation_dir=annotation_dir, mode="zero-shot",
                          task_options=parse_family_options(family, config))
    step = family.load if split == config.splits.eval else family.load_train
    return step(ctx, split).files


def _check_task(task: str, data_root: Path, *, demo: bool) -> list[str]:
    """Compare both ends for every split of ``task``; returns the splits that were readable."""
    config = load_task_config(HOST.tasks.get(task).config_path, demo=demo)
    annotation_dir = data_root / config.paths.annotations
    report = validate_dataset(config.dataset, annotation_dir)
    readable = []
    for split, kind in split_kinds(config).items():
        checked = report.get(kind, split)
        try:
            files = run_files(task, annotation_dir, split)
        except (FileNotFoundError, ValueError) as exc:  # AnnotationError is a ValueError
            assert checked.status != OK, f"{task} {kind}/{split}: validate read it, the run failed: {exc}"
            continue
        assert checked.status == OK, f"{task} {kind}/{split}: the run read {files}, validate says {checked.message}"
        assert [Path(p) for p in files] == list(checked.paths), f"{task} {kind}/{split}"
        readable.append(split)
    return readable


@pytest.mark.parametrize("task", TASKS)
def test_validate_and_run_read_the_same_demo_files(task: str) -> None:
    from tempvl_core.data.demo import ensure_demo_dataset

    config = load_task_config(HOST.tasks.get(task).config_path, demo=True)
    root = Path(ensure_demo_dataset(config.dataset, seed=0))
    assert _check_task(task, root, demo=True) == list(split_kinds(config))  # every split reads


@pytest.fixture(scope="module")
def real_root(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root whose dataset folders are symlinks to the real ones."""
    root = tmp_path_factory.mktemp("realroot")
    for task in TASKS:
        config = load_task_config(HOST.tasks.get(task).config_path)
        source = realdata / REAL_FOLDERS.get(config.dataset, config.dataset)
        link = root / config.paths.annotations
        if source.is_dir() and not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(source, target_is_directory=True)
    return root


@pytest.mark.parametrize("task", TASKS)
def test_validate_and_run_read_the_same_real_files(task: str, real_root: Path) -> None:
    _check_task(task, real_root, demo=False)


def test_real_layouts_read_where_only_the_fallback_exists(real_root: Path) -> None:
    """THUMOS14 (per-class txt only at the top), ActivityNet (BSN files only), ActivityNet
    Captions (2D-TAN names): read by validate and run alike."""
    assert _check_task("thumos14", real_root, demo=False) == ["val", "test"]
    assert _check_task("activitynet-tal", real_root, demo=False) == ["training", "validation"]
    assert _check_task("anet-captions", real_root, demo=False) == ["train", "val_1"]


def test_validate_cli_accepts_thumos14_per_class_files(real_root: Path, capsys) -> None:
    from tempvl_bench.cli.app import main

    assert main(["validate", "--task", "thumos14", "--data-root", str(real_root)]) == 0
    assert "cannot run" not in capsys.readouterr().out


@pytest.mark.parametrize("task", TASKS)
def test_video_folder_comes_from_the_catalogue(task: str) -> None:
    from tempvl_core.data.catalogue import DATASETS

    config = load_task_config(HOST.tasks.get(task).config_path)
    assert config.paths.videos == f"{config.paths.annotations}/{DATASETS[config.dataset].video_dir}"


def test_a_task_file_may_still_name_its_own_video_folder(tmp_path: Path) -> None:
    from tempvl_bench.config import ConfigError, builtin_task_file

    source = builtin_task_file("didemo").read_text()
    path = tmp_path / "mine.yaml"
    path.write_text(source.replace("  annotations: didemo", "  annotations: didemo\n  videos: elsewhere/clips"))
    assert load_task_config(path).paths.videos == "elsewhere/clips"
    path.write_text(source.replace("dataset: didemo", "dataset: my-own-set"))
    with pytest.raises(ConfigError, match=r"mine.yaml: key 'paths.videos': required, because dataset 'my-own-set'"):
        load_task_config(path)
