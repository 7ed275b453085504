"""Pretraining configuration: typed dataclasses loaded from YAML.

A config file has five sections (``model``, ``losses``, ``merge``, ``data``, ``training``); every
key is checked once at load time by the one config validator (:mod:`tempvl_core.schema`, which
task files use too), so a typo fails before any data is read. Errors name the file, the dotted
key and what was expected; unknown keys get a "did you mean" suggestion.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tempvl_core.model.config import DEFAULT_LOSS_WEIGHTS
from tempvl_core.safe_yaml import read_yaml
from tempvl_core.schema import ConfigError, build, checked

__all__ = ["ConfigError", "DataSection", "LossWeights", "MergeSection", "ModelSection", "PretrainConfig",
           "TrainingConfig"]

PRECISIONS = ("fp32", "bf16", "fp16")


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

    vtc: float = DEFAULT_LOSS_WEIGHTS["vtc"]
    mlm: float = DEFAULT_LOSS_WEIGHTS["mlm"]
    mr: float = DEFAULT_LOSS_WEIGHTS["mr"]
    tl: float = DEFAULT_LOSS_WEIGHTS["tl"]
    vtm: float = DEFAULT_LOSS_WEIGHTS["vtm"]

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

    batch_size: int = checked(8, ge=1, expected="an integer >= 1")  # per device, per micro-step
    grad_accum_steps: int = checked(1, ge=1, expected="an integer >= 1")
    lr: float = checked(1e-4, gt=0, expected="a positive number")
    min_lr_ratio: float = checked(0.0, ge=0, le=1, expected="a number in [0, 1]")
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = checked(100, ge=0, expected="an integer >= 0")
    total_steps: int = checked(1000, ge=1, expected="an integer >= 1")
    clip_grad_norm: float | None = checked(1.0, gt=0, expected="a positive number or null")
    precision: Literal["fp32", "bf16", "fp16"] = "bf16"
    checkpoint_every: int = checked(500, ge=1, expected="an integer >= 1")
    keep_checkpoints: int | None = None  # None keeps all
    log_every: int = checked(10, ge=1, expected="an integer >= 1")
    seed: int = 0
    num_workers: int = checked(0, ge=0, expected="an integer >= 0")
    channels_last: bool = False  # convolution weights in NHWC (helps conv backbones with AMP on GPU)
    # Submodules to torch.compile, by dotted name ("" = the whole model), e.g. ["video_encoder.backbone"]:
    # the per-frame backbone holds most FLOPs and has static shapes; measure with benchmarks/train_step.py.
    compile_modules: list[str] = field(default_factory=list)
    # Recompute activations in backward (temporal/fusion layers, text encoder, backbone): less memory, ~1/3 more compute.
    activation_checkpointing: bool = False


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
        raw = read_yaml(path, "pretraining config file")
        return cls.from_dict(raw if raw is not None else {}, source=str(path))

    @classmethod
    def from_dict(cls, raw: Any, *, source: str = "<dict>") -> PretrainConfig:
        """Validate a plain mapping (as parsed from YAML) into a config."""
        config = build(cls, raw, "", source)
        config.source = source
        return config

    def to_dict(self) -> dict[str, Any]:
        """Plain, YAML/JSON-friendly form (saved next to checkpoints)."""
        data = dataclasses.asdict(self)
        data.pop("source")
        data["training"]["betas"] = list(self.training.betas)
        return data
