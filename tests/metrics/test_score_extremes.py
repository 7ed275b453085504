"""Every number of every ``score`` input set to an extreme (1e308, a 400-digit integer, a
negative or tiny value, ...): exit 2 naming the file, or exit 0 with sane numbers; never a
traceback such as "Maximum allowed dimension exceeded" from a 1e308 s QVHighlights video.

Table-driven and exhaustive over the numeric leaves of the valid documents of the fuzz tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from tests.metrics.test_score import run_score
from tests.metrics.test_score_fuzz import DOCUMENTS, _check_outcome, _encode, _score_fuzzed, _valid_files

EXTREMES: dict[str, Any] = {
    "1e308": 1e308, "-1e308": -1e308, "max-float": 1.7976931348623157e308, "1e20": 1e20, "-1e20": -1e20,
    "400-digits": 10**400, "minus-400-digits": -(10**400), "2**64+1": 2**64 + 1, "denormal": 5e-324,
    "negative": -1, "zero": 0,
}


def _numeric_leaves(node: Any, path: tuple = ()) -> Iterator[tuple]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _numeric_leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _numeric_leaves(value, (*path, index))
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield path


def _replaced(document: Any, path: tuple, value: Any) -> Any:
    copy = json.loads(json.dumps(document))
    node = copy
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return copy


CASES = [(name, path, extreme) for name, (document, _) in DOCUMENTS.items()
         for path in _numeric_leaves(document) for extreme in EXTREMES]


@pytest.fixture(scope="module")
def valid(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _valid_files(tmp_path_factory.mktemp("valid"))


@pytest.mark.parametrize("name, path, extreme", CASES,
                         ids=[f"{n}-{'.'.join(map(str, p))}-{e}" for n, p, e in CASES])
def test_an_extreme_number_is_refused_naming_the_file_or_scored(capsys, tmp_path, valid, name, path, extreme):
    document, suffix = DOCUMENTS[name]
    _score_fuzzed(capsys, tmp_path, valid, name, _encode(_replaced(document, path, EXTREMES[extreme]), suffix))


@pytest.mark.parametrize("value", [1e308, -1e308, 1.7976931348623157e308, 5e-324])
def test_extreme_similarities(capsys, tmp_path, value):
    sim = np.array([[0.9, 0.1, 0.0], [0.7, 0.5, 0.6], [0.2, 0.8, 0.4]])
    sim[1, 2] = value
    np.save(tmp_path / "sim.npy", sim)
    code, metrics, err = run_score(capsys, "--family", "retrieval", "--predictions", tmp_path / "sim.npy")
    _check_outcome(code, metrics, err, tmp_path / "sim.npy")


@pytest.mark.parametrize("duration", [1e308, 1e12, 10**400, float("inf"), -5.0])
def test_an_absurd_qvhighlights_duration_names_the_file_and_the_field(capsys, tmp_path, valid, duration):
    truth = json.loads(json.dumps(DOCUMENTS["mr-ground-truth"][0]))
    truth[0]["duration"] = duration
    gt = tmp_path / "gt.jsonl"
    gt.write_text("".join(json.dumps(record) + "\n" for record in truth))
    code, _, err = run_score(capsys, "--family", "moment-retrieval", "--protocol", "qvhighlights", "--predictions",
                             valid["mr-predictions"], "--ground-truth", gt)
    assert code == 2 and str(gt) in err and "duration" in err and "Traceback" not in err, err
