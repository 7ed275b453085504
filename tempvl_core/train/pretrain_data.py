"""Pretraining samples: (video or image, caption) pairs decoded into fixed-size frame tensors.

Videos give ``num_frames`` frames; a still image (CC3M) is a one-frame video, padded to
``num_frames`` with ``frame_mask`` False at the padding (the model skips masked frames).
Stills are marked ``mergeable=False``: they take part in VTC and MLM, never in the merged
sequences of MR and TL (a one-frame "clip" would give its place away by its caption style).
An *episode* (:class:`PretrainEpisodeDataset`) is one dataset item holding several clips of
one scene, so that a batch always holds clips only their events tell apart.
Randomness (frame positions, crop) comes from a ``numpy.random.Generator`` seeded from numpy's
global RNG, which :class:`~tempvl_core.train.data_order.SeededDataset` seeds per sample from
``(seed, epoch, index)``: the same sample is decoded the same way whatever the worker.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from tempvl_core.model.objectives import HostBatch
from tempvl_core.video import VideoDecodeError, read_frames
from tempvl_core.video.transforms import eval_transform, train_transform


@dataclass(frozen=True)
class MediaItem:
    """One pretraining pair with its media file resolved to a full path."""

    path: Path
    caption: str
    is_image: bool


class PretrainClipDataset(Dataset):
    """Decodes :class:`MediaItem` s into ``{"frames" [T,3,H,W], "frame_mask" [T], "text"}``.

    A file that cannot be decoded is not replaced by another sample: ``__getitem__`` returns
    ``None`` (with a warning naming the file) and :func:`collate_pretrain` leaves it out of the
    batch and counts it in ``batch["skipped"]``.
    """

    def __init__(self, items: Sequence[MediaItem], *, num_frames: int, size: int, sampling: str = "random",
                 train: bool = True) -> None:
        if not items:
            raise ValueError("no pretraining items: check the data section of the config")
        self.items = list(items)
        self.num_frames = num_frames
        self.sampling = sampling
        self.transform = train_transform(size) if train else eval_transform(size)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any] | None:
        return self.decode(index)

    def decode(self, index: int, fps: float | None = None) -> dict[str, Any] | None:
        item = self.items[index]
        rng = np.random.default_rng(np.random.randint(0, 2**31 - 1))
        try:
            clip = read_frames(item.path, num_frames=self.num_frames, sampling=self.sampling, fps=fps, rng=rng,
                               size=None)
        except (VideoDecodeError, ValueError) as exc:
            warnings.warn(f"skipping pretraining sample {index}: {exc}", stacklevel=2)
            return None
        frames = self.transform(clip.frames, rng)
        real = frames.shape[0]
        mask = torch.zeros(self.num_frames, dtype=torch.bool)
        mask[:real] = True
        if real < self.num_frames:
            pad = frames.new_zeros((self.num_frames - real, *frames.shape[1:]))
            frames = torch.cat([frames, pad])
        return {"frames": frames[: self.num_frames], "frame_mask": mask, "text": item.caption,
                "mergeable": not item.is_image}


@dataclass(frozen=True)
class EpisodeItem:
    """Clips cut from one source scene (see :mod:`tempvl_core.data.demo.episodes`)."""

    episode: str
    clips: tuple[MediaItem, ...]


class PretrainEpisodeDataset(Dataset):
    """One item per episode: the list of its decoded clips (``fps`` frames per second, at most
    ``num_frames``), which :func:`collate_pretrain` flattens into the batch."""

    def __init__(self, episodes: Sequence[EpisodeItem], *, num_frames: int, size: int, fps: float,
                 train: bool = True) -> None:
        if not episodes:
            raise ValueError("no pretraining episodes: check data.episodes_json")
        self.episodes = list(episodes)
        self.clips = PretrainClipDataset([c for e in episodes for c in e.clips], num_frames=num_frames, size=size,
                                         sampling="fps", train=train)
        self.fps = fps
        self.starts = np.cumsum([0] + [len(e.clips) for e in self.episodes])

    def __len__(self) -> int:
        return len(self.episodes)

    def __getitem__(self, index: int) -> list[dict[str, Any] | None]:
        first, last = int(self.starts[index]), int(self.starts[index + 1])
        clips = [self.clips.decode(i, fps=self.fps) for i in range(first, last)]
        for j, clip in enumerate(clips):
            if clip is not None:  # the episode it was cut from and its place there (merge_order: source)
                clip.update(source=index, source_index=j)
        return clips


def read_episodes(path: Path) -> list[EpisodeItem]:
    """``episodes.json``: ``[{"episode": ID, "clips": [{"video": REL_PATH, "caption": TEXT}]}]``,
    video paths relative to the file's folder. Errors name the file and the entry."""
    import json

    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read the episodes file ({exc})") from None
    if not isinstance(raw, list):
        raise ValueError(f"{path}: expected a list of episodes")
    episodes = []
    for k, entry in enumerate(raw):
        clips = entry.get("clips") if isinstance(entry, dict) else None
        if not isinstance(clips, list) or not clips or not all(
            isinstance(c, dict) and isinstance(c.get("video"), str) and isinstance(c.get("caption"), str) for c in clips
        ):
            raise ValueError(f"{path}: episode {k}: expected 'clips', a non-empty list of {{video, caption}} strings")
        name = str(entry.get("episode", k))
        episodes.append(EpisodeItem(name, tuple(MediaItem(path.parent / c["video"], c["caption"], False) for c in clips)))
    if not episodes:
        raise ValueError(f"{path}: no episodes")
    return episodes


def collate_pretrain(samples: list[dict[str, Any] | list | None]) -> dict[str, Any]:
    """Stack decoded samples (an episode's list of clips counts as its clips, in order);
    undecodable ones (``None``) are dropped and counted in ``skipped``."""
    samples = [c for s in samples for c in (s if isinstance(s, list) else [s])]
    kept = [s for s in samples if s is not None]
    if not kept:
        raise RuntimeError(f"every sample of a batch of {len(samples)} failed to decode (see the warnings above)")
    batch = {
        "frames": torch.stack([s["frames"] for s in kept]),
        "frame_mask": torch.stack([s["frame_mask"] for s in kept]),
        "texts": [s["text"] for s in kept],
        "mergeable": torch.tensor([bool(s.get("mergeable", True)) for s in kept]),
        "skipped": len(samples) - len(kept),
    }
    if any("source" in s for s in kept):  # clips cut from episodes: their video and index there (-1: none)
        batch["source"] = torch.tensor([int(s.get("source", -1)) for s in kept])
        batch["source_index"] = torch.tensor([int(s.get("source_index", 0)) for s in kept])
    if bool(batch["frame_mask"].all()):
        batch.pop("frame_mask")  # all frames real: let the model take its unmasked fast path
    # CPU copies of the per-item fields: the model plans merges from them on the host, so a step
    # on a GPU never waits to copy them back (they pass through move_to_device untouched).
    batch["host"] = HostBatch.of(batch)
    return batch
