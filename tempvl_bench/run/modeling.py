"""Builds the model a run evaluates: the spec named by ``--model`` (TemPVL by default: backbone
from the registry, text encoder, checkpoint), its options and its identity."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from tempvl_bench.config import TaskConfig
from tempvl_bench.plugin.manager import PluginHost
from tempvl_bench.plugin.capabilities import check_capabilities
from tempvl_bench.plugin.registry import BackboneOptions, ModelIdentity, ModelOptions, ModelSpec
from tempvl_bench.run.checkpoint import Checkpoint
from tempvl_bench.run.tempvl_model import TEMPVL, settings_sha256


def build_backbone(host: PluginHost, name: str, config: TaskConfig):
    return build_backbone_by_name(host, name, image_size=config.video.size, pretrained=config.model.pretrained)


def build_backbone_by_name(host: PluginHost, name: str, *, image_size: int, pretrained: bool | str = False):
    spec, argument = host.backbones.resolve(name)
    backbone = spec.factory(BackboneOptions(image_size=image_size, pretrained=pretrained, argument=argument))
    check_backbone_contract(backbone, f"backbone {name!r} (plugin {spec.plugin})", image_size)
    return backbone


class BackboneContractError(TypeError, ValueError):
    """A backbone module that does not keep the contract of ``tempvl_core.model.clip_backbone``
    (printed by the CLI as one line naming the backbone and its plugin)."""


def check_backbone_contract(backbone, owner: str, image_size: int) -> None:
    """Run ``backbone`` once on a small dummy batch and check what the model relies on: an
    ``nn.Module`` with ``forward``, an int ``num_features`` and the output shape of its kind."""
    import torch
    from torch import nn

    from tempvl_core.model.clip_backbone import takes_clips, temporal_stride

    if not isinstance(backbone, nn.Module):
        raise BackboneContractError(f"{owner}: the factory returned {type(backbone).__name__}; expected a torch.nn.Module")
    features = getattr(backbone, "num_features", None)
    if not isinstance(features, int) or isinstance(features, bool) or features < 1:
        raise BackboneContractError(f"{owner}: {type(backbone).__name__}.num_features is {features!r}; expected the "
                                    "int size C of its output features")
    if type(backbone).forward is nn.Module.forward:
        raise BackboneContractError(f"{owner}: {type(backbone).__name__} has no forward(); a per-frame backbone maps "
                                    "images [N, 3, H, W] to [N, C], a clip backbone clips [B, T, 3, H, W] to [B, T/s, C]")
    stride = temporal_stride(backbone)
    clips = takes_clips(backbone)
    shape = (1, 2 * stride, 3, image_size, image_size) if clips else (2, 3, image_size, image_size)
    expected = (1, 2, features) if clips else (2, features)
    param = next(backbone.parameters(), None)
    dummy = torch.zeros(shape, device=param.device if param is not None else "cpu",
                        dtype=param.dtype if param is not None and param.is_floating_point() else torch.float32)
    was_training = backbone.training
    try:
        with torch.no_grad():
            out = backbone.eval()(dummy)
    except Exception as exc:
        raise BackboneContractError(f"{owner}: forward() failed on a dummy batch {tuple(shape)} "
                                    f"({type(exc).__name__}: {exc})") from exc
    finally:
        backbone.train(was_training)
    got = tuple(getattr(out, "shape", ()))
    if not isinstance(out, torch.Tensor) or got != expected:
        kind = f"clip backbone (temporal_stride {stride})" if clips else "per-frame backbone"
        raise BackboneContractError(f"{owner}: forward() on {tuple(shape)} returned "
                                    f"{got if isinstance(out, torch.Tensor) else type(out).__name__}; a {kind} with "
                                    f"num_features {features} must return {expected}")


def model_options(host: PluginHost, config: TaskConfig, backbone_name: str, text_encoder_name: str,
                  checkpoint: Checkpoint | None, device: str) -> ModelOptions:
    """What a model factory (and ``identify``) of this run is given."""
    path = Path(config.model.path).expanduser() if config.model.path else None
    return ModelOptions(config=config, device=device, path=path, checkpoint=checkpoint,
                        backbone=lambda: build_backbone(host, backbone_name, config),
                        text_encoder=lambda: host.text_encoders.get(text_encoder_name).resolve(),
                        backbone_name=backbone_name, text_encoder_name=text_encoder_name)


def build_model_factory(
    host: PluginHost,
    config: TaskConfig,
    backbone_name: str,
    text_encoder_name: str,
    checkpoint: Checkpoint | None,
    device: str,
    model: str = TEMPVL,
) -> Callable[[], object]:
    """A function that builds the model named ``model`` on first call and returns the same one afterwards."""
    spec = host.models.get(model)
    options = model_options(host, config, backbone_name, text_encoder_name, checkpoint, device)
    cache: dict[str, object] = {}

    def build():
        if "model" not in cache:
            cache["model"] = spec.factory(options)
        return cache["model"]

    return build


def select_model(host: PluginHost, name: str, task: str, family, task_options, config: TaskConfig, mode: str,
                 backbone_name: str, text_encoder_name: str, checkpoint: Checkpoint | None) -> tuple[ModelSpec, ModelIdentity]:
    """The model ``name`` and its identity, once it is known to have what the task's family
    needs for this mode and options: refused otherwise, before anything is built or read."""
    spec = host.models.get(name)
    check_capabilities(spec, task, family, config, task_options, mode)
    options = model_options(host, config, backbone_name, text_encoder_name, checkpoint, "cpu")
    return spec, model_identity(spec, options)  # reads the model's files, builds nothing


def model_identity(spec: ModelSpec, options: ModelOptions) -> ModelIdentity:
    """The model's identity from its files (results.json ``model``; cache and ``--resume`` keys)."""
    if spec.identify is None:
        return ModelIdentity(spec.name, None, settings_sha256({"name": spec.name}), None)
    identity = spec.identify(options)
    if not isinstance(identity, ModelIdentity):
        raise TypeError(f"model {spec.name!r} (plugin {spec.plugin}): identify() returned "
                        f"{type(identity).__name__}; expected a ModelIdentity")
    return identity


