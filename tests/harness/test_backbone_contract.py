"""A backbone is run once on a dummy batch when it is built: a broken one fails there, with a
message naming it, instead of deep inside the first encoding pass."""

from __future__ import annotations

import pytest
from torch import nn

from tempvl_bench.run.modeling import BackboneContractError, check_backbone_contract


class PerFrame(nn.Module):
    def __init__(self, out: int = 16, num_features: int = 16):
        super().__init__()
        self.proj = nn.Linear(3, out)
        self.num_features = num_features

    def forward(self, images):
        return self.proj(images.mean((2, 3)))


class Clip(PerFrame):
    temporal_stride = 2

    def forward(self, clips):
        b, t = clips.shape[:2]
        return self.proj(clips.mean((3, 4))).reshape(b, t // 2, 2, -1).mean(2)


class NoForward(nn.Module):
    num_features = 8


def test_good_backbones_of_both_kinds_pass_and_keep_their_mode():
    for backbone in (PerFrame(), Clip()):
        backbone.train()
        check_backbone_contract(backbone, "backbone 'x' (plugin p)", 32)
        assert backbone.training


@pytest.mark.parametrize("backbone, expected", [
    (NoForward(), "backbone 'x' (plugin p): NoForward has no forward()"),
    (PerFrame(num_features=None), "PerFrame.num_features is None; expected the int size C"),
    (PerFrame(out=12), "forward() on (2, 3, 32, 32) returned (2, 12); a per-frame backbone with num_features 16 "
                       "must return (2, 16)"),
    (Clip(out=12), "a clip backbone (temporal_stride 2) with num_features 16 must return (1, 2, 16)"),
    (nn.Identity(), "Identity.num_features is None"),
    ("not a module", "the factory returned str; expected a torch.nn.Module"),
])  # fmt: skip
def test_a_broken_backbone_fails_with_a_message(backbone, expected):
    with pytest.raises(BackboneContractError) as caught:
        check_backbone_contract(backbone, "backbone 'x' (plugin p)", 32)
    assert expected in str(caught.value)
    assert isinstance(caught.value, ValueError)  # the CLI prints it as one line, without a traceback


def test_a_forward_that_raises_is_reported_with_the_dummy_shape():
    class Crashes(PerFrame):
        def forward(self, images):
            raise RuntimeError("boom")

    with pytest.raises(BackboneContractError, match=r"forward\(\) failed on a dummy batch \(2, 3, 32, 32\) "
                                                     r"\(RuntimeError: boom\)"):
        check_backbone_contract(Crashes(), "backbone 'x' (plugin p)", 32)
