"""Atomic file writes: a temporary file in the target's folder, flushed to disk, then
``os.replace``d over the target, so a reader (or a killed process) never sees a half-written
file. Every writer of a finished output (results, score --output, cache entries, logs) uses this.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator


def write_atomic(path: str | Path, data: bytes | str) -> None:
    """Write ``data`` (text is UTF-8) to ``path`` atomically; on any failure ``path`` is unchanged
    and no temporary file is left behind."""
    with atomic_file(path) as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)


@contextlib.contextmanager
def atomic_file(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """A handle to write ``path`` through (``"w"``: UTF-8 text); the file replaces ``path`` when
    the block ends without an exception, and is removed when it raises."""
    path = Path(path)
    fd, tmp = open_temp(path)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        _discard(tmp)
        raise


def open_temp(path: Path) -> tuple[int, str]:
    """``(fd, name)`` of a temporary file next to ``path`` with the mode a plain ``open`` would
    give (``mkstemp`` makes it 0600, which would survive the rename and hide the file from the
    user's group)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
    except BaseException:
        os.close(fd)
        _discard(tmp)
        raise
    return fd, tmp


def _discard(tmp: str) -> None:
    """Remove a temporary file after a failed write, silently: the write's own error is the one
    to report, not a second one from a folder that has become unwritable."""
    try:
        Path(tmp).unlink(missing_ok=True)
    except OSError:
        pass


def current_umask() -> int:
    """The process umask (reading it means setting it: restored at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
