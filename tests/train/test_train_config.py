"""Config loading, schedule, optimizer groups and the resumable sharded sampler."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from tempvl_core.train.config import ConfigError, PretrainConfig
from tempvl_core.train.data_order import SeededDataset, ShardedBatchSampler
from tempvl_core.train.optim import split_decay_groups
from tempvl_core.train.schedule import warmup_cosine_factor

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["demo", "base"])
def test_shipped_configs_load(name: str) -> None:
    config = PretrainConfig.from_yaml(REPO / "configs" / "pretrain" / f"{name}.yaml")
    assert config.model.preset in ("tiny", "base")
    assert config.training.total_steps > config.training.warmup_steps


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    return path


def test_unknown_key_names_file_key_and_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, "training:\n  learning_rat: 0.1\n")
    with pytest.raises(ConfigError) as err:
        PretrainConfig.from_yaml(path)
    assert str(path) in str(err.value) and "training.learning_rat" in str(err.value)
    path = write(tmp_path, "training:\n  warmup_step: 3\n")
    with pytest.raises(ConfigError, match=r"key 'training.warmup_step': unknown key. Did you mean 'warmup_steps'\?"):
        PretrainConfig.from_yaml(path)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("training:\n  batch_size: eight\n", "key 'training.batch_size': expected an integer"),
        ("training:\n  precision: fp8\n", "key 'training.precision': expected one of 'fp32', 'bf16', 'fp16'"),
        ("losses:\n  mr: yes\n", "key 'losses.mr': expected a number"),
        ("training:\n  batch_size: 0\n", "key 'training.batch_size': expected an integer >= 1, got 0"),
        ("data: [1, 2]\n", "key 'data': expected a mapping"),
        ("training:\n  betas: [0.9]\n", "key 'training.betas': expected a list of 2"),
        ("training:\n  compile_modules: video_encoder\n", "key 'training.compile_modules': expected a list"),
        ("training:\n  compile_modules: [1]\n", "key 'training.compile_modules[0]': expected a string"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        PretrainConfig.from_yaml(path)
    assert fragment in str(err.value) and str(path) in str(err.value)


def test_yaml_exponent_without_dot_is_a_number(tmp_path: Path) -> None:
    config = PretrainConfig.from_yaml(write(tmp_path, "training:\n  lr: 1e-4\n  clip_grad_norm: null\n"))
    assert config.training.lr == pytest.approx(1e-4) and config.training.clip_grad_norm is None


def test_warmup_then_cosine() -> None:
    f = [warmup_cosine_factor(s, warmup_steps=4, total_steps=14, min_lr_ratio=0.1) for s in range(15)]
    assert f[:4] == pytest.approx([0.2, 0.4, 0.6, 0.8])
    assert f[4] == pytest.approx(1.0) and f[9] == pytest.approx(0.55) and f[14] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(f[4:], f[5:]))


def test_no_weight_decay_on_norms_biases_embeddings() -> None:
    model = nn.ModuleDict({"tok": nn.Embedding(10, 4), "fc": nn.Linear(4, 4), "ln": nn.LayerNorm(4)})
    model.pos_embed = nn.Parameter(torch.zeros(1, 3, 4))
    decay, no_decay = split_decay_groups(model)
    assert [id(p) for p in decay] == [id(model["fc"].weight)]
    assert len(no_decay) == 5


def test_shards_partition_the_single_process_batches() -> None:
    single = list(ShardedBatchSampler(20, 4, seed=3))
    ranks = [list(ShardedBatchSampler(20, 2, seed=3, rank=r, world_size=2)) for r in range(2)]
    assert len(single) == len(ranks[0]) == len(ranks[1]) == 5
    for k, batch in enumerate(single):
        assert sorted(batch) == sorted(ranks[0][k] + ranks[1][k])


def test_sampler_resumes_at_a_position_and_reshuffles_per_epoch() -> None:
    sampler = ShardedBatchSampler(10, 2, seed=1)
    sampler.set_position(epoch=1)
    epoch1 = list(sampler)
    sampler.set_position(epoch=1, start_batch=3)
    assert list(sampler) == epoch1[3:]
    sampler.set_position(epoch=2)
    assert list(sampler) != epoch1


def test_seeded_dataset_is_repeatable_and_leaves_global_rng_alone() -> None:
    class Noise(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return 3

        def __getitem__(self, index: int) -> torch.Tensor:
            return torch.rand(2)

    data = SeededDataset(Noise())
    torch.manual_seed(0)
    expected_next = torch.rand(1)
    torch.manual_seed(0)
    a = data[(1, 5)]
    assert torch.equal(torch.rand(1), expected_next)
    assert torch.equal(a, data[(1, 5)]) and not torch.equal(a, data[(1, 6)])


def test_model_override_errors_name_file_and_key(tmp_path: Path) -> None:
    pytest.importorskip("tempvl_core.model")
    from tempvl_core.train.pretrain import build_model_config

    path = write(tmp_path, "model:\n  overrides:\n    video_dimm: 64\n")
    with pytest.raises(ConfigError, match=r"cfg.yaml: model.overrides.video_dimm: .*did you mean 'video_dim'"):
        build_model_config(PretrainConfig.from_yaml(path))
    path = write(tmp_path, "model:\n  overrides:\n    num_frames: 8\n")
    with pytest.raises(ConfigError, match=r"model.overrides.num_frames is set by"):
        build_model_config(PretrainConfig.from_yaml(path))
    path = write(tmp_path, "model:\n  preset: huge\n")
    with pytest.raises(ConfigError, match=r"cfg.yaml: model: unknown TemPVL preset 'huge'"):
        build_model_config(PretrainConfig.from_yaml(path))
    config = build_model_config(PretrainConfig.from_yaml(path.parent / write(tmp_path, "losses:\n  mr: 0\n").name))
    assert config.loss_weights["mr"] == 0.0 and config.merge_clips == 2


def test_one_validator_for_task_files_options_and_pretraining_configs(tmp_path: Path) -> None:
    import tempvl_bench.config as task_files
    from tempvl_core import schema

    assert task_files.ConfigError is ConfigError is schema.ConfigError
    assert task_files.checked is schema.checked
    path = write(tmp_path, "training:\n  lr: 0\n")
    with pytest.raises(ConfigError, match=r"cfg.yaml: key 'training.lr': expected a positive number, got 0$"):
        PretrainConfig.from_yaml(path)
