"""GPU-path switches on a real tiny TemPVL: DDP's unused-parameter search only when an objective is
off (every trainable parameter gets a gradient otherwise), activation checkpointing changes nothing
numerically, and the pretraining YAML names its backbone."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from tempvl_core.model import TemPVL
from tempvl_core.model.config import TemPVLConfig
from tempvl_core.train.config import PretrainConfig
from tempvl_core.train.performance import enable_activation_checkpointing, prepare_for_ddp

REPO = Path(__file__).resolve().parents[2]
ALL_ON = {"vtc": 1.0, "mlm": 1.0, "mr": 1.0, "tl": 1.0, "vtm": 1.0}


class _Frames(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten(), torch.nn.Linear(48, 32))
        self.num_features = 32

    def forward(self, images):
        return self.net(images)


def _batch() -> dict:
    g = torch.Generator().manual_seed(0)
    return {"frames": torch.randn(4, 4, 3, 16, 16, generator=g),
            "texts": ["a red circle moves left", "a blue square grows", "two crosses blink", "a green dot spins"]}


def _model(**overrides) -> TemPVL:
    torch.manual_seed(0)
    return TemPVL(TemPVLConfig.tiny(**overrides), _Frames())


@pytest.mark.parametrize("strategy", ["tokens", "cls"])
def test_with_every_objective_on_every_trainable_parameter_gets_a_gradient(strategy):
    model = _model(loss_weights=ALL_ON, tl_strategy=strategy)
    assert prepare_for_ddp(model) is False
    torch.manual_seed(1)
    model(_batch(), generator=torch.Generator().manual_seed(1))["loss"].backward()
    idle = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert idle == []  # what find_unused_parameters=False requires of every step


def test_an_objective_switched_off_needs_the_unused_parameter_search():
    model = _model(loss_weights={**ALL_ON, "vtm": 0.0})
    assert prepare_for_ddp(model) is True
    model(_batch(), generator=torch.Generator().manual_seed(1))["loss"].backward()
    assert model.vtm_head.mlp[0].weight.grad is None  # why: DDP would wait for it forever


def test_activation_checkpointing_gives_the_same_loss_and_gradients():
    model = _model(loss_weights=ALL_ON)
    checkpointed = copy.deepcopy(model)
    assert "fusion.stack" in enable_activation_checkpointing(checkpointed)
    results = []
    for m in (model, checkpointed):
        m.train()
        torch.manual_seed(2)  # the text encoder's dropout draws alike (checkpointing replays its RNG state)
        loss = m(_batch(), generator=torch.Generator().manual_seed(1))["loss"]
        loss.backward()
        results.append((loss.detach(), {n: p.grad for n, p in m.named_parameters() if p.grad is not None}))
    (loss_a, grads_a), (loss_b, grads_b) = results
    assert torch.allclose(loss_a, loss_b, atol=1e-6) and grads_a.keys() == grads_b.keys()
    assert all(torch.allclose(grads_a[n], grads_b[n], atol=1e-5) for n in grads_a)


def test_pretraining_yaml_names_its_backbone(tmp_path):
    assert PretrainConfig.from_yaml(REPO / "configs/pretrain/demo.yaml").model.backbone == "cnn-tiny"
    assert PretrainConfig.from_yaml(REPO / "configs/pretrain/base.yaml").model.backbone == "vit-b16"
    (tmp_path / "c.yaml").write_text("model:\n  backbone: 3\n")
    with pytest.raises(ValueError, match="key 'model.backbone': expected a string or null, got 3"):
        PretrainConfig.from_yaml(tmp_path / "c.yaml")
