"""A restricted pickle reader that admits only dicts, lists and strings.

Unpickling runs code: a pickle can name any importable callable (``GLOBAL``/``STACK_GLOBAL``/
``INST``/``OBJ``) and call it (``REDUCE``/``NEWOBJ``/``BUILD``). MSVD's ``raw-captions.pkl`` is
only ``{clip_id: [[token, ...], ...]}``, so this reader accepts nothing else, with two guards:

1. every opcode is checked against an allowlist (container, string, memo and framing opcodes)
   BEFORE anything is unpickled, so no callable can be named or invoked;
2. the unpickler's ``find_class`` and ``persistent_load`` refuse unconditionally, in case an
   opcode ever slips past the scan;

and the loaded value is walked to confirm it holds only dict/list/str.
"""

from __future__ import annotations

import io
import pickle
import pickletools
from pathlib import Path
from typing import Any

from tempvl_core.data.errors import AnnotationError

ALLOWED_OPCODES = frozenset(
    {
        # framing and control
        "PROTO", "FRAME", "STOP", "MARK", "POP", "POP_MARK", "DUP",
        # containers
        "EMPTY_DICT", "DICT", "SETITEM", "SETITEMS", "EMPTY_LIST", "LIST", "APPEND", "APPENDS",
        # strings (protocol 0-5; Python 2 byte strings are decoded as UTF-8)
        "UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8",
        "STRING", "BINSTRING", "SHORT_BINSTRING",
        # memo: lets shared strings be written once
        "PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE", "GET", "BINGET", "LONG_BINGET",
    }
)  # fmt: skip


class _RefusingUnpickler(pickle.Unpickler):
    """Second guard: refuses every global and persistent reference."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent references are not allowed")


def _scan(data: bytes, source: Path | str) -> None:
    try:
        for opcode, _arg, position in pickletools.genops(data):
            if opcode.name not in ALLOWED_OPCODES:
                raise AnnotationError(
                    source, f"byte {position}", "a pickle of only dicts, lists and strings",
                    f"opcode {opcode.name} (refused: it can import or call code)",
                )  # fmt: skip
    except AnnotationError:
        raise
    except (ValueError, EOFError) as exc:  # genops' own reports of a truncated or bad stream
        raise AnnotationError(source, "", "a well-formed pickle", str(exc)) from None


def _check_shape(value: Any, source: Path | str, where: str = "top level", depth: int = 0) -> None:
    if depth > 64:
        raise AnnotationError(source, where, "nesting at most 64 deep", "deeper")
    if isinstance(value, str):
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_shape(item, source, f"{where}[{i}]", depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise AnnotationError(source, where, "string keys", key)
            _check_shape(item, source, f"{where}[{key!r}]", depth + 1)
        return
    raise AnnotationError(source, where, "only dicts, lists and strings", type(value).__name__)


def safe_loads(data: bytes, source: Path | str = "<bytes>") -> Any:
    """Unpickle ``data`` if it holds only dicts, lists and strings; else raise AnnotationError."""
    _scan(data, source)
    try:
        value = _RefusingUnpickler(io.BytesIO(data), encoding="utf-8").load()
    except (pickle.UnpicklingError, EOFError, ValueError, UnicodeDecodeError,
            TypeError, AttributeError, IndexError, KeyError, RecursionError) as exc:
        # The last five: well-formed opcodes in a nonsensical order (SETITEM on a string, ...).
        raise AnnotationError(source, "", "a well-formed pickle of dicts, lists and strings", str(exc)) from None
    _check_shape(value, source)
    return value


def safe_load_pickle(path: Path) -> Any:
    """Read ``path`` with :func:`safe_loads`."""
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(path, "", "an existing pickle file", "no such file")
    return safe_loads(path.read_bytes(), path)
