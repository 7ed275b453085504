"""``tempvl-bench compare`` on bad input: outcomes.npz of another run, damaged outcomes and
results files, mixed captioning scales. Every case exits 2 with one message naming the file
(and the field), never a traceback; seeded mutations of real files exit 0 or 2, nothing else."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tempvl_bench.cli.app import main
from tempvl_bench.report.outcomes_file import OutcomesFileError, load_outcomes, write_outcomes
from tempvl_bench.report.results import SCHEMA_VERSION, caption_scale
from tempvl_bench.report.uncertainty import Outcomes, RankedAP

FAST = ["--no-progress", "--limit", "12"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("runs")
    found = {}
    for name, frames in (("four", "4"), ("two", "2")):
        target = out / name
        assert main(["run", "--task", "didemo", "--demo", "--output", str(target), *FAST,
                     "--set", f"video.num_frames={frames}"]) == 0
        (found[name],) = target.glob("didemo/*/")
    return found


def _copy(runs, tmp_path: Path, name: str = "two") -> Path:
    copy = tmp_path / f"copy-{name}"
    shutil.copytree(runs[name], copy)
    return copy


def _arrays(npz: Path) -> dict[str, np.ndarray]:
    with np.load(npz, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _meta(npz: Path) -> dict:
    return json.loads(str(_arrays(npz)["meta"]))


def _save(npz: Path, arrays: dict, meta: dict | None = None) -> None:
    if meta is not None:
        arrays = {**arrays, "meta": np.array(json.dumps(meta))}
    with open(npz, "wb") as handle:
        np.savez_compressed(handle, **arrays)


def _compare(capsys, a: Path, b: Path, *extra: str) -> tuple[int, str]:
    code = main(["compare", str(a), str(b), *extra])
    captured = capsys.readouterr()
    return code, captured.err


def _refused(capsys, runs, copy: Path, *expected: str) -> str:
    code, err = _compare(capsys, runs["four"], copy)
    assert code == 2, err
    assert err.startswith("tempvl-bench: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and "pickle" not in err.lower(), err
    for text in expected:
        assert text in err, err
    return err


# ------------------------------------------------------------------ outcomes that belong elsewhere


def test_the_run_writes_its_identity_into_its_outcomes(runs):
    record = json.loads((runs["two"] / "results.json").read_text())
    assert record["schema_version"] == SCHEMA_VERSION == 5
    identity = load_outcomes(runs["two"] / "outcomes.npz").identity
    assert identity == {k: record[k] for k in ("run_id", "task", "split", "annotation_sha256")}


def test_outcomes_of_another_run_are_refused(runs, tmp_path, capsys):
    copy = _copy(runs, tmp_path)
    shutil.copy(runs["four"] / "outcomes.npz", copy / "outcomes.npz")
    _refused(capsys, runs, copy, str(copy / "outcomes.npz"), "meta.identity.run_id", "belong to another run")


def test_outcomes_that_do_not_give_the_recorded_metrics_are_refused(runs, tmp_path, capsys):
    """Another run's outcomes with this run's identity written in: the recomputed metrics differ."""
    copy = _copy(runs, tmp_path)
    npz = copy / "outcomes.npz"
    other = runs["four"] / "outcomes.npz"
    meta = _meta(other)
    meta["identity"] = _meta(npz)["identity"]
    _save(npz, _arrays(other), meta)
    _refused(capsys, runs, copy, str(npz), "do not belong to this results file", str(copy / "results.json"))


def test_all_nan_outcomes_are_refused(runs, tmp_path, capsys):
    copy = _copy(runs, tmp_path)
    npz = copy / "outcomes.npz"
    arrays = {k: (np.full_like(v, np.nan) if k.endswith("_values") else v) for k, v in _arrays(npz).items()}
    _save(npz, arrays)
    _refused(capsys, runs, copy, str(npz), "all NaN")


def test_outcomes_without_identity_are_refused(runs, tmp_path, capsys):
    copy = _copy(runs, tmp_path)
    npz = copy / "outcomes.npz"
    meta = _meta(npz)
    meta.pop("identity")
    meta["format"] = 1
    _save(npz, _arrays(npz), meta)
    _refused(capsys, runs, copy, str(npz), "meta.identity", "run the task again")


@pytest.mark.parametrize("value, shown", [(None, "missing"), (["a.json", "0" * 64], "['a.json'"), ({}, "{}"),
                                          ("abc", "'abc'"), ({"a.json": 5}, "{'a.json': 5}")])
def test_a_missing_or_malformed_annotation_hash_is_an_error(runs, tmp_path, capsys, value, shown):
    copy = _copy(runs, tmp_path)
    record = json.loads((copy / "results.json").read_text())
    if value is None:
        del record["annotation_sha256"]
    else:
        record["annotation_sha256"] = value
    (copy / "results.json").write_text(json.dumps(record))
    _refused(capsys, runs, copy, str(copy / "results.json"), "annotation_sha256", shown)


def test_runs_that_read_no_annotation_file_in_common_are_refused(runs, tmp_path, capsys):
    copy = _copy(runs, tmp_path)
    record = json.loads((copy / "results.json").read_text())
    record["annotation_sha256"] = {"elsewhere.json": "0" * 64}
    (copy / "results.json").write_text(json.dumps(record))
    _refused(capsys, runs, copy, "no annotation file in common", "elsewhere.json")


# ------------------------------------------------------------------ captioning scales


def _caption_record(version: int | None) -> dict:
    record = {"run_id": "r", "task": "msvd-cap", "family": "captioning", "split": "test", "mode": "finetune",
              "metrics": {"cap/CIDEr": 53.0}, "annotation_sha256": {"msvd/raw-captions.pkl": "0" * 64}}
    return record if version is None else {"schema_version": version, **record}


def test_caption_scale_follows_the_schema_version():
    assert caption_scale(_caption_record(5)) == "x100" and caption_scale(_caption_record(6)) == "x100"
    assert caption_scale(_caption_record(4)) == "x1" and caption_scale(_caption_record(None)) == "x1"
    retrieval = {"schema_version": 4, "family": "retrieval", "metrics": {"t2v/R@1": 3.0}}
    assert caption_scale(retrieval) is None
    assert caption_scale({"schema_version": 3, "metrics": {"cap/BLEU@4": 0.4}}) == "x1"  # no family: by name


def test_compare_refuses_to_mix_captioning_scales(tmp_path, capsys):
    paths = []
    for version in (4, 5):
        path = tmp_path / f"v{version}" / "results.json"
        path.parent.mkdir()
        path.write_text(json.dumps(_caption_record(version)))
        paths.append(path)
    code, err = _compare(capsys, *paths)
    assert code == 2
    assert "different scales" in err and "x1 in " + str(paths[0]) in err and "x100 in " + str(paths[1]) in err


# ------------------------------------------------------------------ damaged outcomes files


def _zip_with(member: str, payload: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(member, payload)
    return buffer.getvalue()


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _zip_bomb() -> bytes:
    """A 2 GiB array of zeros, deflated to about 2 MB."""
    buffer = io.BytesIO()
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (1 << 28,)})
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        member = archive.open("x.npy", "w", force_zip64=True)
        member.write(header.getvalue())
        block = bytes(1 << 24)
        for _ in range(128):
            member.write(block)
        member.close()
    return buffer.getvalue()


def _raw(data):
    """Write ``data`` (bytes, or a function making them when the case runs) as the file."""
    return lambda npz: npz.write_bytes(data() if callable(data) else data)


def _truncate(fraction: float):
    return lambda npz: npz.write_bytes(npz.read_bytes()[:int(len(npz.read_bytes()) * fraction)])


def _with_meta(change):
    def apply(npz: Path) -> None:
        meta = _meta(npz)
        change(meta)
        _save(npz, _arrays(npz), meta)
    return apply


def _with_arrays(change):
    def apply(npz: Path) -> None:
        arrays = _arrays(npz)
        change(arrays, _meta(npz))
        _save(npz, arrays)
    return apply


def _first_metric(meta: dict) -> dict:
    return next(iter(meta["runs"]["model"]["metrics"].values()))


def _values_key(meta: dict) -> str:
    return _first_metric(meta)["key"] + "_values"


BAD_OUTCOMES = {
    "empty": (_raw(b""), "the file is empty"),
    "random bytes": (_raw(np.random.default_rng(0).bytes(4096)), "not a zip archive"),
    "pickle header": (_raw(b"\x80\x04\x95" + bytes(64)), "not a zip archive"),
    "truncated to a half": (_truncate(0.5), "damaged or truncated"),
    "truncated to 10 bytes": (_truncate(0.0015), "damaged or truncated"),
    "random member": (_raw(_zip_with("meta.npy", np.random.default_rng(1).bytes(300))), "meta.npy"),
    "object array": (_raw(_zip_with("meta.npy", _npy(np.array([{"a": 1}], dtype=object)))), "dtype object"),
    "zip bomb": (_raw(_zip_bomb), "more than 1 GiB"),
    "not a .npy member": (_raw(_zip_with("notes.txt", b"hi")), "'notes.txt'"),
    "forged shape": (_raw(_zip_with("meta.npy", _npy(np.zeros(4))[:-32].replace(b"(4,)", b"(9999999999,)"))),
                     "truncated or damaged"),
    "no meta": (_raw(_zip_with("x.npy", _npy(np.zeros(3)))), "array 'meta' is missing"),
    "meta not JSON": (_with_arrays(lambda a, m: a.update(meta=np.array("{not json"))), "not valid JSON"),
    "meta a number array": (_with_arrays(lambda a, m: a.update(meta=np.zeros(3))), "array 'meta'"),
    "meta a list": (_with_arrays(lambda a, m: a.update(meta=np.array("[1, 2]"))), "meta: expected a JSON object"),
    "meta NaN": (_with_arrays(lambda a, m: a.update(meta=np.array('{"format": NaN}'))), "not valid JSON"),
    "unknown format": (_with_meta(lambda m: m.update(format=7)), "meta.format"),
    "no runs": (_with_meta(lambda m: m.pop("runs")), "meta.runs: missing"),
    "no runs.model": (_with_meta(lambda m: m["runs"].pop("model")), "meta.runs.model: missing"),
    "model a list": (_with_meta(lambda m: m["runs"].update(model=[])), "meta.runs.model: expected a JSON object"),
    "model without metrics": (_with_meta(lambda m: m["runs"]["model"].update(metrics={})), "nothing to compare"),
    "no units": (_with_meta(lambda m: m["runs"]["model"].pop("units")), "meta.runs.model.units"),
    "ids not strings": (_with_meta(lambda m: m["runs"]["model"]["units"].update(text=[1, 2])),
                        "meta.runs.model.units.text"),
    "unknown unit": (_with_meta(lambda m: _first_metric(m).update(unit="frame")), ".unit: 'frame'"),
    "unit a list": (_with_meta(lambda m: _first_metric(m).update(unit=["text"])), ".unit:"),
    "unknown statistic": (_with_meta(lambda m: _first_metric(m).update(statistic="mode")), "unknown statistic 'mode'"),
    "unknown kind": (_with_meta(lambda m: _first_metric(m).update(kind="histogram")), ".kind"),
    "key not a string": (_with_meta(lambda m: _first_metric(m).update(key=3)), ".key"),
    "point a string": (_with_meta(lambda m: _first_metric(m).update(point="1")), ".point"),
    "point 400 digits": (_with_meta(lambda m: _first_metric(m).update(point=10 ** 400)), ".point"),
    "array missing": (_with_meta(lambda m: _first_metric(m).update(key="9_9")), "array '9_9_values'"),
    "array too short": (_with_arrays(lambda a, m: a.update({_values_key(m): a[_values_key(m)][:-1]})), "values for"),
    "array of strings": (_with_arrays(lambda a, m: a.update({_values_key(m): a[_values_key(m)].astype(str)})),
                         "expected a 1-D array of numbers"),
    "array 2-D": (_with_arrays(lambda a, m: a.update({_values_key(m): a[_values_key(m)][None]})), "1-D"),
    "array infinite": (_with_arrays(lambda a, m: a[_values_key(m)].__setitem__(0, np.inf)), "infinite"),
    "identity a list": (_with_meta(lambda m: m.update(identity=[])), "meta.identity"),
    "identity without run_id": (_with_meta(lambda m: m["identity"].pop("run_id")), "meta.identity.run_id"),
    "identity split a number": (_with_meta(lambda m: m["identity"].update(split=3)), "meta.identity.split"),
    "identity hashes a list": (_with_meta(lambda m: m["identity"].update(annotation_sha256=["x"])),
                               "meta.identity.annotation_sha256"),
}


@pytest.mark.parametrize("case", list(BAD_OUTCOMES))
def test_a_damaged_outcomes_file_is_an_error_naming_it(runs, tmp_path, capsys, case):
    damage, expected = BAD_OUTCOMES[case]
    copy = _copy(runs, tmp_path)
    damage(copy / "outcomes.npz")
    _refused(capsys, runs, copy, str(copy / "outcomes.npz"), expected)


def _set_metric(value):
    def apply(record: dict) -> None:
        record["metrics"][next(iter(record["metrics"]))] = value
    return apply


BAD_RESULTS = {
    "null metric": (_set_metric(None), "metrics.t2v/R@1: null"),
    "400-digit metric": (_set_metric(10 ** 400), "metrics.t2v/R@1"),
    "metric differs": (_set_metric(99.0), "do not belong"),
    "metric missing": (lambda r: r["metrics"].pop("t2v/R@1"), "metrics.t2v/R@1: missing"),
    "split null": (lambda r: r.update(split=None), "key 'split'"),
    "schema_version a string": (lambda r: r.update(schema_version="5"), "key 'schema_version'"),
    "run_id of another run": (lambda r: r.update(run_id="elsewhere"), "meta.identity.run_id"),
}


@pytest.mark.parametrize("case", list(BAD_RESULTS))
def test_a_bad_results_file_is_an_error_naming_it(runs, tmp_path, capsys, case):
    change, expected = BAD_RESULTS[case]
    copy = _copy(runs, tmp_path)
    record = json.loads((copy / "results.json").read_text())
    change(record)
    (copy / "results.json").write_text(json.dumps(record))
    err = _refused(capsys, runs, copy, expected)
    assert str(copy / "results.json") in err or str(copy / "outcomes.npz") in err


def test_a_null_metric_named_with_metric_is_an_error(runs, tmp_path, capsys):
    copy = _copy(runs, tmp_path)
    record = json.loads((copy / "results.json").read_text())
    record["metrics"]["v2t/MnR"] = None
    (copy / "results.json").write_text(json.dumps(record))
    code, err = _compare(capsys, runs["four"], copy, "--metric", "v2t/MnR")
    assert code == 2 and "metrics.v2t/MnR" in err and str(copy / "results.json") in err


# ------------------------------------------------------------------ ranked AP (action localization)


def _ranked(tmp_path: Path) -> Path:
    tp = np.array([[1, 0], [0, 0], [1, 1]], dtype=bool)
    outcome = RankedAP("video", tp, np.array([0, 1, 1]), np.array([0, 2, 3]), np.array([[1, 0], [1, 1]]), 0)
    path = tmp_path / "outcomes.npz"
    write_outcomes(path, {"model": Outcomes({"tal/mAP@0.5": outcome}, {"video": ["a", "b"]})},
                   {"run_id": "r", "task": "t", "split": "s", "annotation_sha256": {"a": "0"}})
    return path


@pytest.mark.parametrize("part, value, expected", [
    ("pred_unit", np.array([0, 1, 5]), "pred_unit"),
    ("pred_unit", np.array([0.0, 1.0, 1.0]), "integers"),
    ("bounds", np.array([0, 3, 2]), "bounds"),
    ("bounds", np.array([1, 2, 3]), "bounds"),
    ("positives", np.array([[1, 0]]), "positives has shape"),
    ("positives", np.array([[1, -1], [1, 1]]), "positives >= 0"),
    ("tp", np.array([1, 0, 1]), "2-D"),
    ("tp", np.zeros((3, 0)), "no threshold column"),
])
def test_damaged_ranked_ap_arrays_are_refused(tmp_path, part, value, expected):
    path = _ranked(tmp_path)
    assert load_outcomes(path).runs["model"].metrics["tal/mAP@0.5"].observed == pytest.approx(100 * (1 + 0.5) / 2)
    arrays = _arrays(path)
    arrays[f"0_0_{part}"] = value
    _save(path, arrays)
    with pytest.raises(OutcomesFileError, match=expected) as caught:
        load_outcomes(path)
    assert str(path) in str(caught.value)


def test_a_threshold_outside_tp_is_refused(tmp_path):
    path = _ranked(tmp_path)
    meta = _meta(path)
    meta["runs"]["model"]["metrics"]["tal/mAP@0.5"]["threshold"] = 2
    _save(path, _arrays(path), meta)
    with pytest.raises(OutcomesFileError, match=r"threshold: expected null or a column of tp \(0\.\.1\), got 2"):
        load_outcomes(path)


# ------------------------------------------------------------------ seeded mutations


def _junk(rng: np.random.Generator):
    choices = [None, True, -1, 0, 2 ** 70, 1.5, float("inf"), "", "x", "mean", [], [1], ["a"], {}, {"a": None},
               10 ** 400]
    return choices[int(rng.integers(len(choices)))]


def _mutate_json(node, rng: np.random.Generator):
    """``node`` with one value somewhere replaced by junk (or one key dropped)."""
    if isinstance(node, dict) and node and rng.uniform() < 0.8:
        key = list(node)[int(rng.integers(len(node)))]
        out = dict(node)
        if rng.uniform() < 0.15:
            del out[key]
        else:
            out[key] = _mutate_json(node[key], rng)
        return out
    if isinstance(node, list) and node and rng.uniform() < 0.8:
        i = int(rng.integers(len(node)))
        return [*node[:i], _mutate_json(node[i], rng), *node[i + 1:]]
    return _junk(rng)


def _mutate_bytes(data: bytes, rng: np.random.Generator) -> bytes:
    """``data`` truncated, or with 1 to 7 bytes overwritten."""
    if rng.uniform() < 0.3:
        return data[:int(rng.integers(len(data)))]
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 8))):
        out[int(rng.integers(len(out)))] = int(rng.integers(256))
    return bytes(out)


def _checked(capsys, runs, copy: Path) -> None:
    code, err = _compare(capsys, runs["four"], copy, "--metric", "t2v/R@1")
    assert code in (0, 2), err
    assert "Traceback" not in err and "pickle" not in err.lower(), err
    if code == 2:
        assert str(copy) in err, err


def test_seeded_mutations_of_meta_and_results_never_traceback(runs, tmp_path, capsys):
    rng = np.random.default_rng(21)
    good_npz, good_record = runs["two"] / "outcomes.npz", json.loads((runs["two"] / "results.json").read_text())
    arrays, meta = _arrays(good_npz), _meta(good_npz)
    copy = _copy(runs, tmp_path)
    for trial in range(120):
        shutil.copy(good_npz, copy / "outcomes.npz")
        (copy / "results.json").write_text(json.dumps(good_record))
        if trial % 2:
            _save(copy / "outcomes.npz", arrays, _mutate_json(meta, rng))
        else:
            (copy / "results.json").write_text(json.dumps(_mutate_json(good_record, rng)))
        _checked(capsys, runs, copy)


def test_seeded_byte_mutations_of_the_outcomes_file_never_traceback(runs, tmp_path, capsys):
    rng = np.random.default_rng(13)
    copy = _copy(runs, tmp_path)
    stored = tmp_path / "stored.npz"
    with open(stored, "wb") as handle:  # uncompressed members: flipped bytes reach the .npy headers
        np.savez(handle, **_arrays(runs["two"] / "outcomes.npz"))
    for source in (runs["two"] / "outcomes.npz", stored):
        data = source.read_bytes()
        for _ in range(80):
            (copy / "outcomes.npz").write_bytes(_mutate_bytes(data, rng))
            _checked(capsys, runs, copy)
