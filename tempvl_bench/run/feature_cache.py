"""A disk cache of evaluation video features: a second evaluation with the same model skips
decoding and encoding.

:func:`tempvl_bench.run.encoding.encode_videos` asks :func:`cached_encode_videos` first. An entry
holds one video's encoded output (``video_emb`` at level ``clip``; the valid ``features`` and
``timestamps`` at level ``frames``; level ``pixels`` is never cached) and lives under an
*encoder key* folder. The key covers everything the output depends on:

- the encoder: a sha256 of the model's weights (a checkpoint or finetuning changes it), the
  backbone name, the level (what is cached), the sources of the code path (model, video
  reading, this harness's encoding) and the device type;
- the frames: sampling, frame count, fps, resolution and crop of the task's eval sampling;
- the video: its resolved path, size and mtime (touching or replacing a file misses).

Entries are safetensors files written atomically (temporary file, then ``os.replace``); an
entry is used only when it records the key it was written for and its tensors' dtypes and
shapes, and they hold (:mod:`tempvl_bench.run.feature_store`); any other is recomputed with a
warning naming it. A cache folder that cannot be written turns caching off with a warning. Location: ``$TEMPVL_FEATURE_CACHE``, else
``$TEMPVL_CACHE/features``, else ``$XDG_CACHE_HOME/tempvl-bench/features``, else
``~/.cache/tempvl-bench/features``. ``tempvl-bench cache info|clear`` inspects or empties it;
``run --no-cache`` bypasses it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from tempvl_core.atomic import write_atomic

from tempvl_bench.run.feature_store import ENTRY_SUFFIX, META_FILE, FeatureStore, trailing_shapes

FORMAT_VERSION = 1
ENV = "TEMPVL_FEATURE_CACHE"
#: Eval sampling whose frames depend only on the video (random draws are never cached).
CACHEABLE_SAMPLING = ("uniform", "fps")
#: Sources whose change changes the features (relative to the repository's packages).
_CODE_PATHS = ("tempvl_core/model", "tempvl_core/video", "tempvl_core/data/pipeline.py",
               "tempvl_bench/run/encoding.py", "tempvl_bench/run/clips.py", "tempvl_bench/run/feature_cache.py",
               "tempvl_bench/run/feature_store.py")  # fmt: skip
#: The checkout (or installed tree) the code paths are relative to.
_CODE_ROOT = Path(__file__).resolve().parents[2]


def cache_root() -> Path:
    """Where entries live (see the module docstring for the order of the variables)."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    if os.environ.get("TEMPVL_CACHE"):
        return Path(os.environ["TEMPVL_CACHE"]) / "features"
    base = Path(os.environ["XDG_CACHE_HOME"]) if os.environ.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "tempvl-bench" / "features"


def weights_sha256(model: Any) -> str:
    """sha256 over the model's state dict (names, dtypes, shapes and bytes, in order)."""
    import torch

    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        t = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}\0{t.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(t.view(torch.uint8).numpy())
    return digest.hexdigest()


_CODE_DIGEST: dict[str, str] = {}


def _code_sha256(extra: Sequence[str] = ()) -> str:
    """sha256 of the code path's sources (computed once per process and module set)."""
    key = "\0".join(extra)
    if key not in _CODE_DIGEST:
        digest = hashlib.sha256()
        files: list[Path] = []
        for rel in _CODE_PATHS:
            path = _CODE_ROOT / rel
            files += sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.is_file() else []
        files += [Path(p) for p in extra if p and Path(p).is_file()]
        for path in files:
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        _CODE_DIGEST[key] = digest.hexdigest()
    return _CODE_DIGEST[key]


def encoder_description(ctx: Any, model: Any, level: str) -> dict[str, Any]:
    """What the features of one run depend on besides the videos (the encoder key's fields)."""
    import inspect

    video = ctx.config.video
    # The code that encodes: a TemPVL backbone's source, or a model plugin's own class.
    backbone = getattr(getattr(model, "video_encoder", None), "backbone", None)
    encoder = backbone if backbone is not None else model
    identity = getattr(ctx, "model_identity", None)
    try:
        backbone_file = inspect.getsourcefile(type(encoder))
    except TypeError:  # a class defined outside any file
        backbone_file = None
    return {
        "format": FORMAT_VERSION,
        "level": level,
        "weights_sha256": weights_sha256(model),
        "backbone": ctx.backbone_name,
        "model": identity.to_dict() if identity is not None else None,
        "sampling": video.sampling,
        "num_frames": video.num_frames,
        "fps": video.fps,
        "size": video.size,
        "crop": "center",
        "device": str(getattr(model, "device", "cpu")).split(":")[0],
        "code_sha256": _code_sha256((backbone_file or "",)),
        # A feature pack's layout and files (tempvl_bench.packs.source.FeatureSource.fingerprint).
        "features": ctx.features.fingerprint() if getattr(ctx, "features", None) is not None else None,
    }


def _sha(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def video_key(path: Path) -> str | None:
    """The entry key of one video file (resolved path, size, mtime); ``None`` if it cannot be stat'ed."""
    try:
        resolved = Path(path).resolve()
        stat = resolved.stat()
    except OSError:
        return None
    return _sha([str(resolved), stat.st_size, stat.st_mtime_ns])


# ---------------------------------------------------------------------------------------------
# The cached encoding pass.


def _split_batch(batch: dict[str, Any], level: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(record index, entry tensors)`` of every video of an encoded batch (padding removed)."""
    for b, index in enumerate(batch["index"].tolist()):
        if level == "clip":
            yield index, {"video_emb": batch["video_emb"][b].detach().cpu()}
            continue
        frames = int(batch["frame_mask"][b].sum())
        mask = batch.get("feature_mask")
        positions = int(mask[b].sum()) if mask is not None else batch["features"].shape[1]
        yield index, {"features": batch["features"][b, :positions].detach().cpu(),
                      "timestamps": batch["timestamps"][b, :frames].detach().cpu()}  # fmt: skip


def _collate(indices: list[int], entries: list[dict[str, Any]], records: Sequence, level: str, device) -> dict[str, Any]:
    """A batch shaped like the uncached one (no ``frames``: a hit decodes nothing)."""
    import torch

    batch: dict[str, Any] = {"failed": [], "batch_size": len(indices), "index": torch.tensor(indices, dtype=torch.long),
                             "records": [records[i] for i in indices]}  # fmt: skip
    if level == "clip":
        batch["video_emb"] = torch.stack([e["video_emb"] for e in entries]).float()
        return batch
    t_max = max(e["timestamps"].shape[0] for e in entries)
    n_max = max(e["features"].shape[0] for e in entries)
    first = entries[0]["features"]
    batch["frame_mask"] = torch.zeros(len(entries), t_max, dtype=torch.bool)
    batch["timestamps"] = torch.zeros(len(entries), t_max)
    batch["features"] = first.new_zeros((len(entries), n_max, *first.shape[1:]))
    batch["feature_mask"] = torch.zeros(len(entries), n_max, dtype=torch.bool)
    for b, entry in enumerate(entries):
        t, n = entry["timestamps"].shape[0], entry["features"].shape[0]
        batch["frame_mask"][b, :t], batch["timestamps"][b, :t] = True, entry["timestamps"]
        batch["features"][b, :n], batch["feature_mask"][b, :n] = entry["features"], True
    batch["features"] = batch["features"].to(device)
    batch["feature_mask"] = batch["feature_mask"].to(device)
    return batch


@dataclass
class CacheStats:
    hits: int = 0
    encoded: int = 0
    failed: int = 0
    #: Encoded entries that could not be written (kept in memory for this pass).
    unstored: int = 0


class CachedEncodedVideos:
    """The cached counterpart of :class:`tempvl_bench.run.encoding.EncodedVideos`: the same batches
    (read from entries), with videos missing from the cache decoded and encoded first."""

    def __init__(self, clips: Any, model: Any, records: Sequence, level: str, desc: str | None,
                 encode: Callable[[Any, dict, str], dict], store: FeatureStore) -> None:  # fmt: skip
        self.clips, self.model, self.records = clips, model, list(records)
        self.level, self.desc, self.encode, self.store = level, desc, encode, store
        self.stats = CacheStats()
        self.tracker = clips.failure_tracker(len(self.records))
        #: Record indices that went through decoding (``FailedSample.index`` is a position here).
        self._misses: list[int] = []

    @property
    def failed_videos(self) -> list[dict[str, str]]:
        return [{"path": str(f.path), "error": f.error} for f in self.tracker.failed]

    def map(self, step):
        """``[step(batch) for batch in self]``, as :meth:`tempvl_bench.run.encoding.EncodedVideos.map`."""
        return [step(batch) for batch in self]

    def record_index(self, failure) -> int:
        """The index into ``records`` of a failed sample (failures count positions among the misses)."""
        return self._misses[int(failure.index)]

    def _trusted_hits(self, keys: list[str | None]) -> set[int]:
        """Indices whose entry can be trusted: each passes its own checks, and its trailing shape
        is the one most entries share (an entry of another shape is recomputed, with a warning)."""
        shapes = {}
        for i, key in enumerate(keys):
            entry = self.store.load(key)
            if entry is not None:
                shapes[i] = trailing_shapes(entry)
        if not shapes:
            return set()
        common = Counter(shapes.values()).most_common(1)[0][0]
        for i, shape in shapes.items():
            if shape != common:
                print(f"warning: feature cache entry {self.store.path(keys[i])}: shape {shape} differs from the "
                      f"other entries' {common}; recomputing it", file=sys.stderr)
        return {i for i, shape in shapes.items() if shape == common}

    def _encode_misses(self, keys: list[str | None]) -> dict[int, dict[str, Any]]:
        """Decode and encode the videos without a trusted entry; store them. Returns those that
        could not be stored (kept in memory)."""
        import torch

        hits = self._trusted_hits(keys)
        misses = self._misses = [i for i in range(len(keys)) if i not in hits]
        self.stats.hits = len(hits)
        unstored: dict[int, dict[str, Any]] = {}
        if not misses:
            return unstored
        batches = self.clips.batches([self.records[i] for i in misses], train=False, desc=self.desc)
        batches.tracker = self.tracker  # the allowance is a fraction of the whole set
        with torch.no_grad():
            for batch in batches:
                for local, entry in _split_batch(self.encode(self.model, batch, self.level), self.level):
                    index = misses[local]
                    self.stats.encoded += 1
                    if keys[index] is None or not self.store.save(keys[index], entry):
                        unstored[index] = entry
        self.stats.failed = len(self.tracker.failed)
        self.stats.unstored = sum(1 for i in unstored if keys[i] is not None)
        return unstored

    def __iter__(self) -> Iterator[dict[str, Any]]:
        keys = [video_key(self.clips.video_path(r)) for r in self.records]
        unstored = self._encode_misses(keys)
        failed = {self._misses[int(f.index)] for f in self.tracker.failed}
        size = self.clips.ctx.config.batch.eval
        indices: list[int] = []
        entries: list[dict[str, Any]] = []
        for i, key in enumerate(keys):
            if i in failed:
                continue
            entry = unstored[i] if i in unstored else self.store.load(key)
            if entry is None:
                raise RuntimeError(f"feature cache: the entry of {self.clips.video_path(self.records[i])} in "
                                   f"{self.store.folder} changed during the run; run `tempvl-bench cache clear` "
                                   "or pass --no-cache")
            indices.append(i)
            entries.append(entry)
            if len(indices) == size:
                yield _collate(indices, entries, self.records, self.level, self.model.device)
                indices, entries = [], []
        if indices:
            yield _collate(indices, entries, self.records, self.level, self.model.device)
        self._report()

    def _report(self) -> None:
        from tempvl_bench.run.distributed import rank, world_size

        s = self.stats
        name = self.clips.ctx.spec.name + (f" (rank {rank()} of {world_size()})" if world_size() > 1 else "")
        print(f"{name}: feature cache: {s.hits} of {len(self.records)} videos hit, {s.encoded} encoded"
              + (f", {s.failed} failed" if s.failed else "")
              + (f", {s.unstored} could not be written" if s.unstored else "") + f" ({self.store.folder})", flush=True)


def cache_enabled(ctx: Any) -> bool:
    return bool(getattr(ctx.options, "feature_cache", True))


def cached_encode_videos(clips: Any, model: Any, records: Sequence, *, level: str, desc: str | None,
                         encode: Callable[[Any, dict, str], dict]) -> CachedEncodedVideos | None:  # fmt: skip
    """The cached pass for :func:`tempvl_bench.run.encoding.encode_videos`, or ``None`` when the
    features cannot be cached (``--no-cache``, level ``pixels``, random eval sampling)."""
    ctx = clips.ctx
    if level == "pixels" or not cache_enabled(ctx) or ctx.config.video.sampling not in CACHEABLE_SAMPLING:
        return None
    description = encoder_description(ctx, model, level)
    store = FeatureStore(cache_root(), _sha(description)[:32], description, level)
    problem = _unwritable(store)
    if problem:
        print(f"warning: feature cache {store.folder.parent}: cannot write there ({problem}); caching is off for "
              f"this run (set {ENV} to a folder you can write, or pass --no-cache)", file=sys.stderr)
        return None
    return CachedEncodedVideos(clips, model, records, level, desc, encode, store)


def _unwritable(store: FeatureStore) -> str | None:
    """Why the store's folder cannot be written (None when it can): its ``encoder.json`` is
    written now, which is also the probe."""
    try:
        store.folder.mkdir(parents=True, exist_ok=True)
        meta = store.folder / META_FILE
        if not meta.is_file():
            write_atomic(meta, json.dumps(store.description, indent=2, sort_keys=True))
    except OSError as exc:
        return f"{exc.strerror or exc}: {exc.filename or store.folder}"
    return None


# ---------------------------------------------------------------------------------------------
# tempvl-bench cache info | clear


@dataclass
class EncoderSummary:
    folder: Path
    description: dict[str, Any]
    entries: int
    bytes: int


def summarize(root: Path | None = None) -> list[EncoderSummary]:
    """One summary per encoder key folder under ``root`` (default :func:`cache_root`); a folder
    whose ``encoder.json`` is not a JSON object is listed with an empty description, and a
    warning names the file."""
    root = Path(root) if root is not None else cache_root()
    out = []
    for folder in sorted(p for p in root.iterdir() if (p / META_FILE).is_file()) if root.is_dir() else []:
        try:
            description = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            description = f"unreadable ({type(exc).__name__})"
        if not isinstance(description, dict):
            print(f"warning: {folder / META_FILE}: not a feature-cache description (a JSON object expected, "
                  f"{description if isinstance(description, str) else 'got ' + type(description).__name__}); "
                  "its fields are shown as '?'", file=sys.stderr)
            description = {}
        files = [p for p in folder.rglob(f"*{ENTRY_SUFFIX}") if p.is_file()]
        out.append(EncoderSummary(folder, description, len(files), sum(p.stat().st_size for p in files)))
    return out


def clear(root: Path | None = None) -> int:
    """Remove every encoder folder (only folders this cache wrote: they hold ``encoder.json``);
    returns how many were removed. A file that cannot be removed is an OSError naming its full path."""
    summaries = summarize(root)
    for summary in summaries:
        shutil.rmtree(summary.folder, onerror=_name_the_path)
    return len(summaries)


def _name_the_path(function: Callable, path: str, exc_info: tuple) -> None:
    error = exc_info[1]
    raise OSError(getattr(error, "errno", None), f"feature cache: cannot remove {Path(path).absolute()} "
                  f"({getattr(error, 'strerror', None) or error})") from None
