"""The one config validator: YAML mappings read into typed dataclasses, checked once.

Task files (``tempvl_bench.config``), their family ``options:`` and pretraining configs
(``tempvl_core.train.config``) all go through :func:`build`. A field's type is checked (``int``,
``float`` incl. ``3e-4``, ``str``, ``bool``, ``Literal``, lists, tuples, mappings, nested
dataclasses, unions with None) and :func:`checked` adds ranges, choices or a predicate. Every
error is a :class:`ConfigError` naming the file, the dotted key and what was expected; an
unknown key gets a "did you mean". A field with ``metadata={"yaml": False}`` is not a key.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from dataclasses import field
from pathlib import Path
from typing import Any, Callable, Sequence

_SCIENTIFIC = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


class ConfigError(ValueError):
    """A config file, task file or override that does not match its schema."""


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


def build(cls: type, data: Any, prefix: str, path: Path | str, from_override: set[str] = frozenset()) -> Any:
    """``data`` (a mapping read from ``path``) as the dataclass ``cls``; keys below ``prefix``."""
    path = Path(path)
    at = lambda key: where(path, prefix + key, from_override)  # noqa: E731
    if not isinstance(data, dict):
        raise ConfigError(f"{where(path, prefix.rstrip('.') or '<top>', from_override)}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.metadata.get("yaml", True)}
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(str(key), list(fields), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{at(str(key))}: unknown key.{hint} Allowed keys: {', '.join(fields)}")
    kwargs = {}
    for name, f in fields.items():
        worded = f.metadata.get("expected")
        if name in data:
            try:
                kwargs[name] = _convert(hints[name], data[name], prefix + name, path, from_override)
            except ConfigError:
                if not worded:
                    raise
                raise ConfigError(f"{at(name)}: expected {worded}, got {data[name]!r}") from None
            expected = _violation(f.metadata.get("check", {}), kwargs[name])
            if expected:
                raise ConfigError(f"{at(name)}: expected {worded or expected}, got {data[name]!r}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:  # type: ignore[misc]
            raise ConfigError(f"{at(name)}: required key is missing (expected {worded or _describe(hints[name])})")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:  # the schema's own cross-field checks (__post_init__)
        raise ConfigError(f"{where(path, prefix.rstrip('.') or '<top>', from_override)}: {exc}") from None


def convert(tp: Any, value: Any, key: str, path: Path | str, from_override: set[str] = frozenset()) -> Any:
    """One value checked against (and converted to) the type ``tp``, as :func:`build` does for a
    field; a mismatch is a ConfigError naming ``path`` and ``key``."""
    return _convert(tp, value, key, Path(path), set(from_override))


def _convert(tp: Any, value: Any, key: str, path: Path, from_override: set[str]) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return build(tp, {} if value is None else value, key + ".", path, from_override)  # an empty section
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
    if origin is typing.Literal:
        if value in typing.get_args(tp):
            return value
        choices = [str(c) for c in typing.get_args(tp)]
        close = difflib.get_close_matches(str(value), choices, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{where(path, key, from_override)}: expected one of "
                          f"{', '.join(repr(c) for c in typing.get_args(tp))}, got {value!r}.{hint}")
    if origin is list:
        (item_type,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise _type_error(tp, value, key, path, from_override)
        return [_convert(item_type, v, f"{key}[{i}]", path, from_override) for i, v in enumerate(value)]
    if origin is tuple:  # a YAML list read as a tuple: ``tuple[X, ...]`` or of fixed length
        args = typing.get_args(tp)
        types_ = [args[0]] * len(value) if len(args) == 2 and args[1] is Ellipsis else list(args)
        if not isinstance(value, list) or len(value) != len(types_):
            raise _type_error(tp, value, key, path, from_override)
        return tuple(_convert(t, v, f"{key}[{i}]", path, from_override) for i, (t, v) in enumerate(zip(types_, value)))
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
            raise ConfigError(f"{where(path, key, from_override)}: expected a finite number, got {value!r}")
        return number
    if tp is str:
        if isinstance(value, str):
            return value
        raise _type_error(tp, value, key, path, from_override)
    raise ConfigError(f"{where(path, key, from_override)}: unsupported schema type {tp}")  # pragma: no cover


def _describe(tp: Any) -> str:
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(tp))
    if origin is tuple and typing.get_args(tp)[-1] is not Ellipsis:
        return f"a list of {len(typing.get_args(tp))} ({', '.join(_describe(a) for a in typing.get_args(tp))})"
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (list, tuple):
        return f"a list of {_describe(typing.get_args(tp)[0])}"
    if origin is dict:
        return "a mapping"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false", type(None): "null"}.get(
        tp, str(tp)
    )


def _type_error(tp: Any, value: Any, key: str, path: Path, from_override: set[str]) -> ConfigError:
    return ConfigError(f"{where(path, key, from_override)}: expected {_describe(tp)}, got {value!r}")


def where(path: Path, key: str, from_override: set[str]) -> str:
    # A key is from --set when --set named it, a key below it (``--set vidoe.size=1`` is 'vidoe')
    # or a mapping above it (``--set model.overrides={a: 1}`` gives 'model.overrides.a').
    from_set = any(k == key or k.startswith(key + ".") or key.startswith(k + ".") for k in from_override)
    source = " (set with --set)" if from_set else ""
    return f"{path}: key '{key}'{source}"
