"""File-reading helpers shared by the loaders: every failure becomes an AnnotationError.

Loaders call these instead of ``json``/``csv`` directly so that a malformed file is reported
with its name, the line or key, and the expected shape, never as a traceback from the parser.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from tempvl_core.data.errors import AnnotationError


def require_file(path: Path, what: str) -> Path:
    """Return ``path`` if it is a file, else raise naming what the file should hold."""
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(path, "", f"an existing file ({what})", "no such file")
    return path


def read_text(path: Path, what: str) -> str:
    """Read a UTF-8 text file (a BOM is tolerated)."""
    path = require_file(path, what)
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AnnotationError(path, f"byte {exc.start}", "UTF-8 text", exc.reason) from None


def physical_lines(text: str) -> list[str]:
    r"""Lines split on ``\n`` only, ``\r`` endings removed, no phantom line after a final newline.

    ``str.splitlines`` is avoided on purpose: it also splits on form feeds, ``\x1c``-``\x1e``
    and U+2028, which occur inside real captions.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def read_lines(path: Path, what: str) -> list[tuple[int, str]]:
    """Non-empty lines as ``(1-based line number, text)``; CRLF and a missing final newline are fine."""
    return [(n, line) for n, line in enumerate(physical_lines(read_text(path, what)), start=1) if line.strip()]


def read_name_list(path: Path, what: str) -> list[str]:
    """A split list: one name per line, surrounding whitespace removed, order kept."""
    return [line.strip() for _, line in read_lines(path, what)]


def read_json(path: Path, what: str) -> Any:
    """Parse a whole JSON file, reporting the line and column of a syntax error."""
    text = read_text(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise AnnotationError(
            path, f"line {exc.lineno} column {exc.colno}", f"valid JSON ({what})", exc.msg
        ) from None
    except RecursionError:
        raise AnnotationError(path, "", f"JSON nested less deeply ({what})", "too deep to parse") from None


def read_jsonl(path: Path, what: str) -> Iterator[tuple[int, Any]]:
    """Parse a JSON-lines file: ``(line number, object)`` per non-empty line."""
    for number, line in read_lines(path, what):
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            raise AnnotationError(path, f"line {number}", f"one JSON object per line ({what})", exc.msg) from None
        except RecursionError:
            raise AnnotationError(path, f"line {number}", f"JSON nested less deeply ({what})", "too deep") from None


def read_csv_rows(
    path: Path, what: str, required: Iterable[str], delimiter: str = ","
) -> list[tuple[int, dict[str, str]]]:
    """Rows of a CSV with a header, indexed by column name: ``(line number, row)``.

    Columns are looked up by name because mirrors reorder them; ``required`` columns must exist.
    The line number is the physical line where the row starts (quoted fields may span lines).
    """
    required = list(required)
    text = read_text(path, what)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = reader.fieldnames or []
    missing = [name for name in required if name not in header]
    if missing:
        raise AnnotationError(path, "line 1", f"a header with columns {required} ({what})", header)
    rows = []
    start = reader.line_num + 1
    try:
        for row in reader:
            if None in row or any(value is None for value in row.values()):
                raise AnnotationError(path, f"line {start}", f"{len(header)} fields as in the header", row)
            rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise AnnotationError(path, f"line {reader.line_num}", "valid CSV", str(exc)) from None
    return rows


def expect_type(value: Any, kind: type | tuple[type, ...], path: Path, where: str, expected: str) -> Any:
    """Return ``value`` if it is an instance of ``kind`` (bool never counts as a number)."""
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise AnnotationError(path, where, expected, value)
    if not isinstance(value, kind):
        raise AnnotationError(path, where, expected, value)
    return value


def get_key(obj: Any, key: str, path: Path, where: str) -> Any:
    """``obj[key]`` for a JSON object, with an error naming the missing key."""
    if not isinstance(obj, Mapping):
        raise AnnotationError(path, where, "a JSON object", type(obj).__name__)
    if key not in obj:
        raise AnnotationError(path, where, f"key {key!r}", f"keys {sorted(obj)}")
    return obj[key]


def as_number(value: Any, path: Path, where: str) -> float:
    """A JSON number (int or float) or a numeric string, as float."""
    if isinstance(value, bool):
        raise AnnotationError(path, where, "a finite number", value)
    number = None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            pass
    if number is None or not math.isfinite(number):  # NaN/Infinity: JSON extensions Python accepts
        raise AnnotationError(path, where, "a finite number", value)
    return number


def as_pair(value: Any, path: Path, where: str) -> tuple[float, float]:
    """A ``[start, end]`` pair of numbers."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise AnnotationError(path, where, "a [start, end] pair", value)
    return as_number(value[0], path, where), as_number(value[1], path, where)


def as_str(value: Any, path: Path, where: str) -> str:
    """A JSON string."""
    return expect_type(value, str, path, where, "a string")


def str_field(obj: Any, key: str, path: Path, where: str) -> str:
    """``obj[key]`` as a string; errors name ``<where> '<key>'``."""
    return as_str(get_key(obj, key, path, where), path, f"{where} {key!r}")


def num_field(obj: Any, key: str, path: Path, where: str) -> float:
    """``obj[key]`` as a float (JSON int or float)."""
    return as_number(get_key(obj, key, path, where), path, f"{where} {key!r}")


def int_field(obj: Any, key: str, path: Path, where: str, expected: str = "an integer") -> int:
    """``obj[key]`` as a JSON integer (not a float, not a bool)."""
    return expect_type(get_key(obj, key, path, where), int, path, f"{where} {key!r}", expected)


def check_split(split: str, allowed: Iterable[str], dataset: str) -> None:
    """Reject an unknown split name with the list of valid ones."""
    allowed = list(allowed)
    if split not in allowed:
        raise AnnotationError(dataset, "split", f"one of {allowed}", split)


def clip_window(start: float, end: float, duration: float | None) -> tuple[tuple[float, float] | None, bool]:
    """Clip a window to ``[0, duration]``; return ``(window or None if empty, clipped?)``."""
    clipped = False
    if start < 0:
        start, clipped = 0.0, True
    if duration is not None and end > duration:
        end, clipped = duration, True
    if start >= end:
        return None, clipped
    return (start, end), clipped


def question_type(question: str) -> str | None:
    """The question's first word (what/who/how/when/where): the breakdown MSVD-QA and MSRVTT-QA report."""
    words = question.split()
    return words[0].lower().rstrip("?,") if words else None
