"""Save and load TemPVL checkpoints: JSON config + safetensors weights, never pickle.

Layout of a checkpoint folder::

    config.json          TemPVLConfig
    model.safetensors    every parameter and buffer (backbone included)
    text_encoder/        transformers config (as truncated) and tokenizer files
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TypeVar

from safetensors.torch import load_model, save_model
from torch import nn

from tempvl_core.model.config import TemPVLConfig

#: The model class a checkpoint loads into (TemPVL; not imported here: it imports this module).
Model = TypeVar("Model", bound=nn.Module)

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
TEXT_DIR = "text_encoder"


class CheckpointError(ValueError, RuntimeError):
    """A checkpoint file that cannot be loaded: damaged, unsafe, or made for another model.
    The message names the file. Also a RuntimeError, the type torch's ``load_state_dict`` raises
    for a shape mismatch, so code that catches that catches this too."""


def save_pretrained(model: nn.Module, directory: Path) -> Path:
    """Write a TemPVL ``model`` (its config, text-encoder architecture and weights) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    model.config.save(directory / CONFIG_FILE)
    model.text_encoder.save_architecture(directory / TEXT_DIR)
    # save_model de-duplicates tied tensors (LM head <-> word embeddings) safely.
    save_weights(model, directory / WEIGHTS_FILE)
    return directory


def save_weights(model: nn.Module, path: Path) -> None:
    """``safetensors.torch.save_model`` with the mode a plain ``open`` gives: safetensors creates
    the file 0600, which would hide the weights from the user's group."""
    import os

    save_model(model, str(path))
    mask = os.umask(0o022)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def load_pretrained(cls: type[Model], directory: Path, backbone: nn.Module, strict: bool = True) -> Model:
    for name in (CONFIG_FILE, WEIGHTS_FILE, TEXT_DIR):
        if not (directory / name).exists():
            raise FileNotFoundError(
                f"{directory} is not a TemPVL checkpoint: {name} is missing (write one with TemPVL.save_pretrained)"
            )
    config = TemPVLConfig.load(directory / CONFIG_FILE)
    model = cls(config, backbone, text_encoder_path=directory / TEXT_DIR, load_text_weights=False)
    weights = directory / WEIGHTS_FILE
    try:
        missing, unexpected = load_model(model, str(weights), strict=strict)
    except RuntimeError as exc:
        raise CheckpointError(
            f"{weights} does not match the model built from {directory / CONFIG_FILE} "
            f"and the given backbone {type(backbone).__name__}: {exc}"
        ) from exc
    except Exception as exc:  # safetensors' own error type: a damaged or tampered header
        raise CheckpointError(f"{weights}: not a readable safetensors file ({type(exc).__name__}: {exc})") from exc
    if not strict and (missing or unexpected):
        warnings.warn(
            f"loaded {directory} non-strictly: {len(missing)} missing keys (e.g. {sorted(missing)[:2]}), "
            f"{len(unexpected)} unexpected (e.g. {sorted(unexpected)[:2]})",
            stacklevel=3,
        )
    return model
