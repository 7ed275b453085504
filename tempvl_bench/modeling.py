"""Builds the TemPVL model a run evaluates: backbone from the registry, text encoder, checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from tempvl_bench.config import TaskConfig
from tempvl_bench.manager import PluginHost
from tempvl_bench.registry import BackboneOptions


def resolve_checkpoint(checkpoint: Path) -> tuple[Path, Path]:
    """``(folder, weights file)`` of a ``--checkpoint``: a TemPVL checkpoint folder or its
    ``model.safetensors``. The weights file is the one the model loads (and the one hashed into
    results.json), so any other file name is refused rather than hashed and ignored."""
    from tempvl_core.model.checkpoint import WEIGHTS_FILE

    checkpoint = Path(checkpoint)
    if checkpoint.is_dir():
        folder, weights = checkpoint, checkpoint / WEIGHTS_FILE
    elif checkpoint.is_file():
        if checkpoint.name != WEIGHTS_FILE:
            raise FileNotFoundError(
                f"--checkpoint {checkpoint}: expected a TemPVL checkpoint folder or its {WEIGHTS_FILE}; "
                f"{checkpoint.name} is not what would be loaded (pass the folder {checkpoint.parent} "
                f"to load {checkpoint.parent / WEIGHTS_FILE})"
            )
        folder, weights = checkpoint.parent, checkpoint
    else:
        raise FileNotFoundError(f"--checkpoint {checkpoint}: no such file or folder")
    if not weights.is_file():
        raise FileNotFoundError(f"--checkpoint {checkpoint}: {weights.name} not found (not a TemPVL checkpoint)")
    return folder, weights


def build_backbone(host: PluginHost, name: str, config: TaskConfig):
    return build_backbone_by_name(host, name, image_size=config.video.size, pretrained=config.model.pretrained)


def build_backbone_by_name(host: PluginHost, name: str, *, image_size: int, pretrained: bool | str = False):
    spec, argument = host.backbones.resolve(name)
    backbone = spec.factory(BackboneOptions(image_size=image_size, pretrained=pretrained, argument=argument))
    if not isinstance(getattr(backbone, "num_features", None), int):
        raise TypeError(f"backbone {name!r} (plugin {spec.plugin}) returned a module without an int num_features")
    return backbone


def build_model_factory(
    host: PluginHost,
    config: TaskConfig,
    backbone_name: str,
    text_encoder_name: str,
    checkpoint: Path | None,
    device: str,
) -> Callable[[], object]:
    """A function that builds the model on first call and returns the same one afterwards."""
    cache: dict[str, object] = {}

    def model():
        if "model" not in cache:
            from tempvl_core.model.config import TemPVLConfig
            from tempvl_core.model.tempvl import TemPVL

            backbone = build_backbone(host, backbone_name, config)
            if checkpoint is not None:
                built = TemPVL.from_pretrained(resolve_checkpoint(checkpoint)[0], backbone)
            else:
                model_config = TemPVLConfig.preset(
                    config.model.preset,
                    **{
                        "image_size": config.video.size,
                        "num_frames": config.video.num_frames,
                        "max_text_len": config.text.max_length,
                        **config.model.overrides,
                    },
                )
                text_path = host.text_encoders.get(text_encoder_name).resolve()
                built = TemPVL(model_config, backbone, text_encoder_path=text_path)
            cache["model"] = built.to(device).eval()
        return cache["model"]

    return model
