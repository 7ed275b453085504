"""The entries of one encoder key of the feature cache, and what makes an entry trustworthy.

An entry is a safetensors file ``<root>/<encoder key>/<aa>/<video key>.safetensors``. Its
metadata records the video key it was written for, the level, and each tensor's dtype and
shape. An entry is used only when all of that holds on reading: the key is the one asked for
(another video's entry copied over it is not), the tensors are the level's (``video_emb``; or
``features`` and ``timestamps``) with the recorded floating dtype and shape, their values are
finite, and their trailing shape is that of the other entries of the pass. Anything else is a
miss, recomputed and overwritten, with a warning naming the entry and the reason.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tempvl_core.atomic import write_atomic

META_FILE = "encoder.json"
ENTRY_SUFFIX = ".safetensors"
#: Tensors of an entry, per level (level ``pixels`` is never cached).
LEVEL_TENSORS = {"clip": ("video_emb",), "frames": ("features", "timestamps")}
#: Dimensions of each tensor, (fewest, most): ``video_emb`` is one vector for TemPVL and CLIP, and
#: per-frame vectors for models that score a video by its frames (X-CLIP); entries of one pass
#: must also share their trailing shape (see :func:`trailing_shapes`).
_NDIM = {"video_emb": (1, 2), "timestamps": (1, 1), "features": (2, 8)}


class EntryProblem(ValueError):
    """Why an entry cannot be trusted (the message names no path; the caller adds it)."""


class FeatureStore:
    """The entries of one encoder key: ``<root>/<key>/<aa>/<video key>.safetensors``."""

    def __init__(self, root: Path, folder_name: str, description: dict[str, Any], level: str) -> None:
        self.description = description
        self.level = level
        self.folder = Path(root) / folder_name

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}{ENTRY_SUFFIX}"

    def load(self, key: str | None) -> dict[str, Any] | None:
        """The entry's tensors when it exists and can be trusted; ``None`` for a miss (a missing
        entry silently, an untrusted one with a warning naming it)."""
        if key is None or not self.path(key).is_file():
            return None
        try:
            return self._checked(key)
        except EntryProblem as problem:
            print(f"warning: feature cache entry {self.path(key)}: {problem}; recomputing it", file=sys.stderr)
            return None

    def _checked(self, key: str) -> dict[str, Any]:
        from safetensors import safe_open

        try:
            with safe_open(str(self.path(key)), framework="pt") as handle:
                metadata = handle.metadata() or {}
                tensors = {name: handle.get_tensor(name) for name in handle.keys()}
        except Exception as exc:  # truncated, foreign or half-deleted: never trusted
            raise EntryProblem(f"unreadable ({type(exc).__name__})") from None
        if metadata.get("key") != key:
            raise EntryProblem(f"written for another video (key {str(metadata.get('key'))[:16]!r}...), or without "
                               "a key")
        if metadata.get("level") != self.level:
            raise EntryProblem(f"holds level {metadata.get('level')!r}, expected {self.level!r}")
        try:
            recorded = json.loads(metadata.get("tensors", ""))
        except ValueError:
            raise EntryProblem("no record of its tensors' dtypes and shapes") from None
        expected = LEVEL_TENSORS[self.level]
        if sorted(tensors) != sorted(expected) or not isinstance(recorded, dict) or sorted(recorded) != sorted(expected):
            raise EntryProblem(f"holds tensors {sorted(tensors)}, expected {list(expected)}")
        for name, tensor in tensors.items():
            _check_tensor(name, tensor, recorded[name])
        return tensors

    def save(self, key: str, tensors: dict[str, Any]) -> bool:
        """Write one entry atomically; False when it could not be written (the cache then lacks it)."""
        from safetensors.torch import save

        tensors = {k: v.contiguous() for k, v in tensors.items()}
        recorded = {name: [str(t.dtype).removeprefix("torch."), list(t.shape)] for name, t in tensors.items()}
        metadata = {"key": key, "level": self.level, "tensors": json.dumps(recorded)}
        target = self.path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            meta = self.folder / META_FILE
            if not meta.is_file():
                write_atomic(meta, json.dumps(self.description, indent=2, sort_keys=True))
            write_atomic(target, save(tensors, metadata=metadata))
        except OSError:
            return False
        return True


def _check_tensor(name: str, tensor: Any, recorded: Any) -> None:
    import torch

    dtype = str(tensor.dtype).removeprefix("torch.")
    if recorded != [dtype, list(tensor.shape)]:
        raise EntryProblem(f"tensor {name!r} is {dtype} {list(tensor.shape)}, but the entry recorded {recorded}")
    if not tensor.dtype.is_floating_point:
        raise EntryProblem(f"tensor {name!r} has dtype {dtype}, expected a floating-point dtype")
    low, high = _NDIM[name]
    if not low <= tensor.ndim <= high or tensor.numel() == 0:
        raise EntryProblem(f"tensor {name!r} has shape {list(tensor.shape)}, expected {low} dimension(s)"
                           + (" or more" if high > low else "") + " and at least one value")
    if not bool(torch.isfinite(tensor).all()):
        raise EntryProblem(f"tensor {name!r} holds NaN or infinite values")


def trailing_shapes(entry: dict[str, Any]) -> tuple:
    """The shape of each tensor but its first dimension (what every entry of a pass shares)."""
    return tuple((name, tuple(entry[name].shape[1:]) if entry[name].ndim > 1 else tuple(entry[name].shape))
                 for name in sorted(entry) if name != "timestamps")
