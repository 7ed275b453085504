"""``tempvl-bench study``: pretrain every variant x seed on demo episodes, evaluate, report.

Each (variant, seed) run is pretrained from the same initial weights as every other variant of
that seed (the backbone and TemPVL are built right after seeding with it), evaluated on the
demo Charades-STA and DiDeMo test splits, and its per-query outcomes written to ``study.json``
at once (atomically): a killed study continues with the first run not in the file, and a
killed pretraining resumes from its last checkpoint. Nothing in ``study.json`` depends on time,
so the same seeds give the same file.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from tempvl_bench.metrics.priors import best_constant_window
from tempvl_bench.study import evaluate as ev
from tempvl_bench.study.config import StudyConfig, Variant, load_study_config
from tempvl_bench.study.data import EpisodeTensors, load_episodes, load_moments, load_paragraphs
from tempvl_bench.study.report import write_report
from tempvl_core.atomic import write_atomic

STUDY_FILE = "study.json"
_POSIX_LOCKS = importlib.util.find_spec("fcntl") is not None  # study.json's lock and each run's claim
FORMAT = 1


def _round(values: np.ndarray) -> list[float]:
    return [round(float(v), 4) for v in values]


def _pretrain_config(cfg: StudyConfig, variant: Variant, seed: int):
    from tempvl_core.train.config import PretrainConfig

    p = cfg.pretrain
    overrides = {**cfg.model.get("overrides", {}), "tl_strategy": variant.tl_strategy,
                 "merge_shuffled_texts": variant.shuffled_texts}
    return PretrainConfig.from_dict({
        "model": {"preset": cfg.model.get("preset", "tiny"), "overrides": overrides},
        "losses": {**variant.losses, "vtm": 0.0},
        "merge": {"k": variant.merge_clips, "strategy": variant.merge_sampling},
        "data": {"num_frames": p["clip_frames"], "size": cfg.model["image_size"], "sampling": "uniform"},
        "training": {"batch_size": p["episodes_per_batch"], "total_steps": p["steps"],
                     "warmup_steps": p["warmup_steps"], "lr": p["lr"], "min_lr_ratio": 0.1,
                     "weight_decay": 0.01, "precision": "fp32", "checkpoint_every": p["checkpoint_every"],
                     "log_every": p["log_every"], "seed": seed, "keep_checkpoints": 1},
    }, source=f"{cfg.source} (variant {variant.name}, seed {seed})")


def _backbone(cfg: StudyConfig, host):
    from tempvl_bench.run.modeling import build_backbone_by_name

    return build_backbone_by_name(host, cfg.model.get("backbone", "cnn-tiny"), image_size=cfg.model["image_size"])


def _pretrain(cfg: StudyConfig, variant: Variant, seed: int, dataset, out: Path, host, progress: bool):
    from tempvl_core.model import TemPVL
    from tempvl_core.train.pretrain import build_model_config, run_pretraining, seed_everything

    config = _pretrain_config(cfg, variant, seed)
    seed_everything(seed)  # same backbone weights for every variant of this seed
    backbone = _backbone(cfg, host)
    if variant.random_init:  # the weights run_pretraining starts every variant of this seed from
        seed_everything(seed)
        return TemPVL(build_model_config(config), backbone)
    final = run_pretraining(config, data_root=out, output_dir=out, backbone=backbone, dataset=dataset,
                            resume=True, progress=progress)
    seed_everything(seed)
    return TemPVL.from_pretrained(final, _backbone(cfg, host))


def _evaluate(cfg: StudyConfig, model, data: dict, seed: int) -> dict[str, Any]:
    e, f = cfg.eval, cfg.finetune
    text_len = int(cfg.model.get("overrides", {}).get("max_text_len", 32))
    zero_shot, top1 = ev.moment_outcomes(model, data["mr_test"], e["batch_videos"], text_len)
    tuned = ev.finetuned_moment_copy(model, data["mr_train"], steps=f["mr_steps"], lr=f["lr"],
                                     batch_videos=f["batch_videos"], max_text_len=text_len, seed=seed)
    finetuned, _ = ev.moment_outcomes(tuned, data["mr_test"], e["batch_videos"], text_len)
    del tuned
    retrieval = ev.paragraph_outcomes(model, data["ret_test"], e["batch_videos"], e["paragraph_text_len"])
    tuned = ev.finetune_retrieval(model, data["ret_train"], steps=f["retrieval_steps"], lr=f["lr"],
                                  batch_videos=f["batch_videos"] * 2, max_text_len=e["paragraph_text_len"], seed=seed)
    retrieval_ft = ev.paragraph_outcomes(tuned, data["ret_test"], e["batch_videos"], e["paragraph_text_len"])
    outcomes = {
        "zero-shot": {k: _round(v) for k, v in zero_shot.items()},
        "finetuned": {k: _round(v) for k, v in finetuned.items() if k != "probe/hit"},
        "retrieval zero-shot": {k: _round(v) for k, v in retrieval.items()},
        "retrieval finetuned": {k: _round(v) for k, v in retrieval_ft.items()},
    }
    return {"outcomes": outcomes, "distinct_top1_windows": len(set(top1))}


def _load_data(cfg: StudyConfig, cache: Path, progress: bool) -> dict:
    from tempvl_core.data.demo import ensure_demo_dataset

    e, size = cfg.eval, cfg.model["image_size"]
    charades = ensure_demo_dataset("charades-sta") / "charades-sta"
    # The test videos may come from another generator seed (eval.test_seed): a draw no recipe was
    # chosen on. The train split (finetuning, baselines) stays seed 0's, the one the recipe was
    # chosen on: nothing is fitted on the new draw, and only the test videos change.
    test_root = ensure_demo_dataset("charades-sta", seed=e.get("test_seed", 0)) / "charades-sta"
    didemo = ensure_demo_dataset("didemo") / "didemo"
    episodes = ensure_demo_dataset("episodes") / "episodes"
    p = cfg.pretrain
    train, test = e.get("train_videos"), e.get("test_videos")
    return {
        "episodes": load_episodes(episodes, p["clip_fps"], p["clip_frames"], size, cache, progress, p.get("episodes")),
        "mr_train": load_moments(charades, "train", e["mr_frames"], size, cache, progress, train),
        "mr_test": load_moments(test_root, "test", e["mr_frames"], size, cache, progress, test),
        "ret_train": load_paragraphs(didemo, "train", e["retrieval_frames"], size, cache, progress, train),
        "ret_test": load_paragraphs(didemo, "test", e["retrieval_frames"], size, cache, progress, test),
    }


def _read(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc}); move it away to start the study again") from None


def _write(path: Path, study: dict) -> None:
    write_atomic(path, json.dumps(study, sort_keys=True) + "\n")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialize read-modify-write of study.json between shards (POSIX lock; elsewhere the
    atomic replace still protects readers)."""
    if not _POSIX_LOCKS:
        yield
        return
    import fcntl

    with path.with_suffix(".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _claimed(run_dir: Path) -> Iterator[bool]:
    """Hold ``run_dir``'s claim while the block runs; yields False when another process holds
    it. The lock dies with its process, so a killed shard's run can be taken again."""
    if not _POSIX_LOCKS:
        yield True
        return
    import fcntl

    run_dir.parent.mkdir(parents=True, exist_ok=True)
    with run_dir.with_name(run_dir.name + ".claim").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _record(path: Path, key: str, run: dict) -> dict:
    """Add one finished run to study.json (re-read under the lock: other shards write too)."""
    with _locked(path):
        study = _read(path)
        study["runs"][key] = run
        _write(path, study)
    return study


def run_study(config_path: Path, output: Path, *, quick: bool = False, progress: bool = True, host=None,
              shard: tuple[int, int] = (0, 1)) -> dict:
    """Run (or continue) the study of ``config_path`` into ``output``; returns study.json's data.

    ``shard=(i, n)``: n processes (one per core) share a study. This process first takes every
    n-th (variant, seed) run starting at i, then (where POSIX locks exist) any run that no
    process has started: a run is held under a lock while it runs, so a shard that finishes
    early takes over the runs of a slower one, and a killed shard's lock is released with it.
    Each writes its runs into study.json under a lock, and whichever finds every run done
    writes the report.
    """
    from tempvl_bench.plugin.manager import load_plugins

    cfg = load_study_config(config_path, quick=quick)
    plan = plan_commit(Path(config_path))
    if not quick and plan["dirty"]:
        raise ValueError(f"{config_path}: uncommitted changes (or not in a git checkout): the full study runs only "
                         "a plan committed before it starts; commit the config first (study.json records the commit)")
    host = host or load_plugins()
    output.mkdir(parents=True, exist_ok=True)
    raw_config = recorded_config(cfg, config_path, quick)
    path = output / STUDY_FILE
    with _locked(path):
        study = _read(path)
    if study is not None and study.get("config") != raw_config:
        raise ValueError(f"{path} was written by another study config; choose another --output or move it away")
    with _locked(output / "cache"):  # one shard decodes, the others read its cache
        data = _load_data(cfg, output / "cache", progress)
    with _locked(path):
        study = _read(path)
        if study is None:
            study = _new_study(cfg, data, raw_config, plan)
            _write(path, study)
    dataset = EpisodeTensors(data["episodes"], cfg.pretrain["clip_frames"])
    index, count = shard
    todo = [(v, s) for i, s in enumerate(cfg.seeds) for v in cfg.variants if i < v.seeds]
    order = sorted(range(len(todo)), key=lambda k: (k % count != index, k))  # its own runs first
    if not _POSIX_LOCKS:  # without POSIX locks a shard keeps to its own runs
        order = [k for k in order if k % count == index]
    for number in order:
        variant, seed = todo[number]
        key = f"{variant.name}/seed{seed}"
        run_dir = output / "runs" / variant.name / f"seed{seed}"
        with _claimed(run_dir) as claimed:
            if not claimed:  # another shard is running it
                continue
            with _locked(path):
                study = _read(path)
            if key in study["runs"]:
                continue
            print(f"[study] {number + 1}/{len(todo)} {variant.label} (seed {seed})", flush=True)
            start = time.perf_counter()
            model = _pretrain(cfg, variant, seed, dataset, run_dir, host, progress)
            result = _evaluate(cfg, model, data, seed)
            study = _record(path, key, {"variant": variant.name, "seed": seed, **result})
            with _locked(output / "timings.json"):
                timings = _read(output / "timings.json") or {}
                timings[key] = round(time.perf_counter() - start, 1)
                (output / "timings.json").write_text(json.dumps(timings, indent=1, sort_keys=True) + "\n",
                                                     encoding="utf-8")
    with _locked(path):
        study = _read(path)
    missing = [f"{v.name}/seed{s}" for v, s in todo if f"{v.name}/seed{s}" not in study["runs"]]
    if missing:
        print(f"[study] waiting for other shards: {len(missing)} runs left ({', '.join(missing[:4])} ...)")
        return study
    summary = write_report(study, cfg, output)
    with _locked(path):  # each pre-registered claim, marked held or not held
        study = _read(path)
        study["claims"] = summary["claims"]
        _write(path, study)
    return study


def recorded_config(cfg: StudyConfig, config_path: str | Path, quick: bool) -> dict:
    """The parsed config as study.json records it (``config``): a study folder only continues
    under the same one, and a committed study can be checked against its config file."""
    return {"file": Path(config_path).name, "quick": quick, "variants": [dataclasses.asdict(v) for v in cfg.variants],
            "model": cfg.model, "pretrain": cfg.pretrain, "eval": cfg.eval, "finetune": cfg.finetune,
            "bootstrap": cfg.bootstrap, "reference": cfg.reference,
            "claims": [dataclasses.asdict(c) for c in cfg.claims]}


def plan_commit(config_path: Path) -> dict:
    """The last git commit that touched ``config_path`` and whether the file differs from it
    (``dirty`` is also true outside a git checkout or for a file git does not track)."""
    import subprocess

    path = Path(config_path).resolve()

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=path.parent, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("log", "-1", "--format=%H", "--", path.name) or None
    status = git("status", "--porcelain", "--", path.name)
    return {"config_commit": commit, "dirty": commit is None or status is None or status != ""}


def _new_study(cfg: StudyConfig, data: dict, raw_config: dict, plan: dict) -> dict:
    from tempvl_core.data.demo.episodes import EPISODE_MOTIONS

    from tempvl_bench.metrics.grounding import swappable

    train, test = data["mr_train"], data["mr_test"]
    baselines = ev.baseline_outcomes(train, test, cfg.eval["mr_frames"], cfg.eval["prior_draws"], seed=0)
    baselines["chance"].update(ev.retrieval_chance(len(data["ret_test"].texts)))
    return {
        "format": FORMAT, "config": raw_config,
        "plan": {**plan, "claims": [dataclasses.asdict(c) for c in cfg.claims]},
        "data": {"charades_test_queries": len(test.texts), "charades_test_videos": len(test.durations),
                 "charades_test_seed": cfg.eval.get("test_seed", 0),
                 "query_motions": list(test.motions),
                 "pretraining_motions": list(EPISODE_MOTIONS),
                 "event_chance": _round(ev.event_chance(test)),
                 "swapped_queries": [int(q) for q in swappable(ev.swap_permutation(test))],
                 "charades_train_queries": len(train.texts), "didemo_test_videos": len(data["ret_test"].texts),
                 "episodes": len(data["episodes"].frames),
                 "episode_clips": sum(len(c) for c in data["episodes"].frames)},
        "best_constant_window": _round(best_constant_window(ev.normalized_windows(train), cfg.eval["mr_frames"])),
        "baselines": {name: {k: _round(v) for k, v in metrics.items()} for name, metrics in baselines.items()},
        "runs": {},
    }
