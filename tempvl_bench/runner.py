"""Runs one task end to end: config, data root, model, the plugin's runner, results on disk."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from tempvl_bench.config import TaskConfig, load_task_config
from tempvl_bench.manager import PluginHost
from tempvl_bench.modeling import build_model_factory, checkpoint_dir, checkpoint_weights_file
from tempvl_bench.registry import TaskSpec
from tempvl_bench.results import (
    PREDICTIONS_FILE,
    RESULTS_FILE,
    SCHEMA_VERSION,
    FailedVideo,
    ResultRecord,
    git_commit,
    package_versions,
    sha256_file,
    write_json_atomic,
    write_jsonl_atomic,
)

DATA_ENV = "TEMPVL_DATA"
MODES = ("zero-shot", "finetune")


class RunError(RuntimeError):
    """A run that cannot start or finish; the message says what to do."""


@dataclass
class RunOptions:
    mode: str = "zero-shot"
    backbone: str | None = None
    text_encoder: str | None = None
    checkpoint: Path | None = None
    data_root: Path | None = None
    demo: bool = False
    output: Path = Path("results")
    limit: int | None = None
    seed: int = 0
    overrides: Sequence[str] = ()
    device: str | None = None
    resume: bool = False
    progress: bool = True


@dataclass
class TaskOutput:
    """What a task runner returns; the harness turns it into results.json + predictions.jsonl."""

    metrics: dict[str, float]
    split: str
    num_samples: int
    predictions: Iterable[dict[str, Any]] = ()
    failed_videos: list[FailedVideo] = field(default_factory=list)
    #: Annotation files the run read (hashed into results.json).
    annotation_files: list[Path] = field(default_factory=list)


@dataclass
class RunContext:
    """Everything a task runner needs; built by the harness for each task."""

    spec: TaskSpec
    config: TaskConfig
    options: RunOptions
    data_root: Path
    run_dir: Path
    device: str
    #: Builds (once) and returns the model: ``ctx.model()``.
    model: Callable[[], Any]
    backbone_name: str
    text_encoder_name: str

    @property
    def mode(self) -> str:
        return self.options.mode

    @property
    def seed(self) -> int:
        return self.options.seed

    @property
    def limit(self) -> int | None:
        return self.options.limit

    @property
    def train_split(self) -> str:
        """The training split, with an error naming the task file when it has none."""
        split = self.config.splits.train
        if not split:
            raise ValueError(f"{self.config.source}: key 'splits.train' is empty, so --mode finetune has no data")
        return split

    def limited(self, records: list) -> list:
        """The first ``--limit`` records (all of them without ``--limit``)."""
        return records[: self.options.limit] if self.options.limit else records

    @property
    def annotation_dir(self) -> Path:
        return self.data_root / self.config.paths.annotations

    @property
    def video_dir(self) -> Path:
        return self.data_root / self.config.paths.videos

    @property
    def prepared_video_dir(self) -> Path:
        return self.data_root / self.config.prepared_videos_dir


def resolve_data_root(config: TaskConfig, options: RunOptions) -> Path:
    if options.demo:
        from tempvl_core.data.demo import ensure_demo_dataset

        return Path(ensure_demo_dataset(config.dataset, seed=0))
    root = options.data_root or (Path(os.environ[DATA_ENV]) if os.environ.get(DATA_ENV) else None)
    expected = f"<data root>/{config.paths.annotations} (annotations) and <data root>/{config.paths.videos} (videos)"
    if root is None:
        raise RunError(
            f"task {config.name!r}: no data root. Pass --data-root DIR or set {DATA_ENV}; the files are expected at "
            f"{expected}, laid out as docs/data.md describes. To try the task without downloading anything, add --demo."
        )
    if not (root / config.paths.annotations).is_dir():
        raise RunError(
            f"task {config.name!r}: {root / config.paths.annotations} does not exist. Expected {expected}; "
            "see docs/data.md for where to get the files, or add --demo."
        )
    return root


def _fingerprint(config: TaskConfig, options: RunOptions, backbone: str, checkpoint_sha: str | None) -> str:
    payload = {
        "config": config.to_dict() | {"source": ""},
        "mode": options.mode,
        "backbone": backbone,
        "checkpoint": checkpoint_sha,
        "seed": options.seed,
        "limit": options.limit,
        "demo": options.demo,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:10]


def _run_dir(output: Path, task: str, mode: str, fingerprint: str, resume: bool) -> tuple[Path, bool]:
    """Returns (run dir, already complete). With resume, reuse the latest run of the same fingerprint."""
    task_dir = output / task
    if resume:
        previous = sorted(task_dir.glob(f"*-{mode}-{fingerprint}"))
        if previous:
            return previous[-1], (previous[-1] / RESULTS_FILE).exists()
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    run_dir = task_dir / f"{stamp}-{mode}-{fingerprint}"
    suffix = 1
    while run_dir.exists():
        run_dir = task_dir / f"{stamp}-{suffix}-{mode}-{fingerprint}"
        suffix += 1
    run_dir.mkdir(parents=True)
    return run_dir, False


def run_task(host: PluginHost, name: str, options: RunOptions, *, echo: Callable[[str], None] = print) -> Path:
    """Run one task and return the path of its results.json."""
    if options.mode not in MODES:
        raise RunError(f"--mode {options.mode!r}: expected one of {', '.join(MODES)}")
    spec = host.tasks.get(name)
    config = load_task_config(spec.config_path, overrides=options.overrides, demo=options.demo)
    backbone = options.backbone or _checkpoint_backbone(options.checkpoint) or config.model.backbone
    text_encoder = options.text_encoder or config.model.text_encoder
    host.backbones.resolve(backbone)  # fail fast, with did-you-mean, before loading any data
    host.text_encoders.get(text_encoder)
    checkpoint_sha = None
    if options.checkpoint is not None:
        if not options.checkpoint.exists():
            raise RunError(f"--checkpoint {options.checkpoint}: no such file or folder")
        checkpoint_sha = sha256_file(checkpoint_weights_file(options.checkpoint))
    data_root = resolve_data_root(config, options)

    fingerprint = _fingerprint(config, options, backbone, checkpoint_sha)
    run_dir, complete = _run_dir(Path(options.output), spec.name, options.mode, fingerprint, options.resume)
    if complete:
        echo(f"{spec.name}: {run_dir} is already complete (--resume); skipping")
        return run_dir / RESULTS_FILE

    from tempvl_core.train.pretrain import seed_everything  # torch: only once a run really starts

    device = options.device or _default_device()
    seed_everything(options.seed)
    ctx = RunContext(
        spec=spec,
        config=config,
        options=options,
        data_root=data_root,
        run_dir=run_dir,
        device=device,
        model=build_model_factory(host, config, backbone, text_encoder, options.checkpoint, device),
        backbone_name=backbone,
        text_encoder_name=text_encoder,
    )
    echo(f"{spec.name}: {options.mode} with backbone {backbone} on {device}; data {data_root}; run {run_dir}")
    start = time.perf_counter()
    output = spec.runner(ctx)
    wall = time.perf_counter() - start

    write_jsonl_atomic(run_dir / PREDICTIONS_FILE, output.predictions)
    record: ResultRecord = {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_dir.name,
        "task": spec.name,
        "family": spec.family,
        "split": output.split,
        "mode": options.mode,
        "demo": options.demo,
        "metrics": {k: float(v) for k, v in output.metrics.items()},
        "primary_metric": config.primary_metric,
        "backbone": backbone,
        "text_encoder": text_encoder,
        "checkpoint": str(options.checkpoint) if options.checkpoint else None,
        "checkpoint_sha256": checkpoint_sha,
        "config": config.to_dict(),
        "annotation_sha256": {_relative(p, data_root): sha256_file(p) for p in output.annotation_files},
        "frames": config.video.num_frames,
        "sampling": config.video.sampling,
        "resolution": config.video.size,
        "seed": options.seed,
        "world_size": int(os.environ.get("WORLD_SIZE", "1")),
        "git_commit": git_commit(),
        "package_versions": package_versions(),
        "wall_time_s": round(wall, 3),
        "num_samples": output.num_samples,
        "failed_videos": list(output.failed_videos),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    write_json_atomic(run_dir / RESULTS_FILE, record)
    return run_dir / RESULTS_FILE


def _checkpoint_backbone(checkpoint: Path | None) -> str | None:
    """The backbone a pretraining checkpoint was trained with (written by ``tempvl-bench pretrain``)."""
    if checkpoint is None:
        return None
    info = checkpoint_dir(checkpoint) / "tempvl_bench.json"
    if not info.is_file():
        return None
    return json.loads(info.read_text(encoding="utf-8")).get("backbone")


def _relative(path: Path, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return str(path)


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
