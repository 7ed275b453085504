"""``outcomes.npz``: a run's per-query outcomes (the model's and each baseline's), written beside
results.json and read by ``compare``.

The file holds plain arrays and one JSON string, ``meta`` (no pickled objects). ``meta`` says
which run the outcomes belong to (``identity``: run id, task, split and annotation sha256, as in
that run's results.json) and, per run name and metric, which arrays hold the values of its units
and how the metric is recomputed from them.

The file is read as untrusted input: every member's header is checked against its size before
its bytes are read, and every field of ``meta`` and every array it names is checked for type,
shape and range. Anything else raises :class:`OutcomesFileError` naming the file and the field.
"""

from __future__ import annotations

import json
import math
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from tempvl_core.atomic import atomic_file

from tempvl_bench.metrics.jsonio import npy_header
from tempvl_bench.report.uncertainty import OUTCOMES_FILE, STATISTICS, Outcome, Outcomes, PerUnit, RankedAP

__all__ = ["OUTCOMES_FILE", "OutcomesFile", "OutcomesFileError", "load_outcomes", "outcomes_identity",
           "read_outcomes", "read_units", "write_outcomes"]

FORMAT = 2  #: 1: no identity; 2: ``identity``
#: results.json keys copied into ``meta["identity"]``: the run the outcomes belong to
IDENTITY_KEYS = ("run_id", "task", "split", "annotation_sha256")
#: 1 GiB uncompressed: a run's outcomes take megabytes (70k questions x 6 metrics x 3 runs: 10 MB),
#: so more is a forged header or a zip bomb
_MAX_BYTES = 1 << 30
#: errors of a damaged archive or member (zipfile and numpy's header parser raise all of these)
_DAMAGED = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, struct.error, EOFError, OSError, ValueError,
            NotImplementedError, RuntimeError, OverflowError)


class OutcomesFileError(ValueError):
    """An outcomes.npz that cannot be used; the message names the file and the field."""


@dataclass
class OutcomesFile:
    runs: dict[str, Outcomes]  #: run name (``model``, baselines) -> its outcomes
    identity: dict[str, Any] | None  #: the run they belong to (None: a format-1 file)


def write_outcomes(path: Path, runs: Mapping[str, Outcomes], identity: Mapping[str, Any] | None = None) -> None:
    """Write ``outcomes.npz`` atomically: each run's outcomes by name, and the run's identity."""
    arrays: dict[str, np.ndarray] = {}
    meta: dict = {"format": FORMAT, "identity": dict(identity) if identity is not None else None, "runs": {}}
    for run, outcomes in runs.items():
        entries = {}
        for i, (name, outcome) in enumerate(outcomes.metrics.items()):
            key = f"{len(meta['runs'])}_{i}"
            if isinstance(outcome, PerUnit):
                arrays[key + "_values"] = outcome.values
                entries[name] = {"kind": "per_unit", "key": key, "unit": outcome.unit,
                                 "statistic": outcome.statistic, "point": outcome.point}
            else:
                for part in ("tp", "pred_unit", "bounds", "positives"):
                    arrays[f"{key}_{part}"] = getattr(outcome, part)
                entries[name] = {"kind": "ranked_ap", "key": key, "unit": outcome.unit,
                                 "threshold": outcome.threshold}
        meta["runs"][run] = {"metrics": entries, "units": outcomes.units}
    arrays["meta"] = np.array(json.dumps(meta, allow_nan=False))
    with atomic_file(path) as handle:
        np.savez_compressed(handle, **arrays)


def outcomes_identity(record: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a run's results record that its outcomes.npz repeats, tying the two together."""
    return {key: record[key] for key in IDENTITY_KEYS}


def read_outcomes(path: Path) -> dict[str, Outcomes]:
    """The runs of an ``outcomes.npz`` by name (``model`` and the baselines)."""
    return load_outcomes(path).runs


def load_outcomes(path: Path) -> OutcomesFile:
    """The runs of an ``outcomes.npz`` and the identity of the run they belong to."""
    arrays = _read_arrays(Path(path))
    meta = _read_meta(path, arrays)
    runs = {}
    for run, entry in meta["runs"].items():
        runs[run] = _read_run(path, arrays, f"meta.runs.{run}", entry)
    return OutcomesFile(runs, _read_identity(path, meta))


def read_units(path: Path, run: str = "model") -> dict[str, list[str]]:
    """The ids ``run`` was scored on, per unit (text, video, query, question), from ``meta`` alone:
    the other arrays are listed and size-checked but not read."""
    path = Path(path)
    meta = _read_meta(path, _read_arrays(path, only=("meta",)))
    field = f"meta.runs.{run}"
    return _read_units(path, field, _mapping(path, field, meta["runs"].get(run)))


# ------------------------------------------------------------------ arrays


def _read_arrays(path: Path, only: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Every array of the archive (``only``: just those named), each checked as it is read."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError as exc:
        raise OutcomesFileError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    if not head.startswith(b"PK"):
        what = "the file is empty" if not head else "not a zip archive"
        raise OutcomesFileError(f"{path}: not an outcomes file ({what}; expected the .npz a run writes)")
    where = ""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if sum(info.file_size for info in infos) > _MAX_BYTES:
                raise OutcomesFileError(f"{path}: not an outcomes file (its members declare more than "
                                        f"{_MAX_BYTES >> 30} GiB)")
            arrays = {}
            for info in infos:
                if not info.filename.endswith(".npy"):
                    raise OutcomesFileError(f"{path}: member {info.filename!r}: not a .npy array")
                if only is not None and info.filename[:-4] not in only:
                    continue
                where = f"member {info.filename!r}"
                with archive.open(info) as member:
                    arrays[info.filename[:-4]] = _read_member(path, info.filename, member, info.file_size)
            return arrays
    except OutcomesFileError:
        raise
    except _DAMAGED as exc:
        raise OutcomesFileError(f"{path}: not a readable outcomes file (damaged or truncated archive"
                                f"{', ' + where if where else ''}: {type(exc).__name__}: {exc})") from None


def _read_member(path: Path, name: str, member, size: int) -> np.ndarray:
    """One .npy member: its header checked against the member's size before its bytes are read."""
    try:
        shape, fortran, dtype = npy_header(member)
    except Exception as exc:  # noqa: BLE001 - numpy's header parser raises many kinds on garbage
        raise OutcomesFileError(f"{path}: member {name!r}: not a .npy array ({type(exc).__name__}: {exc})") from None
    if dtype.hasobject or dtype.kind not in "biufU":
        raise OutcomesFileError(f"{path}: member {name!r}: dtype {dtype} (an outcomes file holds numbers and one "
                                "JSON string only)")
    count = math.prod(shape)
    if any(d < 0 for d in shape) or dtype.itemsize == 0 or count * dtype.itemsize > size:
        raise OutcomesFileError(f"{path}: member {name!r}: its header declares shape {shape} of {dtype}, more than "
                                f"the {size} bytes it holds (truncated or damaged)")
    data = member.read(count * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise OutcomesFileError(f"{path}: member {name!r}: truncated ({len(data)} of {count * dtype.itemsize} bytes)")
    array = np.frombuffer(data, dtype=dtype).copy()
    return array.reshape(shape[::-1]).T if fortran else array.reshape(shape)


# ------------------------------------------------------------------ meta


def _read_meta(path: Path, arrays: dict[str, np.ndarray]) -> dict:
    if "meta" not in arrays:
        raise OutcomesFileError(f"{path}: array 'meta' is missing (not an outcomes file a run wrote)")
    raw = arrays["meta"]
    if raw.dtype.kind != "U" or raw.ndim != 0:
        raise OutcomesFileError(f"{path}: array 'meta': expected one JSON string, got {raw.dtype} of shape {raw.shape}")
    try:
        meta = json.loads(str(raw), parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise OutcomesFileError(f"{path}: array 'meta': not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise OutcomesFileError(f"{path}: meta: expected a JSON object, got {type(meta).__name__}")
    if meta.get("format") not in (1, FORMAT) or isinstance(meta.get("format"), bool):
        raise OutcomesFileError(f"{path}: meta.format: expected 1 or {FORMAT}, got {meta.get('format')!r}")
    _mapping(path, "meta.runs", meta.get("runs"))
    return meta


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def _read_identity(path: Path, meta: dict) -> dict[str, Any] | None:
    identity = meta.get("identity")
    if identity is None:
        return None
    _mapping(path, "meta.identity", identity)
    for key in IDENTITY_KEYS:
        if key not in identity:
            raise OutcomesFileError(f"{path}: meta.identity.{key} is missing")
    for key in ("run_id", "task", "split"):
        if not isinstance(identity[key], str):
            raise OutcomesFileError(f"{path}: meta.identity.{key}: expected a string, got {identity[key]!r}")
    hashes = _mapping(path, "meta.identity.annotation_sha256", identity["annotation_sha256"])
    if not all(isinstance(v, str) for v in hashes.values()):
        raise OutcomesFileError(f"{path}: meta.identity.annotation_sha256: expected file -> sha256 strings")
    return identity


def _mapping(path: Path, field: str, value: Any) -> dict:
    if not isinstance(value, dict):
        shown = "missing" if value is None else f"expected a JSON object, got {type(value).__name__}"
        raise OutcomesFileError(f"{path}: {field}: {shown}")
    return value


def _read_run(path: Path, arrays: dict[str, np.ndarray], field: str, entry: Any) -> Outcomes:
    entry = _mapping(path, field, entry)
    units = _read_units(path, field, entry)
    metrics: dict[str, Outcome] = {}
    for name, spec in _mapping(path, f"{field}.metrics", entry.get("metrics")).items():
        where = f"{field}.metrics[{name!r}]"
        spec = _mapping(path, where, spec)
        unit, key = spec.get("unit"), spec.get("key")
        if not isinstance(key, str):
            raise OutcomesFileError(f"{path}: {where}.key: expected a string, got {key!r}")
        if not isinstance(unit, str) or unit not in units:
            raise OutcomesFileError(f"{path}: {where}.unit: {unit!r} is not one of {field}.units ({', '.join(units)})")
        kind = spec.get("kind")
        if kind == "per_unit":
            metrics[name] = _per_unit(path, arrays, where, spec, len(units[unit]))
        elif kind == "ranked_ap":
            metrics[name] = _ranked_ap(path, arrays, where, spec, len(units[unit]))
        else:
            raise OutcomesFileError(f"{path}: {where}.kind: expected 'per_unit' or 'ranked_ap', got {kind!r}")
    return Outcomes(metrics, units)


def _read_units(path: Path, field: str, entry: dict) -> dict[str, list[str]]:
    units = _mapping(path, f"{field}.units", entry.get("units"))
    for unit, ids in units.items():
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise OutcomesFileError(f"{path}: {field}.units.{unit}: expected a list of id strings")
    return {unit: list(ids) for unit, ids in units.items()}


def _array(path: Path, arrays: dict[str, np.ndarray], where: str, name: str, ndim: int, kinds: str) -> np.ndarray:
    if name not in arrays:
        raise OutcomesFileError(f"{path}: array {name!r} (named by {where}) is missing")
    array = arrays[name]
    if array.ndim != ndim or array.dtype.kind not in kinds:
        what = "integers" if kinds == "iu" else "numbers"
        raise OutcomesFileError(f"{path}: array {name!r} (named by {where}): expected a {ndim}-D array of {what}, "
                                f"got {array.dtype} of shape {array.shape}")
    return array


def _per_unit(path: Path, arrays, where: str, spec: dict, units: int) -> PerUnit:
    name = spec["key"] + "_values"
    values = _array(path, arrays, where, name, 1, "iuf")
    if values.size != units:
        raise OutcomesFileError(f"{path}: array {name!r} (named by {where}): {values.size} values for {units} units")
    if np.isinf(values).any():
        raise OutcomesFileError(f"{path}: array {name!r} (named by {where}): infinite values")
    statistic, point = spec.get("statistic"), spec.get("point")
    if statistic not in STATISTICS:
        raise OutcomesFileError(f"{path}: {where}.statistic: unknown statistic {statistic!r}; expected one of "
                                f"{', '.join(STATISTICS)}")
    if point is not None:
        if not isinstance(point, (int, float)) or isinstance(point, bool) or not math.isfinite(_float(point)):
            raise OutcomesFileError(f"{path}: {where}.point: expected a number or null, got {point!r:.60}")
        point = float(point)
    return PerUnit(spec["unit"], values, statistic, point)


def _float(value: int | float) -> float:
    try:
        return float(value)
    except OverflowError:  # an integer beyond float range
        return math.inf


def _ranked_ap(path: Path, arrays, where: str, spec: dict, units: int) -> RankedAP:
    key = spec["key"]
    tp = _array(path, arrays, where, key + "_tp", 2, "biuf")
    pred_unit = _array(path, arrays, where, key + "_pred_unit", 1, "iu")
    bounds = _array(path, arrays, where, key + "_bounds", 1, "iu")
    positives = _array(path, arrays, where, key + "_positives", 2, "iuf")
    problem = None
    if not np.isfinite(tp).all() or not np.isfinite(positives).all() or (positives < 0).any():
        problem = "tp and positives must be finite, positives >= 0"
    elif pred_unit.size != tp.shape[0] or ((pred_unit < 0) | (pred_unit >= units)).any():
        problem = f"pred_unit must give each of the {tp.shape[0]} predictions a unit in [0, {units})"
    elif positives.shape != (units, bounds.size - 1):
        problem = f"positives has shape {positives.shape}, expected ({units} units, {bounds.size - 1} classes)"
    elif bounds.size == 0 or bounds[0] != 0 or bounds[-1] != tp.shape[0] or (np.diff(bounds) < 0).any():
        problem = f"bounds must rise from 0 to the {tp.shape[0]} predictions"
    elif tp.shape[1] == 0:
        problem = "tp has no threshold column"
    if problem:
        raise OutcomesFileError(f"{path}: arrays {key}_* (named by {where}): {problem}")
    threshold = spec.get("threshold")
    if threshold is not None and (not isinstance(threshold, int) or isinstance(threshold, bool)
                                  or not 0 <= threshold < tp.shape[1]):
        raise OutcomesFileError(f"{path}: {where}.threshold: expected null or a column of tp "
                                f"(0..{tp.shape[1] - 1}), got {threshold!r}")
    return RankedAP(spec["unit"], tp, pred_unit, bounds, positives, threshold)
