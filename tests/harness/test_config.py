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


@pytest.mark.parametrize(
    "override, key, expected",
    [
        ("video.num_frames=-3", "video.num_frames", "expected a value >= 1, got -3"),
        ("video.num_frames=0", "video.num_frames", "expected a value >= 1, got 0"),
        ("finetune.epochs=-1", "finetune.epochs", "expected a value >= 1, got -1"),
        ("video.max_failed_fraction=-1", "video.max_failed_fraction", "expected a value >= 0 and <= 1, got -1"),
        ("video.max_failed_fraction=1.5", "video.max_failed_fraction", "expected a value >= 0 and <= 1, got 1.5"),
        ("video.sampling=unifrom", "video.sampling", "expected one of 'uniform', 'fps', 'window', got 'unifrom'"),
        ("video.fps=0", "video.fps", "expected a value > 0, got 0"),
        ("finetune.lr=1e400", "finetune.lr", "expected a finite number"),
        ("finetune.lr=99999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999"
         "999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999"
         "999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999"
         "99999999999", "finetune.lr", "expected a finite number"),
        ("batch.num_workers=-2", "batch.num_workers", "expected a value >= 0, got -2"),
        ("model.preset=huge", "model.preset", "expected one of 'tiny', 'base'"),
        ("primary_metric=t2v/R@999", "primary_metric", "'t2v/R@999' is not one of the task's metrics"),
    ],
)
def test_out_of_range_values_name_the_key_and_the_set_flag(tmp_path, override, key, expected):
    path = _write(tmp_path, MINIMAL)
    with pytest.raises(ConfigError) as err:
        load_task_config(path, overrides=[override])
    assert str(err.value).startswith(f"{path}: key '{key}' (set with --set): {expected}")


def test_out_of_range_value_in_the_file_names_the_file_not_set(tmp_path):
    path = _write(tmp_path, MINIMAL.replace("num_frames: 8", "num_frames: -3"))
    with pytest.raises(ConfigError) as err:
        load_task_config(path)
    assert str(err.value) == f"{path}: key 'video.num_frames': expected a value >= 1, got -3"
    path = _write(tmp_path, MINIMAL.replace("primary_metric: t2v/R@1", "primary_metric: t2v/R@999"))
    with pytest.raises(ConfigError, match=r"'primary_metric': 't2v/R@999' is not one of the task's metrics \(t2v/R@1\)"):
        load_task_config(path)


def test_unknown_key_from_set_is_reported_as_coming_from_set(tmp_path):
    path = _write(tmp_path, MINIMAL)
    with pytest.raises(ConfigError, match=r"key 'vidoe' \(set with --set\): unknown key. Did you mean 'video'\?"):
        load_task_config(path, overrides=["vidoe.num_frames=4"])
    with pytest.raises(ConfigError, match=r"key 'video.num_framez' \(set with --set\): unknown key"):
        load_task_config(path, overrides=["video.num_framez=4"])
    # The same typo in the file is the file's.
    with pytest.raises(ConfigError) as err:
        load_task_config(_write(tmp_path, MINIMAL + "vidoe: {size: 3}\n"))
    assert "--set" not in str(err.value) and "key 'vidoe': unknown key" in str(err.value)


def test_task_options_typo_suggests_the_option(tmp_path):
    from dataclasses import dataclass

    from tempvl_bench.config import checked, parse_options

    @dataclass
    class Options:
        protocol: str = checked("square", choices=("square", "multi-caption"))

    config = load_task_config(_write(tmp_path, MINIMAL + "options: {protocl: multi-caption}\n"))
    with pytest.raises(ConfigError, match=r"key 'options.protocl': unknown key. Did you mean 'protocol'\?"):
        parse_options(config, Options)
    config = load_task_config(_write(tmp_path, MINIMAL), overrides=["options.protocol=paragraph"])
    with pytest.raises(ConfigError, match=r"'options.protocol' \(set with --set\): expected one of 'square', 'multi-caption'"):
        parse_options(config, Options)
    assert parse_options(load_task_config(_write(tmp_path, MINIMAL)), Options).protocol == "square"


def test_every_builtin_task_file_passes_the_checks():
    import tempvl_tasks
    from pathlib import Path as _Path

    for path in sorted(_Path(tempvl_tasks.__file__).parent.glob("*.yaml")):
        load_task_config(path)
        load_task_config(path, demo=True)
