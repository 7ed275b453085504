"""Builds the model a run evaluates: the spec named by ``--model`` (TemPVL by default: backbone
from the registry, text encoder, checkpoint), its options and its identity."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from tempvl_bench.config import ConfigError, TaskConfig
from tempvl_bench.manager import PluginHost
from tempvl_bench.registry import BackboneOptions, ModelIdentity, ModelOptions, ModelSpec

#: The default model: TemPVL, built by the harness itself.
TEMPVL = "tempvl"


#: The model settings a task file sets outside ``model.overrides``, by TemPVLConfig field.
_TASK_KEYS = {"image_size": "video.size", "num_frames": "video.num_frames", "max_text_len": "text.max_length"}


def task_model_config(config: TaskConfig):
    """The TemPVLConfig a run without ``--checkpoint`` builds from the task file (preset, frame
    size and count, text length, ``model.overrides``). A setting the model refuses is a
    ConfigError naming the file and the key, raised before any data is read."""
    import dataclasses
    import difflib
    import re
    import typing

    from tempvl_core.schema import convert

    from tempvl_core.model.config import TemPVLConfig

    fields = [f.name for f in dataclasses.fields(TemPVLConfig)]
    hints = typing.get_type_hints(TemPVLConfig)
    overrides = {}
    for key, value in config.model.overrides.items():
        where = f"model.overrides.{key}"
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            raise ConfigError(f"{config.where(where)}: not a model setting"
                              + (f". Did you mean {close[0]!r}?" if close else f"; known: {', '.join(fields)}"))
        overrides[key] = convert(hints[key], value, where, config.source, config.set_keys)
        if isinstance(overrides[key], (int, float)) and not isinstance(value, bool) and not abs(overrides[key]) < 2**31:
            raise ConfigError(f"{config.where(where)}: expected a finite number below 2**31")
    values = {"image_size": config.video.size, "num_frames": config.video.num_frames,
              "max_text_len": config.text.max_length}  # fmt: skip
    try:
        return TemPVLConfig.preset(config.model.preset, **{**values, **overrides})
    except (TypeError, ValueError, OverflowError) as exc:
        # The key of the first setting the message names (``num_frames=16 exceeds max_frames=8``).
        found = [(m.start(), f) for f in fields for m in [re.search(rf"\b{re.escape(f)}\b", str(exc))] if m]
        named = min(found)[1] if found else None
        key = f"model.overrides.{named}" if named in overrides else _TASK_KEYS.get(named, "model.overrides")
        raise ConfigError(f"{config.where(key)}: the model refuses this setting: {exc}") from None


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
                  checkpoint: Path | None, device: str) -> ModelOptions:
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
    checkpoint: Path | None,
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
                 backbone_name: str, text_encoder_name: str, checkpoint: Path | None) -> tuple[ModelSpec, ModelIdentity]:
    """The model ``name`` and its identity, once it is known to have what the task's family
    needs for this mode and options: refused otherwise, before anything is built or read."""
    from tempvl_bench.capabilities import check_capabilities

    spec = host.models.get(name)
    check_capabilities(spec, task, family, config, task_options, mode)
    options = model_options(host, config, backbone_name, text_encoder_name, checkpoint, "cpu")
    return spec, model_identity(spec, options)  # reads the model's files, builds nothing


def model_identity(spec: ModelSpec, options: ModelOptions) -> ModelIdentity:
    """The model's identity from its files (results.json ``model``; cache and ``--resume`` keys)."""
    if spec.identify is None:
        return ModelIdentity(spec.name, None, _sha256_json({"name": spec.name}), None)
    identity = spec.identify(options)
    if not isinstance(identity, ModelIdentity):
        raise TypeError(f"model {spec.name!r} (plugin {spec.plugin}): identify() returned "
                        f"{type(identity).__name__}; expected a ModelIdentity")
    return identity


def tempvl_model_spec() -> ModelSpec:
    """TemPVL, the harness's own model: registered before any plugin, as ``tempvl``."""
    from tempvl_bench.capabilities import CAPABILITIES

    return ModelSpec(TEMPVL, build_tempvl, frozenset(CAPABILITIES),
                     "TemPVL: the run's backbone (--backbone), text encoder and heads; --checkpoint to load one",
                     identify=identify_tempvl, plugin="tempvl_bench")


def build_tempvl(options: ModelOptions):
    from tempvl_core.model.tempvl import TemPVL

    config = options.config
    backbone = options.backbone()
    if options.checkpoint is not None:
        built = TemPVL.from_pretrained(resolve_checkpoint(options.checkpoint)[0], backbone)
    else:
        model_config = task_model_config(config)
        try:
            built = TemPVL(model_config, backbone, text_encoder_path=options.text_encoder())
        except (MemoryError, RuntimeError) as exc:  # e.g. model.overrides.max_frames: 100000000
            if not isinstance(exc, MemoryError) and "allocate" not in str(exc):
                raise
            raise ConfigError(f"{config.where('model')}: the model these settings describe does not fit "
                              f"in memory ({str(exc).splitlines()[0][:200]})") from None
    return built.to(options.device).eval()


def identify_tempvl(options: ModelOptions) -> ModelIdentity:
    """TemPVL is named by its model settings and backbone / text encoder names, and by the
    checkpoint file it loads (no weights hash: it starts from the seeded initialisation)."""
    from tempvl_bench.results import sha256_file

    if options.path is not None:
        raise ValueError(f"{options.config.where('model.path')}: model 'tempvl' loads a checkpoint with "
                         "--checkpoint DIR, not model.path (which is for --model plugins such as hf-clip)")
    model = options.config.to_dict()["model"]
    settings = {"model": model, "backbone": options.backbone_name, "text_encoder": options.text_encoder_name}
    weights = None
    if options.checkpoint is not None:
        folder, weights_file = resolve_checkpoint(options.checkpoint)
        weights = sha256_file(weights_file)
        config_file = folder / "config.json"
        settings["checkpoint_config"] = sha256_file(config_file) if config_file.is_file() else None
        return ModelIdentity(TEMPVL, str(weights_file.resolve()), _sha256_json(settings), weights)
    return ModelIdentity(TEMPVL, None, _sha256_json(settings), weights)


def _sha256_json(value) -> str:
    import hashlib
    import json

    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()
