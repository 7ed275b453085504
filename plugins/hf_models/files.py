"""Where a transformers model's files are, and the hashes that identify them.

``model.path`` names a local folder written by ``save_pretrained`` (config.json, safetensors
weights, tokenizer and processor files); without it the model's default repository is looked up
in the offline Hugging Face cache. Weights must be safetensors: a pickle file can run code.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from tempvl_bench.api import ModelIdentity, ModelOptions

#: The published checkpoints looked up in the offline cache when ``model.path`` is not set.
DEFAULT_REPOS = {"hf-clip": "openai/clip-vit-base-patch16", "hf-xclip": "microsoft/xclip-base-patch32"}
#: Files that change what the model computes besides its weights (the model, the processor,
#: the tokenizer).
CONFIG_FILES = ("config.json", "preprocessor_config.json", "processor_config.json", "video_preprocessor_config.json",
                "tokenizer_config.json", "tokenizer.json", "vocab.json", "merges.txt", "vocab.txt",
                "special_tokens_map.json")


def model_folder(name: str, options: ModelOptions) -> Path:
    """The folder ``name`` loads: ``model.path``, else its default repository in the offline cache."""
    if options.checkpoint is not None:
        raise ValueError(f"model {name!r}: --checkpoint loads TemPVL checkpoints; give this model's folder with "
                         "--set model.path=DIR")
    where = options.config.where("model.path")
    if options.path is not None:
        folder = Path(options.path)
        if not folder.is_dir():
            raise FileNotFoundError(f"{where}: {folder} is not a folder; expected one written by save_pretrained "
                                    "(config.json, model.safetensors, tokenizer and processor files)")
    else:
        folder = _cached_snapshot(name, where)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{where}: {folder} has no config.json; expected a folder written by save_pretrained")
    if not weight_files(folder):
        raise FileNotFoundError(f"{where}: {folder} has no *.safetensors weights (pickled weights are not loaded: "
                                "re-save them with save_pretrained(..., safe_serialization=True))")
    return folder


def _cached_snapshot(name: str, where: str) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    repo = DEFAULT_REPOS[name]
    try:
        return Path(snapshot_download(repo, local_files_only=True))
    except (LocalEntryNotFoundError, OSError) as exc:
        raise FileNotFoundError(f"{where} is not set and {repo} is not in the offline Hugging Face cache "
                                f"({type(exc).__name__}); download it once elsewhere, or pass --set "
                                "model.path=DIR with a folder written by save_pretrained") from None


def weight_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.safetensors"))


def _digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


def identify(name: str, options: ModelOptions) -> ModelIdentity:
    folder = model_folder(name, options).resolve()
    configs = [folder / f for f in CONFIG_FILES if (folder / f).is_file()]
    return ModelIdentity(name, str(folder), _digest(configs), _digest(weight_files(folder)))


def identify_clip(options: ModelOptions) -> ModelIdentity:
    return identify("hf-clip", options)


def identify_xclip(options: ModelOptions) -> ModelIdentity:
    return identify("hf-xclip", options)
