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
import subprocess
from pathlib import Path
from typing import Any, Iterable, Mapping, TypedDict

from tempvl_core.atomic import atomic_file, write_atomic

#: 2: checkpoint_file, data_root; 3: video_substitutions; 4: ci95, bootstrap, baselines...;
#: 5: captioning metrics x100 (as captioning papers print them; before: pycocoevalcap's 0-1), and
#: outcomes.npz names the run it belongs to
SCHEMA_VERSION = 5
#: the first schema whose captioning metrics are x100
CAPTION_X100_SCHEMA = 5
RESULTS_FILE = "results.json"
PREDICTIONS_FILE = "predictions.jsonl"
TRACKED_PACKAGES = ("tempvl-bench", "torch", "torchvision", "timm", "transformers", "numpy", "decord", "av")


class FailedVideoRecord(TypedDict):
    """One entry of ``failed_videos``: a video that could not be decoded, and why."""

    path: str
    error: str


class Bootstrap(TypedDict):
    resamples: int  #: bootstrap resamples (tempvl_bench.report.uncertainty.RESAMPLES)
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


class ModelRecord(TypedDict):
    """The evaluated model (``run --model``): what names its numbers."""

    name: str  #: registry name (``tempvl-bench list models``): tempvl, hf-clip, ...
    path: str | None  #: absolute folder (or TemPVL weights file) it was loaded from; null: none
    config_sha256: str  #: sha256 of its configuration (model and preprocessing files, or settings)
    weights_sha256: str | None  #: sha256 of its weights files as loaded (null: seeded initialisation)


class ResultRecord(TypedDict):
    """One evaluated run; the contents of ``results.json``."""

    schema_version: int  #: SCHEMA_VERSION of this file
    run_id: str  #: folder name under results/<task>/
    task: str  #: canonical task name, e.g. "didemo"
    family: str  #: the task file's ``family:`` (built-in: tempvl_bench.metrics.families.FAMILIES)
    split: str  #: evaluated split
    mode: str  #: zero-shot | finetune
    demo: bool  #: evaluated on the built-in demo data
    #: canonical names (t2v/R@1 ...), percent where applicable, captioning x100 (schema 5 on)
    metrics: dict[str, float]
    primary_metric: str  #: the metric leaderboards sort by
    model: ModelRecord  #: the evaluated model and the hashes that identify it
    backbone: str  #: registry name of the video backbone (another model: its name)
    text_encoder: str  #: registry name (and path) of the text encoder (another model: its name)
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
    failed_videos: list[FailedVideoRecord]  #: videos that failed to decode (never substituted)
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
    write_atomic(path, text)


def write_text_atomic(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)


def write_jsonl_atomic(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with atomic_file(path, "w") as handle:
        for row in rows:
            handle.write(json.dumps(row, allow_nan=False) + "\n")
            count += 1
    return count


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
    version = data.get("schema_version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise ValueError(f"{path}: key 'schema_version': expected an integer, got {version!r:.60}")
    for key in ("created_at", "backbone", "split", "checkpoint_sha256"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise ValueError(f"{path}: key '{key}': expected a string or null, got {data[key]!r}")
    metrics = data["metrics"]
    if not isinstance(metrics, dict) or not all(
        v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in metrics.values()
    ):
        raise ValueError(f"{path}: key 'metrics': expected a mapping of metric name to number, got {metrics!r}")
    return data  # type: ignore[return-value]


def caption_scale(record: Mapping[str, Any]) -> str | None:
    """The scale of a results record's captioning metrics: ``"x100"`` (schema 5 on, as captioning
    papers print them), ``"x1"`` (earlier files: pycocoevalcap's 0-1), or None when the record
    has no captioning metric. Runs of the two scales must never be ranked or compared together."""
    metrics = record.get("metrics")
    names = metrics if isinstance(metrics, dict) else {}
    if record.get("family") != "captioning" and not any(str(name).startswith("cap/") for name in names):
        return None
    version = record.get("schema_version")
    if isinstance(version, int) and not isinstance(version, bool) and version >= CAPTION_X100_SCHEMA:
        return "x100"
    return "x1"


def find_results(root: Path, task: str | None = None) -> list[Path]:
    root = Path(root)
    pattern = f"{task}/*/{RESULTS_FILE}" if task else f"*/*/{RESULTS_FILE}"
    return sorted(root.glob(pattern))
