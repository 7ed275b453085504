"""Run outputs: ``results/<task>/<run-id>/results.json`` plus ``predictions.jsonl`` and
``outcomes.npz`` (per-query outcomes of the model and of each baseline, read by ``compare``).

Every file is written atomically (temporary file in the same folder, then ``os.replace``), so a
killed run never leaves a truncated results.json. The schema is documented field by field in
:class:`ResultRecord` and bumped through ``SCHEMA_VERSION`` when it changes.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterable, TypedDict

SCHEMA_VERSION = 4  # 2: checkpoint_file, data_root; 3: video_substitutions; 4: ci95, bootstrap, baselines...
RESULTS_FILE = "results.json"
PREDICTIONS_FILE = "predictions.jsonl"
TRACKED_PACKAGES = ("tempvl-bench", "torch", "torchvision", "timm", "transformers", "numpy", "decord", "av")


class FailedVideo(TypedDict):
    path: str
    error: str


class Bootstrap(TypedDict):
    resamples: int  #: bootstrap resamples (tempvl_bench.uncertainty.RESAMPLES)
    seed: int  #: seed of numpy.random.default_rng drawing them
    level: float  #: 0.95
    method: str  #: "percentile"
    units: dict[str, str]  #: metric -> what was resampled (text, video, query, question)


class VersusBaseline(TypedDict):
    """The model against its best baseline on the primary metric, paired over the same units."""

    metric: str
    baseline: str  #: name of the best baseline on that metric
    model: float
    baseline_value: float
    difference: float  #: model - baseline
    ci95: list[float] | None  #: paired bootstrap interval of the difference
    p_value: float | None  #: two-sided paired bootstrap p-value
    beats: bool | None  #: the interval lies entirely on the better side of zero


class ResultRecord(TypedDict):
    """One evaluated run; the contents of ``results.json``."""

    schema_version: int  #: SCHEMA_VERSION of this file
    run_id: str  #: folder name under results/<task>/
    task: str  #: canonical task name, e.g. "didemo"
    family: str  #: retrieval | qa | captioning | moment-retrieval | action-localization
    split: str  #: evaluated split
    mode: str  #: zero-shot | finetune
    demo: bool  #: evaluated on the built-in demo data
    metrics: dict[str, float]  #: canonical names (t2v/R@1 ...), percent where applicable
    primary_metric: str  #: the metric leaderboards sort by
    backbone: str  #: registry name of the video backbone
    text_encoder: str  #: registry name (and path) of the text encoder
    checkpoint: str | None  #: path given with --checkpoint
    checkpoint_file: str | None  #: absolute path of the weights file loaded from that checkpoint
    checkpoint_sha256: str | None  #: sha256 of checkpoint_file
    config: dict[str, Any]  #: the fully resolved task config (after --demo and --set)
    data_root: str  #: absolute data root the run read
    annotation_sha256: dict[str, str]  #: annotation file (relative to the data root) -> sha256
    frames: int  #: frames per clip
    sampling: str  #: evaluation frame sampling
    resolution: int  #: frame side in pixels
    seed: int
    world_size: int
    git_commit: str | None  #: commit of the tempvl-bench checkout, if any
    package_versions: dict[str, str]
    wall_time_s: float
    num_samples: int  #: queries (or items) evaluated
    failed_videos: list[FailedVideo]  #: videos that failed to decode (never substituted)
    #: video name -> the other file read for it, only with ``video.allow_substitutes: true``
    video_substitutions: dict[str, str]
    #: a feature-pack run's source (null otherwise): root, preset, resolved layout, the pack's
    #: manifest, and every file read with its size in bytes and sha256
    features: dict[str, Any] | None
    created_at: str  #: ISO-8601 UTC time the run finished
    #: metric -> [low, high], 95% bootstrap interval over the metric's units (null: undefined)
    ci95: dict[str, list[float] | None]
    bootstrap: Bootstrap  #: how ci95 (and baselines_ci95, vs_best_baseline) were computed
    #: trivial baseline name -> its metrics on the evaluated split, fitted on training statistics
    baselines: dict[str, dict[str, float]]
    baselines_ci95: dict[str, dict[str, list[float] | None]]  #: baseline -> metric -> interval
    vs_best_baseline: VersusBaseline | None
    #: named breakdowns beyond ``metrics`` for reports, e.g. {"tal/AP per class": {class: AP}}
    breakdowns: dict[str, dict[str, float]]


def write_json_atomic(path: Path, obj: Any) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n"
    _write_atomic(path, text.encode("utf-8"))


def write_jsonl_atomic(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _mkstemp(path)
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, allow_nan=False) + "\n")
                count += 1
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = _mkstemp(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _mkstemp(path: Path) -> tuple[int, str]:
    """A temporary file next to ``path`` with the mode a plain ``open`` would give (``mkstemp``
    makes it 0600, which would survive the rename and hide results from the user's group)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
    except BaseException:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise
    return fd, tmp


def current_umask() -> int:
    """The process umask (reading it means setting it: restored at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def git_commit(start: Path | None = None) -> str | None:
    here = Path(start or Path(__file__).resolve().parent)
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def package_versions(names: Iterable[str] = TRACKED_PACKAGES) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def read_results(path: Path) -> ResultRecord:
    """Read a results.json, with an error naming the file (and the key) when it is not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable results file: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a tempvl-bench results file (expected a JSON object)")
    missing = [k for k in ("task", "metrics", "run_id", "mode") if k not in data]
    if missing:
        raise ValueError(f"{path}: not a tempvl-bench results file (missing {', '.join(missing)})")
    for key in ("task", "run_id", "mode"):
        if not isinstance(data[key], str):
            raise ValueError(f"{path}: key '{key}': expected a string, got {data[key]!r}")
    for key in ("created_at", "backbone", "split", "checkpoint_sha256"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise ValueError(f"{path}: key '{key}': expected a string or null, got {data[key]!r}")
    metrics = data["metrics"]
    if not isinstance(metrics, dict) or not all(
        v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in metrics.values()
    ):
        raise ValueError(f"{path}: key 'metrics': expected a mapping of metric name to number, got {metrics!r}")
    return data  # type: ignore[return-value]


def find_results(root: Path, task: str | None = None) -> list[Path]:
    root = Path(root)
    pattern = f"{task}/*/{RESULTS_FILE}" if task else f"*/*/{RESULTS_FILE}"
    return sorted(root.glob(pattern))
