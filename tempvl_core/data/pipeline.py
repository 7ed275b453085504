"""Generic torch data pipeline: records -> decoded, transformed clips -> padded batches.

- :class:`VideoClipDataset` wraps any list of records (dicts or dataclasses) plus a
  ``video_path(record) -> Path`` callable, reads frames with :func:`tempvl_core.video.read_frames`
  and applies a transform. A video that is missing or fails to decode is NEVER swapped for another
  sample (that would silently change the evaluated set): ``__getitem__`` returns a
  :class:`FailedSample` marker instead of raising.
- :func:`collate_clips` drops failed samples from the batch tensors and returns them in
  ``batch["failed"]``; it pads variable frame counts (``frame_mask``) and token lists
  (``token_mask``).
- :func:`make_loader` builds a ``DataLoader`` whose shuffling and random frame sampling depend
  only on ``seed`` (and ``dataset.set_epoch``), not on the number of workers: each sample's
  generator is seeded from ``(seed, epoch, index)``.
- :class:`FailureTracker` counts failures over a run and raises :class:`TooManyFailedVideos`
  past ``max_failed_fraction`` (default 0: any failure stops the run, listing the files).

To read prepared copies (see :mod:`tempvl_core.video.prepare`), pass
``video_path=lambda r: resolve_video(root / r["video"], source_root=root, prepared_root=prep)``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from tempvl_core.video.reader import CROPS, VideoDecodeError, read_frames
from tempvl_core.video.sampling import SAMPLING_STRATEGIES

Record = Any  # a dict or a dataclass instance; the pipeline only passes it to the callables


@dataclass(frozen=True)
class FailedSample:
    """Marker for a sample whose video could not be read: which sample, which file, and why."""

    index: int
    path: Path
    error: str


@dataclass(frozen=True)
class ClipSampling:
    """How frames are chosen and sized (arguments of :func:`read_frames`)."""

    num_frames: int | None = 8
    sampling: str = "uniform"
    fps: float | None = None
    size: int | None = 224
    crop: str = "center"

    def __post_init__(self) -> None:
        if self.sampling not in SAMPLING_STRATEGIES:
            raise ValueError(f"unknown sampling {self.sampling!r}; expected one of {SAMPLING_STRATEGIES}")
        if self.crop not in CROPS:
            raise ValueError(f"unknown crop {self.crop!r}; expected one of {CROPS}")


class VideoClipDataset(Dataset):
    """Map-style dataset over ``records``; items are dicts or :class:`FailedSample` markers.

    Args:
        records: the samples (dicts or dataclasses).
        video_path: ``record -> Path`` of its video (or image); it may raise
            :class:`VideoDecodeError` for a record that names no usable file (a failed sample).
        sampling: frame selection and size (:class:`ClipSampling`).
        transform: ``transform(frames_uint8_THWC, rng=...) -> tensor``, e.g.
            :func:`~tempvl_core.video.transforms.eval_transform`; ``None`` keeps uint8 ``[T,H,W,3]``.
        tokens: optional ``record -> list[int]`` (token ids; collate pads them).
        window: optional ``record -> (start_s, end_s) | None`` restricting sampling to a span.
        seed: base seed of the per-sample generators (random sampling and random crops).

    An item is ``{"index", "frames", "timestamps", "record", ["tokens"]}``.
    """

    def __init__(
        self,
        records: Sequence[Record],
        video_path: Callable[[Record], Path],
        *,
        sampling: ClipSampling = ClipSampling(),
        transform: Callable[..., torch.Tensor] | None = None,
        tokens: Callable[[Record], Sequence[int]] | None = None,
        window: Callable[[Record], tuple[float, float] | None] | None = None,
        seed: int = 0,
    ) -> None:
        self.records = list(records)
        self.video_path = video_path
        self.sampling = sampling
        self.transform = transform
        self.tokens = tokens
        self.window = window
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Change the random draws for a new epoch (call before iterating the loader)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.records)

    def rng_for(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, index])

    def __getitem__(self, index: int) -> dict[str, Any] | FailedSample:
        record = self.records[index]
        try:
            path = Path(self.video_path(record))
        except VideoDecodeError as err:  # the record names no usable file; the lookup says why
            return FailedSample(index, err.path, err.reason)
        rng = self.rng_for(index)
        s = self.sampling
        try:
            clip = read_frames(
                path,
                num_frames=s.num_frames,
                sampling=s.sampling,
                fps=s.fps,
                window=self.window(record) if self.window else None,
                rng=rng,
                size=s.size,
                crop=s.crop,
            )
        except VideoDecodeError as err:
            return FailedSample(index, path, err.reason)
        except ValueError as err:  # e.g. an annotated window that lies outside the video
            return FailedSample(index, path, f"cannot sample frames: {err}")
        frames = self.transform(clip.frames, rng=rng) if self.transform else torch.from_numpy(clip.frames)
        item = {
            "index": index,
            "frames": frames,
            "timestamps": torch.from_numpy(clip.timestamps).float(),
            "record": record,
        }
        if self.tokens is not None:
            item["tokens"] = [int(t) for t in self.tokens(record)]
        return item


def _pad_frames(items: list[dict]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    t_max = max(it["frames"].shape[0] for it in items)
    first = items[0]["frames"]
    for it in items[1:]:
        if it["frames"].shape[1:] != first.shape[1:]:
            raise ValueError(
                f"cannot batch frames of shape {tuple(first.shape[1:])} (sample {items[0]['index']}) "
                f"with {tuple(it['frames'].shape[1:])} (sample {it['index']}): use crop='center' "
                "or a transform that outputs a fixed size"
            )
    frames = first.new_zeros((len(items), t_max, *first.shape[1:]))
    mask = torch.zeros(len(items), t_max, dtype=torch.bool)
    times = torch.zeros(len(items), t_max)
    for b, it in enumerate(items):
        t = it["frames"].shape[0]
        frames[b, :t], mask[b, :t], times[b, :t] = it["frames"], True, it["timestamps"]
    return frames, mask, times


def collate_clips(samples: Sequence[dict | FailedSample], pad_token_id: int = 0) -> dict[str, Any]:
    """Stack good samples, pad frames/tokens, and set failed ones aside in ``batch["failed"]``.

    Keys: ``index`` (LongTensor [B]), ``frames`` ([B, T_max, ...], zero-padded), ``frame_mask``
    (bool [B, T_max]), ``timestamps`` ([B, T_max]), ``records`` (list), ``failed``
    (list[FailedSample]), ``batch_size`` (B, may be 0), and ``tokens``/``token_mask`` when the
    samples carry tokens.
    """
    items = [s for s in samples if not isinstance(s, FailedSample)]
    batch: dict[str, Any] = {
        "failed": [s for s in samples if isinstance(s, FailedSample)],
        "batch_size": len(items),
        "index": torch.tensor([it["index"] for it in items], dtype=torch.long),
        "records": [it["record"] for it in items],
    }
    if not items:
        return batch
    batch["frames"], batch["frame_mask"], batch["timestamps"] = _pad_frames(items)
    if "tokens" in items[0]:
        l_max = max(1, max(len(it["tokens"]) for it in items))
        tokens = torch.full((len(items), l_max), pad_token_id, dtype=torch.long)
        token_mask = torch.zeros(len(items), l_max, dtype=torch.bool)
        for b, it in enumerate(items):
            n = len(it["tokens"])
            tokens[b, :n] = torch.tensor(it["tokens"], dtype=torch.long)
            token_mask[b, :n] = True
        batch["tokens"], batch["token_mask"] = tokens, token_mask
    return batch


def _seed_worker(worker_id: int) -> None:
    # torch seeds each worker from the loader's generator; propagate to numpy/random for any
    # user transform that uses the global generators.
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def make_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    num_workers: int,
    seed: int,
    pin_memory: bool | None = None,
    drop_last: bool = False,
    collate_fn: Callable[[list], dict] = collate_clips,
) -> DataLoader:
    """A ``DataLoader`` whose order and worker seeds are fixed by ``seed``."""
    generator = torch.Generator()
    generator.manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        collate_fn=collate_fn,
        pin_memory=torch.cuda.is_available() if pin_memory is None else pin_memory,
        drop_last=drop_last,
        worker_init_fn=_seed_worker,
        generator=generator,
    )


class TooManyFailedVideos(RuntimeError):
    """More videos failed to decode than the run allows."""


@dataclass
class FailureTracker:
    """Accumulates :class:`FailedSample` markers across batches.

    With ``total`` (the dataset size) known, :meth:`update` raises as soon as the failures exceed
    ``max_failed_fraction * total`` (the count can only grow, so the run is already lost). Call
    :meth:`finalize` at the end to check the fraction of samples seen when ``total`` is unknown.
    """

    max_failed_fraction: float = 0.0
    total: int | None = None
    seen: int = 0
    failed: list[FailedSample] = field(default_factory=list)
    show: int = 5

    def update(self, batch: dict[str, Any]) -> None:
        """Count one collated batch (its good samples and its ``failed`` list)."""
        self.seen += int(batch["batch_size"]) + len(batch["failed"])
        self.failed.extend(batch["failed"])
        if self.total is not None and len(self.failed) > self.max_failed_fraction * self.total:
            raise TooManyFailedVideos(self.message(self.total))

    def finalize(self) -> None:
        """Raise if the failed fraction of everything seen exceeds the allowance."""
        denominator = self.total if self.total is not None else self.seen
        if self.failed and len(self.failed) > self.max_failed_fraction * denominator:
            raise TooManyFailedVideos(self.message(denominator))

    @property
    def failed_fraction(self) -> float:
        return len(self.failed) / self.seen if self.seen else 0.0

    def message(self, denominator: int) -> str:
        lines = [
            f"{len(self.failed)} of {denominator} videos failed to decode "
            f"(allowed fraction {self.max_failed_fraction:g}); first failures:"
        ]
        lines += [f"  {f.path}: {f.error}" for f in self.failed[: self.show]]
        if len(self.failed) > self.show:
            lines.append(f"  ... and {len(self.failed) - self.show} more")
        lines.append(
            "Fix or re-download these files, or run `tempvl-bench check-videos` to list all of them."
        )
        return "\n".join(lines)
