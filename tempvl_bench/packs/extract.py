"""``tempvl-bench extract-features``: write a feature pack from a task's videos.

Every video of the task's train and eval splits is decoded at about ``FRAMES_PER_ROW`` frames
per row window (:func:`~tempvl_core.data.features.timebase.row_windows`: a clip, an
ActionFormer window, a span cell) and each frame run through the backbone. A row is two
streams side by side, as I3D's RGB and flow are: the mean frame feature over the window, and
the mean absolute change between consecutive frames' features in it (motion, which one frame
per row cannot show). The rows are written in the layout (each file atomically),
with ``manifest.json``: backbone, weights hash, sampling, time base, dims and the videos that
failed. A video whose files already read back valid is skipped, so an interrupted extraction
continues. Under ``torchrun`` the videos are shared out between the ranks (the batches of
:func:`tempvl_bench.run.sharding.shard_positions`); rank 0 then writes the manifest (and gathers an
HDF5 pack's parts into its one file).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from tempvl_bench.run import distributed
from tempvl_bench.run.checkpoint import Checkpoint, as_checkpoint

#: Videos per shard (the unit handed to a rank).
SHARD = 8
#: Frames decoded per row window (at most the video's own rate).
FRAMES_PER_ROW = 4


@dataclass
class ExtractOptions:
    task: str
    layout: str
    output: Path
    backbone: str | None = None
    #: ``--checkpoint``, resolved once here (a path given is resolved by ``__post_init__``).
    checkpoint: Checkpoint | None = None
    data_root: Path | None = None
    demo: bool = False
    overrides: tuple[str, ...] = ()
    device: str | None = None
    #: Seeds a backbone without weights (random init), so a resumed extraction matches.
    seed: int = 0

    def __post_init__(self) -> None:
        self.checkpoint = as_checkpoint(self.checkpoint)


def extract_feature_pack(host, options: ExtractOptions, echo: Callable[[str], None] = print) -> Path:
    """Write the pack; returns its folder. Raises ValueError for a user error."""
    from tempvl_bench.config import load_task_config
    from tempvl_bench.run.lifecycle import load_family
    from tempvl_bench.run.modeling import build_model_factory
    from tempvl_bench.packs.source import FAMILIES
    from tempvl_bench.run.clips import ClipLoaderFactory
    from tempvl_bench.run.runner import resolve_data_root
    from tempvl_bench.run.types import RunContext, RunOptions
    from tempvl_bench.run.sharding import shard_positions
    from tempvl_core.data.features import layout_from_mapping
    from tempvl_core.train.pretrain import seed_everything

    spec = host.tasks.get(options.task)
    config = load_task_config(spec.config_path, overrides=options.overrides, demo=options.demo)
    if config.family not in FAMILIES:
        raise ValueError(f"--task {spec.name}: family {config.family} has no feature-pack layouts "
                         f"(they serve {' and '.join(FAMILIES)})")
    published = layout_from_mapping({"preset": options.layout}, f"--layout {options.layout}", config.dataset)
    backbone = options.backbone or (options.checkpoint and options.checkpoint.backbone) or config.model.backbone
    layout = _pack_layout(published, backbone)
    run_options = RunOptions(data_root=options.data_root, demo=options.demo, checkpoint=options.checkpoint)
    data_root = resolve_data_root(config, run_options)
    device = distributed.join(options.device or "cpu")
    seed_everything(options.seed)
    model = build_model_factory(host, config, backbone, config.model.text_encoder, options.checkpoint, device)
    ctx = RunContext(spec=spec, config=config, options=run_options, data_root=data_root, run_dir=Path(options.output),
                     device=device, model=model, backbone_name=backbone, text_encoder_name=config.model.text_encoder,
                     make_clips=ClipLoaderFactory)
    family = load_family(spec)
    videos = _videos([r for split in _splits(config) for r in family.load(ctx, split).records])
    root = Path(options.output)
    mine = [videos[i] for i in shard_positions(len(videos), SHARD, distributed.world_size(), distributed.rank())]
    distributed.on_main(lambda: _start_manifest(root, layout, published, backbone, model(), config, len(videos)))
    try:
        counts, error = _extract(ctx, model(), layout, root, mine, echo), None
    except Exception as exc:  # every rank raises it, none waits in the gather below
        counts, error = (0, 0, []), exc
    distributed.raise_any(error)
    every = distributed.gather(counts)
    if distributed.is_main():
        failures = [f for _, _, part in every for f in part]
        if layout.container == "hdf5":
            from tempvl_core.data.features.writer import assemble_hdf5

            assemble_hdf5(root, layout, [v.video_id for v in videos])
        _write_manifest(root, layout, published, backbone, model(), config, len(videos), failures)
        done = sum(w for w, _, _ in every)
        echo(f"{spec.name}: {done} videos written, {sum(s for _, s, _ in every)} already valid, "
             f"{len(failures)} failed -> {root} (layout {options.layout})")
        for failure in failures[:20]:
            echo(f"  failed: {failure['video_id']} ({failure['path']}): {failure['error']}")
    distributed.raise_any(None)
    return root


def _splits(config) -> list[str]:
    return [s for s in (config.splits.train, config.splits.eval) if s]


@dataclass(frozen=True)
class _Video:
    video_id: str
    video_name: str
    duration: float | None
    fps: float | None


def _videos(records) -> list[_Video]:
    """Each video of the records once (first appearance), with its annotated duration and fps."""
    seen: dict[str, _Video] = {}
    for r in records:
        if r.video_id not in seen:
            seen[r.video_id] = _Video(r.video_id, r.video_name, getattr(r, "duration", None), getattr(r, "fps", None))
    return list(seen.values())


def _pack_layout(published, backbone: str):
    """The published layout with one stream, named after the backbone where the layout names
    its streams by model (Moment-DETR's ``clip_features``), and the backbone's width."""
    from dataclasses import replace

    if published.streams == ("",):
        return replace(published, dims=None)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", backbone)
    stream = f"{name}_features" if published.streams[0].endswith("_features") else name
    return replace(published, streams=(stream,), dims=None)


def _extract(ctx, model, layout, root: Path, videos, echo) -> tuple[int, int, list[dict]]:
    import torch

    from tempvl_core.data.features import PackReader
    from tempvl_core.data.features.timebase import StrideTimeBase, row_windows
    from tempvl_core.data.features.writer import part_file, write_video_rows
    from tempvl_core.model.clip_backbone import takes_clips
    from tempvl_core.video import VideoDecodeError, eval_transform, read_frames

    backbone = model.video_encoder.backbone
    if takes_clips(backbone):
        raise ValueError("extract-features: the backbone is a clip backbone; packs hold one row per frame of a "
                         "per-frame backbone")
    from tempvl_bench.run.clips import ClipLoaderFactory

    clips = ClipLoaderFactory(ctx)
    transform = eval_transform(ctx.config.video.size)
    check = PackReader(root, layout)
    written = skipped = 0
    failed: list[dict] = []
    for video in videos:
        if _valid(check, layout, root, video, part_file):
            skipped += 1
            continue
        try:
            path = clips.readable_path(video)
            base = layout.time_base.with_fps(video.fps) if isinstance(layout.time_base, StrideTimeBase) else layout.time_base
            probe = read_frames(path, num_frames=1, sampling="uniform", size=None, crop="none")
            duration = float(video.duration or probe.info.duration)
            starts, ends = row_windows(base, duration, ctx.config.video.num_frames)
            rate = FRAMES_PER_ROW / float(np.median(ends - starts))
            if probe.info.fps:
                rate = min(rate, probe.info.fps)
            clip = read_frames(path, num_frames=None, sampling="fps", fps=max(rate, 0.1), size=ctx.config.video.size)
        except (VideoDecodeError, ValueError) as exc:
            failed.append({"video_id": video.video_id, "path": str(getattr(exc, "path", "")), "error": str(exc)})
            continue
        frames = transform(clip.frames, rng=None).to(model.device)
        with torch.no_grad():
            feats = backbone(frames).float().cpu().numpy()
        write_video_rows(root, layout, video.video_id, [window_rows(feats, clip.timestamps, starts, ends)])
        written += 1
    check.close()
    return written, skipped, failed


def window_rows(feats: np.ndarray, times: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``[rows, 2C]``: per window, the mean of the frame features inside it (the nearest frame
    when none falls inside) and the mean absolute change between its consecutive frames."""
    out = np.zeros((len(starts), 2 * feats.shape[1]), dtype=np.float32)
    for i, (start, end) in enumerate(zip(starts, ends)):
        inside = np.flatnonzero((times >= start) & (times < end))
        if inside.size == 0:
            inside = np.array([int(np.abs(times - (start + end) / 2).argmin())])
        window = feats[inside]
        out[i, : feats.shape[1]] = window.mean(0)
        if len(window) > 1:
            out[i, feats.shape[1]:] = np.abs(np.diff(window, axis=0)).mean(0)
    return out


def _valid(reader, layout, root: Path, video, part_file) -> bool:
    """True when the video's rows are already written and read back valid (resume)."""
    from tempvl_core.data.features import PackError

    if layout.container == "hdf5":  # the parts are what a resumed run finds
        if not all(part_file(root, s, video.video_id).is_file() for s in layout.streams):
            return False
        try:
            arrays = [np.load(part_file(root, s, video.video_id), allow_pickle=False) for s in layout.streams]
        except Exception:
            return False
        return all(a.ndim == 2 and len(a) and np.isfinite(a).all() for a in arrays)
    try:
        reader.read(video.video_id, video.duration, video.fps)
        return True
    except PackError:
        return False


def _start_manifest(root: Path, layout, published, backbone: str, model, config, count: int) -> None:
    """Refuse to continue a pack written by other weights or in another layout (its rows would
    mix two feature spaces); otherwise write the manifest before the first row."""
    from tempvl_bench.run.feature_cache import weights_sha256
    from tempvl_bench.packs.source import read_manifest

    previous = read_manifest(root) if Path(root).is_dir() else None
    if previous is not None:
        for key, value in (("backbone", backbone), ("weights_sha256", weights_sha256(model.video_encoder.backbone)),
                           ("published_layout", published.to_dict())):
            if previous.get(key) != json.loads(json.dumps(value)):
                raise ValueError(f"{Path(root) / 'manifest.json'}: key {key!r}: this pack was written with another "
                                 f"{key.replace('_', ' ')}; extract into a new --output folder")
    _write_manifest(root, layout, published, backbone, model, config, count, None)


def _write_manifest(root: Path, layout, published, backbone: str, model, config, count: int,
                    failures: list[dict] | None) -> None:
    from tempvl_bench.run.feature_cache import weights_sha256
    from tempvl_core.data.features.writer import write_pack_manifest

    dims = [2 * int(model.video_encoder.backbone.num_features)] * len(layout.streams)
    from dataclasses import replace

    resolved = replace(layout, dims=tuple(dims))
    write_pack_manifest(root, {
        "layout": resolved.to_dict(),
        "published_layout": published.to_dict(),
        "backbone": backbone,
        "weights_sha256": weights_sha256(model.video_encoder.backbone),
        "sampling": {"rows": "per row window (timebase.row_windows): mean frame feature, then mean absolute "
                             "change between consecutive frames", "frames_per_row": FRAMES_PER_ROW,
                     "size": config.video.size, "crop": "center",
                     "span_rows": config.video.num_frames if resolved.time_base.kind == "span" else None},
        "time_base": resolved.time_base.to_dict(),
        "dims": dims,
        "task": config.name,
        "videos": count,
        "complete": failures is not None,
        "failed_videos": failures or [],
    })


def add_extract_parser(sub, common, bind) -> None:
    """The ``extract-features`` subcommand (``bind(fn)`` wraps a ``fn(host, args)``)."""
    from tempvl_core.data.features import PRESETS

    p = sub.add_parser("extract-features", parents=[common],
                       help="write a feature pack (a community layout) from a task's videos")
    p.add_argument("--task", required=True, help="a moment-retrieval or action-localization task")
    p.add_argument("--layout", required=True, choices=sorted(PRESETS), help="the pack's layout (docs/data.md)")
    p.add_argument("--output", type=Path, required=True, help="the pack's folder")
    p.add_argument("--backbone", help="video backbone (default: the checkpoint's, else the task's)")
    p.add_argument("--checkpoint", type=Path, help="TemPVL checkpoint whose backbone extracts the rows")
    p.add_argument("--data-root", type=Path, help="data root holding the task's videos (default: $TEMPVL_DATA)")
    p.add_argument("--demo", action="store_true", help="the built-in synthetic demo data")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a task-config value, e.g. video.size=112 (repeatable)")
    p.add_argument("--device", choices=["cpu", "cuda"], help="where the backbone runs (default: cpu)")
    p.add_argument("--seed", type=int, default=0, help="seeds a backbone's random init (default 0)")
    p.set_defaults(func=bind(cmd_extract_features))


def cmd_extract_features(host, args) -> int:
    try:
        extract_feature_pack(host, ExtractOptions(
            task=args.task, layout=args.layout, output=args.output, backbone=args.backbone,
            checkpoint=args.checkpoint, data_root=args.data_root, demo=args.demo, overrides=tuple(args.overrides),
            device=args.device, seed=args.seed))
    finally:
        distributed.leave_process_group()
    return 0
