"""``check_videos``: decode a few frames of every video up front and list the broken ones.

Run before a long job (the CLI's ``tempvl-bench check-videos --task NAME``) so a missing or
corrupted file is found in minutes, named, and fixed, instead of failing a run hours in. Each
video is opened through the same reader as training and evaluation (same backends, same
fallback), and frames spread from the first to the LAST frame of the index are decoded: a file
truncated after its index was written still lists all frames but cannot decode its tail. Files
cut short in containers without such an index (AVI, ASF, MPEG-PS, MPEG-TS) are caught when the
reader opens them (:mod:`.integrity`), so a run refuses them too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .reader import VideoDecodeError, read_indices


@dataclass(frozen=True)
class FailedVideo:
    """A file that could not be read, and why."""

    path: Path
    error: str


@dataclass
class CheckReport:
    """Outcome of :func:`check_videos`: how many files were checked and which failed."""

    checked: int = 0
    failed: list[FailedVideo] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict:
        return {
            "checked": self.checked,
            "num_failed": len(self.failed),
            "failed": [{"path": str(f.path), "error": f.error} for f in self.failed],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def summary(self, show: int = 10) -> str:
        """Human-readable lines: the counts, then up to ``show`` failures."""
        ok = self.checked - len(self.failed)
        lines = [f"checked {self.checked} videos: {ok} ok, {len(self.failed)} failed"]
        lines += [f"  {f.path}: {f.error}" for f in self.failed[:show]]
        if len(self.failed) > show:
            lines.append(f"  ... and {len(self.failed) - show} more (see the JSON report)")
        return "\n".join(lines)


def spread_indices(frame_count: int, count: int) -> np.ndarray:
    """``count`` indices from the first to the last frame inclusive (just ``[0]`` for 1 frame)."""
    count = max(1, min(count, frame_count))
    return np.unique(np.round(np.linspace(0, frame_count - 1, count)).astype(np.int64))


def check_video(path: Path | str, *, num_frames: int = 2) -> FailedVideo | None:
    """Decode ``num_frames`` frames (first and last included) of one file; None when it is fine."""
    path = Path(path)
    try:
        read_indices(path, lambda frame_count, fps: spread_indices(frame_count, num_frames), size=None)
    except VideoDecodeError as err:
        return FailedVideo(path, err.reason)
    return None


def check_videos(
    paths: Sequence[Path | str], *, num_frames: int = 2, progress: bool = True
) -> CheckReport:
    """Check every path (videos or images) and report the failures; never stops at the first."""
    report = CheckReport()
    for path in tqdm(paths, desc="check-videos", unit="video", disable=not progress):
        failure = check_video(path, num_frames=num_frames)
        report.checked += 1
        if failure is not None:
            report.failed.append(failure)
    return report


__all__ = ["CheckReport", "FailedVideo", "check_video", "check_videos", "spread_indices"]
