"""``benchmarks/hf_clip_pretrain.py`` on a tiny corpus: it renders the corpus, reads it through the
catalogue, trains, and writes a folder that hf-clip loads (weights changed, the curve recorded)."""

import importlib.util
import json
import sys
from dataclasses import replace
from pathlib import Path

import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "hf_clip_pretrain.py"


def _script():
    spec = importlib.util.spec_from_file_location("hf_clip_pretrain", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_pretraining_writes_a_folder_hf_clip_loads_with_trained_weights(tmp_path):
    script = _script()
    settings = replace(script.DEFAULTS, videos=40, epochs=2, batch=8, width=32, embed=16, image_size=32)
    folder = script.pretrain(tmp_path / "out", settings, progress=False)

    from safetensors.torch import load_file

    from tempvl_plugins.hf_models.clip import HFClipVideo, clip_classes, load_model_and_processor

    model = HFClipVideo(*load_model_and_processor(*clip_classes(folder), folder))
    assert model.clip.config.projection_dim == 16 and model.clip.config.vision_config.image_size == 32
    before = load_file(str(tmp_path / "out" / "init" / "model.safetensors"))
    after = load_file(str(folder / "model.safetensors"))
    assert before.keys() == after.keys()
    assert any(not torch.equal(before[k], after[k]) for k in before), "no weight changed"
    # The tokenizer is saved as it was made, not with the training calls' truncation state (that
    # would change the folder's config hash, which results.json and the feature cache key on).
    assert (folder / "tokenizer.json").read_bytes() == (tmp_path / "out" / "init" / "tokenizer.json").read_bytes()
    frames = torch.rand(2, 4, 3, 32, 32)
    assert model.encode_video(frames).shape == (2, 16)

    record = json.loads((tmp_path / "out" / "pretrain.json").read_text())
    assert record["settings"]["videos"] == 40 and record["heldout_clips"] == 4 and record["train_clips"] == 36
    assert [row["epoch"] for row in record["curve"]] == [0, 1, 2]
    assert record["steps"] == 2 * (36 // 8)
    assert all(row["heldout_clips"] == 4 for row in record["curve"])
    # The corpus is the demo WebVid format, read back through the catalogue.
    csv_rows = (tmp_path / "out" / "corpus" / "webvid" / "results_train.csv").read_text().splitlines()
    assert len(csv_rows) == 41
