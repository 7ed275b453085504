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
