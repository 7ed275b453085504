"""What identifies a run for ``--resume``: every input that can change one of its numbers.

A run folder is named ``<time>-<mode>-<fingerprint>`` and keeps the inputs themselves in
``run.json``; ``--resume`` reuses a folder only when those inputs are equal to the new run's,
so a different data root, annotation file, video file, text encoder, checkpoint or code never
returns another run's results.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from tempvl_bench import __version__
from tempvl_bench.config import TaskConfig
from tempvl_bench.report.results import package_versions, sha256_file

RUN_FILE = "run.json"
#: Top-level files of an annotation folder that are hashed besides the dataset's declared files
#: (loaders fall back to some of them, e.g. ActivityNet's BSN files).
ANNOTATION_SUFFIXES = (".json", ".jsonl", ".csv", ".tsv", ".txt", ".pkl")
#: Packages whose source is hashed into the code version.
CODE_PACKAGES = ("tempvl_bench", "tempvl_core", "tempvl_plugins")


def run_inputs(
    *,
    config: TaskConfig,
    mode: str,
    demo: bool,
    data_root: Path,
    backbone: str,
    text_encoder: str,
    checkpoint_sha256: str | None,
    seed: int,
    limit: int | None,
    device: str,
    model: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The inputs of one run, as JSON-ready values (``model``: the model's identity, its name,
    path and the hashes of its configuration and weights files)."""
    annotation_dir = Path(data_root) / config.paths.annotations
    return {
        "config": config.to_dict() | {"source": ""},  # the resolved values, wherever the file lives
        "mode": mode,
        "demo": demo,
        "data_root": str(Path(data_root).resolve()),
        "annotation_sha256": annotation_hashes(config.dataset, annotation_dir),
        "videos": video_listing(Path(data_root) / config.paths.videos),
        "prepared_videos": video_listing(Path(data_root) / config.prepared_videos_dir),
        "backbone": backbone,
        "text_encoder": text_encoder,
        "checkpoint_sha256": checkpoint_sha256,
        "model": model,
        "seed": seed,
        "limit": limit,
        "device": device,
        "code": code_version(),
    }


def fingerprint(inputs: dict[str, Any]) -> str:
    """A short hash of :func:`run_inputs` for the run folder's name."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:10]


def same_inputs(run_dir: Path, inputs: dict[str, Any]) -> bool:
    """True when ``run_dir/run.json`` records exactly these inputs."""
    try:
        recorded = json.loads((Path(run_dir) / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return recorded == json.loads(json.dumps(inputs, default=str))


def annotation_hashes(dataset: str, annotation_dir: Path) -> dict[str, str]:
    """sha256 of the dataset's annotation files (relative name -> hash); folders are walked."""
    from tempvl_core.data.catalogue import DATASETS

    annotation_dir = Path(annotation_dir)
    names = set()
    if dataset in DATASETS:
        names = {name.split("/*", 1)[0] for source in DATASETS[dataset].sources for layout in source.layouts
                 for name in layout.files + layout.optional}
    if annotation_dir.is_dir():
        names |= {p.name for p in annotation_dir.iterdir() if p.is_file() and p.suffix.lower() in ANNOTATION_SUFFIXES}
    out: dict[str, str] = {}
    for name in sorted(names):
        path = annotation_dir / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.is_file():
                out[str(file.relative_to(annotation_dir))] = sha256_file(file)
    return out


def video_listing(video_dir: Path) -> dict[str, Any]:
    """The files under a video folder, as a count and a sha256 of each one's relative path, size
    and modification time in nanoseconds: a video replaced, re-encoded, added or removed changes it.

    The whole folder counts, not only the videos a run reads: which ones it reads is known only
    once the annotations are loaded, and a stat per file is cheap (hashing the bytes is not).
    """
    digest, count, seen = hashlib.sha256(), 0, set()
    root = Path(video_dir)
    for folder, dirs, files in os.walk(root, followlinks=True):  # links followed as the video lookup does
        real = os.path.realpath(folder)
        if real in seen:  # a symlink loop: walked once
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            try:
                stat = path.stat()
            except OSError:  # a dangling link: reading it fails, which the run reports
                stat = None
            entry = [path.relative_to(root).as_posix(), stat.st_size if stat else None, stat.st_mtime_ns if stat else None]
            digest.update(json.dumps(entry).encode() + b"\n")
            count += 1
    return {"files": count, "sha256": digest.hexdigest()}


def code_version() -> dict[str, Any]:
    """The package version, a hash of the harness, core and plugin sources (uncommitted edits
    change numbers too; a commit that touches none of them does not) and the versions of the
    libraries that compute (torch, timm, transformers, ...)."""
    import importlib

    digest = hashlib.sha256()
    for package in CODE_PACKAGES:
        try:
            module = importlib.import_module(package)
        except ImportError:
            continue
        root = Path(module.__file__).parent
        for path in sorted(root.rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return {"version": __version__, "source_sha256": digest.hexdigest(), "packages": package_versions()}
