"""Random malformed input reaches the user as AnnotationError, never as a parser traceback."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tempvl_core.data.errors import AnnotationError
from tempvl_core.data.loaders.activitynet import read_activitynet_v13
from tempvl_core.data.loaders.anet_captions import read_anet_captions_moments
from tempvl_core.data.loaders.charades_sta import read_charades_sta
from tempvl_core.data.loaders.didemo import read_didemo_moments
from tempvl_core.data.loaders.lsmdc import read_lsmdc
from tempvl_core.data.loaders.msrvtt import read_msrvtt_mc, read_msrvtt_qa
from tempvl_core.data.loaders.qvhighlights import read_qvhighlights
from tempvl_core.data.loaders.tacos import read_tacos
from tempvl_core.data.loaders.thumos14 import read_thumos14_actionformer
from tempvl_core.data.safe_pickle import safe_loads

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-5, 50, allow_nan=False) | st.sampled_from(
    ["", "x", "v_a", "Test", "validation", "training", "a.mov"]
)
keys = st.sampled_from(
    ["video", "description", "times", "num_segments", "annotation_id", "duration", "timestamps", "sentences",
     "fps", "num_frames", "database", "subset", "annotations", "segment", "label", "label_id", "qid", "query",
     "vid", "relevant_windows", "relevant_clip_ids", "saliency_scores", "answer", "id", "question", "video_id",
     "caption", "v_a"]
)  # fmt: skip
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5), max_leaves=20)

JSON_READERS = [
    read_didemo_moments,
    read_anet_captions_moments,
    read_tacos,
    lambda p: read_thumos14_actionformer(p, "test"),
    lambda p: read_activitynet_v13(p, "training"),
    read_msrvtt_qa,
    read_msrvtt_mc,
]


def _only_annotation_errors(reader, path: Path) -> None:
    try:
        reader(path)
    except AnnotationError as exc:
        assert path.name in str(exc) or "split" in str(exc)


@pytest.mark.parametrize("reader", JSON_READERS)
@FUZZ
@given(value=json_values)
def test_json_loaders(tmp_path: Path, reader, value) -> None:
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(value))
    _only_annotation_errors(reader, path)


@FUZZ
@given(value=json_values)
def test_jsonl_loader(tmp_path: Path, value) -> None:
    path = tmp_path / "highlight_val_release.jsonl"
    path.write_text(json.dumps(value) + "\n" + json.dumps(value)[:-1] * (not isinstance(value, dict)))
    _only_annotation_errors(read_qvhighlights, path)


line_text = st.lists(st.sampled_from(list("ab 0.19#\t\r\n,\"'") + ["##", "00.00.01.000", "\x0c"]), max_size=40).map("".join)


@FUZZ
@given(text=line_text)
def test_text_loaders(tmp_path: Path, text: str) -> None:
    path = tmp_path / "lines.txt"
    path.write_text(text, newline="")
    _only_annotation_errors(read_charades_sta, path)
    _only_annotation_errors(lambda p: read_lsmdc(p, "train"), path)


@FUZZ
@given(data=st.binary(max_size=64) | json_values.map(lambda v: pickle.dumps(v, protocol=2)))
def test_pickles(data: bytes) -> None:
    try:
        value = safe_loads(data, "raw-captions.pkl")
    except AnnotationError as exc:
        assert "raw-captions.pkl" in str(exc)
    else:
        assert isinstance(value, (dict, list, str))


# Every reader the dataset registry knows, fed through the same call `validate` and the runs
# use: one source per (dataset, task, reader), files written under their real names.
SAMPLES = Path(__file__).parent / "samples"


def _registry_sources() -> list:
    from tempvl_core.data.catalogue import DATASETS

    seen, out = set(), []
    for spec in DATASETS.values():
        for source in spec.sources:
            for layout in source.layouts:  # every layout alone: fallbacks are fuzzed too
                key = (spec.name, source.task, layout.reader)
                if key not in seen and not any("/*" in name for name in layout.files):
                    seen.add(key)
                    out.append(pytest.param(spec.name, layout, source.split, id=f"{spec.name}-{source.task}-{source.split}-{layout.label}"))
    return out


TOKENS = ["\"", ",", "{", "}", "[", "]", ":", "\n", "\r\n", "\t", " ", "-1", "0", "1e999", "NaN", "-0.5",
          "null", "true", "\"\"", "#", "##", "\x00", "\u2028", "é", "a", "v_a", ".mp4", "00.00.01.000"]  # fmt: skip


@st.composite
def _mutated(draw, original: bytes) -> bytes:
    """``original`` with a few random edits: cut, dropped or repeated slices, inserted tokens."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        n = len(data)
        i = draw(st.integers(0, n))
        j = draw(st.integers(i, min(n, i + 40)))
        op = draw(st.sampled_from(["cut", "drop", "repeat", "insert", "byte"]))
        if op == "cut":
            del data[i:]
        elif op == "drop":
            del data[i:j]
        elif op == "repeat":
            data[i:i] = data[i:j]
        elif op == "insert":
            data[i:i] = draw(st.sampled_from(TOKENS)).encode()
        else:
            data[i:i] = bytes([draw(st.integers(0, 255))])
    return bytes(data)


def _generated(name: str) -> st.SearchStrategy[bytes]:
    """Content shaped like the file's type, from nothing."""
    if name.endswith(".json"):
        return json_values.map(lambda v: json.dumps(v).encode())
    if name.endswith(".jsonl"):
        return st.lists(json_values, max_size=3).map(lambda vs: "".join(json.dumps(v) + "\n" for v in vs).encode())
    if name.endswith(".pkl"):
        return json_values.map(lambda v: pickle.dumps(v, protocol=2))
    sep = st.sampled_from([",", "\t", "  ", " ", "##", "\"", ";"])
    cell = st.sampled_from(["", "x", "v_a", "video1", "1", "-2", "0.5", "1e400", "nan", "00.00.01.000", "a.mp4"])
    row = st.lists(cell, max_size=6).flatmap(lambda cells: sep.map(lambda s: s.join(cells)))
    return st.lists(row, max_size=6).map(lambda rows: "\n".join(rows).encode())


def _sample(dataset: str, name: str, split: str) -> Path | None:
    """A valid hand-written file to mutate: the same name, or the same name for another split."""
    names = [name] + [name.replace(split, other) for other in ("train", "val", "test") if split in name]
    return next((SAMPLES / dataset / n for n in names if (SAMPLES / dataset / n).is_file()), None)


def _content(dataset: str, name: str, split: str) -> st.SearchStrategy[bytes]:
    options = [_generated(name), st.binary(max_size=64)]
    sample = _sample(dataset, name, split)
    if sample is not None:  # mutated valid files reach past the first check of each loader
        options += [_mutated(sample.read_bytes())] * 3
    return st.one_of(options)


@pytest.mark.parametrize("dataset,layout,split", _registry_sources())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_registered_loader(tmp_path: Path, dataset: str, layout, split: str, data) -> None:
    from tempvl_core.data.records import LoadResult

    for name in layout.files:
        (tmp_path / name).write_bytes(data.draw(_content(dataset, name, split), label=name))
    try:
        result = layout.read(tmp_path, split)
    except AnnotationError as exc:
        assert any(name in str(exc) for name in layout.files), f"error does not name the file: {exc}"
    else:
        assert isinstance(result, LoadResult) and isinstance(result.records, list)
