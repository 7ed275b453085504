"""Find a record's media file under a dataset's video folder.

Annotation files name videos in several ways: an exact relative path, a bare file name whose
folder differs per mirror (LSMDC ``<movie_dir>/<clip>.avi``), an id whose extension depends on
how the videos were downloaded or re-encoded (ActivityNet ``v_<ytid>`` with or without ``v_``,
DiDeMo ``.mov`` files converted to ``.mp4``), or a name ending in a bare ``.`` (DiDeMo).
``VideoIndex`` scans the folder once and answers these lookups from memory.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

MEDIA_SUFFIXES = frozenset(
    ".mp4 .avi .mkv .webm .mov .mpg .mpeg .m4v .3gp .3g2 .wmv .flv .mts .m2ts .ts .ogv "
    ".jpg .jpeg .png .gif .webp .bmp".split()
)


def _stem(name: str) -> str:
    """File name without its last extension; a name ending in a bare ``.`` keeps it."""
    return PurePosixPath(name).stem


class VideoIndex:
    """A one-time recursive listing of ``video_dir`` with forgiving name lookup.

    ``lookup(name)`` tries, in order: the exact relative path; the exact file name anywhere
    below the folder; then, among media files, the same stem (any extension), also with a
    ``v_`` prefix added or removed. When several files match at one step the first in sorted
    path order wins, so lookups are deterministic; ``duplicates`` counts such names.
    """

    def __init__(self, video_dir: Path | str) -> None:
        self.video_dir = Path(video_dir)
        self._relative: dict[str, Path] | None = None
        self._by_name: dict[str, Path] = {}
        self._by_stem: dict[str, Path] = {}
        self.duplicates = 0

    def _scan(self) -> None:
        relative: dict[str, Path] = {}
        if self.video_dir.is_dir():
            seen_dirs: set[str] = set()
            for folder, dirs, files in os.walk(self.video_dir, followlinks=True):
                real = os.path.realpath(folder)
                if real in seen_dirs:  # a symlink loop: do not walk it twice
                    dirs[:] = []
                    continue
                seen_dirs.add(real)
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for file in sorted(files):
                    if not file.startswith("."):
                        path = Path(folder) / file
                        relative[path.relative_to(self.video_dir).as_posix()] = path
        for rel in sorted(relative):
            path = relative[rel]
            self._add(self._by_name, path.name, path)
            if path.suffix.lower() in MEDIA_SUFFIXES:
                self._add(self._by_stem, _stem(path.name), path)
        self._relative = relative

    def _add(self, table: dict[str, Path], key: str, path: Path) -> None:
        if key in table:
            self.duplicates += 1
        else:
            table[key] = path

    def _ensure(self) -> dict[str, Path]:
        if self._relative is None:
            self._scan()
        assert self._relative is not None
        return self._relative

    def refresh(self) -> None:
        """Forget the cached listing; the next lookup scans the folder again."""
        self._relative = None
        self._by_name, self._by_stem, self.duplicates = {}, {}, 0

    def __len__(self) -> int:
        return len(self._ensure())

    def lookup(self, name: str) -> Path | None:
        """The file for ``name`` (see the class docstring for the order), or ``None``."""
        relative = self._ensure()
        posix = name.replace("\\", "/").lstrip("/")
        if posix in relative:
            return relative[posix]
        base = PurePosixPath(posix).name
        if base in self._by_name:
            return self._by_name[base]
        for key in dict.fromkeys((_stem(base), base)):  # "x.mov" -> "x.mp4"; "x." -> "x..mp4"
            for candidate in (key, key[2:] if key.startswith("v_") else f"v_{key}"):
                if candidate in self._by_stem:
                    return self._by_stem[candidate]
        return None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.lookup(name) is not None
