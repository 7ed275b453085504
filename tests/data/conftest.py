"""Fixtures for the loader tests: hand-written samples, and real files parsed once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parent / "samples"


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


@pytest.fixture()
def write(tmp_path: Path):
    """``write(name, text) -> Path``: a small (often malformed) input file under ``tmp_path``."""

    def _write(name: str, text: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8", newline="")
        return path

    return _write


@pytest.fixture(scope="session")
def parse_once():
    """``parse_once(reader, *args)``: the reader's result, computed once per session per arguments.

    Real files are large enough that re-parsing them in every test would dominate the run time.
    """
    cache: dict[tuple, object] = {}

    def _parse(reader, *args):
        key = (reader.__module__, reader.__qualname__, *map(str, args))
        if key not in cache:
            cache[key] = reader(*args)
        return cache[key]

    return _parse
