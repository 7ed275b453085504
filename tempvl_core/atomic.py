"""Atomic file writes: a temporary file in the target's folder, flushed to disk, then
``os.replace``d over the target, so a reader (or a killed process) never sees a half-written
file. Every writer of a finished output (results, score --output, cache entries, logs,
checkpoints, prepared videos) uses this module; it is the only place that renames over a file.

- :func:`write_atomic`: bytes or text in one call;
- :func:`atomic_file`: a handle to write through (``json.dump``, ``np.save``, ``torch.save``);
- :func:`atomic_path`: a temporary name, for writers that take a file name (a video encoder);
- :func:`replace_directory` / :func:`remove_directory`: a folder written beside its final name,
  put in place (folders cannot be swapped in one rename; a reader sees the old folder, none, or
  the new one, never a half-written or half-deleted one).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
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


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary file name next to ``path`` (ending in ``suffix``) for a writer that takes a
    name rather than a handle; what was written there is flushed to disk and replaces ``path``
    when the block ends without an exception, and is removed when it raises. The file gets the
    mode a plain ``open`` gives even when the writer recreated it (safetensors makes it 0600)."""
    path = Path(path)
    fd, tmp = open_temp(path, suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())
        sync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        _discard(tmp)
        raise


def replace_directory(source: str | Path, target: str | Path) -> None:
    """Rename the finished folder ``source`` to ``target``. An existing ``target`` is first moved
    aside and deleted (:func:`remove_directory`): one rename cannot replace a folder that holds
    files, and a reader must never see it half-deleted."""
    source, target = Path(source), Path(target)
    if target.exists():
        remove_directory(target)
    os.replace(source, target)


def remove_directory(path: str | Path, trash: str | Path | None = None) -> None:
    """Delete the folder ``path`` after renaming it to ``trash``, so its name never holds a
    half-deleted tree. The default ``trash`` is a new hidden name beside it, and a failure to
    delete it is ignored (a stray hidden folder, nothing reads it); a caller that names ``trash``
    reuses that name, so a failed deletion raises."""
    path = Path(path)
    if trash is None:
        trash = path.with_name(f".trash-{path.name}-{uuid.uuid4().hex}")
        os.replace(path, trash)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(path, trash)
        shutil.rmtree(trash)


def sync_file(path: str | Path) -> None:
    """Flush ``path``'s content to disk (before a rename makes it the real file)."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def open_temp(path: Path, suffix: str = ".tmp") -> tuple[int, str]:
    """``(fd, name)`` of a temporary file next to ``path`` with the mode a plain ``open`` would
    give (``mkstemp`` makes it 0600, which would survive the rename and hide the file from the
    user's group)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
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
