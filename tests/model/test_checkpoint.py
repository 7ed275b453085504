"""save_pretrained / from_pretrained roundtrip: safetensors + JSON, identical outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from model_helpers import TinyCNN
from tempvl_core.model import TemPVL


def test_roundtrip_gives_identical_outputs(model: TemPVL, batch: dict, tmp_path: Path) -> None:
    model.ensure_qa_head(5)
    with torch.no_grad():
        model.logit_scale.fill_(2.5)  # a trained-looking value must survive
    model.eval()
    out = tmp_path / "ckpt"
    model.save_pretrained(out)
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors", "text_encoder"]
    assert json.loads((out / "config.json").read_text())["qa_num_answers"] == 5
    assert not list(out.rglob("*.bin")) and not list(out.rglob("*.pt"))

    loaded = TemPVL.from_pretrained(out, TinyCNN()).eval()
    assert loaded.config == model.config
    assert loaded.lm_head.decoder.weight is loaded.text_encoder.word_embeddings.weight  # still tied
    with torch.no_grad():
        for fn in (
            lambda m: m.encode_video(batch["frames"], batch["frame_mask"]),
            lambda m: m.encode_text(batch["texts"]),
            lambda m: m.fused_match_scores(batch["texts"], batch["frames"], batch["frame_mask"]),
            lambda m: m.moment_logits(batch["texts"], batch["frames"], batch["frame_mask"])[0],
            lambda m: m.answer_logits(batch["texts"], batch["frames"]),
        ):
            assert torch.equal(fn(model), fn(loaded))


def test_missing_files_and_wrong_backbone_are_reported(model: TemPVL, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="config.json is missing"):
        TemPVL.from_pretrained(tmp_path, TinyCNN())
    model.save_pretrained(tmp_path / "ckpt")
    other = TinyCNN()
    other.net[0] = torch.nn.Conv2d(3, 8, 3)
    other.net[2] = torch.nn.Conv2d(8, 32, 3)
    with pytest.raises(RuntimeError, match="does not match"):
        TemPVL.from_pretrained(tmp_path / "ckpt", other)
