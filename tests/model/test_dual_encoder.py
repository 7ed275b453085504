"""Dual-encoder inference API and the VTC loss."""

from __future__ import annotations

import math

import pytest
import timm
import torch

from tempvl_core import losses
from tempvl_core.model import TemPVL

from model_helpers import TEXTS, tiny_config


def test_embeddings_are_normalized(model: TemPVL, batch: dict) -> None:
    v = model.encode_video(batch["frames"], batch["frame_mask"])
    t = model.encode_text(batch["texts"])
    assert v.shape == (4, 32) and t.shape == (4, 32)
    assert torch.allclose(v.norm(dim=-1), torch.ones(4), atol=1e-5)
    assert torch.allclose(t.norm(dim=-1), torch.ones(4), atol=1e-5)
    tokens = model.tokenize(batch["texts"])
    assert torch.allclose(model.encode_text(tokens), t, atol=1e-6)
    frames = model.video_frame_features(batch["frames"], batch["frame_mask"])
    assert frames.shape == (4, 4, 64)


def test_similarity_is_scaled_cosine(model: TemPVL, batch: dict) -> None:
    v = model.encode_video(batch["frames"])
    t = model.encode_text(batch["texts"][:3])
    sim = model.similarity(t, v)
    assert sim.shape == (3, 4)
    assert torch.allclose(sim, (t @ v.t()) * math.exp(model.logit_scale.item()), atol=1e-4)


def test_padded_frames_do_not_matter(model: TemPVL, batch: dict) -> None:
    model.eval()
    changed = batch["frames"].clone()
    changed[2, 2:] = 100.0  # clip 2 has two padded frames
    a = model.encode_video(batch["frames"], batch["frame_mask"])
    b = model.encode_video(changed, batch["frame_mask"])
    assert torch.allclose(a, b, atol=1e-6)
    c = model.encode_video(changed)  # without the mask the padding is real content
    assert not torch.allclose(a[2], c[2], atol=1e-3)


def test_vtc_loss_matches_manual_infonce(model: TemPVL) -> None:
    g = torch.Generator().manual_seed(0)
    v = torch.nn.functional.normalize(torch.randn(5, 8, generator=g), dim=-1)
    t = torch.nn.functional.normalize(torch.randn(5, 8, generator=g), dim=-1)
    scale = torch.tensor(math.log(10.0))
    logits = 10.0 * t @ v.t()
    labels = torch.arange(5)
    expected = 0.5 * (torch.nn.functional.cross_entropy(logits, labels) + torch.nn.functional.cross_entropy(logits.t(), labels))
    assert torch.allclose(losses.vtc_loss(v, t, scale), expected, atol=1e-5)
    # Aligned embeddings give a lower loss than shuffled ones.
    assert losses.vtc_loss(v, v, scale) < losses.vtc_loss(v, v.roll(1, 0), scale)


def test_vtc_trains_temperature_and_both_towers(model: TemPVL, batch: dict) -> None:
    loss = model.vtc_loss(model.encode_video(batch["frames"], batch["frame_mask"]), model.encode_text(batch["texts"]))
    loss.backward()
    assert model.logit_scale.grad is not None and torch.isfinite(model.logit_scale.grad)
    for name in ("video_encoder.backbone.net.0.weight", "text_encoder.model.encoder.layer.0.output.dense.weight"):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0, name


def test_all_gather_is_identity_when_not_distributed() -> None:
    x = torch.randn(3, 4, requires_grad=True)
    assert losses.all_gather_with_grad(x) is x


def test_timm_vit_backbone_and_mean_pooling(base_model: TemPVL) -> None:
    vit = timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, num_classes=0, depth=2)
    model = TemPVL(tiny_config(temporal_layers=0), vit, text_encoder_path=base_model.text_encoder.path)
    assert model.video_encoder.temporal is None
    frames = torch.randn(2, 3, 3, 32, 32)
    emb = model.encode_video(frames)
    assert emb.shape == (2, 32) and torch.isfinite(emb).all()


def test_bad_inputs_are_reported(model: TemPVL) -> None:
    with pytest.raises(ValueError, match=r"\[B, T, 3, H, W\]"):
        model.encode_video(torch.randn(2, 3, 32, 32))
    with pytest.raises(TypeError, match="num_features"):
        TemPVL(tiny_config(), torch.nn.Identity(), text_encoder_path=model.text_encoder.path)
    with pytest.raises(TypeError, match="single str"):
        model.encode_text(TEXTS[0])


def test_videos_longer_than_max_frames_get_interpolated_positions(model: TemPVL) -> None:
    model.eval()
    long = torch.randn(1, model.config.max_frames + 5, 3, 32, 32)
    feats = model.video_frame_features(long)
    assert feats.shape == (1, model.config.max_frames + 5, 64) and torch.isfinite(feats).all()
    pos = model.video_encoder.positions(model.config.max_frames + 5)
    assert torch.equal(pos[0, 0], model.video_encoder.pos_embed[0, 0])
    assert torch.equal(pos[0, -1], model.video_encoder.pos_embed[0, -1])
