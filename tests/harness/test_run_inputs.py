"""``run`` refuses what it cannot honour and ``--resume`` never returns a run made from other inputs.

Most tests use a probe task registered by a plugin module given with ``-p`` (a real CLI
invocation through the real runner): its family only counts calls and builds no model, so
each test runs in milliseconds. The tests that need the model use the built-in demo DiDeMo.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from plugin_helpers import install_probe

from tempvl_bench.cli.app import main

PROBE_MODULE = '''
"""A task that records each time it really runs, and a second name for the MiniLM encoder."""
from pathlib import Path

from tempvl_bench.api import Scores, Split, TaskFamily, TaskSpec, TextEncoderSpec, hookimpl

CALLS = []
TASK_FILE = Path(__file__).with_name("probe.yaml")


class Probe(TaskFamily):
    """Counts the runs that really happen. It reads no video and builds no model: these tests
    are about a run's inputs, and some name a checkpoint file that holds no weights."""

    baselines_use_train = False

    def load(self, ctx, split):
        ctx.model = lambda: None  # what the harness calls for the model after this step
        return Split(split, ["record"])

    def predict(self, ctx, model, evaluation, train):
        CALLS.append(ctx.run_dir)
        return [{"video_id": "v", "rank": 1}]

    def score(self, ctx, evaluation, rows):
        return Scores({"t2v/R@1": 50.0}, len(rows), rows)


@hookimpl
def tempvl_bench_register_tasks(registry):
    registry.register(TaskSpec("probe", TASK_FILE, Probe))


@hookimpl
def tempvl_bench_register_text_encoders(registry):
    from tempvl_core.model.text_encoder import default_text_encoder_path

    registry.register(TextEncoderSpec("minilm-alias", default_text_encoder_path, "MiniLM under another name"))
'''



@pytest.fixture(scope="module")
def demo_root() -> Path:
    from tempvl_core.data.demo import ensure_demo_dataset

    return Path(ensure_demo_dataset("didemo"))


@pytest.fixture
def probe(tmp_path, monkeypatch):
    """The probe plugin importable as ``probe_plugin``, a data root with the demo annotations
    (no videos: the probe never reads them) and a ``run(*args)`` helper."""
    module = install_probe(tmp_path, monkeypatch, PROBE_MODULE)
    data = tmp_path / "data"
    output = tmp_path / "out"

    class Probe:
        calls = module.CALLS
        data_root = data
        out = output

        @staticmethod
        def run(*extra: str) -> int:
            return main(["-p", "probe_plugin", "run", "--task", "probe", "--output", str(output), "--data-root",
                         str(data), "--no-progress", "--device", "cpu", *extra])

    return Probe


def _results(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("probe/*/results.json"))]


def _other_data_root(probe) -> list[str]:
    other = probe.data_root.with_name("data-copy")
    shutil.copytree(probe.data_root, other)
    return ["--data-root", str(other)]


def _edit_annotations(probe) -> list[str]:
    path = probe.data_root / "didemo" / "test_data.json"
    records = json.loads(path.read_text())
    records[0]["description"] = "a different description"
    path.write_text(json.dumps(records))
    return []


def _other_code(probe, monkeypatch) -> list[str]:
    import tempvl_bench.run.fingerprint as fingerprint

    real = fingerprint.code_version
    monkeypatch.setattr(fingerprint, "code_version", lambda: real() | {"source_sha256": "edited"})
    return []


def _checkpoint_args(probe) -> list[str]:
    folder = probe.data_root.parent / "ckpt"
    folder.mkdir(exist_ok=True)
    (folder / "model.safetensors").write_bytes(b"weights A")
    return ["--checkpoint", str(folder)]


def _changed_checkpoint(probe) -> list[str]:
    args = _checkpoint_args(probe)
    (Path(args[1]) / "model.safetensors").write_bytes(b"weights B")  # same path, other weights
    return args


def _video_args(probe) -> list[str]:
    """A real demo video in the probe's video folder before the first run."""
    videos = probe.data_root / "didemo" / "videos"
    videos.mkdir(exist_ok=True)
    shutil.copy(sorted((_demo_videos()).iterdir())[0], videos / "clip.mp4")
    return []


def _demo_videos() -> Path:
    from tempvl_core.data.demo import ensure_demo_dataset

    return Path(ensure_demo_dataset("didemo")) / "didemo" / "videos"


def _replaced_video(probe) -> list[str]:
    """Another video written to a new file, then moved over the old one (as a re-download does)."""
    target = probe.data_root / "didemo" / "videos" / "clip.mp4"
    new = target.with_name("clip.mp4.part")
    shutil.copy(sorted(_demo_videos().iterdir())[1], new)
    os.replace(new, target)
    return []


def _touched_video(probe) -> list[str]:
    """The same size and bytes, another modification time (one microsecond later)."""
    target = probe.data_root / "didemo" / "videos" / "clip.mp4"
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1000))
    return []


def _prepared_video(probe) -> list[str]:
    prepared = probe.data_root / "didemo" / "videos_prepared"
    prepared.mkdir()
    shutil.copy(probe.data_root / "didemo" / "videos" / "clip.mp4", prepared / "clip.mp4")
    return []


# (name, arguments of the first run, how the second run differs)
FIELDS = [
    ("config", [], lambda probe, mp: ["--set", "video.num_frames=4"]),
    ("video substitutes", [], lambda probe, mp: ["--set", "video.allow_substitutes=true"]),
    ("data root", [], lambda probe, mp: _other_data_root(probe)),
    ("annotation file", [], lambda probe, mp: _edit_annotations(probe)),
    ("checkpoint", "checkpoint", lambda probe, mp: _changed_checkpoint(probe)),
    ("backbone", [], lambda probe, mp: ["--backbone", "vit-tiny"]),
    ("text encoder", [], lambda probe, mp: ["--text-encoder", "minilm-alias"]),
    ("seed", [], lambda probe, mp: ["--seed", "1"]),
    ("limit", [], lambda probe, mp: ["--limit", "4"]),
    ("device", [], lambda probe, mp: ["--device", "cuda"]),  # the probe never touches the device
    ("code version", [], lambda probe, mp: _other_code(probe, mp)),
    ("video replaced", "video", lambda probe, mp: _replaced_video(probe)),
    ("video modified", "video", lambda probe, mp: _touched_video(probe)),
    ("prepared video", "video", lambda probe, mp: _prepared_video(probe)),
]


@pytest.mark.parametrize("name, first, change", FIELDS, ids=[f[0] for f in FIELDS])
def test_resume_reuses_a_run_only_when_every_input_is_the_same(probe, monkeypatch, capsys, name, first, change):
    first = {"checkpoint": _checkpoint_args, "video": _video_args}[first](probe) if isinstance(first, str) else first
    assert probe.run(*first) == 0
    assert probe.run(*first, "--resume") == 0
    assert "already complete" in capsys.readouterr().out and len(probe.calls) == 1

    changed = change(probe, monkeypatch)
    assert probe.run(*first, *changed, "--resume") == 0
    assert "already complete" not in capsys.readouterr().out, f"a run with another {name} was reused"
    assert len(probe.calls) == 2 and len(_results(probe.out)) == 2
    # ... and that new run is what --resume finds next time.
    assert probe.run(*first, *changed, "--resume") == 0
    assert "already complete" in capsys.readouterr().out and len(probe.calls) == 2


def test_run_folder_records_its_inputs(probe):
    assert probe.run("--seed", "3") == 0
    (run_dir,) = probe.out.glob("probe/*")
    inputs = json.loads((run_dir / "run.json").read_text())
    assert inputs["seed"] == 3 and inputs["text_encoder"] == "minilm" and inputs["limit"] is None
    assert inputs["data_root"] == str(probe.data_root.resolve())
    assert sorted(inputs["annotation_sha256"]) == sorted(p.name for p in (probe.data_root / "didemo").iterdir())
    assert set(inputs["code"]) == {"version", "source_sha256", "packages"} and "torch" in inputs["code"]["packages"]


def test_checkpoint_hash_describes_the_file_that_is_loaded(probe, capsys):
    folder = probe.data_root.parent / "ckpt"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"the weights")
    (folder / "evil.pt").write_bytes(b"something else")
    assert probe.run("--checkpoint", str(folder / "evil.pt")) == 2
    err = capsys.readouterr().err
    assert f"--checkpoint {folder / 'evil.pt'}" in err and "model.safetensors" in err
    assert not probe.out.exists() and probe.calls == []

    import hashlib

    for given in (folder, folder / "model.safetensors"):
        seed = len(probe.calls)
        assert probe.run("--checkpoint", str(given), "--seed", str(seed)) == 0
        # Run folders are named by time: two runs in one second need not sort in run order.
        (record,) = [r for r in _results(probe.out) if r["seed"] == seed]
        assert record["checkpoint"] == str(given)
        assert record["checkpoint_file"] == str((folder / "model.safetensors").resolve())
        assert record["checkpoint_sha256"] == hashlib.sha256(b"the weights").hexdigest()


def test_demo_and_data_root_together_are_refused(probe, capsys):
    assert probe.run("--demo") == 2
    err = capsys.readouterr().err
    assert "--demo and --data-root" in err and "Pass only one" in err
    assert probe.calls == [] and not probe.out.exists()


def test_negative_limit_is_refused(probe, capsys):
    with pytest.raises(SystemExit) as exit_info:
        probe.run("--limit", "-1")
    assert exit_info.value.code == 2
    assert "--limit: expected a positive integer, got -1" in capsys.readouterr().err
    from tempvl_bench.plugin.manager import load_plugins
    from tempvl_bench.run.runner import run_task
    from tempvl_bench.run.types import RunError, RunOptions

    with pytest.raises(RunError, match="--limit 0: expected a positive number"):
        run_task(load_plugins(["probe_plugin"]), "probe", RunOptions(limit=0, data_root=probe.data_root))
    assert probe.calls == []


def test_output_that_is_a_file_is_an_error_not_a_traceback(probe, capsys):
    probe.out.write_text("not a folder")
    assert probe.run() == 2
    err = capsys.readouterr().err
    assert f"--output {probe.out}: is a file" in err and "Traceback" not in err


def _listed(lines: str) -> set[str]:
    """The first column of ``list tasks`` (the task names), header and rule left out."""
    names = {line.split()[0] for line in lines.splitlines() if line.strip()}
    return {n for n in names if n != "task" and set(n) != {"-"}}


def _plugin_option_is_applied(cli) -> None:
    """``-p no:retrieval`` before or after the subcommand removes exactly the retrieval plugin's
    tasks, whatever other plugins are installed (compared by name, never by substring)."""
    everything, before, after = cli("list", "tasks"), cli("-p", "no:retrieval", "list", "tasks"), cli(
        "list", "tasks", "-p", "no:retrieval")
    retrieval = {"didemo", "msrvtt", "msvd", "lsmdc", "activitynet-ret"}
    assert retrieval <= everything and "charades-sta" in everything
    assert before == after == everything - retrieval


def test_plugin_option_before_the_subcommand_is_applied(capsys):
    def cli(*args: str) -> set[str]:
        assert main(list(args)) == 0
        return _listed(capsys.readouterr().out)

    _plugin_option_is_applied(cli)


PAIRS_PLUGIN = '''
from pathlib import Path

from tempvl_bench.api import TaskSpec, builtin_task_file, hookimpl


@hookimpl
def tempvl_bench_register_tasks(registry):
    registry.register(TaskSpec("didemo-pairs", builtin_task_file("didemo"), "pairs_plugin:nothing",
                               plugin="pairs"))
'''


def test_plugin_option_test_holds_with_another_didemo_task_installed(tmp_path):
    """The README's example plugin registers ``didemo-pairs``; with such a plugin installed (an
    entry point of the ``tempvl_bench`` group, as pip writes it) the check above still holds."""
    from plugin_helpers import cli_with_site

    (tmp_path / "pairs_plugin.py").write_text(PAIRS_PLUGIN)
    dist = tmp_path / "pairs_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pairs-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[tempvl_bench]\npairs = pairs_plugin\n")

    def cli(*args: str) -> set[str]:
        out = cli_with_site(tmp_path, *args)
        assert out.returncode == 0, out.stderr
        return _listed(out.stdout)

    assert "didemo-pairs" in cli("list", "tasks")
    _plugin_option_is_applied(cli)


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_outputs_follow_the_umask(probe, umask):
    old = os.umask(umask)
    try:
        assert probe.run() == 0
    finally:
        os.umask(old)
    (run_dir,) = probe.out.glob("probe/*")
    for name in ("results.json", "predictions.jsonl", "run.json"):
        assert stat.S_IMODE((run_dir / name).stat().st_mode) == 0o666 & ~umask, name


def test_a_refused_run_leaves_no_run_folder(demo_root, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["run", "--task", "didemo", "--demo", "--output", str(out), "--limit", "2", "--no-progress"]
    assert main([*args, "--set", "options.protocl=multi-caption"]) == 2
    err = capsys.readouterr().err
    assert "key 'options.protocl' (set with --set): unknown key. Did you mean 'protocol'?" in err
    assert not out.exists()
    out.mkdir()
    assert main([*args, "--set", "options.protocol=paragraph"]) == 2
    assert "expected one of 'square', 'multi-caption'" in capsys.readouterr().err
    assert list(out.iterdir()) == []  # the folder the user made stays, empty


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    from tempvl_bench.config import builtin_task_file, load_task_config
    from tempvl_bench.plugin.manager import load_plugins
    from tempvl_bench.run.modeling import build_model_factory

    config = load_task_config(builtin_task_file("didemo"), demo=True, overrides=["video.num_frames=4"])
    model = build_model_factory(load_plugins(), config, "cnn-tiny", "minilm", None, "cpu")()
    folder = tmp_path_factory.mktemp("ckpt") / "tempvl"
    model.save_pretrained(folder)
    return folder


def _tampered_header(folder: Path) -> None:
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[8:16] = b'{"x":[1'  # the JSON header no longer parses
    weights.write_bytes(bytes(data))


def _other_sizes(folder: Path) -> None:
    config = json.loads((folder / "config.json").read_text())
    config["embed_dim"] = 128  # the model built from it has other projection sizes
    (folder / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize("damage, expected", [(_tampered_header, "not a readable safetensors file"),
                                              (_other_sizes, "does not match the model")])
def test_a_damaged_checkpoint_is_an_error_naming_it(tiny_checkpoint, tmp_path, capsys, damage, expected):
    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, folder)
    damage(folder)
    args = ["run", "--task", "didemo", "--demo", "--limit", "2", "--output", str(tmp_path / "out"),
            "--checkpoint", str(folder), "--set", "video.num_frames=4", "--no-progress"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert str(folder / "model.safetensors") in err and expected in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_didemo_with_another_text_encoder_is_not_the_cached_run(tmp_path, probe, capsys):
    """The issue's case on the real task: the second command must evaluate, not skip."""
    args = ["-p", "probe_plugin", "run", "--task", "didemo", "--demo", "--limit", "8", "--output", str(tmp_path / "o"),
            "--set", "video.num_frames=4", "--no-progress"]
    assert main(args) == 0
    assert main([*args, "--text-encoder", "minilm-alias", "--resume"]) == 0
    assert "already complete" not in capsys.readouterr().out
    records = [json.loads(p.read_text()) for p in sorted((tmp_path / "o").glob("didemo/*/results.json"))]
    assert sorted(r["text_encoder"] for r in records) == ["minilm", "minilm-alias"]


@pytest.mark.parametrize("command, flag, kind", [
    (["check-videos", "--task", "didemo", "--demo"], "--output", "folder"),
    (["prepare-videos", "--task", "didemo", "--demo"], "--output", "file"),
    (["pretrain", "--config", "configs/pretrain/demo.yaml", "--demo"], "--output", "file"),
    (["validate", "--task", "didemo", "--demo"], "--data-root", "demo"),
    (["pretrain", "--config", "configs/pretrain/demo.yaml", "--demo"], "--data-root", "demo"),
])
def test_other_commands_refuse_a_wrong_output_or_demo_with_a_data_root(tmp_path, capsys, monkeypatch, command, flag,
                                                                       kind):
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    target = tmp_path / "existing"
    if kind == "file":
        target.write_text("x")
    else:
        target.mkdir()
    assert main([*command, flag, str(target)]) == 2
    err = capsys.readouterr().err
    expected = {"file": f"--output {target}: is a file", "folder": f"--output {target}: is a folder",
                "demo": f"--demo and --data-root {target}"}[kind]
    assert expected in err and "Traceback" not in err


@pytest.mark.parametrize("damage", ['{"task": "probe", "metr', "", "[]"], ids=["truncated", "empty", "not an object"])
def test_resume_computes_a_run_again_whose_results_file_is_damaged_and_says_why(probe, capsys, damage):
    assert probe.run() == 0
    (results,) = probe.out.glob("probe/*/results.json")
    results.write_text(damage)
    capsys.readouterr()
    assert probe.run("--resume") == 0
    captured = capsys.readouterr()
    assert "already complete" not in captured.out
    (line,) = [line for line in captured.out.splitlines() if "--resume" in line]
    assert line.startswith(f"probe: --resume: {results}: ") and line.endswith("computing the run again")
    assert len(probe.calls) == 2 and probe.calls[1] == results.parent  # the same folder, computed again
    assert json.loads(results.read_text())["metrics"] == {"t2v/R@1": 50.0}
