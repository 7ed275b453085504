"""Safe reading of the files ``tempvl-bench score`` accepts: JSON, JSONL and ``.npy``.

Every problem raises :class:`ScoreInputError` naming the file and, where there is one, the
line or key. JSON objects must not repeat a key (the usual parsers keep the last value
silently, which changes a score without a word). Nothing here executes code from a file.

Speed: :func:`read_score_json` with ``fast=True`` parses with orjson, then proves the absence of
repeated keys by counting colons (see :func:`_keys_unique`); anything unusual falls back to the
exact standard-library path, which is also what names a repeated key.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import warnings
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import orjson


class ScoreInputError(Exception):
    """A prediction or ground-truth file is malformed; the message names the file and the problem."""

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = Path(path)
        self.problem = problem


class _RepeatedKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: building millions of small containers otherwise
    triggers full collections that rescan them all (about half of the parse time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _check_file(path: Path) -> Path:
    path = Path(path)
    if path.is_dir():
        raise ScoreInputError(path, "is a directory; expected a file")
    if not path.exists():
        raise ScoreInputError(path, "file not found")
    if not path.is_file():  # a FIFO or device would block or never end
        raise ScoreInputError(path, "not a regular file")
    return path


def read_bytes(path: Path) -> bytes:
    """The file's bytes; a missing file, a directory or an unreadable file is a ScoreInputError."""
    path = _check_file(path)
    try:
        return path.read_bytes()
    except OSError as err:
        raise ScoreInputError(path, f"cannot read the file ({err.strerror or err})") from None


def decode_utf8(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise ScoreInputError(path, f"line {line}: not UTF-8 text (byte 0x{raw[err.start]:02x} at offset "
                                    f"{err.start}); save the file as UTF-8") from None


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        raise _RepeatedKey(next(key for key, _ in pairs if key in seen or seen.add(key)))
    return out


def loads_strict(path: Path, text: str, where: str = "") -> Any:
    """Standard-library parse that refuses repeated keys; errors name ``path`` and ``where``."""
    prefix = f"{where}: " if where else ""
    try:
        return json.loads(text, object_pairs_hook=_unique_pairs)
    except _RepeatedKey as err:
        raise ScoreInputError(path, f"{prefix}JSON object repeats the key {err.key!r}; keys must be unique "
                                    "(a parser would silently keep only the last value)") from None
    except json.JSONDecodeError as err:
        location = f"line {err.lineno} column {err.colno}" if not where else f"column {err.colno}"
        raise ScoreInputError(path, f"{prefix}not valid JSON ({err.msg} at {location})") from None
    except RecursionError:
        raise ScoreInputError(path, f"{prefix}JSON nested too deeply") from None
    except ValueError as err:  # e.g. an integer literal longer than Python's digit limit
        raise ScoreInputError(path, f"{prefix}not valid JSON ({err})") from None


def parse_fast(raw: bytes) -> tuple[bool, Any]:
    """``(True, data)`` parsed by orjson, or ``(False, None)`` where orjson refuses the bytes
    (the exact path then explains them, or accepts what orjson does not: NaN, huge integers)."""
    with gc_paused():
        try:
            return True, orjson.loads(raw)
        except orjson.JSONDecodeError:
            return False, None


def keys_unique(raw: bytes, data: Any, colons: int | None = None) -> bool:
    """True when the parsed ``data`` kept every key of ``raw``.

    A colon outside a string separates exactly one key from its value, and orjson writes
    strings with their colons unescaped, so re-serialising ``data`` gives as many colons as
    ``raw`` unless a repeated key (with its value) was dropped. Only an escaped colon
    (``\\u003a``) could offset a drop, so its presence sends the file to the exact path.
    ``colons``: that re-serialisation's colon count when the caller counted it while walking
    ``data`` (cheaper than writing a large file out again).
    """
    if b"\\u003" in raw:
        return False
    return (serialised_colons(data) if colons is None else colons) == raw.count(b":")


def serialised_colons(data: Any) -> int:
    """How many colons orjson writes for ``data`` (its keys plus the colons inside its strings)."""
    return orjson.dumps(data).count(b":")


def read_score_json(path: Path, *, fast: bool = False) -> Any:
    """Parse a JSON file, refusing repeated keys.

    ``fast``: try orjson first (several times faster on large files). Use it only where no
    number serves as an identifier: orjson turns integers beyond 64 bits into floats.
    """
    raw = read_bytes(path)
    if fast:
        parsed, data = parse_fast(raw)
        if parsed and keys_unique(raw, data):
            return data
    return loads_strict(path, decode_utf8(path, raw))


def read_score_jsonl(path: Path) -> list[tuple[int, dict]]:
    """``(line number, object)`` for every non-blank line."""
    text = decode_utf8(path, read_bytes(path))
    records = []
    # "\n" only: str.splitlines would also split at U+2028 and others, legal inside JSON strings.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        record = loads_strict(path, line, f"line {number}")
        if not isinstance(record, dict):
            raise ScoreInputError(path, f"line {number}: expected a JSON object, got {type(record).__name__}")
        records.append((number, record))
    if not records:
        raise ScoreInputError(path, "no records")
    return records


def finite_number(path: Path, where: str, value: Any) -> float:
    """``value`` as a finite float; booleans, strings and out-of-range integers refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScoreInputError(path, f"{where}: expected a number, got {_short(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ScoreInputError(path, f"{where}: expected a finite number, got {_short(value)}")
    return number


def _short(value: Any, limit: int = 80) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**40:
        return f"an integer with {len(str(abs(value)))} digits"
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


class NpyVersionError(ValueError):
    """A .npy header of a format version other than 1.0 and 2.0."""


def npy_header(handle) -> tuple[tuple[int, ...], bool, np.dtype]:
    """Shape, Fortran order and dtype from the .npy header at ``handle`` (format 1.0 or 2.0),
    numpy's "created on Python 2" notes on odd headers silenced. On garbage it raises whatever
    numpy's parser raises (ValueError, SyntaxError, tokenize.TokenError, ...): callers catch all."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(handle)
        if version == (2, 0):
            return np.lib.format.read_array_header_2_0(handle)
    raise NpyVersionError(f".npy format version {version} is not supported (1.0 or 2.0)")


def load_npy(path: Path) -> np.ndarray:
    """A numeric 2-D ``.npy`` array without pickles, its header checked against the file size
    before anything is allocated (a header can claim a matrix of hundreds of GiB)."""
    path = _check_file(path)
    try:
        with open(path, "rb") as handle:
            shape, fortran, dtype = npy_header(handle)
            offset = handle.tell()
    except NpyVersionError as err:
        raise ScoreInputError(path, str(err)) from None
    except OSError as err:
        raise ScoreInputError(path, f"cannot read the file ({err.strerror or err})") from None
    except Exception as err:  # noqa: BLE001 - numpy's header parser raises many kinds on garbage
        problem = "the file is empty" if path.stat().st_size == 0 else f"{type(err).__name__}: {err}"
        raise ScoreInputError(path, f"not a .npy array ({problem})") from None
    if dtype.hasobject:
        raise ScoreInputError(path, "holds Python objects (pickles), which are refused; save a numeric array")
    if len(shape) != 2 or dtype.kind not in "iuf":
        raise ScoreInputError(path, f"expected a 2-D numeric texts x videos matrix, got {dtype} {shape}")
    if 0 in shape:
        raise ScoreInputError(path, f"the matrix is empty: shape {shape}")
    declared = math.prod(shape) * dtype.itemsize
    held = path.stat().st_size - offset
    if held != declared:
        raise ScoreInputError(path, f"the header declares a {shape[0]} x {shape[1]} {dtype} matrix "
                                    f"({_size(declared)}) but the file holds {_size(held)} of data: "
                                    "truncated or corrupt")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise ScoreInputError(path, f"not a readable .npy array ({err})") from None


def _size(n_bytes: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.1f} {unit}"
    return f"{n_bytes} bytes"
