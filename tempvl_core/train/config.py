"""Pretraining configuration: typed dataclasses loaded from YAML.

A config file has five sections (``model``, ``losses``, ``merge``, ``data``, ``training``); every
key is checked once at load time, so a typo fails before any data is read. Errors name the
file, the dotted key and what was expected; unknown keys get a "did you mean" suggestion.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml

PRECISIONS = ("fp32", "bf16", "fp16")


class ConfigError(ValueError):
    """A pretraining config that cannot be used; the message says where and why."""


@dataclass
class ModelSection:
    """Which model preset to build and which of its fields to override."""

    preset: str = "tiny"
    overrides: dict[str, Any] = field(default_factory=dict)
    #: Backbone registry name (``--backbone`` overrides it); None = cnn-tiny for tiny, else vit-b16.
    backbone: str | None = None
    #: A local weights file for the backbone (safetensors or a weights_only torch file).
    pretrained: str | None = None


@dataclass
class LossWeights:
    """Weight of each pretraining loss; 0 switches a loss off (it is then not computed or logged)."""

    vtc: float = 1.0
    mlm: float = 1.0
    mr: float = 1.0
    tl: float = 1.0
    vtm: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)


@dataclass
class MergeSection:
    """How clips are merged into one long video for the localization losses."""

    k: int = 2
    strategy: str = "random"


@dataclass
class DataSection:
    """Pretraining sources, relative to the data root, and how frames are sampled."""

    webvid_csv: str | None = "webvid/results_train.csv"
    webvid_videos: str | None = "webvid/videos"
    cc3m_tsv: str | None = "cc3m/Train_GCC-training.tsv"
    cc3m_images: str | None = "cc3m/images"
    #: Episodes (clips of one scene, see tempvl_core.data.demo.episodes): one dataset item each,
    #: so a batch holds clips that only their events tell apart; clips at ``episode_fps``.
    episodes_json: str | None = None
    episode_fps: float = 1.0
    num_frames: int = 4
    size: int = 64
    sampling: Literal["uniform", "random"] = "random"


@dataclass
class TrainingConfig:
    """Optimization and runtime settings; this is all the engine itself needs."""

    batch_size: int = 8  # per device, per micro-step
    grad_accum_steps: int = 1
    lr: float = 1e-4
    min_lr_ratio: float = 0.0
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = 100
    total_steps: int = 1000
    clip_grad_norm: float | None = 1.0
    precision: Literal["fp32", "bf16", "fp16"] = "bf16"
    checkpoint_every: int = 500
    keep_checkpoints: int | None = None  # None keeps all
    log_every: int = 10
    seed: int = 0
    num_workers: int = 0
    channels_last: bool = False  # convolution weights in NHWC (helps conv backbones with AMP on GPU)
    # Submodules to torch.compile, by dotted name ("" = the whole model), e.g. ["video_encoder.backbone"]:
    # the per-frame backbone holds most FLOPs and has static shapes; measure with benchmarks/train_step.py.
    compile_modules: list[str] = field(default_factory=list)
    # Recompute activations in backward (temporal/fusion layers, text encoder, backbone): less memory, ~1/3 more compute.
    activation_checkpointing: bool = False

    def __post_init__(self) -> None:
        for name in ("batch_size", "grad_accum_steps", "total_steps", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"training.{name}: expected an integer >= 1, got {getattr(self, name)}")
        for name in ("warmup_steps", "num_workers"):
            if getattr(self, name) < 0:
                raise ConfigError(f"training.{name}: expected an integer >= 0, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ConfigError(f"training.lr: expected a positive number, got {self.lr}")
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            raise ConfigError(f"training.min_lr_ratio: expected a number in [0, 1], got {self.min_lr_ratio}")
        if self.clip_grad_norm is not None and self.clip_grad_norm <= 0:
            raise ConfigError(f"training.clip_grad_norm: expected a positive number or null, got {self.clip_grad_norm}")


@dataclass
class PretrainConfig:
    """A whole pretraining run: model, losses, clip merging, data and training settings."""

    model: ModelSection = field(default_factory=ModelSection)
    losses: LossWeights = field(default_factory=LossWeights)
    merge: MergeSection = field(default_factory=MergeSection)
    data: DataSection = field(default_factory=DataSection)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    # Where the config came from, for error messages; not a YAML key.
    source: str = field(default="<dict>", compare=False, metadata={"yaml": False})

    @classmethod
    def from_yaml(cls, path: str | Path) -> PretrainConfig:
        """Read and validate a YAML config file."""
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: pretraining config file not found") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        return cls.from_dict(raw if raw is not None else {}, source=str(path))

    @classmethod
    def from_dict(cls, raw: Any, *, source: str = "<dict>") -> PretrainConfig:
        """Validate a plain mapping (as parsed from YAML) into a config."""
        config = _build(cls, raw, source=source, prefix="")
        config.source = source
        return config

    def to_dict(self) -> dict[str, Any]:
        """Plain, YAML/JSON-friendly form (saved next to checkpoints)."""
        data = dataclasses.asdict(self)
        data.pop("source")
        data["training"]["betas"] = list(self.training.betas)
        return data


def _build(cls: type, raw: Any, *, source: str, prefix: str) -> Any:
    where = prefix.rstrip(".") or "top level"
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: {where}: expected a mapping, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.metadata.get("yaml", True)]
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        dotted = f"{prefix}{key}"
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
            raise ConfigError(f"{source}: unknown key '{dotted}'{hint}; expected one of {names}")
        kwargs[key] = _coerce(hints[key], value, source=source, key=dotted)
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _coerce(hint: Any, value: Any, *, source: str, key: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value if value is not None else {}, source=source, prefix=f"{key}.")
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, source=source, key=key)
    if origin is Literal:
        if value not in args:
            close = difflib.get_close_matches(str(value), [str(a) for a in args], n=1)
            hint_text = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"{source}: {key}: expected one of {list(args)}, got {value!r}{hint_text}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ConfigError(f"{source}: {key}: expected a list of {len(args)} numbers, got {value!r}")
        return tuple(_coerce(a, v, source=source, key=key) for a, v in zip(args, value))
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{source}: {key}: expected a list, got {value!r}")
        return [_coerce(args[0], v, source=source, key=f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: {key}: expected a mapping, got {value!r}")
        return dict(value)
    if hint is float:
        if isinstance(value, str):
            # PyYAML (YAML 1.1) reads "1e-4" (no dot) as a string; accept it as the number it means.
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{source}: {key}: expected a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: {key}: expected an integer, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: {key}: expected true or false, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{source}: {key}: expected a string, got {value!r}")
        return value
    return value
