"""A run writes only inside its output folder, and a run folder that breaks mid-run is reported
as the error it is.

The run-folder tests use a task registered by a plugin module given with ``-p`` (the real CLI,
the real runner), whose family calls the test's hooks with the run context in its score step.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from plugin_helpers import install_probe

from tempvl_bench.cli.app import main
from tempvl_bench.config import builtin_task_file

PLUGIN = '''
from pathlib import Path

from tempvl_bench.api import Scores, Split, TaskFamily, TaskSpec, hookimpl

HOOKS = []
TASK_NAMES = ["probe"]
TASK_FILE = Path(__file__).with_name("probe.yaml")


class Probe(TaskFamily):
    """One record and no video read; its score step calls the test's hooks."""

    baselines_use_train = False

    def load(self, ctx, split):
        return Split(split, ["record"])

    def predict(self, ctx, model, evaluation, train):
        return [{"video_id": "v"}]

    def score(self, ctx, evaluation, rows):
        for hook in HOOKS:
            hook(ctx)
        return Scores({"t2v/R@1": 50.0}, len(rows), rows)


@hookimpl
def tempvl_bench_register_tasks(registry):
    for name in TASK_NAMES:
        registry.register(TaskSpec(name, TASK_FILE, Probe))
'''



@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """The plugin module (importable as ``probe_plugin``), with DiDeMo's demo annotations in
    ``tmp_path/data``."""
    return install_probe(tmp_path, monkeypatch, PLUGIN)


def _run(tmp_path: Path, task: str = "probe") -> int:
    return main(["-p", "probe_plugin", "run", "--task", task, "--output", str(tmp_path / "out"), "--data-root",
                 str(tmp_path / "data"), "--no-progress", "--device", "cpu"])


def _files_outside(tmp_path: Path, before: set[Path]) -> list[Path]:
    return sorted(p for p in tmp_path.rglob("*") if p not in before and "out" not in p.relative_to(tmp_path).parts)


def _task_file(folder: Path, name: str) -> Path:
    raw = yaml.safe_load(builtin_task_file("didemo").read_text())
    raw.update(name=name, groups=[])
    path = folder / "mine.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.mark.parametrize("name", ["../../../escaped", "<absolute>", "a/b", "..", ".hidden", "Upper", "", "with space"])
def test_a_task_name_that_is_not_a_folder_name_is_refused_naming_the_file_and_key(tmp_path, capsys, name):
    if name == "<absolute>":  # inside tmp_path, so that code without the check writes nowhere else
        name = str(tmp_path / "abs" / "dir")
    path = _task_file(tmp_path, name)
    before = set(tmp_path.rglob("*"))
    args = ["--task", str(path), "--demo"]
    assert main(["run", *args, "--output", str(tmp_path / "deep" / "er" / "out"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{path}: key 'name': {name!r} is not a task name" in err, err
    assert main(["validate", *args]) == 2
    assert f"{path}: key 'name'" in capsys.readouterr().err
    assert sorted(set(tmp_path.rglob("*")) - before) == []


def test_a_plugin_task_name_that_leads_outside_the_output_folder_is_refused(tmp_path, capsys, plugin):
    plugin.TASK_NAMES[:] = ["../escaped"]
    before = set(tmp_path.rglob("*"))
    assert _run(tmp_path, "../escaped") == 2
    err = capsys.readouterr().err
    assert "outside the output folder" in err and str((tmp_path / "out").resolve()) in err
    assert _files_outside(tmp_path, before) == [] and not (tmp_path / "escaped").exists()


def test_a_results_file_linked_outside_the_output_folder_is_not_written_through(tmp_path, capsys, plugin):
    """A link planted in the run folder (here while the task runs) cannot send the results elsewhere."""
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text("keep")
    plugin.HOOKS.append(lambda ctx: (ctx.run_dir / "results.json").symlink_to(elsewhere))
    assert _run(tmp_path) == 2
    err = capsys.readouterr().err
    assert "results.json resolves to" in err and "outside the output folder" in err
    assert elsewhere.read_text() == "keep"


def _replace_by_a_file(ctx) -> None:
    shutil.rmtree(ctx.run_dir)
    ctx.run_dir.write_text("not a folder any more")


def _deny_writes(ctx) -> None:
    """As ``chmod a-w`` on the run folder for a user other than root (tests run as root, whom
    permissions do not stop): every file created or removed in it fails with EACCES."""
    import os

    import tempvl_core.atomic as atomic

    folder = str(ctx.run_dir)
    real_mkstemp, real_unlink, real_rmdir = atomic.open_temp, Path.unlink, Path.rmdir

    def denied(path):
        if str(path).startswith(folder):
            raise PermissionError(13, os.strerror(13), str(path))

    def mkstemp(path):
        denied(Path(path).parent)
        return real_mkstemp(path)

    def unlink(self, *args, **kwargs):
        denied(self)
        return real_unlink(self, *args, **kwargs)

    def rmdir(self):
        denied(self)
        return real_rmdir(self)

    ctx.test_patch.setattr(atomic, "open_temp", mkstemp)
    ctx.test_patch.setattr(Path, "unlink", unlink)
    ctx.test_patch.setattr(Path, "rmdir", rmdir)


@pytest.mark.parametrize("breaks, expected", [(_replace_by_a_file, "File exists"), (_deny_writes, "Permission denied")],
                         ids=["replaced by a file", "unwritable"])
def test_a_run_folder_that_breaks_mid_run_is_the_error_reported(tmp_path, capsys, monkeypatch, plugin, breaks,
                                                                  expected):
    def hook(ctx):
        ctx.test_patch = monkeypatch
        breaks(ctx)
        hook.run_dir = ctx.run_dir

    plugin.HOOKS.append(hook)
    assert _run(tmp_path) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"tempvl-bench: error: {hook.run_dir}"), err
    assert expected in err and "run.json" not in err, err


def test_a_resumed_run_folder_holding_a_link_that_leads_outside_is_refused(tmp_path, capsys, plugin):
    """A finetuning state folder linked elsewhere would be written through by --resume."""
    def stop(ctx):
        (ctx.run_dir / "partial").write_text("kept, so the folder is kept for --resume")
        raise KeyboardInterrupt

    plugin.HOOKS.append(stop)
    assert _run(tmp_path) == 130
    (run_dir,) = (tmp_path / "out" / "probe").iterdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (run_dir / "finetune").symlink_to(elsewhere, target_is_directory=True)
    plugin.HOOKS.clear()
    assert main(["-p", "probe_plugin", "run", "--task", "probe", "--output", str(tmp_path / "out"), "--data-root",
                 str(tmp_path / "data"), "--no-progress", "--device", "cpu", "--resume"]) == 2
    err = capsys.readouterr().err
    assert f"{run_dir / 'finetune'} resolves to {elsewhere}, outside the output folder" in err, err
    assert list(elsewhere.iterdir()) == [] and not (run_dir / "results.json").exists()


@pytest.mark.parametrize("write", ["json", "jsonl"])
def test_a_failed_atomic_write_reports_its_own_error_not_the_cleanups(tmp_path, monkeypatch, write):
    """The rename fails (the folder became unwritable); removing the temporary file fails too:
    the rename's error is the one raised."""
    import os

    from tempvl_bench.report.results import write_json_atomic, write_jsonl_atomic

    target = tmp_path / "results.json"

    def replace(src, dst):
        raise PermissionError(13, "Permission denied", str(dst))

    def unlink(self, missing_ok=False):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(Path, "unlink", unlink)
    with pytest.raises(PermissionError) as raised:
        if write == "json":
            write_json_atomic(target, {"a": 1})
        else:
            write_jsonl_atomic(target, [{"a": 1}])
    assert raised.value.filename == str(target)
