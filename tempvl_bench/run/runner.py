"""Runs one task end to end: config, data root, model, the plugin's runner, results on disk."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from tempvl_bench.config import ConfigError, TaskConfig, load_task_config
from tempvl_bench.packs.loader import PackClipFactory
from tempvl_bench.plugin.manager import PluginHost
from tempvl_bench.run import distributed, interrupts
from tempvl_bench.run.clips import ClipLoaderFactory
from tempvl_bench.run.fingerprint import run_inputs
from tempvl_bench.run.lifecycle import check_finetuned, check_task, run_family
from tempvl_bench.run.modeling import build_model_factory, select_model
from tempvl_bench.run.run_folder import inside_output, open_run_dir, remove_if_unused, scratch_run_dir
from tempvl_bench.run.tempvl_model import TEMPVL
from tempvl_bench.run.types import RunContext, RunError, RunOptions, TaskOutput
from tempvl_bench.report.results import (
    PREDICTIONS_FILE,
    RESULTS_FILE,
    SCHEMA_VERSION,
    ResultRecord,
    git_commit,
    package_versions,
    sha256_file,
    write_json_atomic,
    write_jsonl_atomic,
)

DATA_ENV = "TEMPVL_DATA"
MODES = ("zero-shot", "finetune")


def resolve_data_root(config: TaskConfig, options: RunOptions) -> Path:
    if options.demo and options.data_root is not None:
        raise RunError(
            f"--demo and --data-root {options.data_root} both say where the data is: --demo uses the built-in "
            "synthetic data, --data-root your copy of the dataset. Pass only one."
        )
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


def check_options(options: RunOptions) -> None:
    """Refuse options no run can honour, before anything is read or created."""
    if options.mode not in MODES:
        raise RunError(f"--mode {options.mode!r}: expected one of {', '.join(MODES)}")
    if options.limit is not None and (isinstance(options.limit, bool) or options.limit < 1):
        raise RunError(f"--limit {options.limit}: expected a positive number of queries (leave it out to evaluate all)")
    output = Path(options.output)
    if output.exists() and not output.is_dir():
        raise RunError(f"--output {output}: is a file; expected a folder for the results")


def run_task(host: PluginHost, name: str, options: RunOptions, *, echo: Callable[[str], None] = print) -> Path:
    """Run one task and return the path of its results.json."""
    check_options(options)
    spec = host.tasks.get(name)
    config = load_task_config(spec.config_path, overrides=options.overrides, demo=options.demo)
    checkpoint = options.checkpoint  # resolved once, when the options were built
    family, task_options = check_task(spec, config, checkpoint)
    backbone = options.backbone or (checkpoint and checkpoint.backbone) or config.model.backbone
    text_encoder = options.text_encoder or config.model.text_encoder
    host.backbones.resolve(backbone)  # fail fast, with did-you-mean, before loading any data
    host.text_encoders.get(text_encoder)
    model_spec, identity = select_model(host, options.model or config.model.name, spec.name, family, task_options,
                                        config, options.mode, backbone, text_encoder, checkpoint)
    data_root = resolve_data_root(config, options)
    from tempvl_bench.packs.source import feature_source

    features = feature_source(config, options.features, data_root, options.mode)  # None: videos are read
    if features is not None and model_spec.name != TEMPVL:
        raise ConfigError(f"task {spec.name!r}: a feature pack replaces TemPVL's frame backbone; model "
                          f"{model_spec.name!r} encodes its own frames and cannot read one (drop --features "
                          "or the task's features: block, or run --model tempvl)")
    model_backbone = backbone  # builds the model; with a pack, its rows then replace the backbone's output
    if features is not None:  # results, leaderboards and the fingerprint name the pack as the video input
        backbone = features.name
    device = options.device or _default_device()
    rank_device = distributed.join(device)  # under torchrun: the process group, cuda:LOCAL_RANK
    main = distributed.is_main()
    if not main:  # rank 0 alone prints and shows progress
        echo, options = (lambda message: None), replace(options, progress=False)
    if options.demo and not config.demo:
        echo(f"{spec.name}: warning: {config.source} has no 'demo:' block, so --demo runs the task at its full size "
             f"(model preset {config.model.preset}, backbone {backbone}, {config.video.num_frames} frames at "
             f"{config.video.size} px) on the small demo data, which can be slow on a CPU; add a 'demo:' block "
             "(README, \"Writing a plugin\") or pass --set, e.g. --set model.preset=tiny --set video.size=64")
    inputs = run_inputs(config=config, mode=options.mode, demo=options.demo, data_root=data_root, backbone=backbone,
                        text_encoder=text_encoder, checkpoint_sha256=checkpoint.sha256 if checkpoint else None, seed=options.seed,
                        limit=options.limit, device=device, model=identity.to_dict())
    if features is not None:
        inputs["features"] = features.fingerprint()

    output_root = Path(options.output)
    created_output = not output_root.exists()
    run_dir, complete = distributed.on_main(lambda: open_run_dir(output_root, spec.name, options.mode, inputs,
                                                                options.resume, echo))
    results_file = run_dir / RESULTS_FILE
    if complete:
        echo(f"{spec.name}: {run_dir} is already complete (--resume); skipping")
        return results_file
    if not main:  # the other ranks write nothing into the run folder
        run_dir = scratch_run_dir(run_dir)
    if options.resume:
        distributed.gather(None)  # the others have copied rank 0's finetuning state before it is touched

    from tempvl_core.train.pretrain import seed_everything  # torch: only once a run really starts

    seed_everything(options.seed)
    factory = build_model_factory(host, config, model_backbone, text_encoder, checkpoint, rank_device,
                                  model_spec.name)
    ctx = RunContext(
        spec=spec,
        config=config,
        options=options,
        data_root=data_root,
        run_dir=run_dir,
        device=rank_device,
        model=factory if features is None else features.model_factory(factory),
        # another model has its own video and text encoders: its name stands for both
        backbone_name=backbone if model_spec.name == TEMPVL else model_spec.name,
        text_encoder_name=text_encoder if model_spec.name == TEMPVL else model_spec.name,
        model_name=model_spec.name, model_capabilities=model_spec.capabilities, model_identity=identity,
        task_options=task_options,
        features=features,
        make_clips=clip_factory,
    )
    what = f"backbone {backbone}" if model_spec.name == TEMPVL else f"model {model_spec.name}"
    echo(f"{spec.name}: {options.mode} with {what} on {device}; data {data_root}; run {run_dir}")
    start = time.perf_counter()
    try:
        output = run_family(ctx, family)  # None on ranks other than 0: they only help encode
        if options.mode == "finetune" and main:
            check_finetuned(run_dir, spec.name)
        interrupts.check()  # no results from a run the user interrupted
        if main:
            _write_results(ctx, output, inputs, time.perf_counter() - start, echo)
    except BaseException as exc:
        if main:
            remove_if_unused(run_dir, remove_output=created_output)
        if isinstance(exc, Exception):
            distributed.raise_any(exc)  # the other ranks raise it too instead of waiting
        raise
    finally:
        if not main:
            shutil.rmtree(run_dir, ignore_errors=True)
    distributed.raise_any(None)  # every rank learns whether rank 0 wrote its results
    return results_file


def _write_results(ctx: RunContext, output: TaskOutput, inputs: dict[str, Any], wall: float,
                   echo: Callable[[str], None]) -> Path:
    """Write predictions.jsonl, outcomes.npz and results.json into the run folder; returns the last."""
    spec, config, options, run_dir = ctx.spec, ctx.config, ctx.options, ctx.run_dir
    checkpoint = options.checkpoint
    data_root, backbone, text_encoder = ctx.data_root, ctx.backbone_name, ctx.text_encoder_name
    substitutions = ctx.video_substitutions()
    if substitutions:
        shown = "; ".join(f"{name} -> {path}" for name, path in list(substitutions.items())[:5])
        echo(f"{spec.name}: video.allow_substitutes: {len(substitutions)} video(s) read from another file "
             f"(listed in results.json video_substitutions): {shown}{' ...' if len(substitutions) > 5 else ''}")

    root = Path(options.output)
    for name in (PREDICTIONS_FILE, RESULTS_FILE):
        inside_output(root, run_dir / name, f"task {spec.name!r}: its results file")
    write_jsonl_atomic(run_dir / PREDICTIONS_FILE, output.predictions)
    from tempvl_bench.run.evidence import baseline_scores, run_evidence  # numpy: only once a run has scores
    from tempvl_bench.report.outcomes_file import OUTCOMES_FILE, outcomes_identity, write_outcomes

    evidence, outcome_runs = run_evidence(output.metrics, output.outcomes, baseline_scores(output.baselines),
                                          config.primary_metric)
    record: ResultRecord = {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_dir.name,
        "task": spec.name,
        "family": config.family,
        "split": output.split,
        "mode": options.mode,
        "demo": options.demo,
        "metrics": {k: float(v) for k, v in output.metrics.items()},
        "primary_metric": config.primary_metric,
        "model": ctx.model_identity.to_dict() if ctx.model_identity else None,
        "backbone": backbone,
        "text_encoder": text_encoder,
        "checkpoint": str(checkpoint.given) if checkpoint else None,
        "checkpoint_file": str(checkpoint.weights.resolve()) if checkpoint else None,
        "checkpoint_sha256": checkpoint.sha256 if checkpoint else None,
        "config": config.to_dict(),
        "data_root": inputs["data_root"],
        "annotation_sha256": {_relative(p, data_root): sha256_file(p) for p in output.annotation_files},
        "frames": config.video.num_frames,
        "sampling": config.video.sampling,
        "resolution": config.video.size,
        "seed": options.seed,
        "world_size": distributed.world_size(),
        "git_commit": git_commit(),
        "package_versions": package_versions(),
        "wall_time_s": round(wall, 3),
        "num_samples": output.num_samples,
        "failed_videos": list(output.failed_videos),
        "video_substitutions": substitutions,
        "features": ctx.features.provenance() if ctx.features is not None else None,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "breakdowns": {name: {k: float(v) for k, v in parts.items()} for name, parts in output.breakdowns.items()},
        **evidence,
    }
    if outcome_runs:  # before results.json: a results file always finds its outcomes
        write_outcomes(inside_output(root, run_dir / OUTCOMES_FILE, f"task {spec.name!r}: its outcomes file"),
                       outcome_runs, outcomes_identity(record))
    write_json_atomic(run_dir / RESULTS_FILE, record)
    return run_dir / RESULTS_FILE


def clip_factory(ctx: RunContext):
    """The run's ``ctx.clips``: feature-pack rows when the run reads a pack, else video clips."""
    if ctx.features is not None:
        return PackClipFactory(ctx)
    return ClipLoaderFactory(ctx)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return str(path)


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
