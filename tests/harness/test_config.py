from pathlib import Path

import pytest

from tempvl_bench.config import ConfigError, builtin_task_file, load_task_config

MINIMAL = """
name: toy
family: retrieval
plugin: retrieval
dataset: didemo
paths: {annotations: didemo, videos: didemo/videos}
metrics: [t2v/R@1]
primary_metric: t2v/R@1
video: {num_frames: 8, size: 224}
demo: {video: {size: 64}}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "toy.yaml"
    path.write_text(text)
    return path


def test_builtin_didemo_task_parses_and_demo_section_merges():
    config = load_task_config(builtin_task_file("didemo"))
    assert config.name == "didemo" and config.video.size == 224 and config.model.preset == "base"
    demo = load_task_config(builtin_task_file("didemo"), demo=True)
    assert demo.video.size == 64 and demo.model.preset == "tiny" and demo.video.num_frames == 8


def test_set_overrides_parse_yaml_values(tmp_path):
    config = load_task_config(_write(tmp_path, MINIMAL), overrides=["video.num_frames=4", "finetune.lr=3e-4", "model.pretrained=/w.pth"])
    assert config.video.num_frames == 4
    assert config.finetune.lr == pytest.approx(3e-4)
    assert config.model.pretrained == "/w.pth"


def test_wrong_type_names_file_key_and_expectation(tmp_path):
    path = _write(tmp_path, MINIMAL.replace("num_frames: 8", "num_frames: eight"))
    with pytest.raises(ConfigError) as err:
        load_task_config(path)
    message = str(err.value)
    assert str(path) in message and "'video.num_frames'" in message and "expected an integer" in message


def test_unknown_key_suggests_the_right_one(tmp_path):
    path = _write(tmp_path, MINIMAL + "finetune: {epoch: 3}\n")
    with pytest.raises(ConfigError, match=r"'finetune.epoch': unknown key. Did you mean 'epochs'\?"):
        load_task_config(path)


def test_missing_required_key(tmp_path):
    path = _write(tmp_path, MINIMAL.replace("primary_metric: t2v/R@1\n", ""))
    with pytest.raises(ConfigError, match="'primary_metric': required key is missing"):
        load_task_config(path)


def test_bad_override_is_reported_as_coming_from_set(tmp_path):
    path = _write(tmp_path, MINIMAL)
    with pytest.raises(ConfigError, match=r"'video.size' \(set with --set\): expected an integer"):
        load_task_config(path, overrides=["video.size=big"])
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load_task_config(path, overrides=["video.size"])


def test_invalid_yaml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_task_config(_write(tmp_path, "name: [unclosed"))
    with pytest.raises(ConfigError, match="task file not found"):
        load_task_config(tmp_path / "nope.yaml")


def test_bool_is_not_an_int(tmp_path):
    with pytest.raises(ConfigError, match="expected an integer, got True"):
        load_task_config(_write(tmp_path, MINIMAL), overrides=["video.num_frames=true"])
