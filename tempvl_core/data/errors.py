"""The one exception annotation loaders raise for malformed input.

Every message names the file, the place in it (line number, key or item index) and what was
expected, so a user can open the file and fix it without reading a traceback.
"""

from __future__ import annotations

from pathlib import Path

_MAX_SHOWN = 120  # long lines are cut in messages: the location is what matters


class AnnotationError(ValueError):
    """An annotation file is missing, unparsable or does not have the documented shape.

    Attributes:
        path: the offending file.
        where: the location inside it (``"line 17"``, ``"key 'v_abc'"``, ``"item 3"``), or ``""``.
        expected: what the loader expected to find there.
        got: a short rendering of what it found instead (``None`` when nothing applies).
    """

    def __init__(self, path: Path | str, where: str, expected: str, got: object = None) -> None:
        self.path = Path(path)
        self.where = where
        self.expected = expected
        self.got = got
        location = f"{self.path} {where}" if where else str(self.path)
        message = f"{location}: expected {expected}"
        if got is not None:
            shown = got if isinstance(got, str) else repr(got)
            if len(shown) > _MAX_SHOWN:
                shown = shown[: _MAX_SHOWN - 3] + "..."
            message += f", got {shown!r}" if isinstance(got, str) else f", got {shown}"
        super().__init__(message)
