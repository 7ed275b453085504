"""Reading one video's rows from a feature pack, checked: bad packs are errors, never padding.

:meth:`PackReader.read` loads every stream of a video (npy in one read into its array; npz by key;
HDF5 dataset by path, one open handle per file), checks each array, then applies the layout's rules:
rows cut to ``max_rows``, each stream L2-normalised (when the layout says so), the streams cut
to the shortest and concatenated, and an optional linear resampling to a fixed row count.

A file is refused (:class:`PackError`, naming it) when it is missing, has no such key or
dataset, is not 2-D, is not floating point, has its rows and columns swapped (``(D, T)``),
has the wrong number of columns, holds NaN or inf, or has fewer rows than the video's duration
and time base imply, beyond the layout's tolerance (``max(tolerance_rows,
tolerance_fraction * expected)``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tempvl_core.data.features.layout import FeatureLayout
from tempvl_core.data.features.timebase import SpanTimeBase, StrideTimeBase, TimeBase


class PackError(ValueError):
    """A pack file that cannot be used; ``path`` is the file, ``reason`` why."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass
class VideoRows:
    """One video's features ``[T, D]`` (float32 when normalised or resampled, else as stored,
    as read for npy: the model casts them), the second each row's cell starts at, the time
    base that maps its rows, and the files read (path, size in bytes)."""

    features: np.ndarray
    starts: np.ndarray
    time_base: TimeBase
    files: list[tuple[Path, int]]


class PackReader:
    """Reads videos of one pack folder laid out as ``layout``."""

    def __init__(self, root: Path, layout: FeatureLayout) -> None:
        self.root = Path(root)
        self.layout = layout
        #: Stream widths: the layout's, or those of the first file read.
        self.dims: list[int | None] = list(layout.dims) if layout.dims else [None] * len(layout.streams)
        self._h5: dict[Path, object] = {}

    @property
    def dim(self) -> int | None:
        return None if None in self.dims else sum(self.dims)  # type: ignore[arg-type]

    def stream_file(self, stream: str, video_id: str) -> Path:
        return self.root / self.layout.path.format(stream=stream, vid=video_id)

    def location(self, video_id: str) -> str:
        """Where the video's first stream lives (the file, plus the dataset inside an HDF5 file)."""
        path = self.stream_file(self.layout.streams[0], video_id)
        if self.layout.container == "hdf5":
            return f"{path}:/{self.layout.key.format(vid=video_id)}"
        return str(path)

    def read(self, video_id: str, duration: float | None = None, fps: float | None = None) -> VideoRows:
        """The video's rows; ``duration`` (seconds) enables the row-count check and span bases,
        ``fps`` replaces a stride base's frame rate (ActivityNet's per-video fps)."""
        base = self.layout.time_base
        if isinstance(base, StrideTimeBase):
            base = base.with_fps(fps)
        arrays, files = [], []
        for s, stream in enumerate(self.layout.streams):
            path = self.stream_file(stream, video_id)
            size, (array, where) = self._size(path), self._load(path, video_id)
            self._check(array, where, s, base, duration)
            files.append((path, size))
            array = array[: self.layout.max_rows] if self.layout.max_rows else array
            if self.layout.normalize:
                array = np.asarray(array, dtype=np.float32)
                array = array / np.maximum(np.linalg.norm(array, axis=1, keepdims=True), 1e-12)
            arrays.append(array)
        shortest = min(len(a) for a in arrays)
        features = np.concatenate([a[:shortest] for a in arrays], axis=1) if len(arrays) > 1 else arrays[0]
        if self.layout.resample and len(features) != self.layout.resample:
            features, base = resample_rows(np.asarray(features, dtype=np.float32), self.layout.resample), SpanTimeBase()
        if isinstance(base, SpanTimeBase) and not duration:
            raise PackError(self.location(video_id), "this layout spreads the rows over the video, but the "
                            "annotations give no duration for it")
        return VideoRows(features, base.cell_starts(len(features), duration), base, files)

    def close(self) -> None:
        for handle in self._h5.values():
            handle.close()
        self._h5.clear()

    # ------------------------------------------------------------------ one array
    @staticmethod
    def _size(path: Path) -> int:
        try:
            return os.stat(path).st_size
        except OSError:
            raise PackError(path, "missing (no feature file for this video)") from None

    def _load(self, path: Path, video_id: str):
        layout = self.layout
        try:
            if layout.container == "npy":
                return _read_npy(path), str(path)
            if layout.container == "npz":
                with np.load(path, allow_pickle=False) as archive:
                    if layout.key not in archive.files:
                        raise PackError(path, f"no array {layout.key!r} (it holds {sorted(archive.files)})")
                    return archive[layout.key], str(path)
            return self._hdf5(path, layout.key.format(vid=video_id))
        except PackError:
            raise
        except Exception as exc:  # truncated or foreign files, pickled objects
            raise PackError(path, f"cannot be read as {layout.container} ({type(exc).__name__}: {exc})") from None

    def _hdf5(self, path: Path, dataset: str):
        import h5py

        if path not in self._h5:
            self._h5[path] = h5py.File(path, "r")
        handle = self._h5[path]
        where = f"{path}:/{dataset}"
        if dataset not in handle or not isinstance(handle[dataset], h5py.Dataset):
            raise PackError(where, "missing (no such dataset in the HDF5 file)")
        return handle[dataset][()], where

    def _check(self, array, where: str, stream: int, base: TimeBase, duration: float | None) -> None:
        layout = self.layout
        if array.ndim != 2:
            raise PackError(where, f"expected a 2-D array (rows, features), got shape {tuple(array.shape)}")
        if not np.issubdtype(array.dtype, np.floating):
            raise PackError(where, f"expected floating-point features, got dtype {array.dtype}")
        dim = self.dims[stream]
        rows, cols = array.shape
        if dim is not None and cols != dim:
            if rows == dim:
                raise PackError(where, f"shape {tuple(array.shape)} is (features, rows): expected (rows, {dim}); "
                                "transpose it")
            raise PackError(where, f"has {cols} features per row, expected {dim}")
        if rows == 0:
            raise PackError(where, "has no rows")
        if not _all_finite(array):
            bad = ~np.isfinite(array)
            row = int(np.argwhere(bad)[0][0])
            raise PackError(where, f"holds {int(bad.sum())} NaN or inf values (first in row {row})")
        if dim is None:
            self.dims[stream] = cols
        expected = base.expected_rows(duration)
        if expected is not None:
            if layout.max_rows:
                expected = min(expected, layout.max_rows)
            tolerance = max(layout.tolerance_rows, layout.tolerance_fraction * expected)
            if rows < expected - tolerance:
                raise PackError(where, f"has {rows} rows but a {duration:g} s video needs about {expected:g} "
                                f"(tolerance {tolerance:g}) at this time base {base.to_dict()}")


#: float16 -> (unsigned view, sign mask off, smallest non-finite pattern): NaN and inf are the
#: values whose exponent bits are all set, so one integer max finds them (float16's isfinite is slow).
_NONFINITE = {np.dtype(np.float16): (np.uint16, 0x7FFF, 0x7C00)}


def _all_finite(array: np.ndarray) -> bool:
    """No NaN or inf. float32 and float64 first take the sum of squares (one BLAS dot over the
    memory-mapped rows, no temporary array): a NaN or inf anywhere makes it non-finite, so a finite
    sum proves every value finite; a non-finite sum (NaN, inf, or finite values whose squares
    overflow) is decided element by element."""
    if array.size == 0:
        return True
    if array.dtype in (np.float32, np.float64) and array.flags.c_contiguous:
        flat = array.reshape(-1)
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(np.dot(flat, flat)):
                return True
        return bool(np.isfinite(array).all())
    bits = _NONFINITE.get(array.dtype)
    if bits is None:
        return bool(np.isfinite(array).all())
    view, magnitude, first = bits
    return int((np.ascontiguousarray(array).view(view) & magnitude).max()) < first


def _read_npy(path: Path) -> np.ndarray:
    """An ``.npy`` file's array, read with one open and one ``readinto``. Every value is checked
    for NaN and inf, so every page is touched anyway: a memory map would only add page faults
    and a second open (``np.load(mmap_mode=...)``), and is slower for files of a few MB."""
    from numpy.lib import format as npy

    with open(path, "rb", buffering=0) as handle:
        version = npy.read_magic(handle)
        read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
        shape, fortran, dtype = read_header(handle)
        if dtype.hasobject:
            raise PackError(path, "holds Python objects (a pickled array), which are never loaded")
        want = math.prod(shape) * dtype.itemsize
        left = os.fstat(handle.fileno()).st_size - handle.tell()
        if left != want:  # checked before allocating: a forged header cannot ask for terabytes
            raise PackError(path, f"holds {left} bytes of data, but its header announces {want} "
                            f"({dtype} {tuple(shape)}): truncated or not an .npy file")
        array = np.empty(shape, dtype=dtype, order="F" if fortran else "C")
        if want and handle.readinto(memoryview(array.reshape(-1, order="A")).cast("B")) != want:
            raise PackError(path, "changed while it was read")
    return array


def resample_rows(features: np.ndarray, rows: int) -> np.ndarray:
    """Linear interpolation of ``[T, D]`` to ``[rows, D]`` over row centres (as
    ``F.interpolate(mode="linear", align_corners=False)``, ActionFormer's upsampling)."""
    t = len(features)
    positions = np.clip((np.arange(rows) + 0.5) * t / rows - 0.5, 0, t - 1)
    low = np.floor(positions).astype(np.int64)
    high = np.minimum(low + 1, t - 1)
    weight = (positions - low)[:, None].astype(np.float32)
    return (features[low] * (1 - weight) + features[high] * weight).astype(np.float32)
