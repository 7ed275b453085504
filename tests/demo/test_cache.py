"""The demo cache: generated once, checked on every call, regenerated when damaged, safe
under concurrent callers."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from tempvl_core.data.demo import cache
from tempvl_core.data.demo.cache import (
    DEMO_DATASETS,
    FORMAT_VERSION,
    ensure_demo_dataset,
    generate_demo_dataset,
    verify_manifest,
)
from tempvl_core.data.demo.pretrain import Cc3mCounts, generate_cc3m


def _tiny_cc3m(out_dir: Path, seed: int) -> None:
    generate_cc3m(out_dir, seed, counts=Cc3mCounts(images=3))


@pytest.fixture()
def tiny(monkeypatch):
    """Point the ``cc3m`` generator at a 3-image version (the cache logic is what is tested)."""
    monkeypatch.setattr(cache, "_generator", lambda folder: _tiny_cc3m)


def test_generated_once_then_reused(tiny, tmp_path):
    root = ensure_demo_dataset("cc3m", cache_dir=tmp_path, seed=7)
    assert root == tmp_path / "demo" / f"cc3m-v{FORMAT_VERSION}-seed7"
    manifest = json.loads((root / "manifest.json").read_text())
    assert set(manifest["files"]) == {"cc3m/Train_GCC-training.tsv", "cc3m/images/0.jpg",
                                      "cc3m/images/1.jpg", "cc3m/images/2.jpg"}  # fmt: skip
    stamp = (root / "cc3m" / "images" / "0.jpg").stat().st_mtime_ns
    assert ensure_demo_dataset("cc3m", cache_dir=tmp_path, seed=7) == root
    assert (root / "cc3m" / "images" / "0.jpg").stat().st_mtime_ns == stamp
    assert not [p for p in (tmp_path / "demo").iterdir() if p.name.startswith((".tmp", ".trash"))]


def test_deleted_or_truncated_files_are_regenerated(tiny, tmp_path):
    root = ensure_demo_dataset("cc3m", cache_dir=tmp_path)
    good = (root / "cc3m" / "images" / "1.jpg").read_bytes()
    (root / "cc3m" / "images" / "1.jpg").unlink()
    assert verify_manifest(root) and "missing" in verify_manifest(root)[0]
    ensure_demo_dataset("cc3m", cache_dir=tmp_path)
    assert (root / "cc3m" / "images" / "1.jpg").read_bytes() == good
    (root / "cc3m" / "Train_GCC-training.tsv").write_text("short")
    ensure_demo_dataset("cc3m", cache_dir=tmp_path)
    assert verify_manifest(root, full=True) == []


def test_same_size_corruption_needs_the_full_check(tiny, tmp_path):
    root = ensure_demo_dataset("cc3m", cache_dir=tmp_path)
    path = root / "cc3m" / "images" / "2.jpg"
    good = path.read_bytes()
    path.write_bytes(good[:-1] + bytes([good[-1] ^ 0xFF]))
    assert verify_manifest(root) == []  # the cheap check sees sizes only
    assert "sha256" in verify_manifest(root, full=True)[0]
    ensure_demo_dataset("cc3m", cache_dir=tmp_path, verify_hashes=True)
    assert path.read_bytes() == good


def test_a_root_without_manifest_is_incomplete(tiny, tmp_path):
    root = ensure_demo_dataset("cc3m", cache_dir=tmp_path)
    (root / "manifest.json").unlink()
    assert ensure_demo_dataset("cc3m", cache_dir=tmp_path) == root
    assert verify_manifest(root) == []


def _worker(cache_dir: str) -> str:
    cache._generator = lambda folder: _tiny_cc3m  # noqa: the child process has its own module
    return str(ensure_demo_dataset("cc3m", cache_dir=Path(cache_dir)))


def test_concurrent_callers_get_one_intact_dataset(tmp_path):
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(3) as pool:
        roots = pool.map(_worker, [str(tmp_path)] * 3)
    assert len(set(roots)) == 1
    assert verify_manifest(Path(roots[0]), full=True) == []
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == [
        f".cc3m-v{FORMAT_VERSION}-seed0.lock", f"cc3m-v{FORMAT_VERSION}-seed0"
    ]


def test_pretrain_root_holds_webvid_cc3m_and_episodes(monkeypatch, tmp_path):
    made = []
    monkeypatch.setattr(cache, "_generator", lambda folder: lambda out, seed: made.append((out, seed)))
    generate_demo_dataset("pretrain", tmp_path, seed=3)
    assert made == [(tmp_path / "webvid", 3), (tmp_path / "cc3m", 3), (tmp_path / "episodes", 3)]


def test_every_listed_dataset_has_a_generator_and_unknown_names_fail(tmp_path):
    for name in DEMO_DATASETS:
        for folder in cache._FOLDERS.get(name, (name,)):
            assert callable(cache._generator(folder))
    with pytest.raises(ValueError, match="unknown demo dataset 'kinetics'"):
        ensure_demo_dataset("kinetics", cache_dir=tmp_path)


def test_cache_dir_defaults_to_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TEMPVL_CACHE", str(tmp_path / "c"))
    assert cache.default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("TEMPVL_CACHE")
    assert cache.default_cache_dir() == Path.home() / ".cache" / "tempvl-bench"


def test_a_failed_generation_leaves_no_dataset_behind(monkeypatch, tmp_path):
    def broken(out_dir: Path, seed: int) -> None:
        (out_dir / "cc3m").mkdir(parents=True)
        (out_dir / "cc3m" / "half.tsv").write_text("x")
        raise RuntimeError("disk full")

    monkeypatch.setattr(cache, "_generator", lambda folder: broken)
    with pytest.raises(RuntimeError, match="disk full"):
        ensure_demo_dataset("cc3m", cache_dir=tmp_path)
    assert [p.name for p in (tmp_path / "demo").iterdir()] == [f".cc3m-v{FORMAT_VERSION}-seed0.lock"]


def test_module_entry_point_prints_the_roots(tiny, tmp_path, capsys):
    from tempvl_core.data.demo.__main__ import main

    main(["cc3m", "--cache-dir", str(tmp_path)])
    assert capsys.readouterr().out == f"cc3m\t{tmp_path / 'demo' / f'cc3m-v{FORMAT_VERSION}-seed0'}\n"
    with pytest.raises(SystemExit):
        main(["kinetics"])
