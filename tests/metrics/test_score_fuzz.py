"""Property-based fuzzing of every ``tempvl-bench score`` reader (issue 9, "done when").

Each example takes a valid file and breaks it: a node of the parsed document replaced by an
arbitrary JSON value (NaN, huge integers and repeated keys included), or its bytes cut, spliced
or overwritten. The command must then exit 2 with a message naming the broken file, or exit 0
with sane numbers; never raise, never hang. The fast JSON path must agree with the exact one.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import signal
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tempvl_bench.metrics import files, tal_files
from tempvl_bench.metrics.jsonio import ScoreInputError, read_json
from tests.metrics.test_score import run_score

MR_GT = [{"qid": 1, "vid": "a", "duration": 20, "relevant_windows": [[0, 10]],
          "relevant_clip_ids": [0, 1, 2], "saliency_scores": [[4, 2, 0], [3, 3, 1], [1, 0, 4]]},
         {"qid": "2", "vid": "b", "duration": 8.5, "relevant_windows": [[4, 12]],
          "relevant_clip_ids": [1], "saliency_scores": [[2, 2, 2]]}]
MR_PREDS = [{"qid": 1, "pred_relevant_windows": [[0, 5, 0.9], [2, 10, 0.5]], "pred_saliency_scores": [0.1, 0.9, 0.3]},
            {"qid": "2", "pred_relevant_windows": [[4, 8, 1.0]], "pred_saliency_scores": [0.5, 0.2]}]
TAL_GT = {"version": "1.3", "database": {
    "v1": {"subset": "validation", "annotations": [{"segment": [0, 10], "label": "A"},
                                                   {"segment": [12, 20], "label": "B"}]},
    "v2": {"subset": "training", "annotations": [{"segment": [1, 2], "label": "A"}]}}}
TAL_PREDS = {"results": {"v1": [{"label": "A", "score": 0.9, "segment": [0, 9]},
                                {"label": "B", "score": 0.4, "segment": [11, 20]}],
                         "v2": [{"label": "A", "score": 0.3, "segment": [1, 2]}]}}

# (name, valid document, file suffix): JSON documents, JSONL as a list of records.
DOCUMENTS: dict[str, tuple[Any, str]] = {
    "retrieval-index": ([0, 0, 1, 2], ".json"),
    "caption-predictions": ([{"video_id": 7, "caption": "a man plays"}, {"video_id": "8", "caption": "a cat"}],
                            ".json"),
    "caption-references": ({"7": ["a man plays guitar", "someone plays"], "8": ["a cat sleeps"]}, ".json"),
    "qa-predictions": ({"1": "dog", "2": ["man", "woman"]}, ".json"),
    "qa-ground-truth": ([{"question_id": 1, "answer": "dog", "question_type": "what"},
                         {"question_id": "2", "answer": "man", "question_type": "who"}], ".json"),
    "qa-vocab": (["dog", "man", "woman"], ".json"),
    "tal-ground-truth": (TAL_GT, ".json"),
    "tal-predictions": (TAL_PREDS, ".json"),
    "mr-ground-truth": (MR_GT, ".jsonl"),
    "mr-predictions": (MR_PREDS, ".jsonl"),
}

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.sampled_from([10**400, -(10**400), 2**64 + 1])
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=6,
)


def _encode(document: Any, suffix: str) -> bytes:
    if suffix == ".jsonl":
        lines = document if isinstance(document, list) else [document]
        return "".join(json.dumps(line) + "\n" for line in lines).encode()
    return json.dumps(document).encode()


@st.composite
def broken_node(draw: st.DrawFn, document: Any) -> Any:
    """``document`` with one node (possibly the root) replaced by an arbitrary JSON value."""
    copy = json.loads(json.dumps(document))
    parent, key, node = None, None, copy
    for step in draw(st.lists(st.integers(0, 63), max_size=4)):  # one draw: cheap to generate
        if not isinstance(node, (list, dict)) or not node:
            break
        keys = list(range(len(node))) if isinstance(node, list) else list(node)
        parent, key = node, keys[step % len(keys)]
        node = node[key]
    value = draw(JSON_VALUES)
    if parent is None:
        return value
    parent[key] = value
    return copy


@st.composite
def broken_bytes(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` cut, spliced, overwritten, or with a span repeated (repeated keys, for one)."""
    start = draw(st.integers(0, len(data)))
    stop = draw(st.integers(start, min(len(data), start + 40)))
    insert = draw(st.binary(max_size=12) | st.sampled_from([b"\xff", b"\xe9", b"NaN", b"1" + b"0" * 400, b"\\u003a"]))
    kind = draw(st.sampled_from(["cut", "splice", "repeat"]))
    if kind == "cut":
        return data[:start]
    if kind == "repeat":
        return data[:stop] + data[start:stop] + data[stop:]
    return data[:start] + insert + data[stop:]


@contextlib.contextmanager
def no_hang(seconds: int = 30) -> Iterator[None]:
    """Fail instead of hanging: a generous bound, far above any example's run time."""
    def expire(signum: int, frame: Any) -> None:
        raise AssertionError(f"a score reader ran for more than {seconds} s: a hang")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _valid_files(folder: Path) -> dict[str, Path]:
    paths = {}
    for name, (document, suffix) in DOCUMENTS.items():
        paths[name] = folder / f"valid-{name}{suffix}"
        paths[name].write_bytes(_encode(document, suffix))
    np.save(folder / "valid-sim.npy", np.array([[0.9, 0.1, 0.0], [0.7, 0.5, 0.6], [0.2, 0.8, 0.4], [0.3, 0.3, 0.9]]))
    paths["retrieval-similarity"] = folder / "valid-sim.npy"
    return paths


def _commands(valid: dict[str, Path]) -> dict[str, list]:
    """Per fuzzed file, the ``score`` arguments with the token FUZZED where it goes."""
    mr = ["--family", "moment-retrieval", "--protocol", "qvhighlights"]
    return {
        "retrieval-index": ["--family", "retrieval", "--predictions", valid["retrieval-similarity"],
                            "--ground-truth", "FUZZED"],
        "retrieval-similarity": ["--family", "retrieval", "--predictions", "FUZZED"],
        "qa-predictions": ["--family", "qa", "--predictions", "FUZZED", "--ground-truth", valid["qa-ground-truth"]],
        "qa-ground-truth": ["--family", "qa", "--predictions", valid["qa-predictions"], "--ground-truth", "FUZZED"],
        "qa-vocab": ["--family", "qa", "--predictions", valid["qa-predictions"], "--ground-truth",
                     valid["qa-ground-truth"], "--answer-vocab", "FUZZED"],
        "tal-ground-truth": ["--family", "tal", "--predictions", valid["tal-predictions"], "--ground-truth", "FUZZED"],
        "tal-predictions": ["--family", "tal", "--predictions", "FUZZED", "--ground-truth", valid["tal-ground-truth"]],
        "mr-ground-truth": mr + ["--predictions", valid["mr-predictions"], "--ground-truth", "FUZZED"],
        "mr-predictions": mr + ["--predictions", "FUZZED", "--ground-truth", valid["mr-ground-truth"]],
    }


#: Captioning is fuzzed at its readers: scoring runs Java (PTB tokenizer, METEOR) per example.
READERS: dict[str, Callable[[Path], Any]] = {
    "caption-predictions": files.load_caption_predictions,
    "caption-references": files.load_caption_references,
}


def _check_outcome(code: int, metrics: dict | None, err: str, fuzzed: Path) -> None:
    assert code in (0, 2), err
    if code == 2:
        last = err.strip().splitlines()[-1]  # warnings (unknown TAL labels, say) may come first
        assert last.startswith("error: ") and str(fuzzed) in last, err
        return
    for name, value in metrics.items():
        assert value is None or math.isfinite(value), (name, value)
        if value is not None and name.endswith(("MdR", "MnR")):
            assert value >= 1, (name, value)
        elif value is not None:
            assert 0 <= value <= 100, (name, value)


def _beyond_64_bits_as_float(value: Any) -> Any:
    """orjson reads integers beyond 64 bits as floats, the documented limit of ``fast=True``."""
    if isinstance(value, dict):
        return {k: _beyond_64_bits_as_float(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_beyond_64_bits_as_float(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        try:
            return float(value)
        except OverflowError:
            return value
    return value


def _fast_path_agrees(path: Path) -> None:
    """The orjson path returns what the standard-library path returns, or both refuse."""
    outcomes = []
    for fast in (True, False):
        try:
            parsed = _beyond_64_bits_as_float(read_json(path, fast=fast))
            outcomes.append(json.dumps(parsed, allow_nan=True, sort_keys=True))
        except ScoreInputError as err:
            assert str(path) in str(err)
            outcomes.append("refused")
    assert outcomes[0] == outcomes[1]


def _tal_columns_agree(path: Path) -> None:
    """The column-wise TAL reader builds the same table as the entry-by-entry walk."""
    reader = files.load_tal_predictions if "predictions" in path.name else (
        lambda p: files.load_tal_ground_truth(p, "validation"))
    try:
        fast = reader(path)
    except ScoreInputError:
        return
    data = read_json(path)
    per_video = data["results"] if "predictions" in path.name else {
        v: e["annotations"] for v, e in data["database"].items() if e["subset"] == "validation"}
    walked = tal_files._checked_columns(path, list(per_video), list(per_video.values()), "x",
                                        "predictions" in path.name)
    assert list(fast.video_ids) == list(walked.video_ids) and list(fast.labels) == list(walked.labels)
    for column in ("starts", "ends", "scores"):
        assert np.array_equal(getattr(fast, column), getattr(walked, column)), column


@pytest.fixture(scope="module")
def valid(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _valid_files(tmp_path_factory.mktemp("valid"))


def _score_fuzzed(capsys: pytest.CaptureFixture, folder: Path, valid: dict[str, Path], name: str,
                  data: bytes) -> None:
    suffix = ".npy" if name == "retrieval-similarity" else DOCUMENTS[name][1]
    fuzzed = folder / f"fuzzed-{name}{suffix}"
    fuzzed.write_bytes(data)
    with no_hang():
        if name in READERS:
            try:
                READERS[name](fuzzed)
            except ScoreInputError as err:
                assert str(fuzzed) in str(err)
            return
        if suffix == ".json":
            _fast_path_agrees(fuzzed)
        if name.startswith("tal-"):
            _tal_columns_agree(fuzzed)
        argv = [fuzzed if a == "FUZZED" else a for a in _commands(valid)[name]]
        code, metrics, err = run_score(capsys, *argv)
    _check_outcome(code, metrics, err, fuzzed)


FUZZ = settings(max_examples=15, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
TEXT_TARGETS = sorted(DOCUMENTS)


@pytest.mark.parametrize("name", TEXT_TARGETS)
@FUZZ
@given(data=st.data())
def test_a_broken_node_is_refused_naming_the_file_or_scored(capsys, tmp_path: Path, valid: dict[str, Path],
                                                            name: str, data) -> None:
    document, suffix = DOCUMENTS[name]
    if suffix == ".jsonl":  # break one record, or a whole line
        index = data.draw(st.integers(0, len(document) - 1))
        broken = list(document)
        broken[index] = data.draw(broken_node(document[index]))
    else:
        broken = data.draw(broken_node(document))
    _score_fuzzed(capsys, tmp_path, valid, name, _encode(broken, suffix))


@pytest.mark.parametrize("name", TEXT_TARGETS + ["retrieval-similarity"])
@FUZZ
@given(data=st.data())
def test_broken_bytes_are_refused_naming_the_file_or_scored(capsys, tmp_path: Path, valid: dict[str, Path],
                                                           name: str, data) -> None:
    if name == "retrieval-similarity":
        buffer = io.BytesIO()
        np.save(buffer, np.eye(3))
        original = buffer.getvalue()
    else:
        original = _encode(*DOCUMENTS[name])
    _score_fuzzed(capsys, tmp_path, valid, name, data.draw(broken_bytes(original)))


@FUZZ
@given(shape=st.lists(st.integers(0, 2**40), max_size=3),
       dtype=st.sampled_from(["<f8", ">f4", "<i2", "|b1", "<c8", "|O"]), payload=st.binary(max_size=64))
def test_npy_headers_with_any_shape_and_dtype(capsys, tmp_path: Path, shape: list[int], dtype: str,
                                              payload: bytes) -> None:
    path = tmp_path / "header.npy"
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {"descr": dtype, "fortran_order": False, "shape": tuple(shape)})
        handle.write(payload)
    with no_hang():
        code, metrics, err = run_score(capsys, "--family", "retrieval", "--predictions", path)
    _check_outcome(code, metrics, err, path)
