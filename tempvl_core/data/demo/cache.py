"""Generate each demo dataset once, check it on every use, regenerate it when damaged.

``ensure_demo_dataset("didemo")`` returns a data root holding ``didemo/...`` in the real file
layout. The root lives at ``<cache>/demo/<dataset>-v<FORMAT_VERSION>-seed<seed>/`` and ends
with ``manifest.json`` (size and sha256 of every file), written last: a root without a valid
manifest is incomplete. Generation happens in a temporary folder renamed into place, under a
file lock, so concurrent callers neither corrupt nor duplicate the work.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import import_module
from pathlib import Path

from tempvl_core.atomic import replace_directory

FORMAT_VERSION = 9
MANIFEST = "manifest.json"

#: Every demo dataset; ``pretrain`` is ``webvid``, ``cc3m`` and ``episodes`` in one data root.
DEMO_DATASETS: tuple[str, ...] = (
    "msrvtt", "didemo", "msvd", "lsmdc", "charades-sta", "anet-captions", "qvhighlights",
    "thumos14", "activitynet", "webvid", "cc3m", "episodes", "pretrain",
)  # fmt: skip

# dataset folder -> (module, function); the function takes (folder, seed).
_GENERATORS: dict[str, tuple[str, str]] = {
    "didemo": ("didemo", "generate_didemo"),
    "msrvtt": ("msrvtt", "generate_msrvtt"),
    "msvd": ("msvd", "generate_msvd"),
    "lsmdc": ("lsmdc", "generate_lsmdc"),
    "charades-sta": ("charades", "generate_charades_sta"),
    "anet-captions": ("anet_captions", "generate_anet_captions"),
    "qvhighlights": ("qvhighlights", "generate_qvhighlights"),
    "thumos14": ("detection", "generate_thumos14"),
    "activitynet": ("detection", "generate_activitynet"),
    "webvid": ("pretrain", "generate_webvid"),
    "cc3m": ("pretrain", "generate_cc3m"),
    "episodes": ("episodes", "generate_episodes"),
}
_FOLDERS: dict[str, tuple[str, ...]] = {"pretrain": ("webvid", "cc3m", "episodes")}


def _check_name(dataset: str) -> None:
    if dataset not in DEMO_DATASETS:
        raise ValueError(f"unknown demo dataset {dataset!r}; expected one of {list(DEMO_DATASETS)}")


def _generator(folder: str) -> Callable[[Path, int], None]:
    module, func = _GENERATORS[folder]
    return getattr(import_module(f"tempvl_core.data.demo.{module}"), func)


def default_cache_dir() -> Path:
    """``$TEMPVL_CACHE``, else ``~/.cache/tempvl-bench``."""
    env = os.environ.get("TEMPVL_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "tempvl-bench"


def generate_demo_dataset(dataset: str, root: Path, seed: int = 0) -> Path:
    """Write ``dataset`` under ``root`` (``root/<dataset>/...``), no caching; returns ``root``."""
    _check_name(dataset)
    root = Path(root)
    for folder in _FOLDERS.get(dataset, (dataset,)):
        _generator(folder)(root / folder, seed)
    return root


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_manifest(root: Path, dataset: str, seed: int) -> Path:
    """Record every file under ``root`` (size and sha256); call it after the last file."""
    files = {
        p.relative_to(root).as_posix(): {"size": p.stat().st_size, "sha256": _sha256(p)}
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    manifest = {"dataset": dataset, "seed": seed, "format_version": FORMAT_VERSION, "files": files}
    path = root / MANIFEST
    path.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return path


def verify_manifest(root: Path, *, full: bool = False) -> list[str]:
    """Problems found in ``root`` (empty if intact): missing manifest or file, wrong size, and
    with ``full=True`` wrong sha256."""
    path = Path(root) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        return [f"{path}: unreadable manifest ({err})"]
    problems = []
    for rel, entry in files.items():
        p = Path(root) / rel
        if not p.is_file():
            problems.append(f"{p}: missing")
        elif p.stat().st_size != entry["size"]:
            problems.append(f"{p}: size {p.stat().st_size}, manifest says {entry['size']}")
        elif full and _sha256(p) != entry["sha256"]:
            problems.append(f"{p}: sha256 differs from the manifest")
    return problems


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # no POSIX locks (Windows): the atomic rename still protects readers
        yield
        return
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_demo_dataset(
    dataset: str, *, cache_dir: Path | None = None, seed: int = 0, verify_hashes: bool = False
) -> Path:
    """The data root of demo ``dataset``, generated on first use and again if damaged.

    Each call checks the manifest (existence and size of every file; also sha256 with
    ``verify_hashes=True``).
    """
    _check_name(dataset)
    base = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    demo_dir = base / "demo"
    target = demo_dir / f"{dataset}-v{FORMAT_VERSION}-seed{seed}"
    if target.is_dir() and not verify_manifest(target, full=verify_hashes):
        return target
    demo_dir.mkdir(parents=True, exist_ok=True)
    with _locked(demo_dir / f".{target.name}.lock"):
        # Another process may have finished it while we waited for the lock.
        if target.is_dir() and not verify_manifest(target, full=verify_hashes):
            return target
        tmp = demo_dir / f".tmp-{target.name}-{uuid.uuid4().hex}"
        try:
            generate_demo_dataset(dataset, tmp, seed)
            write_manifest(tmp, dataset, seed)
            replace_directory(tmp, target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return target
