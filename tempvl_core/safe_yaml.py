"""The one YAML reader of the project: task files, pretraining and study configs, ``--set`` values.

:class:`StrictLoader` is ``yaml.SafeLoader`` (no tags that run code) that also refuses

- a key given twice in one mapping, at any depth: YAML would silently keep the last value, so
  ``num_frames: 8`` ... ``num_frames: 2`` would run with 2 frames;
- aliases (``*name``): a few nested aliases expand a small file into gigabytes (an "alias
  bomb"), and a config never needs them.

:func:`read_yaml` reads a file with it and turns every failure (missing, unreadable, not UTF-8,
not YAML, one of the above, nested too deep) into one ``error`` naming the file and the line;
:func:`parse_yaml_text` does the same for text from elsewhere (a ``--set`` value), naming its
source.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tempvl_core.schema import ConfigError


class StrictYAMLError(yaml.YAMLError):
    """A duplicate key or an alias; the message names the line."""


class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` without duplicate keys and without aliases."""

    def compose_node(self, parent, index):  # noqa: ANN001 - PyYAML's signature
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise StrictYAMLError(f"line {event.start_mark.line + 1}: alias '*{event.anchor}' refused (aliases can "
                                  "expand a small file into an enormous one); write the value out instead")
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):  # noqa: ANN001 - PyYAML's signature
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # ``<<:``, flattened by the base class
                continue
            key, line = self.construct_object(key_node, deep=True), key_node.start_mark.line + 1
            try:
                if key in first_line:
                    raise StrictYAMLError(f"line {line}: key {repr(key)[:80]} given twice in one mapping (first on line "
                                          f"{first_line[key]}); YAML would keep only the last value")
                first_line[key] = line
            except TypeError:  # an unhashable key: the base class refuses it, naming its line
                continue
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str) -> Any:
    """``text`` parsed by :class:`StrictLoader` (raises ``yaml.YAMLError`` or RecursionError)."""
    return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - StrictLoader is a SafeLoader


def describe_yaml_error(exc: yaml.YAMLError) -> str:
    """PyYAML's multi-line report as one line: ``line L, column C: <problem> (<context>)``."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if mark is None or problem is None:
        return " ".join(str(exc).split())
    context = getattr(exc, "context", None)
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" + (f" ({context})" if context else "")


def read_yaml(path: str | Path, what: str = "file", error: type[Exception] = ConfigError) -> Any:
    """The YAML document in ``path``; every failure is one ``error`` naming the file (``what`` says
    what it is, e.g. "task file")."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except OSError as exc:
        raise error(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise error(f"{path}: line {line}: the {what} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                    f"{exc.start}); save it as UTF-8") from None
    return parse_yaml_text(text, str(path), error)


def parse_yaml_text(text: str, source: str, error: type[Exception] = ConfigError, what: str = "") -> Any:
    """``text`` parsed by :class:`StrictLoader`; every failure is one ``error`` that starts with
    ``source`` (a file, ``--set KEY=VALUE``) and names the line (``what``: what the text is)."""
    invalid = f"{source}: {what + ' is ' if what else ''}not valid YAML"
    try:
        return parse_yaml(text)
    except StrictYAMLError as exc:
        raise error(f"{source}: {exc}") from None
    except yaml.YAMLError as exc:
        raise error(f"{invalid}: {describe_yaml_error(exc)}") from None
    except RecursionError:
        raise error(f"{invalid}: nested too deeply") from None
    except ValueError as exc:  # a value PyYAML's constructors cannot hold (an int of 5000 digits)
        raise error(f"{invalid}: {exc}") from None
