"""CLI commands beyond run/leaderboard/score: validate, check-videos, prepare-videos, pretrain, cache."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tempvl_bench.config import TaskConfig
    from tempvl_bench.plugin.manager import PluginHost



def split_kinds(config: TaskConfig) -> dict[str, str]:
    """The task's splits (train first, then eval) and the annotation kind each is read as: the
    family's (from the family table) unless ``splits.train_kind``/``eval_kind`` say otherwise."""
    from tempvl_bench.metrics.families import FAMILIES

    family = FAMILIES.get(config.family)
    default = family.annotation_kind if family else None
    out: dict[str, str] = {}
    for split, kind, key in ((config.splits.train, config.splits.train_kind, "train_kind"),
                             (config.splits.eval, config.splits.eval_kind, "eval_kind")):
        if not split:
            continue
        kind = kind or default
        if not kind:
            raise ValueError(f"{config.source}: family {config.family!r} has no default annotation kind (it is not "
                             f"one of {', '.join(FAMILIES)}); set splits.{key}")
        out[split] = kind
    return out


def _task_config(host: PluginHost, name: str, demo: bool, overrides=()) -> TaskConfig:
    from tempvl_bench.config import load_task_config

    return load_task_config(host.tasks.get(name).config_path, demo=demo, overrides=overrides)


def _data_root(config: TaskConfig, args: argparse.Namespace) -> Path:
    from tempvl_bench.run.runner import resolve_data_root
    from tempvl_bench.run.types import RunOptions

    return resolve_data_root(config, RunOptions(data_root=args.data_root, demo=args.demo))


@dataclass
class TaskVideos:
    """The media files a task's splits use, as one lookup of its video folder finds them."""

    #: Every file (a substitute where one is used), missing ones at their expected path.
    paths: list[Path]
    #: Expected path -> why no file matched (it names an ambiguous or a fallback match).
    missing: dict[Path, str]
    #: Video name -> the other file used for it (only with ``video.allow_substitutes: true``).
    substitutions: dict[str, Path]


def find_task_videos(config: TaskConfig, data_root: Path) -> TaskVideos:
    """The videos of the task's train and eval splits, looked up as a run looks them up."""
    from tempvl_core.data import catalogue
    from tempvl_core.data.video_index import VideoIndex

    from tempvl_bench.run.clips import why_no_video

    video_dir = data_root / config.paths.videos
    index = VideoIndex(video_dir, allow_substitutes=config.video.allow_substitutes)
    paths: dict[Path, None] = {}
    missing: dict[Path, str] = {}
    for split, kind in split_kinds(config).items():
        records = catalogue.load(config.dataset, data_root / config.paths.annotations, kind, split).records
        for record in records:
            name = getattr(record, "video_name", None) or getattr(record, "media_name")
            found = index.lookup(name)
            if found is None:
                found = video_dir / name
                missing.setdefault(found, why_no_video(index, name))
            paths[found] = None
    return TaskVideos(list(paths), missing, dict(index.substitutions))


def task_videos(config: TaskConfig, data_root: Path) -> list[Path]:
    """Every media file the task's train and eval splits use (missing ones at their expected path)."""
    return find_task_videos(config, data_root).paths


def _expand(host: PluginHost, selection: str) -> list[str]:
    from tempvl_bench.cli.task_files import expand_tasks  # task names, groups and task files of one's own

    return expand_tasks(host, selection)


def cmd_validate(host: PluginHost, args: argparse.Namespace) -> int:
    from tempvl_core.data.validate import validate_dataset

    from tempvl_bench.run.lifecycle import check_task

    failed = False
    for name in _expand(host, args.task):
        config = _task_config(host, name, args.demo, args.overrides)
        check_task(host.tasks.get(name), config)  # what run checks before reading data
        data_root = _data_root(config, args)
        report = validate_dataset(config.dataset, data_root / config.paths.annotations)
        print(f"{name} ({config.dataset}, {data_root / config.paths.annotations}):")
        print(report.format_table())
        # The run needs the task's own splits: any of them missing or malformed is a failure.
        needed = [(kind, report.get(kind, split)) for split, kind in split_kinds(config).items()]
        bad = [f"{kind}/{s.split} ({s.status})" for kind, s in needed if s.status != "ok"]
        if bad:
            print(f"{name}: cannot run: {', '.join(bad)}")
        failed |= bool(bad) or not report.ok
    return 1 if failed else 0


def cmd_check_videos(host: PluginHost, args: argparse.Namespace) -> int:
    from tempvl_core.video.check import FailedVideo, check_videos

    from tempvl_bench.report.results import write_json_atomic

    status = 0
    names = _expand(host, args.task)
    if args.output is not None and args.output.is_dir():
        raise ValueError(f"--output {args.output}: is a folder; expected the JSON report file to write")
    for name in names:
        config = _task_config(host, name, args.demo)
        data_root = _data_root(config, args)
        videos = find_task_videos(config, data_root)
        report = check_videos([p for p in videos.paths if p not in videos.missing], progress=not args.no_progress)
        report.checked += len(videos.missing)  # a name that matches no file fails with the lookup's reason
        report.failed.extend(FailedVideo(path, why) for path, why in videos.missing.items())
        substitutions = {video: str(path) for video, path in sorted(videos.substitutions.items())}
        output = args.output or Path("results") / name / "check-videos.json"
        if args.output and len(names) > 1:  # one report per task, never overwritten by the next
            output = args.output.with_name(f"{args.output.stem}-{name}{args.output.suffix}")
        write_json_atomic(output, {"task": name, "data_root": str(data_root), **report.to_dict(),
                                   "video_substitutions": substitutions})
        print(f"{name}: {report.summary()}\n  report: {output}")
        if substitutions:
            shown = "; ".join(f"{video} -> {path}" for video, path in list(substitutions.items())[:5])
            print(f"{name}: video.allow_substitutes: {len(substitutions)} video(s) stand in for missing ones "
                  f"(listed in the report): {shown}{' ...' if len(substitutions) > 5 else ''}")
        status = status or (0 if report.ok else 1)
    return status


def cmd_prepare_videos(host: PluginHost, args: argparse.Namespace) -> int:
    from tempvl_core.video.prepare import prepare_videos, prepared_path

    from tempvl_bench.report.results import write_json_atomic

    status = 0
    _expect_folder(args.output)
    for name in _expand(host, args.task):
        config = _task_config(host, name, args.demo)
        data_root = _data_root(config, args)
        source_root = data_root / config.paths.videos
        target_root = args.output or data_root / config.prepared_videos_dir
        sources = [p for p in task_videos(config, data_root) if p.exists()]
        pairs = [(p, prepared_path(source_root, target_root, p)) for p in sources]
        report = prepare_videos(pairs, fps=args.fps, short_side=args.short_side, progress=not args.no_progress,
                                num_workers=args.workers)
        write_json_atomic(target_root / "prepare-report.json", json.loads(report.to_json()))
        print(f"{name}: {report.summary()} -> {target_root}")
        for failure in report.failed[:10]:
            print(f"  {failure.path}: {failure.error}")
        status = status or (1 if report.failed else 0)
    return status


def cmd_pretrain(host: PluginHost, args: argparse.Namespace) -> int:
    from tempvl_core.train.config import PretrainConfig
    from tempvl_core.train.pretrain import run_pretraining, seed_everything

    from tempvl_bench.report.results import write_json_atomic
    from tempvl_bench.run.checkpoint import INFO_FILE
    from tempvl_bench.run.modeling import build_backbone_by_name

    _expect_folder(args.output)
    config = PretrainConfig.from_yaml(args.config)
    if args.demo and args.data_root:
        raise ValueError(f"pretrain: --demo and --data-root {args.data_root} both say where the data is; pass only one")
    if args.demo:
        from tempvl_core.data.demo import ensure_demo_dataset

        data_root = Path(ensure_demo_dataset("pretrain"))
    elif args.data_root or os.environ.get("TEMPVL_DATA"):
        data_root = Path(args.data_root or os.environ["TEMPVL_DATA"])
    else:
        raise ValueError("pretrain: no data root; pass --data-root DIR, set TEMPVL_DATA, or add --demo")
    backbone_name = args.backbone or config.model.backbone or ("cnn-tiny" if config.model.preset == "tiny" else "vit-b16")
    seed_everything(config.training.seed)  # the backbone's initial weights too: runs repeat exactly
    backbone = build_backbone_by_name(host, backbone_name, image_size=config.data.size,
                                      pretrained=config.model.pretrained or False)
    device = args.device or ("cuda" if _cuda() else "cpu")
    final = run_pretraining(config, data_root=data_root, output_dir=args.output, backbone=backbone,
                            resume=args.resume, device=device, progress=not args.no_progress)
    if int(os.environ.get("RANK", "0")) == 0:
        write_json_atomic(Path(final) / INFO_FILE, {"backbone": backbone_name, "config": str(args.config)})
        print(f"pretraining finished; checkpoint: {final}\n"
              f"evaluate it with: tempvl-bench run --task didemo{' --demo' if args.demo else ''} --checkpoint {final}")
    return 0


def cmd_cache(host: PluginHost, args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from tempvl_bench.run.feature_cache import ENV, cache_root, clear, summarize

    root = cache_root()
    if args.action == "clear":
        print(f"feature cache {root}: removed {clear(root)} encoder folder(s)")
        return 0
    summaries = summarize(root)
    rows = [(s.folder.name[:12], s.description.get("backbone", "?"), s.description.get("level", "?"),
             f"{s.description.get('sampling', '?')}/{s.description.get('num_frames', '?')}@{s.description.get('size', '?')}",
             str(s.description.get("weights_sha256", "?"))[:12], s.entries, f"{s.bytes / 2**20:.1f}")
            for s in summaries]  # fmt: skip
    total = sum(s.entries for s in summaries), sum(s.bytes for s in summaries) / 2**20
    print(f"feature cache: {root} (set {ENV} to move it)")
    if rows:
        print(tabulate(rows, ("key", "backbone", "level", "frames", "weights", "entries", "MiB"), tablefmt="simple"))
    print(f"{len(rows)} encoder(s), {total[0]} entries, {total[1]:.1f} MiB")
    return 0


def _expect_folder(output: Path | None) -> None:
    if output is not None and output.exists() and not output.is_dir():
        raise ValueError(f"--output {output}: is a file; expected a folder")


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def add_parsers(sub, common: argparse.ArgumentParser, dispatch) -> None:
    """Register the subcommands; ``dispatch(fn)`` wraps a ``fn(host, args)``."""
    p = sub.add_parser("validate", parents=[common],
                       help="check a task as run would (task file, options, metrics, model settings) and parse its "
                            "annotation files; no videos needed")
    _task_args(p)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="check with a task-config key overridden, as run --set would")
    p.set_defaults(func=dispatch(cmd_validate))

    p = sub.add_parser("check-videos", parents=[common], help="decode every video a task uses; report failures")
    _task_args(p)
    p.add_argument("--output", type=Path, help="JSON report (default: results/<task>/check-videos.json)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=dispatch(cmd_check_videos))

    p = sub.add_parser("prepare-videos", parents=[common], help="re-encode a task's videos once for fast reading")
    _task_args(p)
    p.add_argument("--output", type=Path, help="prepared copy root (default: <data root>/<videos>_prepared)")
    p.add_argument("--fps", type=float, default=3.0, help="frames per second kept (default: %(default)s)")
    p.add_argument("--short-side", type=int, default=224, help="short side in pixels (default: %(default)s)")
    p.add_argument("--workers", type=int, default=1, help="videos re-encoded in parallel (default: %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=dispatch(cmd_prepare_videos))

    p = sub.add_parser("cache", parents=[common], help="the feature cache: where it is and what it holds, or empty it")
    p.add_argument("action", choices=["info", "clear"], nargs="?", default="info",
                   help="info: where the cache is and what it holds (default); clear: remove every entry")
    p.set_defaults(func=dispatch(cmd_cache))

    p = sub.add_parser("pretrain", parents=[common], help="pretrain TemPVL (VTC, MLM, MR, TL); torchrun for DDP")
    p.add_argument("--config", type=Path, required=True, help="pretraining YAML (see configs/pretrain/)")
    p.add_argument("--demo", action="store_true", help="pretrain on the built-in demo WebVid/CC3M data")
    p.add_argument("--data-root", type=Path, help="folder holding the WebVid/CC3M data (default: $TEMPVL_DATA)")
    p.add_argument("--output", type=Path, default=Path("results/pretrain"),
                   help="checkpoint folder; each checkpoint is <output>/step_NNNNNN (default: %(default)s)")
    p.add_argument("--backbone", help="video backbone (default: the config's model.backbone)")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --output")
    p.add_argument("--device", choices=["cpu", "cuda"], help="where training runs (default: cuda when available)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=dispatch(cmd_pretrain))


def _task_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", required=True,
                   help="task name, group name, a task file of your own (./my-task.yaml), or a comma list")
    p.add_argument("--data-root", type=Path, help="data root (default: $TEMPVL_DATA)")
    p.add_argument("--demo", action="store_true", help="use the built-in demo data")
