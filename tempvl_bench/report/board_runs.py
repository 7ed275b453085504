"""Runs as the leaderboard reads them: each results.json checked field by field, and the
evaluation set it belongs to.

A leaderboard ranks only runs of one evaluation set: the same task, split, annotation files
(``annotation_sha256``) and evaluated queries. results.json records how many queries were
evaluated (``num_samples``) but not which, so the evaluated ids are read from the run's own
``outcomes.npz`` (the ``units`` of its ``model`` run in ``meta``: every text, video, query or
question scored) and hashed, sorted, into ``ids_sha256``. A run without outcomes.npz is
identified by its query count instead (a damaged one with a warning). A run made with
``--limit`` (``limit`` in results.json, else in the run's ``run.json``) is a smoke test and
is marked ``limited``. Captioning metrics are x100 from results schema version 5 on; a
captioning run of an older schema is on the 0-1 scale and is never ranked with newer ones.

Every field the leaderboard reads is checked here, so a damaged file (NaN or Infinity, a
number too large for a float, an interval that is not two numbers, a list where a mapping
belongs ...) is left out with a warning naming the file and the field, and never reaches the
tables or the page.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from tempvl_bench.run.fingerprint import RUN_FILE
from tempvl_bench.run.tempvl_model import TEMPVL
from tempvl_bench.report.results import ResultRecord, caption_scale, read_results

#: Largest magnitude accepted for a metric: percentages, ranks and CIDEr x100 are far below it,
#: and the page's plots stay finite.
MAX_METRIC = 1e12


class DamagedRun(ValueError):
    """A results.json the leaderboard cannot read; the message names the file and the field."""


@dataclass(frozen=True)
class EvaluationSet:
    """What a run was evaluated on; runs are ranked together only when this is equal."""

    task: str
    split: str
    annotations: tuple[tuple[str, str], ...]  #: (annotation file, sha256), sorted
    ids_sha256: str | None  #: sha256 of the sorted evaluated ids; None when unknown
    num_samples: int | None
    old_caption_scale: bool  #: captioning metrics on the 0-1 scale (schema_version < 5)

    def describe(self) -> str:
        annotations = hashlib.sha256(json.dumps(self.annotations).encode()).hexdigest()[:12] if self.annotations \
            else "not recorded"
        ids = self.ids_sha256[:12] if self.ids_sha256 else \
            "unknown (no readable outcomes.npz: runs matched by their count)"
        count = "?" if self.num_samples is None else self.num_samples
        return f"split {self.split or '?'}, {count} queries, annotations {annotations}, evaluated ids {ids}"


@dataclass
class BoardRun:
    path: Path
    record: ResultRecord
    evaluation: EvaluationSet
    limit: int | None  #: --limit of the run (None: every query of the split)


def load_run(path: Path, warn: Callable[[str], None]) -> BoardRun:
    """The run of ``path`` (a results.json), checked; raises :class:`DamagedRun` naming the field."""
    try:
        record = read_results(path)
    except ValueError as exc:
        raise DamagedRun(str(exc)) from None
    except RecursionError:
        raise DamagedRun(f"{path}: not a readable results file: nested too deeply") from None
    check_record(path, record)
    run_dir = Path(path).parent
    limit = record.get("limit") if "limit" in record else _run_json_limit(run_dir)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise DamagedRun(f"{path}: key 'limit': expected a whole number or null, got {_short(limit)}")
    ids = _evaluated_ids_sha256(run_dir, warn)
    evaluation = EvaluationSet(
        task=record["task"], split=record.get("split") or "",
        annotations=tuple(sorted((record.get("annotation_sha256") or {}).items())),
        ids_sha256=ids, num_samples=record.get("num_samples"),
        old_caption_scale=caption_scale(record) == "x1")
    return BoardRun(Path(path), record, evaluation, limit)


def check_record(path: Path, record: dict[str, Any]) -> None:
    """Check every field the leaderboard and the HTML page read (beyond ``read_results``)."""
    def fail(key: str, expected: str, got: object) -> None:
        raise DamagedRun(f"{path}: key '{key}': expected {expected}, got {_short(got)}")

    for key in ("schema_version", "num_samples"):
        value = record.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 10**12):
            fail(key, "a whole number >= 0", value)
    if record.get("demo") is not None and not isinstance(record["demo"], bool):
        fail("demo", "true or false", record["demo"])
    for key in ("primary_metric", "family", "text_encoder"):
        if record.get(key) is not None and not isinstance(record[key], str):
            fail(key, "a string", record[key])
    _check_model(record.get("model"), fail)
    for name, value in record["metrics"].items():
        if value is not None and not _plausible(value):
            fail(f"metrics.{name}", f"a finite number below {MAX_METRIC:g} in magnitude", value)
    _check_intervals(path, "ci95", record.get("ci95"), fail)
    for key in ("baselines", "baselines_ci95", "breakdowns", "annotation_sha256"):
        if record.get(key) is not None and not isinstance(record[key], dict):
            fail(key, "a mapping", record[key])
    for name, values in (record.get("baselines") or {}).items():
        _check_numbers(f"baselines.{name}", values, fail)
    for name, intervals in (record.get("baselines_ci95") or {}).items():
        _check_intervals(path, f"baselines_ci95.{name}", intervals, fail)
    for name, values in (record.get("breakdowns") or {}).items():
        _check_numbers(f"breakdowns.{name}", values, fail, allow_null=False)
    for name, digest in (record.get("annotation_sha256") or {}).items():
        if not isinstance(digest, str):
            fail(f"annotation_sha256.{name}", "a sha256 string", digest)


def model_name(record: ResultRecord) -> str:
    """The evaluated model's registry name (``model.name``); runs from before results.json
    named its model evaluated TemPVL, the only model then."""
    model = record.get("model")
    return model["name"] if isinstance(model, dict) else TEMPVL


def _check_model(model: object, fail) -> None:
    """``model``: null (a run that names no model: TemPVL) or the evaluated model's record."""
    if model is None:
        return
    if not isinstance(model, dict):
        fail("model", "a mapping (name, path, config_sha256, weights_sha256)", model)
    if not isinstance(model.get("name"), str) or not model["name"]:
        fail("model.name", "the model's name, a non-empty string", model.get("name"))
    for key in ("path", "config_sha256", "weights_sha256"):
        if model.get(key) is not None and not isinstance(model[key], str):
            fail(f"model.{key}", "a string or null", model[key])


def _check_numbers(key: str, values: object, fail, allow_null: bool = True) -> None:
    if not isinstance(values, dict):
        fail(key, "a mapping of metric name to number", values)
    for name, value in values.items():
        if not ((allow_null and value is None) or _plausible(value)):
            fail(f"{key}.{name}", f"a finite number below {MAX_METRIC:g} in magnitude", value)


def _check_intervals(path: Path, key: str, intervals: object, fail) -> None:
    if intervals is None:
        return
    if not isinstance(intervals, dict):
        fail(key, "a mapping of metric name to [low, high]", intervals)
    for name, interval in intervals.items():
        if interval is None:
            continue
        if (not isinstance(interval, list) or len(interval) != 2 or not all(_plausible(v) for v in interval)
                or interval[0] > interval[1]):
            fail(f"{key}.{name}", "null or [low, high], two finite numbers with low <= high", interval)


def _plausible(value: object) -> bool:
    """A finite JSON number a float can hold, below :data:`MAX_METRIC` in magnitude."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        number = float(value)
    except OverflowError:  # a 400-digit integer
        return False
    return math.isfinite(number) and abs(number) < MAX_METRIC


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _run_json_limit(run_dir: Path) -> Any:
    """``limit`` from the run's run.json (absent or unreadable: None, the run is taken as full)."""
    try:
        recorded = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    return recorded.get("limit") if isinstance(recorded, dict) else None


def _evaluated_ids_sha256(run_dir: Path, warn: Callable[[str], None]) -> str | None:
    """sha256 of the ids the run evaluated (sorted, per unit), from its outcomes.npz."""
    from tempvl_bench.report.outcomes_file import OUTCOMES_FILE, OutcomesFileError, read_units  # numpy: once a run is read

    path = run_dir / OUTCOMES_FILE
    if not path.is_file():  # runs older than results schema 4: the description says so
        return None
    try:
        ids = {kind: sorted(values) for kind, values in read_units(path).items()}
    except OutcomesFileError as exc:  # the count still identifies the set, and the user is told why not the ids
        warn(f"{exc}; the run's evaluated queries are identified by their count only")
        return None
    return hashlib.sha256(json.dumps(ids, sort_keys=True).encode("utf-8")).hexdigest()
