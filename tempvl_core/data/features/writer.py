"""Writing feature packs: each file atomically (a temporary name, then ``os.replace``).

npy and npz packs get one file per video and stream, as the community writes them
(``np.save``; ``np.savez(path, features=...)``). An HDF5 pack is one file: its per-video rows
are first written as atomic ``.npy`` parts under ``.parts/`` (so an interrupted extraction
resumes), then gathered into the HDF5 file, itself written under a temporary name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import numpy as np

from tempvl_core.atomic import atomic_file
from tempvl_core.data.features.layout import FeatureLayout

MANIFEST_FILE = "manifest.json"
PARTS_DIR = ".parts"


def atomic_write(path: Path, write) -> None:
    """Call ``write(handle)`` on a binary handle that replaces ``path`` atomically
    (:func:`tempvl_core.atomic.atomic_file`), creating ``path``'s folder first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as handle:
        write(handle)


def write_pack_manifest(root: Path, manifest: dict) -> None:
    atomic_write(Path(root) / MANIFEST_FILE, lambda h: h.write((json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()))


def part_file(root: Path, stream: str, video_id: str) -> Path:
    """Where a video's rows wait before an HDF5 pack is assembled."""
    return Path(root) / PARTS_DIR / (stream or "_") / f"{video_id}.npy"


def write_video_rows(root: Path, layout: FeatureLayout, video_id: str, streams: list[np.ndarray]) -> list[Path]:
    """Write one video's rows (one ``[T, D_s]`` array per stream); returns the files written."""
    written = []
    for stream, array in zip(layout.streams, streams):
        array = np.ascontiguousarray(array)
        if layout.container == "hdf5":
            path = part_file(root, stream, video_id)
            atomic_write(path, lambda h, a=array: np.save(h, a, allow_pickle=False))
        else:
            path = Path(root) / layout.path.format(stream=stream, vid=video_id)
            if layout.container == "npy":
                atomic_write(path, lambda h, a=array: np.save(h, a, allow_pickle=False))
            else:
                atomic_write(path, lambda h, a=array: np.savez(h, **{layout.key: a}))
        written.append(path)
    return written


def assemble_hdf5(root: Path, layout: FeatureLayout, video_ids: Iterable[str]) -> list[Path]:
    """Gather the parts of ``video_ids`` into the layout's HDF5 file(s), one dataset per id."""
    import h5py

    out = []
    for stream in layout.streams:
        target = Path(root) / layout.path.format(stream=stream, vid="")

        def write(handle, stream=stream):
            with h5py.File(handle, "w") as h5:
                for vid in video_ids:
                    part = part_file(root, stream, vid)
                    if part.is_file():
                        h5.create_dataset(layout.key.format(vid=vid), data=np.load(part, allow_pickle=False))

        atomic_write(target, write)
        out.append(target)
    return out
