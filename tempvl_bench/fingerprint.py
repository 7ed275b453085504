"""What identifies a run for ``--resume``: every input that can change one of its numbers.

A run folder is named ``<time>-<mode>-<fingerprint>`` and keeps the inputs themselves in
``run.json``; ``--resume`` reuses a folder only when those inputs are equal to the new run's,
so a different data root, annotation file, text encoder, checkpoint or code never returns
another run's results.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from tempvl_bench.config import TaskConfig
from tempvl_bench.results import package_versions, sha256_file

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


def code_version() -> dict[str, Any]:
    """The package version, a hash of the harness, core and plugin sources (uncommitted edits
    change numbers too; a commit that touches none of them does not) and the versions of the
    libraries that compute (torch, timm, transformers, ...)."""
    import importlib

    from tempvl_bench import __version__

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
