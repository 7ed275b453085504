"""The plugin manager: loads the ``tempvl_bench`` entry points and builds the registries.

Built-in benchmarks and backbones are entry points of this very distribution, loaded exactly
like a third-party package's. A plugin that fails to import is reported by name and the others
keep working; ``-p no:NAME`` disables one; ``TEMPVL_BENCH_DISABLE_PLUGIN_AUTOLOAD=1`` disables
entry-point loading altogether (then only ``-p MODULE`` plugins load);
``TEMPVL_BENCH_PLUGIN_DISTRIBUTIONS=dist-a,dist-b`` autoloads only the entry points of the named
distributions (the test suite sets it to this project's own, so that whatever else is installed
cannot change its outcomes).
"""

from __future__ import annotations

import difflib
import importlib
import os
import re
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Sequence

import pluggy

from tempvl_bench.plugin import hookspecs
from tempvl_bench.plugin.registry import BackboneRegistry, ModelRegistry, TaskRegistry, TextEncoderRegistry

if TYPE_CHECKING:
    from importlib import metadata

ENTRY_POINT_GROUP = "tempvl_bench"
AUTOLOAD_ENV = "TEMPVL_BENCH_DISABLE_PLUGIN_AUTOLOAD"
DISTRIBUTIONS_ENV = "TEMPVL_BENCH_PLUGIN_DISTRIBUTIONS"


class PluginLoadWarning(UserWarning):
    """A plugin could not be imported or failed while registering; the others still load."""


@dataclass(frozen=True)
class PluginInfo:
    name: str
    version: str
    module: str
    hooks: tuple[str, ...]


@dataclass(frozen=True)
class PluginFailure:
    name: str
    error: str


@dataclass
class PluginHost:
    """A loaded plugin manager with the registries its plugins filled."""

    pm: pluggy.PluginManager
    tasks: TaskRegistry
    backbones: BackboneRegistry
    text_encoders: TextEncoderRegistry
    models: ModelRegistry = field(default_factory=ModelRegistry)
    failures: list[PluginFailure] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    _versions: dict[str, str] = field(default_factory=dict)

    def plugins(self) -> list[PluginInfo]:
        out = []
        for name, plugin in sorted(self.pm.list_name_plugin(), key=lambda item: item[0]):
            if plugin is None:
                continue
            callers = self.pm.get_hookcallers(plugin) or []
            out.append(
                PluginInfo(
                    name=name,
                    version=self._versions.get(name, ""),
                    module=getattr(plugin, "__name__", type(plugin).__name__),
                    hooks=tuple(sorted(c.name for c in callers)),
                )
            )
        return out


def _parse_plugin_options(options: Sequence[str]) -> tuple[set[str], list[str]]:
    """Split ``-p`` values into disabled names (``no:NAME``) and modules to load explicitly."""
    disabled, explicit = set(), []
    for value in options:
        if value.startswith("no:"):
            disabled.add(value[3:])
        else:
            explicit.append(value)
    return disabled, explicit


def _autoload_enabled() -> bool:
    return os.environ.get(AUTOLOAD_ENV, "").strip().lower() not in {"1", "true", "yes", "on"}


def _normalise(dist_name: str) -> str:
    """A distribution name as packaging compares them (PEP 503): ``My_Dist`` is ``my-dist``."""
    return re.sub(r"[-_.]+", "-", dist_name).lower()


def _allowed_distributions() -> list[str] | None:
    """The distributions named by ``TEMPVL_BENCH_PLUGIN_DISTRIBUTIONS``, in order; None: every one."""
    names = [n.strip() for n in os.environ.get(DISTRIBUTIONS_ENV, "").split(",") if n.strip()]
    return list(dict.fromkeys(_normalise(n) for n in names)) or None


def _entry_points() -> Iterable[metadata.EntryPoint]:
    from importlib import metadata  # only when plugins load: `score` and --help never need it

    allowed = _allowed_distributions()
    if allowed is None:
        return metadata.entry_points(group=ENTRY_POINT_GROUP)
    # Only the named distributions are looked up and their entry_points.txt read (the first of
    # each name on sys.path, as importlib.metadata.entry_points() takes), in the order named.
    found = []
    for name in allowed:
        dist = next(iter(metadata.distributions(name=name)), None)
        if dist is not None:
            found.extend(dist.entry_points.select(group=ENTRY_POINT_GROUP))
    return found


def load_plugins(plugin_options: Sequence[str] = (), *, extra_plugins: Sequence[object] = ()) -> PluginHost:
    """Create the plugin manager, load plugins and fill the registries.

    ``plugin_options`` are the CLI's ``-p`` values: ``no:NAME`` disables the plugin NAME (an
    entry-point name), anything else is a module to import and register. ``extra_plugins`` are
    objects registered directly (for tests and embedding).
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    disabled, explicit = _parse_plugin_options(plugin_options)
    host = PluginHost(pm, TaskRegistry(), BackboneRegistry(), TextEncoderRegistry(), disabled=sorted(disabled))

    if _autoload_enabled():
        for ep in _entry_points():
            if ep.name in disabled or pm.get_plugin(ep.name) is not None:
                continue
            _register(host, ep.name, lambda ep=ep: ep.load(), _dist_version(ep))
    for module_name in explicit:
        if module_name in disabled:
            continue
        _register(host, module_name, lambda m=module_name: importlib.import_module(m), "")
    for obj in extra_plugins:
        name = getattr(obj, "__name__", repr(obj))
        _register(host, name, lambda obj=obj: obj, "")

    # A hook implementation whose name matches no spec is a typo: fail loudly, naming it.
    _check_hook_names(host)
    pm.check_pending()
    _fill_registries(host)
    return host


class UnknownHookError(pluggy.PluginValidationError, ValueError):
    """A plugin implements a hook that does not exist (usually a misspelt name)."""


def _check_hook_names(host: PluginHost) -> None:
    known = sorted(n for n in dir(hookspecs) if n.startswith("tempvl_bench_"))
    for name, caller in vars(host.pm.hook).items():
        if name.startswith("_") or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if impl.optionalhook:
                continue
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            module = getattr(impl.plugin, "__name__", type(impl.plugin).__name__)
            raise UnknownHookError(
                impl.plugin,
                f"tempvl-bench plugin {impl.plugin_name!r} ({module}) implements {name!r}, which is not a "
                f"tempvl-bench hook.{hint} Hooks: {', '.join(known)}. Rename the function, or disable the "
                f"plugin with -p no:{impl.plugin_name}.",
            )


def _dist_version(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.version if dist is not None else ""


def _register(host: PluginHost, name: str, load, version: str) -> None:
    try:
        plugin = load()
    except Exception as exc:  # any import error of one plugin must not take the others down
        _fail(host, name, f"failed to import: {type(exc).__name__}: {exc}")
        return
    try:
        host.pm.register(plugin, name=name)
    except Exception as exc:
        _fail(host, name, f"failed to register: {exc}")
        return
    host._versions[name] = version


def _fail(host: PluginHost, name: str, error: str) -> None:
    host.failures.append(PluginFailure(name, error))
    warnings.warn(f"tempvl-bench plugin {name!r} {error}; continuing without it", PluginLoadWarning, stacklevel=3)


def _fill_registries(host: PluginHost) -> None:
    """Call each registration hook plugin by plugin, so a failing plugin is named and skipped."""
    # Here, not at the top: the CLI imports this module to start, and `score` never loads config or yaml.
    from tempvl_bench.run.tempvl_model import tempvl_model_spec

    host.models.register(tempvl_model_spec())  # the harness's own model, before any plugin's
    hooks = (
        ("tempvl_bench_register_tasks", host.tasks),
        ("tempvl_bench_register_backbones", host.backbones),
        ("tempvl_bench_register_text_encoders", host.text_encoders),
        ("tempvl_bench_register_models", host.models),
    )
    for hook_name, registry in hooks:
        caller = getattr(host.pm.hook, hook_name)
        for impl in caller.get_hookimpls():
            registry.current_plugin = impl.plugin_name
            try:
                impl.function(**{arg: registry for arg in impl.argnames})
            except Exception as exc:
                _fail(host, impl.plugin_name, f"raised in {hook_name}: {type(exc).__name__}: {exc}")
            finally:
                registry.current_plugin = ""
