"""Backbone weights from local files, through the registry as a run builds them; nothing downloaded."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from tempvl_bench.plugin.manager import load_plugins
from tempvl_bench.run.modeling import build_backbone_by_name
from tempvl_core.model.backbone_weights import WeightsMismatchError


@pytest.fixture(scope="module")
def host():
    return load_plugins()


def _build(host, name: str, pretrained, size: int = 32, seed: int = 1):
    torch.manual_seed(seed)  # saved weights come from seed 0, so a load is visible
    return build_backbone_by_name(host, name, image_size=size, pretrained=pretrained)


def _same(a: torch.nn.Module, b: dict) -> bool:
    return all(torch.equal(v, b[k]) for k, v in a.state_dict().items())


def test_cnn_tiny_round_trips_safetensors_and_torch_files(host, tmp_path):
    source = _build(host, "cnn-tiny", False, seed=0).state_dict()
    save_file(source, tmp_path / "w.safetensors")
    torch.save({"state_dict": {f"module.{k}": v for k, v in source.items()}}, tmp_path / "w.pth")
    for file in ("w.safetensors", "w.pth"):
        assert _same(_build(host, "cnn-tiny", str(tmp_path / file)), source)
    assert not _same(_build(host, "cnn-tiny", False), source)


def test_missing_and_unexpected_keys_are_listed_with_expected_shapes(host, tmp_path):
    state = _build(host, "cnn-tiny", False).state_dict()
    state.pop("proj.1.weight")
    state.pop("features.0.bias")
    state["extra.scale"] = torch.ones(3)
    save_file(state, tmp_path / "broken.safetensors")
    with pytest.raises(WeightsMismatchError) as err:
        _build(host, "cnn-tiny", str(tmp_path / "broken.safetensors"))
    text = str(err.value)
    assert "missing keys (2)" in text and "proj.1.weight [256, 192]" in text and "features.0.bias [32]" in text
    assert "unexpected keys (1)" in text and "extra.scale [3]" in text
    assert "broken.safetensors" in text and "cnn-tiny" in text


def test_timm_state_dict_with_classifier_loads_resized_to_the_image_size(host, tmp_path):
    import timm

    full = timm.create_model("vit_tiny_patch16_224", pretrained=False)  # 224 px, 1000-class head
    torch.save(full.state_dict(), tmp_path / "vit.pth")
    backbone = _build(host, "vit-tiny", str(tmp_path / "vit.pth"), size=32)
    assert backbone.pos_embed.shape[1] == 1 + (32 // 16) ** 2
    assert torch.equal(backbone.blocks[0].attn.qkv.weight, full.blocks[0].attn.qkv.weight)
    broken = {k: v for k, v in full.state_dict().items() if not k.startswith("blocks.11.")}
    torch.save(broken, tmp_path / "vit_broken.pth")
    with pytest.raises(WeightsMismatchError, match=r"missing keys \(12\)[\s\S]*blocks\.11\.mlp\.fc2\.weight \[192, 768\]"):
        _build(host, "vit-tiny", str(tmp_path / "vit_broken.pth"), size=32)


def test_torchvision_swin3d_state_dict_loads_into_swin3d_t(host, tmp_path):
    from torchvision.models.video import swin3d_t

    torch.manual_seed(0)
    reference = swin3d_t(weights=None).eval()  # the torchvision model, classifier included
    save_file(reference.state_dict(), tmp_path / "swin3d.safetensors")
    backbone = _build(host, "swin3d-t", str(tmp_path / "swin3d.safetensors")).eval()
    clips = torch.randn(1, 4, 3, 32, 32)
    with torch.no_grad():
        features = backbone(clips)
        expected = reference.norm(reference.features(reference.patch_embed(clips.transpose(1, 2)))).mean(dim=(2, 3))
    assert features.shape == (1, 2, 768) and torch.allclose(features, expected, atol=1e-5)


def test_unreadable_and_absent_files_say_what_to_do(host, tmp_path):
    (tmp_path / "notes.pth").write_text("not weights")
    with pytest.raises(ValueError, match="weights_only=True"):
        _build(host, "cnn-tiny", str(tmp_path / "notes.pth"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _build(host, "swin-t", str(tmp_path / "absent.safetensors"), size=64)
