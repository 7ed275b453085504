"""Task definitions: YAML parsed once into a validated dataclass.

Errors name the file, the dotted key and what was expected. ``--set a.b=c`` overrides a key
(the value is parsed as YAML); the ``demo:`` section of a task file is merged in with ``--demo``.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping, Sequence

import yaml


_SCIENTIFIC = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


#: Keys that identify a task and the code that runs it: fixed by the task file, never ``--set``.
IDENTITY_KEYS = ("name", "family", "plugin")


class ConfigError(ValueError):
    """A task file or override that does not match the schema."""


def checked(default: Any = dataclasses.MISSING, *, ge: float | None = None, gt: float | None = None,
            le: float | None = None, choices: Sequence[Any] | None = None,
            must: Callable[[Any], bool] | None = None, expected: str | None = None, **kwargs: Any) -> Any:
    """A dataclass field with a range (``ge``/``gt``/``le``), a set of ``choices`` or a predicate
    ``must``, checked at load. ``expected`` words what a valid value is (used in every error
    about the field, a wrong type included); without it the rule is spelt out."""
    rule = {k: v for k, v in (("ge", ge), ("gt", gt), ("le", le), ("choices", choices), ("must", must)) if v is not None}
    metadata = {"check": rule, **({"expected": expected} if expected else {})}
    return field(default=default, metadata=metadata, **kwargs)


def _violation(rule: dict[str, Any], value: Any) -> str | None:
    """What ``value`` should have been, or None when it satisfies ``rule`` (None always does)."""
    if value is None or not rule:
        return None
    if "must" in rule and not rule["must"](value):
        return "a valid value"
    if "choices" in rule and value not in rule["choices"]:
        return "one of " + ", ".join(repr(c) for c in rule["choices"])
    bounds = []
    if "gt" in rule:
        bounds.append(f"> {rule['gt']}")
    if "ge" in rule:
        bounds.append(f">= {rule['ge']}")
    if "le" in rule:
        bounds.append(f"<= {rule['le']}")
    ok = (("gt" not in rule or value > rule["gt"]) and ("ge" not in rule or value >= rule["ge"])
          and ("le" not in rule or value <= rule["le"]))
    return None if ok else "a value " + " and ".join(bounds)


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
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: task file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
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
            raise ConfigError(f"--set {item!r}: {key!r} says which task this is and which plugin runs it "
                              f"({path}); it cannot be overridden. Pick another task with --task instead")
        from_override.add(key)
    raw["source"] = str(path)
    config = _build(TaskConfig, raw, "", path, from_override)
    config.set_keys = frozenset(from_override)
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


def apply_override(raw: dict[str, Any], item: str) -> str:
    """Apply ``a.b=c`` to a raw mapping; the value is parsed as YAML. Returns the dotted key."""
    key, sep, value = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE with a dotted key, e.g. finetune.epochs=3")
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {item!r}: the value is not valid YAML: {exc}") from None
    node = raw
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"--set {item!r}: {part!r} is not a mapping, cannot set {key!r}")
        node = child
    node[parts[-1]] = parsed
    return key


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)


def _build(cls: type, data: Any, prefix: str, path: Path, from_override: set[str]) -> Any:
    where = lambda key: _where(path, prefix + key, from_override)  # noqa: E731
    if not isinstance(data, dict):
        raise ConfigError(f"{_where(path, prefix.rstrip('.') or '<top>', from_override)}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(str(key), list(fields), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{where(str(key))}: unknown key.{hint} Allowed keys: {', '.join(fields)}")
    kwargs = {}
    for name, f in fields.items():
        worded = f.metadata.get("expected")
        if name in data:
            try:
                kwargs[name] = _convert(hints[name], data[name], prefix + name, path, from_override)
            except ConfigError:
                if not worded:
                    raise
                raise ConfigError(f"{where(name)}: expected {worded}, got {data[name]!r}") from None
            expected = _violation(f.metadata.get("check", {}), kwargs[name])
            if expected:
                raise ConfigError(f"{where(name)}: expected {worded or expected}, got {data[name]!r}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:  # type: ignore[misc]
            raise ConfigError(f"{where(name)}: required key is missing (expected {worded or _describe(hints[name])})")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:  # the schema's own cross-field checks (__post_init__)
        raise ConfigError(f"{_where(path, prefix.rstrip('.') or '<top>', from_override)}: {exc}") from None


def _convert(tp: Any, value: Any, key: str, path: Path, from_override: set[str]) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key + ".", path, from_override)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(option, value, key, path, from_override)
            except ConfigError:
                continue
        raise _type_error(tp, value, key, path, from_override)
    if tp is Any:
        return value
    if origin is list:
        (item_type,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise _type_error(tp, value, key, path, from_override)
        return [_convert(item_type, v, f"{key}[{i}]", path, from_override) for i, v in enumerate(value)]
    if origin is tuple:  # only ``tuple[X, ...]``: a YAML list read as a tuple
        item_type = typing.get_args(tp)[0]
        if not isinstance(value, list):
            raise _type_error(tp, value, key, path, from_override)
        return tuple(_convert(item_type, v, f"{key}[{i}]", path, from_override) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise _type_error(tp, value, key, path, from_override)
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _type_error(tp, value, key, path, from_override)
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _type_error(tp, value, key, path, from_override)
    if tp is float:
        number = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value) if abs(value) <= 1e308 else math.inf
        elif isinstance(value, str) and _SCIENTIFIC.fullmatch(value.strip()):
            number = float(value)  # YAML 1.1 reads "3e-4" (no dot) as a string
        if number is None:
            raise _type_error(tp, value, key, path, from_override)
        if not math.isfinite(number):
            raise ConfigError(f"{_where(path, key, from_override)}: expected a finite number, got {value!r}")
        return number
    if tp is str:
        if isinstance(value, str):
            return value
        raise _type_error(tp, value, key, path, from_override)
    raise ConfigError(f"{_where(path, key, from_override)}: unsupported schema type {tp}")  # pragma: no cover


def _describe(tp: Any) -> str:
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(tp))
    if origin in (list, tuple):
        return f"a list of {_describe(typing.get_args(tp)[0])}"
    if origin is dict:
        return "a mapping"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false", type(None): "null"}.get(
        tp, str(tp)
    )


def _type_error(tp: Any, value: Any, key: str, path: Path, from_override: set[str]) -> ConfigError:
    return ConfigError(f"{_where(path, key, from_override)}: expected {_describe(tp)}, got {value!r}")


def _where(path: Path, key: str, from_override: set[str]) -> str:
    # A key is from --set when --set named it or a key below it (``--set vidoe.size=1`` is 'vidoe').
    from_set = any(k == key or k.startswith(key + ".") for k in from_override)
    source = " (set with --set)" if from_set else ""
    return f"{path}: key '{key}'{source}"


def builtin_task_file(name: str) -> Path:
    """Path of a task YAML shipped in the ``tempvl_tasks`` package (the repository's tasks/)."""
    from importlib.resources import files

    return Path(str(files("tempvl_tasks").joinpath(f"{name}.yaml")))
