"""Decode speed, side by side: our reader vs naive full decoding, on originals and prepared copies.

Generates (once, cached under ``--cache``) a few 30-second 320x240 H.264 videos with a long
keyframe interval (GOP 250, B-frames; moving shapes over a panning gradient with light noise, so
the bitrate resembles real footage rather than pure noise), then times 8-frame uniform clips:

- ``naive (decode+convert all)``: PyAV decodes every frame, converts each to RGB, picks 8
  (what ``torchvision.io.read_video`` and many repositories do);
- ``naive (decode all, convert 8)``: PyAV decodes every frame but converts only the 8 picked
  (a stronger baseline, reported so the speed-up is not overstated);
- ``reader auto`` (the default: picks the backend per request), ``reader decord`` (decord
  ``get_batch``) and ``reader pyav`` (our GOP-aware PyAV decoder), all returning 224x224 frames;
- the same reader on copies made by ``prepare_videos`` (3 fps, keyframe every second, short
  side 224);
- dense requests (every frame of a prepared copy), where ``auto`` hands over to decord.

Run: ``python benchmarks/decode.py`` (``--quick`` for fewer repeats). Prints clips per second and
ratios measured in one run; never asserts on time. Timings on a shared machine vary: compare the
ratios, which are measured interleaved.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from tempvl_core.video import read_frames
from tempvl_core.video.prepare import prepare_videos, prepared_path
from tempvl_core.video.sampling import uniform_indices


def make_test_video(path: Path, *, seed: int, seconds: int = 30, fps: int = 30, gop: int = 250) -> None:
    """30 s of 320x240 moving content, H.264 with a keyframe every ``gop`` frames."""
    w, h = 320, 240
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    colours = rng.integers(30, 225, (4, 3))
    speeds = rng.uniform(-3, 3, (4, 2))
    tmp = path.with_suffix(".tmp.mp4")
    with av.open(str(tmp), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.gop_size = gop
        stream.options = {"preset": "veryfast", "crf": "23",
                          "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0"}
        for i in range(seconds * fps):
            img = np.empty((h, w, 3), dtype=np.int16)
            img[..., 0] = (xx + 2 * i) % 256
            img[..., 1] = (yy + i) % 256
            img[..., 2] = 128
            for c in range(4):
                cx = int(w / 2 + speeds[c, 0] * i) % w
                cy = int(h / 2 + speeds[c, 1] * i) % h
                img[max(0, cy - 25) : cy + 25, max(0, cx - 25) : cx + 25] = colours[c]
            img += rng.integers(-4, 5, img.shape, dtype=np.int16)
            frame = av.VideoFrame.from_ndarray(np.clip(img, 0, 255).astype(np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    tmp.replace(path)


def naive_convert_all(path: Path, n: int = 8) -> np.ndarray:
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return np.stack([frames[i] for i in uniform_indices(len(frames), n)])


def naive_convert_picked(path: Path, n: int = 8) -> np.ndarray:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        want = set(uniform_indices(stream.frames, n).tolist())
        picked = [f.to_ndarray(format="rgb24") for i, f in enumerate(container.decode(stream)) if i in want]
    return np.stack(picked)


def interleaved_clips_per_second(rows, repeats: int) -> dict[str, float]:
    """Clips per second of each method; the methods take turns inside every repeat so a change
    in machine load hits all of them alike."""
    for _, fn, paths in rows:  # warm the page cache and lazy imports
        fn(paths[0])
    spent = {name: 0.0 for name, _, _ in rows}
    for _ in range(repeats):
        for name, fn, paths in rows:
            start = time.perf_counter()
            for p in paths:
                fn(p)
            spent[name] += time.perf_counter() - start
    return {name: repeats * len(paths) / spent[name] for name, _, paths in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "tempvl_decode_bench")
    parser.add_argument("--videos", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1 repeat")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats

    src_dir, prep_dir = args.cache / "original", args.cache / "prepared"
    src_dir.mkdir(parents=True, exist_ok=True)
    originals = []
    for k in range(args.videos):
        path = src_dir / f"gop250_{k}.mp4"
        if not path.exists():
            print(f"generating {path} ...")
            make_test_video(path, seed=k)
        originals.append(path)
    report = prepare_videos([(p, prepared_path(src_dir, prep_dir, p)) for p in originals], progress=False)
    print(f"prepare_videos: {report.summary()}")
    prepared = [prepared_path(src_dir, prep_dir, p) for p in originals]

    with av.open(str(originals[0])) as c:
        s = c.streams.video[0]
        size = f"{s.codec_context.width}x{s.codec_context.height}"
        print(f"originals: {len(originals)} x {s.frames} frames {size} "
              f"@ {float(s.average_rate):g} fps, {originals[0].stat().st_size / 1e6:.2f} MB each")
    with av.open(str(prepared[0])) as c:
        s = c.streams.video[0]
        print(f"prepared:  {s.frames} frames {s.codec_context.width}x{s.codec_context.height} "
              f"@ {float(s.average_rate):g} fps, {prepared[0].stat().st_size / 1e6:.2f} MB each")

    rows = [
        ("naive (decode+convert all)", naive_convert_all, originals),
        ("naive (decode all, convert 8)", naive_convert_picked, originals),
        ("reader auto (default)", lambda p: read_frames(p), originals),
        ("reader decord (get_batch)", lambda p: read_frames(p, backend="decord"), originals),
        ("reader pyav (GOP-aware)", lambda p: read_frames(p, backend="pyav"), originals),
        ("reader auto, prepared copy", lambda p: read_frames(p), prepared),
        ("reader decord, prepared copy", lambda p: read_frames(p, backend="decord"), prepared),
    ]
    speeds = interleaved_clips_per_second(rows, repeats)
    base, strong = speeds[rows[0][0]], speeds[rows[1][0]]
    print(f"\n8-frame uniform clips, {repeats} repeats x {len(originals)} videos")
    print(f"{'method':34s} {'clips/s':>9s} {'x naive':>8s} {'x strong':>9s}")
    for name, _, _ in rows:
        print(f"{name:34s} {speeds[name]:9.1f} {speeds[name] / base:8.2f} {speeds[name] / strong:9.2f}")
    dense = [  # every frame of the prepared copy: the case decord's batched conversion wins
        (f"{label}, all frames of prepared copy", (lambda b: lambda p: read_frames(
            p, sampling="fps", fps=3.0, num_frames=None, backend=b))(backend), prepared)
        for label, backend in (("reader auto", "auto"), ("reader decord", "decord"), ("reader pyav", "pyav"))
    ]
    dense_speeds = interleaved_clips_per_second(dense, repeats)
    print("\ndense requests (90 of 90 frames, 224x224)")
    for name, _, _ in dense:
        print(f"{name:44s} {dense_speeds[name]:7.1f} clips/s")

    best_original = speeds[rows[2][0]]  # the default path, what the pipelines use
    verdict = "met" if best_original / base >= 3 else "NOT met"
    print(f"\ntarget reader (auto) >= 3x naive on originals: {best_original / base:.2f}x ({verdict})")


if __name__ == "__main__":
    main()
