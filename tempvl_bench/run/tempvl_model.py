"""TemPVL, the harness's own model: registered before any plugin's, as ``tempvl``.

Its settings come from the task file (:func:`task_model_config`) or from a ``--checkpoint``
(:class:`tempvl_bench.run.checkpoint.Checkpoint`), and its identity names both.
"""

from __future__ import annotations

import hashlib
import json

from tempvl_bench.config import ConfigError, TaskConfig
from tempvl_bench.plugin.capabilities import CAPABILITIES
from tempvl_bench.plugin.registry import ModelIdentity, ModelOptions, ModelSpec
from tempvl_bench.report.results import sha256_file

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


def tempvl_model_spec() -> ModelSpec:
    """TemPVL, the harness's own model: registered before any plugin, as ``tempvl``."""
    return ModelSpec(TEMPVL, build_tempvl, frozenset(CAPABILITIES),
                     "TemPVL: the run's backbone (--backbone), text encoder and heads; --checkpoint to load one",
                     identify=identify_tempvl, plugin="tempvl_bench")


def build_tempvl(options: ModelOptions):
    from tempvl_core.model.tempvl import TemPVL

    config = options.config
    backbone = options.backbone()
    if options.checkpoint is not None:
        built = TemPVL.from_pretrained(options.checkpoint.folder, backbone)
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
    if options.path is not None:
        raise ValueError(f"{options.config.where('model.path')}: model 'tempvl' loads a checkpoint with "
                         "--checkpoint DIR, not model.path (which is for --model plugins such as hf-clip)")
    model = options.config.to_dict()["model"]
    settings = {"model": model, "backbone": options.backbone_name, "text_encoder": options.text_encoder_name}
    checkpoint = options.checkpoint
    if checkpoint is not None:
        config_file = checkpoint.folder / "config.json"
        settings["checkpoint_config"] = sha256_file(config_file) if config_file.is_file() else None
        return ModelIdentity(TEMPVL, str(checkpoint.weights.resolve()), settings_sha256(settings), checkpoint.sha256)
    return ModelIdentity(TEMPVL, None, settings_sha256(settings), None)


def settings_sha256(value) -> str:
    """The sha256 of ``value`` as sorted JSON: a model's identity when no weights file names it."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()
