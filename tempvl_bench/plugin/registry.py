"""Small typed registries with "did you mean ...?" errors.

Plugins fill them through hooks (see :mod:`tempvl_bench.plugin.hookspecs`); the harness reads them.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Generic, Iterator, TypeVar

from tempvl_bench.plugin.capabilities import check_declared

if TYPE_CHECKING:
    import torch.nn as nn

    from tempvl_bench.run.checkpoint import Checkpoint


class RegistryError(KeyError):
    """A name that is unknown or registered twice; the message says what to do."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass(frozen=True)
class TaskSpec:
    """A benchmark task: its YAML definition and the family code that runs it.

    The task file's ``family:`` key names the task's family (results.json, ``score --family``,
    the family table of :mod:`tempvl_bench.metrics.families`); the spec says nothing about that
    name. ``family`` is the :class:`tempvl_bench.run.family.TaskFamily` (class or instance) whose
    steps the harness runs in its one lifecycle, usually as a lazy ``"package.module:attr"``
    target imported only when the task runs.
    """

    name: str
    config_path: Path
    #: A :class:`~tempvl_bench.run.family.TaskFamily` (class or instance) or its lazy
    #: ``"module:attr"`` target (typed Any: the registry imports nothing from the run room).
    family: Any
    groups: tuple[str, ...] = ()
    description: str = ""
    plugin: str = ""

    def __post_init__(self) -> None:
        # TaskSpec(name, family name, config, target) was the signature before the family's name
        # moved to the task file alone: refuse it here rather than fail later on a string path.
        if isinstance(self.family, (str, Path)) and ":" not in str(self.family):
            raise TypeError(f"task {self.name!r}: TaskSpec(name, config_path, family) takes the task file and "
                            f"the family's code ('package.module:attr' or a TaskFamily), got config_path="
                            f"{self.config_path!r}, family={self.family!r}; the family's name belongs in the task "
                            "file's 'family:' key")


@dataclass(frozen=True)
class BackboneOptions:
    """What a backbone factory is asked to build."""

    image_size: int = 224
    #: False, True (timm's own cache, offline), or a path to a local weights file.
    pretrained: bool | str = False
    #: Free-form argument after a colon: ``timm:resnet18`` gives ``argument="resnet18"``.
    argument: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BackboneSpec:
    """A video backbone: per-frame or clip kind (see ``tempvl_bench_register_backbones``)."""

    name: str
    factory: "Callable[[BackboneOptions], nn.Module]"
    description: str = ""
    #: True when the name takes an argument after a colon (``timm:<model name>``).
    takes_argument: bool = False
    plugin: str = ""


@dataclass(frozen=True)
class TextEncoderSpec:
    """A text encoder: a function resolving the local model directory."""

    name: str
    resolve: Callable[[], Path]
    description: str = ""
    plugin: str = ""


@dataclass(frozen=True)
class ModelOptions:
    """What a model factory is asked to build (see ``tempvl_bench_register_models``)."""

    #: The run's task config (``config.model.path``: ``--set model.path=DIR``; ``config.video``...).
    config: Any
    #: The torch device the model must live on.
    device: str
    #: ``config.model.path`` as a Path (None: the factory's own default, e.g. the offline HF cache).
    path: Path | None = None
    #: ``--checkpoint``, resolved (a TemPVL checkpoint's folder and weights; other models refuse it).
    checkpoint: Checkpoint | None = None
    #: The run's video backbone, built on call (for models that take a registered backbone).
    backbone: "Callable[[], nn.Module] | None" = None
    #: The local folder of the run's text encoder, resolved on call.
    text_encoder: Callable[[], Path] | None = None
    #: The names of the run's backbone and text encoder (``--backbone``, ``--text-encoder``).
    backbone_name: str = ""
    text_encoder_name: str = ""


@dataclass(frozen=True)
class ModelIdentity:
    """What names a model's numbers (results.json ``model``; the feature cache and ``--resume``
    key on it): its name, the folder it was loaded from, and sha256 hashes of its configuration
    (model and preprocessing files) and of its weights files (None when it starts untrained)."""

    name: str
    path: str | None
    config_sha256: str
    weights_sha256: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "config_sha256": self.config_sha256,
                "weights_sha256": self.weights_sha256}


@dataclass(frozen=True)
class ModelSpec:
    """A model a run can evaluate: ``run --model NAME`` (see ``tempvl_bench_register_models``).

    ``factory(ModelOptions)`` returns the model (built once per run, after the checks);
    ``capabilities`` say what it can do (names in :data:`tempvl_bench.plugin.capabilities.CAPABILITIES`),
    and a task whose family needs one it lacks is refused before any video is read;
    ``identify(ModelOptions)`` returns its :class:`ModelIdentity` from its files, cheaply and
    before anything is built (None: the name alone identifies it).
    """

    name: str
    factory: "Callable[[ModelOptions], Any]"
    capabilities: frozenset[str] = frozenset()
    description: str = ""
    identify: "Callable[[ModelOptions], ModelIdentity] | None" = None
    plugin: str = ""


T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> spec mapping; errors list close matches and what is available."""

    kind = "item"

    def __init__(self) -> None:
        self._items: dict[str, T] = {}
        #: Set by the plugin manager while a plugin's hook runs, so specs record their origin.
        self.current_plugin = ""

    def register(self, spec: T) -> T:
        name = getattr(spec, "name")
        if name in self._items:
            other = getattr(self._items[name], "plugin", "") or "another plugin"
            raise RegistryError(
                f"{self.kind} {name!r} is registered twice (by {other} and by "
                f"{self.current_plugin or 'this plugin'}); rename one or disable a plugin with -p no:NAME"
            )
        if hasattr(spec, "plugin") and not getattr(spec, "plugin"):
            object.__setattr__(spec, "plugin", self.current_plugin)
        self._items[name] = spec
        return spec

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise RegistryError(self._unknown_message(name)) from None

    def _unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(name, list(self._items), n=3, cutoff=0.6)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        known = ", ".join(sorted(self._items)) or "none (are the plugins installed?)"
        return f"unknown {self.kind} {name!r}.{hint} Available: {known}."

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[T]:
        return iter(self._items[n] for n in self.names())

    def __len__(self) -> int:
        return len(self._items)


class TaskRegistry(Registry[TaskSpec]):
    kind = "task"

    def groups(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for spec in self:
            for group in spec.groups:
                out.setdefault(group, []).append(spec.name)
        return out

    def expand(self, selection: str) -> list[str]:
        """Resolve ``"didemo"``, ``"retrieval"`` or ``"didemo,msvd"`` to task names (in order)."""
        names: list[str] = []
        groups = self.groups()
        for part in (p.strip() for p in selection.split(",")):
            if not part:
                continue
            if part in self._items:
                found = [part]
            elif part in groups:
                found = groups[part]
            else:
                close = difflib.get_close_matches(part, list(self._items) + list(groups), n=3, cutoff=0.6)
                hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
                raise RegistryError(
                    f"unknown task or group {part!r}.{hint} Tasks: {', '.join(self.names()) or 'none'}; "
                    f"groups: {', '.join(sorted(groups)) or 'none'}."
                )
            names.extend(n for n in found if n not in names)
        return names


class BackboneRegistry(Registry[BackboneSpec]):
    kind = "backbone"

    def resolve(self, name: str) -> tuple[BackboneSpec, str | None]:
        """``"timm:resnet18"`` -> (spec of ``timm``, ``"resnet18"``)."""
        if name in self._items:
            return self._items[name], None
        base, sep, argument = name.partition(":")
        if sep and base in self._items and self._items[base].takes_argument:
            return self._items[base], argument
        raise RegistryError(self._unknown_message(name))


class TextEncoderRegistry(Registry[TextEncoderSpec]):
    kind = "text encoder"


class ModelRegistry(Registry[ModelSpec]):
    kind = "model"

    def register(self, spec: ModelSpec) -> ModelSpec:
        check_declared(spec.name, spec.plugin or self.current_plugin, spec.capabilities)
        return super().register(spec)
