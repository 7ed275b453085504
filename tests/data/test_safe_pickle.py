"""The restricted unpickler: plain data loads, anything that could run code is refused."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from tempvl_core.data import safe_pickle
from tempvl_core.data.errors import AnnotationError
from tempvl_core.data.safe_pickle import safe_load_pickle, safe_loads

CAPTIONS = {"-4wsuPCjDBc_5_15": [["a", "man", "is", "dancing"], ["someone", "dances"]], "vid_x-y_0_4": [["ok"]]}


class _Evil:
    """Pickles to ``os.system("touch <marker>")``: runs a shell command when loaded naively."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_plain_data_round_trips(protocol: int) -> None:
    assert safe_loads(pickle.dumps(CAPTIONS, protocol=protocol)) == CAPTIONS


def test_shared_strings_through_memo() -> None:
    word = "dancing"
    data = {"a": [[word, word]], "b": [[word]]}
    assert safe_loads(pickle.dumps(data, protocol=2)) == data


@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_malicious_pickle_is_refused_without_running(tmp_path: Path, protocol: int) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"clip": _Evil(marker)}, protocol=protocol)
    path = tmp_path / "raw-captions.pkl"
    path.write_bytes(payload)
    with pytest.raises(AnnotationError, match=r"raw-captions\.pkl byte \d+: expected a pickle of only dicts, lists and strings, got 'opcode (GLOBAL|STACK_GLOBAL)"):
        safe_load_pickle(path)
    assert not marker.exists()
    pickle.loads(payload)  # control: the same bytes really do run code when loaded naively
    assert marker.exists()


def test_second_guard_refuses_globals_even_without_the_scan(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Evil(marker), protocol=2)
    import io

    with pytest.raises(pickle.UnpicklingError, match="not allowed"):
        safe_pickle._RefusingUnpickler(io.BytesIO(payload)).load()
    assert not marker.exists()


@pytest.mark.parametrize(
    "value,expected", [({"a": [1]}, "opcode"), ({"a": ("t",)}, "opcode"), ({"a": [None]}, "opcode"), ({1: ["x"]}, "opcode")]
)
def test_other_types_are_refused(value, expected: str) -> None:
    with pytest.raises(AnnotationError, match=expected):
        safe_loads(pickle.dumps(value, protocol=4))


def test_truncated_and_missing(tmp_path: Path) -> None:
    with pytest.raises(AnnotationError, match="well-formed pickle"):
        safe_loads(pickle.dumps(CAPTIONS)[:-5], "raw-captions.pkl")
    with pytest.raises(AnnotationError, match=r"raw-captions\.pkl: expected an existing pickle file"):
        safe_load_pickle(tmp_path / "raw-captions.pkl")


def test_python2_protocol0_byte_strings_decode_as_text() -> None:
    # {'clip': ['tok']} as Python 2's cPickle.dumps(..., 0) writes it (STRING opcodes)
    py2 = b"(dp0\nS'clip'\np1\n(lp2\nS'tok'\np3\nas."
    assert safe_loads(py2) == {"clip": ["tok"]}


@pytest.mark.parametrize(
    "data",
    [
        b"\x80\x02X\x01\x00\x00\x00aX\x01\x00\x00\x00bX\x01\x00\x00\x00cs.",  # SETITEM on a string
        b"\x80\x02X\x01\x00\x00\x00aX\x01\x00\x00\x00ba.",  # APPEND to a string
    ],
)
def test_opcodes_in_a_nonsensical_order_are_an_annotation_error(data: bytes) -> None:
    with pytest.raises(AnnotationError, match="raw-captions.pkl"):
        safe_loads(data, "raw-captions.pkl")
