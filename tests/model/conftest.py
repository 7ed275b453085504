"""Fixtures for the model tests: tiny TemPVL models and a batch (CPU)."""

from __future__ import annotations

import copy

import pytest
import torch

from model_helpers import TEXTS, TinyCNN, tiny_config
from tempvl_core.model import TemPVL


@pytest.fixture(scope="package", autouse=True)
def _single_thread():
    """Tiny tensors on a shared 2-core machine run ~10x faster on one intra-op thread
    (no OpenMP spinning against other processes); restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def base_model() -> TemPVL:
    torch.manual_seed(0)
    return TemPVL(tiny_config(loss_weights={"vtc": 1.0, "mlm": 1.0, "mr": 1.0, "tl": 1.0, "vtm": 1.0}), TinyCNN())


@pytest.fixture
def model(base_model: TemPVL) -> TemPVL:
    """A fresh copy per test, so tests may train or change config freely."""
    return copy.deepcopy(base_model)


@pytest.fixture
def batch() -> dict:
    g = torch.Generator().manual_seed(1)
    frames = torch.randn(4, 4, 3, 32, 32, generator=g)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]], dtype=torch.bool)
    return {"frames": frames, "frame_mask": mask, "texts": list(TEXTS)}
