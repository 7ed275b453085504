"""Task definitions: YAML parsed once into a validated dataclass.

Errors name the file, the dotted key and what was expected. ``--set a.b=c`` overrides a key
(the value is parsed as YAML); the ``demo:`` section of a task file is merged in with ``--demo``.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence

# The one validator (task files, options:, pretraining configs); ConfigError and checked are
# re-exported here for the harness and tempvl_bench.api.
from tempvl_core.schema import ConfigError, checked  # noqa: F401
from tempvl_core.schema import build as _build
from tempvl_core.schema import where as _where
from tempvl_core.safe_yaml import parse_yaml_text, read_yaml


#: Keys that identify a task and the code that runs it: fixed by the task file, never ``--set``.
IDENTITY_KEYS = ("name", "family", "plugin")
#: A task name is a folder of the results: no separator, no leading dot, nothing a shell quotes.
TASK_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")


@dataclass
class PathsConfig:
    #: Folder holding the annotation files, relative to the data root.
    annotations: str
    #: Folder holding the videos, relative to the data root. Default: the dataset's video folder
    #: in the dataset catalogue (``tempvl_core.data.catalogue``) below ``annotations``.
    videos: str | None = None
    #: Optional prepared (re-encoded) copy of the videos, relative to the data root.
    prepared_videos: str | None = None


@dataclass
class SplitsConfig:
    train: str | None = "train"
    eval: str = "test"
    #: Annotation kind of each split (retrieval, moments, qa, mc, captioning, action); by default
    #: the family's. Tools that list a task's videos (check-videos, prepare-videos) read them.
    train_kind: str | None = None
    eval_kind: str | None = None


@dataclass
class VideoConfig:
    num_frames: int = checked(8, ge=1)
    #: Evaluation sampling: uniform | fps | window.
    sampling: str = checked("uniform", choices=("uniform", "fps", "window"))
    #: Training sampling: random | uniform | fps.
    train_sampling: str = checked("random", choices=("random", "uniform", "fps"))
    fps: float | None = checked(None, gt=0)
    size: int = checked(224, ge=1)
    #: Horizontal flips change left/right in the text; off unless the task is flip-safe.
    hflip: bool = False
    #: Smallest area fraction of the training random resized crop (1.0: no cropping).
    train_crop_min_scale: float = checked(0.5, gt=0, le=1)
    #: Fraction of videos allowed to fail decoding before the run stops.
    max_failed_fraction: float = checked(0.0, ge=0, le=1)
    #: When a video's own file is missing, read the one other file that could stand in for it
    #: (same stem with another extension; an ActivityNet id with or without ``v_``). Each such
    #: substitution is listed in results.json (``video_substitutions``) and in the log; off,
    #: the video fails with a message naming the file that could stand in.
    allow_substitutes: bool = False


@dataclass
class TextConfig:
    max_length: int = checked(64, ge=1)


@dataclass
class BatchConfig:
    train: int = checked(32, ge=1)
    eval: int = checked(64, ge=1)
    num_workers: int = checked(2, ge=0)


@dataclass
class FinetuneConfig:
    epochs: int = checked(5, ge=1)
    lr: float = checked(1e-4, gt=0)
    weight_decay: float = checked(0.01, ge=0)
    warmup_ratio: float = checked(0.1, ge=0, le=1)
    #: 0 turns clipping off.
    grad_clip: float = checked(1.0, ge=0)
    #: Train only the top N layers of the text encoder (None: all of it).
    train_text_layers: int | None = checked(None, ge=0)


@dataclass
class ModelConfig:
    #: The model evaluated (``tempvl-bench list models``; ``run --model NAME`` overrides it).
    name: str = "tempvl"
    #: The model's local folder, for models that load one (``hf-clip``: a CLIPModel folder).
    path: str | None = None
    #: TemPVL size preset: tiny (CPU demo and tests) or base.
    preset: str = checked("base", choices=("tiny", "base"))
    backbone: str = "vit-b16"
    text_encoder: str = "minilm"
    #: Backbone weights: false, true (timm cache, offline) or a local weights file.
    pretrained: bool | str = False
    #: Extra TemPVLConfig fields, passed through to the model.
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class TaskConfig:
    name: str
    family: str
    plugin: str
    dataset: str
    paths: PathsConfig
    metrics: list[str]
    primary_metric: str
    description: str = ""
    groups: list[str] = field(default_factory=list)
    splits: SplitsConfig = field(default_factory=SplitsConfig)
    video: VideoConfig = field(default_factory=VideoConfig)
    text: TextConfig = field(default_factory=TextConfig)
    batch: BatchConfig = field(default_factory=BatchConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    #: Family-specific settings (e.g. the metric protocol).
    options: dict[str, Any] = field(default_factory=dict)
    #: The feature-pack source (moment retrieval, action localization): a preset and overrides,
    #: validated by ``tempvl_core.data.features.layout_from_mapping`` when a run reads a pack.
    features: dict[str, Any] = field(default_factory=dict)
    #: Overrides merged in with --demo (kept raw; not validated on their own).
    demo: dict[str, Any] = field(default_factory=dict)
    #: The file this was read from (set by the loader, not in YAML).
    source: str = ""
    #: Dotted keys given with ``--set`` (not a field: results record the resolved values only).
    set_keys: ClassVar[frozenset[str]] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def where(self, key: str) -> str:
        """``<task file>: key '<key>'``, plus ``(set with --set)`` when the value came from --set."""
        return _where(Path(self.source), key, set(self.set_keys))

    @property
    def prepared_videos_dir(self) -> str:
        """Prepared copies of the videos, relative to the data root (default ``<videos>_prepared``)."""
        return self.paths.prepared_videos or self.paths.videos.rstrip("/") + "_prepared"


def load_task_config(path: Path, *, overrides: Sequence[str] = (), demo: bool = False) -> TaskConfig:
    """Read, merge (demo section, then ``--set`` overrides) and validate a task file."""
    path = Path(path)
    raw = read_yaml(path, "task file")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level, got {type(raw).__name__}")
    raw = copy.deepcopy(raw)
    if demo:
        demo_section = raw.get("demo") or {}
        if not isinstance(demo_section, dict):
            raise ConfigError(f"{path}: key 'demo': expected a mapping, got {type(demo_section).__name__}")
        _deep_merge(raw, demo_section)
    from_override = set()
    for item in overrides:
        key = apply_override(raw, item)
        if key.split(".")[0] in IDENTITY_KEYS:
            raise ConfigError(f"--set {_shown(item)}: {key!r} says which task this is and which plugin runs it "
                              f"({path}); it cannot be overridden. Pick another task with --task instead")
        from_override.add(key)
    raw["source"] = str(path)
    config = _build(TaskConfig, raw, "", path, from_override)
    config.set_keys = frozenset(from_override)
    if not TASK_NAME.fullmatch(config.name):
        raise ConfigError(f"{path}: key 'name': {config.name!r} is not a task name; expected lower-case letters, "
                          "digits, '.', '_' and '-', starting with a letter or digit (it names the results folder)")
    if config.paths.videos is None:
        config.paths.videos = _catalogue_video_dir(config, path, from_override)
    _check_metrics(config, path, from_override)
    return config


def _catalogue_video_dir(config: TaskConfig, path: Path, from_override: set[str]) -> str:
    """``<annotations>/<the dataset's video folder>`` from the dataset catalogue."""
    from tempvl_core.data.catalogue import DATASETS

    if config.dataset not in DATASETS:
        raise ConfigError(f"{_where(path, 'paths.videos', from_override)}: required, because dataset "
                          f"{config.dataset!r} is not in the dataset catalogue (known: {', '.join(sorted(DATASETS))})")
    return f"{config.paths.annotations.rstrip('/')}/{DATASETS[config.dataset].video_dir}"


def parse_options(config: TaskConfig, schema: type) -> Any:
    """The task's ``options:`` mapping as the family's dataclass ``schema``, checked like the rest
    of the file: unknown keys (with did-you-mean), types and ranges, errors naming the file and
    whether the key came from ``--set``."""
    return options_from_mapping(schema, config.options, config.source, config.set_keys)


def options_from_mapping(schema: type, raw: Mapping[str, Any] | None, source: str | Path,
                         set_keys: Sequence[str] = ()) -> Any:
    """``raw`` (an ``options:`` mapping read from ``source``) as the dataclass ``schema``."""
    return _build(schema, dict(raw or {}), "options.", Path(source), set(set_keys))


def _check_metrics(config: TaskConfig, path: Path, from_override: set[str]) -> None:
    if not config.metrics:
        raise ConfigError(f"{_where(path, 'metrics', from_override)}: expected at least one metric name")
    repeated = sorted({m for m in config.metrics if config.metrics.count(m) > 1})
    if repeated:
        raise ConfigError(f"{_where(path, 'metrics', from_override)}: {', '.join(repeated)} listed twice")
    if config.primary_metric not in config.metrics:
        close = difflib.get_close_matches(config.primary_metric, config.metrics, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"{_where(path, 'primary_metric', from_override)}: {config.primary_metric!r} is not one of the "
            f"task's metrics ({', '.join(config.metrics)}).{hint}"
        )


def _shown(item: str, limit: int = 120) -> str:
    """``repr(item)``, cut to ``limit`` characters (a 5000-digit value is not echoed whole)."""
    return repr(item) if len(item) <= limit else repr(item[:limit]) + f"... ({len(item)} characters)"


def apply_override(raw: dict[str, Any], item: str) -> str:
    """Apply ``a.b=c`` to a raw mapping; the value is parsed as YAML. Returns the dotted key."""
    key, sep, value = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set {_shown(item)}: expected KEY=VALUE with a dotted key, e.g. finetune.epochs=3")
    parsed = parse_yaml_text(value, f"--set {_shown(item)}", ConfigError, "the value") if value.strip() else ""
    node = raw
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"--set {_shown(item)}: {part!r} is not a mapping, cannot set {key!r}")
        node = child
    node[parts[-1]] = parsed
    return key


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)


def builtin_task_file(name: str) -> Path:
    """Path of a task YAML shipped in the ``tempvl_tasks`` package (the repository's tasks/)."""
    from importlib.resources import files

    return Path(str(files("tempvl_tasks").joinpath(f"{name}.yaml")))
