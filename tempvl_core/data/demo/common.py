"""File-writing helpers shared by the demo generators: render jobs, JSON and text files."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from tempvl_core.data.demo.renderer import Scene, write_video


class SplitCounts:
    """Mixin of the counts dataclasses of demo datasets with a train, a val and a test split."""

    train: int
    val: int
    test: int

    @property
    def total(self) -> int:
        """Items in the three splits together."""
        return self.train + self.val + self.test


@dataclass(frozen=True)
class VideoJob:
    """One clip to render; ``container_format`` is needed for names without an extension."""

    scene: Scene
    path: Path
    container_format: str | None = None


def render_all(jobs: Sequence[VideoJob], desc: str) -> None:
    """Render and encode every job, with a progress bar."""
    for job in tqdm(jobs, desc=desc, unit="video", leave=False, disable=None):  # no bar off a terminal
        job.path.parent.mkdir(parents=True, exist_ok=True)
        write_video(job.scene, job.path, container_format=job.container_format)


def write_json(path: Path, obj: object) -> None:
    """JSON exactly as ``json.dump`` writes it by default (``", "``/``": "``, one line, no
    trailing newline): the shape of the public annotation files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")


def write_lines(path: Path, lines: Iterable[str], *, trailing_newline: bool = True) -> None:
    """One item per line, ``\\n`` separated."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines)
    path.write_text(text + ("\n" if trailing_newline and text else ""), encoding="utf-8")


def youtube_id(rng: random.Random) -> str:
    """An 11-character YouTube-like id (letters, digits, ``-`` and ``_``)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(rng.choice(alphabet) for _ in range(11))

