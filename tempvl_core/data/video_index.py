"""Find a record's media file under a dataset's video folder, exactly or not at all.

Annotation files name videos in several ways: an exact relative path, a bare file name whose
folder differs per mirror (LSMDC ``<movie_dir>/<clip>.avi``), an id without an extension, or a
name ending in a bare ``.`` (DiDeMo). ``VideoIndex`` scans the folder once and answers lookups
from memory.

A lookup never guesses. A name matches only a file it names exactly: the same relative path, or
the one file anywhere below the folder with the same base name, or, for a name without a media
extension, the one media file with that exact stem. When two files fit, the name is ambiguous
and nothing matches. A deleted video is therefore reported missing, never replaced by another
file that happens to share its stem.

Other files (the same stem with another extension, ``.mov`` re-encoded to ``.mp4``; an
ActivityNet id with or without ``v_``) are *substitutes*: used only when the caller enables
``allow_substitutes``, and every one used is listed in ``substitutions`` so the run can record
the decision. :meth:`VideoIndex.why_missing` says why a name matched nothing.
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


def _has_media_suffix(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in MEDIA_SUFFIXES


class VideoIndex:
    """A one-time recursive listing of ``video_dir`` with exact, unambiguous name lookup.

    ``lookup(name)`` returns, in order: the file at the exact relative path; else the only file
    below the folder with the same base name; else (names without a media extension only) the
    only media file with the same stem. With ``allow_substitutes=True`` it then accepts the only
    media file whose stem equals the name's stem, also with ``v_`` added or removed, and records
    it in ``substitutions``. Two or more candidates at a step match nothing (see ``why_missing``).
    """

    def __init__(self, video_dir: Path | str, *, allow_substitutes: bool = False) -> None:
        self.video_dir = Path(video_dir)
        self.allow_substitutes = allow_substitutes
        #: ``name -> file`` for every substitute a lookup returned (record these with the results).
        self.substitutions: dict[str, Path] = {}
        self._relative: dict[str, Path] | None = None
        self._by_name: dict[str, list[Path]] = {}
        self._by_stem: dict[str, list[Path]] = {}

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
            self._by_name.setdefault(path.name, []).append(path)
            if _has_media_suffix(path.name):
                self._by_stem.setdefault(_stem(path.name), []).append(path)
        self._relative = relative

    def _ensure(self) -> dict[str, Path]:
        if self._relative is None:
            self._scan()
        assert self._relative is not None
        return self._relative

    def refresh(self) -> None:
        """Forget the cached listing; the next lookup scans the folder again."""
        self._relative = None
        self._by_name, self._by_stem = {}, {}

    def __len__(self) -> int:
        return len(self._ensure())

    @property
    def duplicates(self) -> int:
        """How many files share their base name with an earlier file (each such name is ambiguous)."""
        self._ensure()
        return sum(len(paths) - 1 for paths in self._by_name.values())

    def _candidates(self, name: str) -> list[tuple[str, list[Path]]]:
        """``(kind, files)`` steps in lookup order; the first step with any file decides."""
        posix = name.replace("\\", "/").lstrip("/")
        relative = self._ensure()
        steps = [("exact path", [relative[posix]] if posix in relative else [])]
        base = PurePosixPath(posix).name
        steps.append(("same file name", self._by_name.get(base, [])))
        if not _has_media_suffix(base):
            steps.append(("same stem", self._by_stem.get(base, [])))
        return steps

    def _substitutes(self, name: str) -> list[Path]:
        base = PurePosixPath(name.replace("\\", "/")).name
        found: dict[Path, None] = {}
        for key in dict.fromkeys((_stem(base), base)):  # "x.mov" -> "x.mp4"; "x." -> "x..mp4"
            for candidate in (key, key[2:] if key.startswith("v_") else f"v_{key}"):
                found.update(dict.fromkeys(self._by_stem.get(candidate, [])))
        return list(found)

    def substitutes(self, name: str) -> list[Path]:
        """The files that could stand in for ``name`` (one is used only with ``allow_substitutes``)."""
        self._ensure()
        return self._substitutes(name)

    def lookup(self, name: str) -> Path | None:
        """The file ``name`` names (see the class docstring), or ``None``: missing or ambiguous."""
        for _kind, files in self._candidates(name):
            if files:
                return files[0] if len(files) == 1 else None
        if self.allow_substitutes:
            files = self._substitutes(name)
            if len(files) == 1:
                self.substitutions[name] = files[0]
                return files[0]
        return None

    def why_missing(self, name: str) -> str | None:
        """Why ``lookup(name)`` is None, in words a user can act on (None when it matches)."""
        if self.lookup(name) is not None:
            return None
        for kind, files in self._candidates(name):
            if len(files) > 1:
                listed = ", ".join(str(p.relative_to(self.video_dir)) for p in files[:5])
                return (f"{name!r} is ambiguous: {len(files)} files have the {kind} ({listed}); "
                        f"remove or rename all but the right one")
        files = self._substitutes(name)
        if not files:
            return f"{name!r}: no such file under {self.video_dir}"
        listed = ", ".join(str(p.relative_to(self.video_dir)) for p in files[:5])
        if len(files) > 1:
            return f"{name!r} is missing, and {len(files)} other files could stand in for it ({listed})"
        return (f"{name!r} is missing; {listed} has a similar name but is not used unless "
                f"substitutes are enabled (allow_substitutes)")

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.lookup(name) is not None
