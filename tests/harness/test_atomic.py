"""tempvl_core.atomic's helpers for writers that take a file name, and for whole folders."""

from __future__ import annotations

import os

import pytest
import torch
from safetensors.torch import load_file, save_file

from tempvl_core.atomic import atomic_path, current_umask, replace_directory


def test_atomic_path_replaces_the_file_with_a_plain_open_s_mode(tmp_path):
    target = tmp_path / "cache.safetensors"
    target.write_bytes(b"old")
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target and target.read_bytes() == b"old"
        save_file({"x": torch.arange(3)}, str(tmp))  # safetensors recreates the file 0600
    assert torch.equal(load_file(str(target))["x"], torch.arange(3))
    assert os.stat(target).st_mode & 0o777 == 0o666 & ~current_umask()
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_atomic_path_leaves_the_old_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "video.mp4"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="encoder failed"):
        with atomic_path(target, suffix=".mp4") as tmp:
            assert tmp.suffix == ".mp4"
            tmp.write_bytes(b"half")
            raise RuntimeError("encoder failed")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_replace_directory_puts_the_new_folder_in_place_and_removes_the_old(tmp_path):
    old, new = tmp_path / "step_000002", tmp_path / ".tmp-step_000002"
    (old / "sub").mkdir(parents=True)
    (old / "sub" / "stale.bin").write_bytes(b"stale")
    new.mkdir()
    (new / "model.safetensors").write_bytes(b"new")
    replace_directory(new, old)
    assert sorted(p.relative_to(old).as_posix() for p in old.rglob("*")) == ["model.safetensors"]
    assert [p.name for p in tmp_path.iterdir()] == [old.name]  # no staging or trash folder left
    (tmp_path / "fresh").mkdir()
    replace_directory(tmp_path / "fresh", tmp_path / "absent")  # no target yet: a plain rename
    assert (tmp_path / "absent").is_dir() and not (tmp_path / "fresh").exists()
