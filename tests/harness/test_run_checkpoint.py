"""``--checkpoint`` is resolved once, into a :class:`Checkpoint` every later step reads."""

from __future__ import annotations

import hashlib
import json

import pytest

from tempvl_bench.run.checkpoint import Checkpoint
from tempvl_bench.run.types import RunOptions


@pytest.fixture
def folder(tmp_path):
    folder = tmp_path / "step_000010"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"the weights")
    return folder


def test_a_folder_and_its_weights_file_resolve_to_the_same_checkpoint(folder):
    by_folder, by_file = Checkpoint.resolve(folder), Checkpoint.resolve(folder / "model.safetensors")
    assert by_folder.given == folder and by_file.given == folder / "model.safetensors"
    for checkpoint in (by_folder, by_file):
        assert checkpoint.folder == folder and checkpoint.weights == folder / "model.safetensors"
        assert checkpoint.sha256 == hashlib.sha256(b"the weights").hexdigest()
        assert checkpoint.backbone is None  # no tempvl_bench.json: the task's backbone applies


def test_the_pretrained_backbone_is_read_from_the_checkpoint(folder):
    (folder / "tempvl_bench.json").write_text(json.dumps({"backbone": "cnn-small"}))
    assert Checkpoint.resolve(folder).backbone == "cnn-small"


def test_the_weights_are_hashed_once(folder):
    checkpoint = Checkpoint.resolve(folder)
    first = checkpoint.sha256
    (folder / "model.safetensors").write_bytes(b"changed after the run started")
    assert checkpoint.sha256 == first  # one value for the identity, the fingerprint and results.json


@pytest.mark.parametrize("name, message", [("evil.pt", "is not what would be loaded"), ("absent", "no such file")])
def test_anything_else_is_refused_naming_the_path(folder, name, message):
    if name == "evil.pt":
        (folder / name).write_bytes(b"something else")
    with pytest.raises(FileNotFoundError, match=message) as error:
        Checkpoint.resolve(folder / name)
    assert f"--checkpoint {folder / name}" in str(error.value)


def test_a_folder_without_weights_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="model.safetensors not found"):
        Checkpoint.resolve(tmp_path)


def test_run_options_resolve_a_path_once(folder):
    options = RunOptions(checkpoint=folder)
    assert isinstance(options.checkpoint, Checkpoint) and options.checkpoint.weights == folder / "model.safetensors"
    assert RunOptions(checkpoint=options.checkpoint).checkpoint is options.checkpoint
    assert RunOptions().checkpoint is None
