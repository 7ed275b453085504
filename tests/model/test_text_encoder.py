"""The text encoder really loads the packaged pretrained MiniLM weights, offline."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from tempvl_core.model.text_encoder import TextEncoder, check_text_encoder_dir, default_text_encoder_path, mean_pool


@pytest.fixture(scope="module")
def full_encoder() -> TextEncoder:
    return TextEncoder(default_text_encoder_path()).eval()


def test_default_path_has_model_files() -> None:
    path = default_text_encoder_path()
    assert (path / "config.json").is_file() and (path / "model.safetensors").is_file()


def test_weights_equal_the_packaged_file(full_encoder: TextEncoder) -> None:
    stored = load_file(str(default_text_encoder_path() / "model.safetensors"))
    ours = full_encoder.model.state_dict()
    for key in ("embeddings.word_embeddings.weight", "encoder.layer.5.output.dense.weight"):
        stored_key = key if key in stored else f"bert.{key}"
        assert torch.equal(ours[key], stored[stored_key]), key


def test_similar_sentences_are_closer(full_encoder: TextEncoder) -> None:
    texts = ["a cat sits on a mat", "a kitten rests on a rug", "the stock market fell sharply today"]
    tokens = full_encoder.tokenize(texts, max_len=16)
    with torch.no_grad():
        emb = F.normalize(mean_pool(full_encoder(**tokens), tokens["attention_mask"]), dim=-1)
    sim = emb @ emb.t()
    assert sim[0, 1] > sim[0, 2] + 0.3 and sim[0, 1] > sim[1, 2] + 0.3


def test_truncation_keeps_the_first_layers(full_encoder: TextEncoder) -> None:
    small = TextEncoder(default_text_encoder_path(), num_layers=2)
    assert len(small.model.encoder.layer) == 2
    a = small.model.encoder.layer[1].output.dense.weight
    assert torch.equal(a, full_encoder.model.encoder.layer[1].output.dense.weight)


def test_tokenize_pads_and_truncates(full_encoder: TextEncoder) -> None:
    tokens = full_encoder.tokenize(["short", "a much longer sentence " * 10], max_len=12)
    assert tokens["input_ids"].shape == (2, 12)
    assert tokens["input_ids"][0, 0] == full_encoder.special_ids["cls"]
    assert tokens["attention_mask"][0].sum() == 3  # [CLS] short [SEP]


def test_bad_paths_are_reported(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        check_text_encoder_dir(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="config.json"):
        check_text_encoder_dir(tmp_path)
    with pytest.raises(ValueError, match="num_hidden_layers=6"):
        TextEncoder(default_text_encoder_path(), num_layers=9)


def test_any_local_bert_folder_works(tmp_path: Path) -> None:
    """A user's own BERT folder (here a small random one saved with transformers) is used as is."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from model_helpers import TinyCNN, tiny_config
    from tempvl_core.model import TemPVL

    folder = tmp_path / "my-bert"
    config = BertConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128)
    BertModel(config).save_pretrained(str(folder))
    AutoTokenizer.from_pretrained(str(default_text_encoder_path()), local_files_only=True).save_pretrained(str(folder))
    model = TemPVL(tiny_config(text_layers=None, fusion_heads=4, text_pooling="cls"), TinyCNN(), text_encoder_path=folder)
    assert model.text_encoder.hidden_size == 64 and len(model.text_encoder.model.encoder.layer) == 2
    assert model.lm_head.decoder.weight is model.text_encoder.word_embeddings.weight
    out = model({"frames": torch.randn(2, 2, 3, 32, 32), "texts": ["a dog", "a cat on a mat"]})
    assert torch.isfinite(out["loss"])


def test_runs_its_own_layers_whatever_kernels_package_is_installed() -> None:
    """transformers 5 with the ``kernels`` package kernelizes a loaded model by default and again
    on every ``.train()``: a model moved to ``meta`` (as the host-sync tests do) then fails with
    "Unsupported device type 'meta'", and the numbers depend on an optional package."""
    encoder = TextEncoder(default_text_encoder_path(), num_layers=1)
    assert not getattr(encoder.model, "use_kernels", False)
    encoder.to("meta").train()  # no re-kernelization
    assert next(encoder.parameters()).device.type == "meta"
