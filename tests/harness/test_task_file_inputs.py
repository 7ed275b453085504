"""Bad task files are refused when the file is read, by ``validate`` as by ``run`` (before any
video), with exit 2 and one message naming the file and the key or line; never a traceback.

The fuzz table mutates the built-in DiDeMo task (text and parsed mapping) in the ways a user or
an adversary would; every mutation must be refused this way.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tempvl_bench.cli.app import main
from tempvl_bench.config import ConfigError, builtin_task_file, load_task_config
from tempvl_core.safe_yaml import read_yaml
from tempvl_core.train.config import PretrainConfig

DIDEMO = builtin_task_file("didemo").read_text(encoding="utf-8")


def _mine(text: str = DIDEMO) -> str:
    return text.replace("name: didemo\n", "name: my-didemo\n").replace("groups: [retrieval]", "groups: []")


def _validate(path: Path, capsys) -> tuple[int, str]:
    code = main(["validate", "--task", str(path), "--demo"])
    return code, capsys.readouterr().err


def _refused(path: Path, capsys, *fragments: str) -> str:
    code, err = _validate(path, capsys)
    assert code == 2, err
    assert str(path.name) in err and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, err
    return err


def test_a_duplicate_key_is_refused_naming_the_key_and_both_lines(tmp_path, capsys):
    path = tmp_path / "dup.yaml"
    path.write_text(_mine().replace("  num_frames: 8\n", "  num_frames: 8\n  num_frames: 2\n"))
    line = path.read_text().splitlines().index("  num_frames: 2") + 1
    _refused(path, capsys, f"line {line}: key 'num_frames' given twice in one mapping (first on line {line - 1})")
    # at the top level and inside a flow mapping too
    path.write_text(_mine() + "primary_metric: t2v/R@5\n")
    _refused(path, capsys, "key 'primary_metric' given twice")
    path.write_text(_mine().replace("options:\n  protocol: square", "options: {protocol: square, protocol: square}\n#"))
    _refused(path, capsys, "key 'protocol' given twice")


def test_a_yaml_alias_bomb_is_refused_before_it_expands(tmp_path, capsys):
    bomb = ["model:", "  preset: tiny", "  overrides:", "    a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    bomb += [f"    a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]"
             for i in range(1, 12)]
    path = tmp_path / "bomb.yaml"
    path.write_text(_mine().split("model:")[0] + "\n".join(bomb) + "\nmetrics: [t2v/R@1]\nprimary_metric: t2v/R@1\n")
    _refused(path, capsys, "alias '*a0' refused")


def test_a_file_that_is_not_utf8_names_the_file_and_the_line(tmp_path, capsys):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(_mine().replace("DiDeMo paragraph-to-video retrieval (test",
                                     "DiDeMo caf\u00e9 retrieval (test").encode("latin-1"))
    _refused(path, capsys, "is not UTF-8 text (byte 0xe9", "line 7")


def test_more_frames_than_the_model_holds_names_the_file_and_the_key(tmp_path, capsys):
    path = tmp_path / "frames.yaml"
    path.write_text(_mine().replace("    size: 64\n", "    size: 64\n    num_frames: 40\n"))
    _refused(path, capsys, "key 'video.num_frames'", "num_frames=40 exceeds max_frames=32")
    path.write_text(_mine().replace("    backbone: cnn-tiny\n", "    backbone: cnn-tiny\n    overrides: {max_frames: 4}\n"))
    _refused(path, capsys, "key 'video.num_frames'", "exceeds max_frames=4")
    path.write_text(_mine().replace("    backbone: cnn-tiny\n", "    backbone: cnn-tiny\n    overrides: {max_frame: 4}\n"))
    _refused(path, capsys, "key 'model.overrides.max_frame': not a model setting. Did you mean 'max_frames'?")


@pytest.mark.parametrize("change, fragments", [
    (("protocol: square", "protocol: squares"), ("key 'options.protocol'", "'square'")),
    (("protocol: square", "protocol: square\n  temperature: 2"), ("key 'options.temperature': unknown key",)),
    (("t2v/MnR, v2t/R@1", "t2v/MnR, t2v/R@50, v2t/R@1"), ("key 'metrics'", "does not compute t2v/R@50")),
    (("t2v/MnR, v2t/R@1", "t2v/MnR, mr/R1@0.5, v2t/R@1"), ("key 'metrics'", "does not compute mr/R1@0.5")),
], ids=["protocol", "unknown-option", "unknown-metric", "other-familys-metric"])
def test_validate_checks_what_run_checks_and_run_checks_it_before_any_video(tmp_path, capsys, change, fragments):
    path = tmp_path / "mine.yaml"
    path.write_text(_mine().replace(*change))
    _refused(path, capsys, *fragments)
    output = tmp_path / "out"
    code = main(["run", "--task", str(path), "--demo", "--output", str(output), "--no-progress", "--no-cache"])
    err = capsys.readouterr().err
    assert code == 2 and all(f in err for f in fragments) and "Traceback" not in err, err
    assert not output.exists()  # refused before the run folder, let alone a video


def test_metrics_may_list_a_subset_and_results_hold_the_full_set(tmp_path, capsys):
    path = tmp_path / "subset.yaml"
    path.write_text(_mine().replace("metrics: [t2v/R@1, t2v/R@5, t2v/R@10, t2v/MdR, t2v/MnR, v2t/R@1, v2t/R@5, "
                                    "v2t/R@10, v2t/MdR, v2t/MnR]", "metrics: [t2v/R@5, t2v/R@1]"))
    assert main(["validate", "--task", str(path), "--demo"]) == 0
    output = tmp_path / "out"
    assert main(["run", "--task", str(path), "--demo", "--limit", "4", "--set", "video.num_frames=2", "--output",
                 str(output), "--no-progress", "--no-cache"]) == 0
    (results,) = output.glob("my-didemo/*/results.json")
    metrics = json.loads(results.read_text())["metrics"]
    assert list(metrics)[:2] == ["t2v/R@5", "t2v/R@1"]  # the listed ones first, in the file's order
    assert len(metrics) == 10 and "v2t/MnR" in metrics


def test_a_model_too_big_for_memory_is_refused_naming_the_file(tmp_path, capsys):
    path = tmp_path / "huge.yaml"
    path.write_text(_mine().replace("    backbone: cnn-tiny\n", "    backbone: cnn-tiny\n    overrides: {max_frames: 100000000}\n"))
    code = main(["run", "--task", str(path), "--demo", "--limit", "2", "--output", str(tmp_path / "out"),
                 "--no-progress", "--no-cache"])
    err = capsys.readouterr().err
    assert code == 2 and "huge.yaml: key 'model'" in err and "does not fit in memory" in err, err
    assert "Traceback" not in err


def test_every_yaml_reader_refuses_duplicates_and_aliases(tmp_path):
    from tempvl_bench.study.config import StudyConfigError, load_study_config

    dup = tmp_path / "dup.yaml"
    dup.write_text("training:\n  steps: 2\n  steps: 3\n")
    with pytest.raises(ConfigError, match="dup.yaml: line 3: key 'steps' given twice"):
        PretrainConfig.from_yaml(dup)
    with pytest.raises(StudyConfigError, match="dup.yaml: line 3: key 'steps' given twice"):
        load_study_config(dup)
    alias = tmp_path / "alias.yaml"
    alias.write_text("model: &m {preset: tiny}\ntraining: *m\n")
    with pytest.raises(ConfigError, match="alias.yaml: line 2: alias"):
        PretrainConfig.from_yaml(alias)
    with pytest.raises(ConfigError, match="--set 'model.overrides=.*alias"):
        load_task_config(builtin_task_file("didemo"), overrides=["model.overrides={a: &x 1, b: *x}"])
    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match="deep.yaml: not valid YAML"):
        read_yaml(deep)
    with pytest.raises(ConfigError, match=r"--set 'model.overrides=.*': line 1: key 'a' given twice"):
        load_task_config(builtin_task_file("didemo"), overrides=["model.overrides={a: 1, a: 2}"])
    with pytest.raises(ConfigError, match=r"--set 'a=.*: the value is not valid YAML: nested too deeply"):
        load_task_config(builtin_task_file("didemo"), overrides=["a=" + "[" * 5000 + "]" * 5000])


def test_task_files_and_pretraining_configs_report_broken_yaml_alike(tmp_path):
    """One reader (tempvl_core.safe_yaml) behind both: the same file, line and column."""
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nvideo: [1, 2\n")
    messages = []
    for load in (load_task_config, PretrainConfig.from_yaml):
        with pytest.raises(ConfigError) as caught:
            load(broken)
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    assert messages[0].startswith(f"{broken}: not valid YAML: line 3, column 1: ")


# --- the fuzz table: mutations of a valid task file, each refused with exit 2 and the file named.

def _set(path: str, value):
    def apply(raw: dict) -> None:
        node = raw
        *parents, last = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return apply


def _drop(key: str):
    return lambda raw: raw.pop(key)


MAPPING_MUTATIONS = {
    "num_frames-zero": _set("video.num_frames", 0),
    "num_frames-negative": _set("video.num_frames", -3),
    "num_frames-string": _set("video.num_frames", "8"),
    "num_frames-float": _set("video.num_frames", 8.5),
    "num_frames-huge": _set("video.num_frames", 10**400),
    "num_frames-bool": _set("video.num_frames", True),
    "num_frames-over-max": _set("demo.video.num_frames", 33),
    "size-zero": _set("video.size", 0),
    "size-list": _set("video.size", [64]),
    "fps-inf": _set("video.fps", float("inf")),
    "fps-nan": _set("video.fps", float("nan")),
    "fps-negative": _set("video.fps", -1.0),
    "sampling-unknown": _set("video.sampling", "random-ish"),
    "failed-fraction": _set("video.max_failed_fraction", 2),
    "lr-zero": _set("finetune.lr", 0),
    "lr-huge": _set("finetune.lr", 1e400),
    "epochs-string": _set("finetune.epochs", "five"),
    "batch-null": _set("batch.eval", None),
    "preset-unknown": _set("demo.model.preset", "huge"),
    "overrides-list": _set("model.overrides", [1, 2]),
    "overrides-unknown": _set("demo.model.overrides", {"num_layers": 3}),
    "overrides-type": _set("demo.model.overrides", {"video_dim": "wide"}),
    "overrides-huge": _set("demo.model.overrides", {"max_frames": 10**400}),
    "overrides-negative": _set("demo.model.overrides", {"temporal_layers": -1}),
    "overrides-string-number": _set("demo.model.overrides", {"num_frames": "8"}),
    "overrides-float-for-int": _set("demo.model.overrides", {"max_frames": 1e400}),
    "overrides-loss-weights-list": _set("demo.model.overrides", {"loss_weights": [1]}),
    "metrics-empty": _set("metrics", []),
    "metrics-string": _set("metrics", "t2v/R@1"),
    "metrics-repeated": _set("metrics", ["t2v/R@1", "t2v/R@1"]),
    "metrics-foreign": _set("metrics", ["t2v/R@1", "cap/CIDEr"]),
    "metrics-number": _set("metrics", ["t2v/R@1", 5]),
    "primary-not-listed": _set("primary_metric", "v2t/R@50"),
    "options-protocol": _set("options.protocol", "cube"),
    "options-unknown": _set("options.nms", 0.5),
    "options-list": _set("options", ["protocol"]),
    "paths-missing": _drop("paths"),
    "name-missing": _drop("name"),
    "unknown-top-key": _set("vidoe", {"size": 1}),
    "unknown-nested-key": _set("video.frames", 8),
    "splits-number": _set("splits.eval", 3),
    "demo-list": _set("demo", [1]),
    "family-unknown": _set("family", "segmentation"),
    "hflip-string": _set("video.hflip", "no"),
}

TEXT_MUTATIONS = {
    "duplicate-top": lambda t: t + "name: again\n",
    "duplicate-nested": lambda t: t.replace("  eval: 64\n", "  eval: 64\n  eval: 8\n"),
    "duplicate-demo": lambda t: t.replace("    epochs: 12\n", "    epochs: 12\n    epochs: 1\n"),
    "duplicate-flow": lambda t: t.replace("groups: []", "groups: []\nx: {a: 1, a: 2}"),
    "alias": lambda t: t.replace("  preset: base", "  preset: &p base\n  backbone_alias: *p"),
    "merge-alias": lambda t: t.replace("video:\n", "video: &v\n") + "extra:\n  <<: *v\n",
    "unclosed": lambda t: t.replace("groups: []", "groups: [unclosed"),
    "tab-indent": lambda t: t.replace("  num_frames: 8", "\tnum_frames: 8"),
    "top-level-list": lambda t: "- a\n- b\n",
    "top-level-scalar": lambda t: "just words\n",
    "empty": lambda t: "",
    "python-tag": lambda t: t.replace("  preset: base", "  preset: !!python/object/apply:os.system [echo hi]"),
    "deep-nesting": lambda t: t + "deep: " + "[" * 3000 + "]" * 3000 + "\n",
    "nul-byte": lambda t: t.replace("name: my-didemo", "name: my-\x00didemo"),
    "unhashable-key": lambda t: t + "? [a, b]\n: 1\n",
}

BYTE_MUTATIONS = {
    "latin1": lambda b: b.replace(b"paragraph", b"p\xe9ragraph"),
    "utf16": lambda b: b.decode().encode("utf-16"),
    "truncated-utf8": lambda b: b + b"\xe2\x82",
    "random-bytes": lambda b: bytes(range(256)) * 4,
}


def _mutated(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    if name in MAPPING_MUTATIONS:
        raw = yaml.safe_load(_mine())
        MAPPING_MUTATIONS[name](raw)
        path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    elif name in TEXT_MUTATIONS:
        path.write_text(TEXT_MUTATIONS[name](_mine()))
    else:
        path.write_bytes(BYTE_MUTATIONS[name](_mine().encode()))
    return path


@pytest.mark.parametrize("name", [*MAPPING_MUTATIONS, *TEXT_MUTATIONS, *BYTE_MUTATIONS])
def test_fuzz_every_bad_task_file_is_exit_2_naming_the_file(tmp_path, capsys, name):
    path = _mutated(tmp_path, name)
    code, err = _validate(path, capsys)
    assert code == 2, err
    assert path.name in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 3, err


def test_fuzz_control_the_unmutated_file_validates(tmp_path, capsys):
    path = tmp_path / "mine.yaml"
    path.write_text(_mine())
    assert _validate(path, capsys)[0] == 0


def test_validate_takes_set_as_run_does(capsys):
    assert main(["validate", "--task", "didemo", "--demo", "--set", "video.num_frames=64"]) == 2
    err = capsys.readouterr().err
    assert "didemo.yaml: key 'video.num_frames' (set with --set)" in err and "exceeds max_frames=32" in err
