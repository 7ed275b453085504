"""``temporal_difference``: each frame gets a learnt map of ``x_{t+1} - x_{t-1}`` before the
temporal layers (tempvl_core.model.video_encoder.TemporalDifference)."""

from __future__ import annotations

import pytest
import torch

from model_helpers import TinyCNN, tiny_config
from tempvl_core.model import TemPVL, TemPVLConfig
from tempvl_core.model.video_encoder import TemporalDifference


def test_central_difference_and_one_sided_edges() -> None:
    diff = TemporalDifference(2)
    with torch.no_grad():  # W = identity, no bias: the output is x_t + (x_{t+1} - x_{t-1})
        diff.linear.weight.copy_(torch.eye(2))
        diff.linear.bias.zero_()
    x = torch.tensor([[[1.0, 0.0], [2.0, 0.0], [4.0, 0.0], [7.0, 0.0], [0.0, 0.0]]])
    mask = torch.tensor([[True, True, True, True, False]])
    out = diff(x, mask)[0, :, 0].tolist()
    # t=0: (2 - 1) one-sided; t=1: 4 - 1; t=2: 7 - 2; t=3: (7 - 4) one-sided at the last real frame
    assert out == [1 + 1, 2 + 3, 4 + 5, 7 + 3, 0.0]


def test_padding_never_leaks_into_real_frames() -> None:
    torch.manual_seed(0)
    diff = TemporalDifference(8)
    x = torch.randn(2, 6, 8)
    mask = torch.tensor([[True] * 4 + [False] * 2, [False, True, True, True, True, False]])
    changed = x.clone()
    changed[~mask] = 1e3
    a, b = diff(x, mask), diff(changed, mask)
    assert torch.equal(a, b)
    assert torch.equal(a[~mask], torch.zeros_like(a[~mask]))


def test_off_by_default_and_older_checkpoints_keep_their_keys() -> None:
    assert TemPVLConfig.tiny().temporal_difference is False
    plain = TemPVL(tiny_config(), TinyCNN())
    assert plain.video_encoder.difference is None
    assert not any("difference" in k for k in plain.state_dict())
    with_diff = TemPVL(tiny_config(temporal_difference=True), TinyCNN())
    extra = sorted(set(with_diff.state_dict()) - set(plain.state_dict()))
    assert extra == ["video_encoder.difference.linear.bias", "video_encoder.difference.linear.weight"]


@pytest.mark.parametrize("temporal_layers", [0, 1])
def test_order_of_frames_reaches_the_clip_embedding(temporal_layers: int) -> None:
    """Mean pooling of position-free features cannot tell a clip from its reversal; with the
    differences it can (they change sign), so "moves left" and "moves right" can differ."""
    torch.manual_seed(0)
    frames = torch.randn(1, 4, 3, 32, 32)

    def forward_and_reversed(on: bool) -> tuple[torch.Tensor, torch.Tensor]:
        model = TemPVL(tiny_config(temporal_difference=on, temporal_layers=temporal_layers), TinyCNN()).eval()
        with torch.no_grad():
            return model.encode_video(frames), model.encode_video(frames.flip(1))

    if temporal_layers == 0:  # position embeddings come with temporal layers: without both, order is lost
        assert torch.allclose(*forward_and_reversed(False), atol=1e-6)
    assert not torch.allclose(*forward_and_reversed(True), atol=1e-3)


def test_merged_pretraining_trains_the_difference() -> None:
    torch.manual_seed(0)
    model = TemPVL(tiny_config(temporal_difference=True, loss_weights={"vtc": 1.0, "mr": 1.0}), TinyCNN())
    batch = {"frames": torch.randn(4, 4, 3, 32, 32), "texts": ["a red circle moves up", "a blue star spins",
                                                             "a green square grows", "a cyan cross blinks"]}
    out = model(batch, generator=torch.Generator().manual_seed(0))
    out["loss_mr"].backward()
    grad = model.video_encoder.difference.linear.weight.grad
    assert grad is not None and grad.abs().sum() > 0
