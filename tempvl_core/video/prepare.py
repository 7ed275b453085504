"""``prepare_videos``: re-encode source videos into small, fast-to-seek training copies.

Original benchmark videos are often long-GOP H.264 at 25-30 fps and up to 1080p: sampling 8
frames means decoding hundreds. A prepared copy (H.264, ``fps`` frames per second, short side
``short_side``, a keyframe every ``keyint`` frames, ``+faststart``) decodes the same clip in a
few milliseconds, as the CLIP4Clip and VINDLU pipelines do with their compressed copies.
Audio is dropped. Frame times are preserved: prepared frame ``k`` shows the source frame on
screen at ``k / fps`` seconds, so annotations in seconds stay valid.

Layout: a source ``src_root/a/b.avi`` becomes ``prep_root/a/b.mp4`` (:func:`prepared_path`). To
read prepared copies, map each path with :func:`resolve_video`, which falls back to the original
when no copy exists (so a partly prepared dataset still works).

Resumable: each copy is written to a hidden temporary file next to its destination, checked to
decode, then renamed atomically; destinations that already exist and decode are skipped; a
broken source is reported (path and error) and the rest continue.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from tqdm import tqdm

from tempvl_core.atomic import atomic_path

from .check import FailedVideo, check_video


def prepared_path(src_root: Path | str, prep_root: Path | str, src_path: Path | str) -> Path:
    """Where the prepared copy of ``src_path`` (a file under ``src_root``) lives."""
    src_root, src_path = Path(src_root), Path(src_path)
    try:
        rel = src_path.relative_to(src_root)
    except ValueError as err:
        raise ValueError(f"video {src_path} is not under the source root {src_root}") from err
    return Path(prep_root) / rel.with_suffix(".mp4")


def resolve_video(
    path: Path | str, *, source_root: Path | str, prepared_root: Path | str | None = None
) -> Path:
    """The prepared copy of ``path`` when ``prepared_root`` is given and the copy exists, else ``path``."""
    path = Path(path)
    if prepared_root is None:
        return path
    candidate = prepared_path(source_root, prepared_root, path)
    return candidate if candidate.is_file() else path


@dataclass
class PrepareReport:
    """What :func:`prepare_videos` did: written, skipped (already done) and failed files."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[FailedVideo] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(
            {
                "written": [str(p) for p in self.written],
                "skipped": [str(p) for p in self.skipped],
                "failed": [{"path": str(f.path), "error": f.error} for f in self.failed],
            },
            indent=2,
        )

    def summary(self) -> str:
        return (
            f"prepared {len(self.written)}, skipped {len(self.skipped)} already done, "
            f"{len(self.failed)} failed"
        )


def _even(x: float) -> int:
    return max(2, int(round(x / 2)) * 2)  # yuv420p needs even sizes


def _out_size(width: int, height: int, short_side: int | None) -> tuple[int, int]:
    if short_side is None or min(width, height) <= short_side:
        return _even(width), _even(height)  # never upscale
    scale = short_side / min(width, height)
    return _even(width * scale), _even(height * scale)


def encode_prepared(
    src: Path, dst: Path, *, fps: float, short_side: int | None, keyint: int, crf: int
) -> int:
    """Re-encode ``src`` into ``dst`` (mp4, H.264); returns the number of frames written."""
    import av

    with av.open(str(src)) as inp:
        if not inp.streams.video:
            raise ValueError("container has no video stream")
        in_stream = inp.streams.video[0]
        src_rate = in_stream.average_rate or in_stream.guessed_rate
        rate = Fraction(fps).limit_denominator(1001)
        if src_rate and float(src_rate) < float(rate):
            rate = Fraction(src_rate).limit_denominator(1001)  # only ever lower the frame rate
        width, height = _out_size(in_stream.codec_context.width, in_stream.codec_context.height, short_side)
        with av.open(str(dst), "w", format="mp4", options={"movflags": "+faststart"}) as out:
            stream = out.add_stream("libx264", rate=rate)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.codec_context.gop_size = keyint
            stream.options = {"crf": str(crf), "preset": "veryfast",
                              "x264-params": f"keyint={keyint}:min-keyint={keyint}:scenecut=0"}
            tick = Fraction(1) / rate
            written, start, held = 0, None, None

            def emit_until(t: float) -> None:
                # Output tick k shows the source frame on screen at k / rate: the held one.
                nonlocal written
                while held is not None and float(written * tick) < t - 1e-6:
                    out_frame = held.reformat(width=width, height=height, format="yuv420p")
                    out_frame.pts, out_frame.time_base = written, tick
                    for packet in stream.encode(out_frame):
                        out.mux(packet)
                    written += 1

            frame_dur = 1.0 / float(src_rate) if src_rate else 0.0
            t = 0.0
            for frame in inp.decode(in_stream):
                if frame.pts is None:
                    continue
                start = float(frame.pts * in_stream.time_base) if start is None else start
                t = float(frame.pts * in_stream.time_base) - start
                emit_until(t)
                held = frame
            emit_until(t + max(frame_dur, 1e-3))  # the last frame stays on screen one frame
            for packet in stream.encode():
                out.mux(packet)
    if written == 0:
        raise ValueError("source decoded to zero frames")
    return written


def prepare_one(src: Path, dst: Path, *, fps: float, short_side: int | None, keyint: int, crf: int) -> str:
    """Prepare one file; returns ``"skipped"`` or ``"written"``; raises with the reason on failure."""
    if dst.is_file() and check_video(dst) is None:
        return "skipped"
    if not src.is_file():
        raise FileNotFoundError(f"missing source file {src}")
    dst.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dst, suffix=".mp4") as tmp:  # a reader never sees a half-written copy
        encode_prepared(src, tmp, fps=fps, short_side=short_side, keyint=keyint, crf=crf)
        broken = check_video(tmp)
        if broken is not None:
            raise ValueError(f"the re-encoded copy does not decode: {broken.error}")
    return "written"


def _prepare_safely(src: Path, dst: Path, settings: dict) -> tuple[str, str]:
    """``(outcome, error)`` for one pair; runs in a worker process, so it never raises."""
    try:
        return prepare_one(src, dst, **settings), ""
    except Exception as err:  # one bad source must not stop a multi-hour job
        return "failed", f"{type(err).__name__}: {err}"


def prepare_videos(
    items: Sequence[tuple[Path, Path]],
    *,
    fps: float = 3,
    short_side: int | None = 224,
    keyint: int | None = None,
    crf: int = 23,
    progress: bool = True,
    num_workers: int = 1,
) -> PrepareReport:
    """Re-encode each ``(source, destination)`` pair; resumable, never stops at a failure.

    ``keyint`` defaults to ``fps`` frames (a keyframe every second). ``num_workers > 1``
    encodes in that many processes; the report lists files in input order either way.
    """
    settings = {"fps": fps, "short_side": short_side, "crf": crf,
                "keyint": keyint if keyint is not None else max(1, round(fps))}
    pairs = [(Path(src), Path(dst)) for src, dst in items]
    outcomes: dict[int, tuple[str, str]] = {}
    first_src: dict[Path, Path] = {}
    jobs = []
    for i, (src, dst) in enumerate(pairs):
        if dst in first_src:
            outcomes[i] = ("failed", f"destination {dst} is also the copy of {first_src[dst]}")
        else:
            first_src[dst] = src
            jobs.append(i)
    bar = tqdm(total=len(jobs), desc="prepare-videos", unit="video", disable=not progress)
    if num_workers <= 1:
        for i in jobs:
            outcomes[i] = _prepare_safely(*pairs[i], settings)
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=num_workers) as pool:
            futures = {pool.submit(_prepare_safely, *pairs[i], settings): i for i in jobs}
            for future in as_completed(futures):
                outcomes[futures[future]] = future.result()
                bar.update()
    bar.close()
    report = PrepareReport()
    for i, (src, dst) in enumerate(pairs):
        outcome, error = outcomes[i]
        if outcome == "failed":
            report.failed.append(FailedVideo(src, error))
        else:
            (report.skipped if outcome == "skipped" else report.written).append(dst)
    return report
