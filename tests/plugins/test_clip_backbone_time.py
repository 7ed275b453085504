"""A clip (video) backbone with temporal stride 2 through the model and the localization plugins:
features at half the frame rate, padding kept out, and windows mapped to the right seconds."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch
from torch import nn

from tempvl_core.data.records import MomentQuery
from tempvl_core.model import TemPVL, TemPVLConfig
from tempvl_core.model.clip_backbone import clip_features
from tempvl_plugins.moment_retrieval.datasets import group_queries_by_video
from tempvl_plugins.moment_retrieval.task import _localize_batch


class Tubelets(nn.Module):
    """A real (tiny) video model: one 2 x 8 x 8 space-time convolution, then a spatial mean."""

    temporal_stride = 2
    num_features = 16

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, 16, kernel_size=(2, 8, 8), stride=(2, 8, 8))

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.conv(clips.transpose(1, 2)).mean(dim=(3, 4)).transpose(1, 2)  # [B, T/2, 16]


@pytest.fixture(scope="module")
def model() -> TemPVL:
    torch.manual_seed(0)
    config = TemPVLConfig.tiny(image_size=16, num_frames=8, video_dim=64, embed_dim=32, fusion_layers=1,
                               text_layers=1, max_text_len=16)
    return TemPVL(config, Tubelets()).eval()


def _frames(t: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(2, t, 3, 16, 16, generator=torch.Generator().manual_seed(seed))


def test_features_follow_the_stride_and_padding_never_reaches_the_backbone(model):
    frames = _frames(8)
    mask = torch.tensor([[1] * 8, [1] * 5 + [0] * 3], dtype=torch.bool)
    with torch.no_grad():
        feats, clip = model.video_features(frames, mask)
        changed = frames.clone()
        changed[1, 5:] = 100.0  # garbage in the padding
        feats2, clip2 = model.video_features(changed, mask)
    assert feats.shape == (2, 4, 64) and model.temporal_stride == 2
    assert model.feature_mask(mask).tolist() == [[True] * 4, [True, True, True, False]]
    torch.testing.assert_close(feats[:, :3], feats2[:, :3])
    torch.testing.assert_close(clip, clip2)
    # The odd fifth frame is paired with a copy of itself, as if the video ended there.
    backbone = model.video_encoder.backbone
    alone = backbone(frames[1:2, [0, 1, 2, 3, 4, 4]])
    torch.testing.assert_close(clip_features(backbone, frames, mask)[1, :3], alone[0])


def test_moment_retrieval_maps_stride_2_windows_to_seconds(model):
    """1 fps sampling: feature k covers seconds [2k, 2k + 2); the last cell ends at the duration."""
    queries = [MomentQuery("q0", "v0", "v0.mp4", "a red circle blinks", 8.0, ((2.0, 4.0),)),
               MomentQuery("q1", "v1", "v1.mp4", "a blue square moves", 5.0, ((0.0, 2.0),))]
    groups = group_queries_by_video(queries)
    frames = _frames(8, seed=1)
    mask = torch.tensor([[1] * 8, [1] * 5 + [0] * 3], dtype=torch.bool)
    batch = {"frames": frames, "frame_mask": mask, "index": torch.tensor([0, 1]),
             "timestamps": torch.arange(8.0)[None].repeat(2, 1) * mask}
    ctx = types.SimpleNamespace(config=types.SimpleNamespace(text=types.SimpleNamespace(max_length=16)),
                                model_capabilities=frozenset({"grounding"}))  # TemPVL's grounding head
    options = {"protocol": "single", "max_window_frames": None}
    with torch.no_grad():  # as localize_queries calls it
        predictions = dict(_localize_batch(ctx, model, batch, groups, queries, options))
    for b, query in enumerate(queries):
        (s, e, _), = model.localize(query.query, frames[b], top_k=1, frame_mask=mask[b])  # feature positions
        expected = (2.0 * s, min(2.0 * e + 2.0, query.duration))
        got = predictions[b]
        assert got.num_frames == (4 if b == 0 else 3)
        assert tuple(got.windows[0][:2]) == pytest.approx(expected)
        assert all(w[0] % 2 == 0 and (w[1] % 2 == 0 or w[1] == query.duration) for w in got.windows)


def test_action_localization_features_carry_stride_2_timestamps(model):
    from tempvl_plugins.action_localization.features import extract_features

    batch = {"frames": _frames(6), "frame_mask": torch.tensor([[1] * 6, [1] * 3 + [0] * 3], dtype=torch.bool),
             "index": torch.tensor([0, 1]), "timestamps": torch.tensor([[0.0, .5, 1, 1.5, 2, 2.5], [0, .5, 1, 0, 0, 0]]),
             "batch_size": 2}

    class _Batches(list):
        tracker = types.SimpleNamespace(failed=[])

    clips = types.SimpleNamespace(batches=lambda records, train, desc: _Batches([batch]))
    videos, _ = extract_features(model, clips, [None, None], desc="test")
    assert [v.times.tolist() for v in videos] == [[0.0, 1.0, 2.0], [0.0, 1.0]]
    assert [tuple(v.features.shape) for v in videos] == [(3, 64), (2, 64)]


def test_pretraining_objectives_train_through_a_clip_backbone(model):
    import copy

    trained = copy.deepcopy(model).train()
    trained.config.loss_weights = {"vtc": 1.0, "mlm": 1.0, "mr": 1.0, "tl": 1.0, "vtm": 1.0}
    batch = {"frames": _frames(8).repeat(2, 1, 1, 1, 1),
             "frame_mask": torch.tensor([[1] * 8, [1] * 6 + [0] * 2] * 2, dtype=torch.bool),
             "texts": ["a red circle", "a blue square moves left", "two crosses", "a dot spins"]}
    out = trained(batch, generator=torch.Generator().manual_seed(0))
    assert set(out) >= {"loss_vtc", "loss_mlm", "loss_mr", "loss_tl", "loss_vtm"}
    out["loss"].backward()
    assert trained.video_encoder.backbone.conv.weight.grad.abs().sum() > 0
