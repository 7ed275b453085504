"""Deterministic, resumable, rank-sharded data order.

Exact resume needs two things from the data side:

* the order of samples must be a pure function of ``(seed, epoch)`` and the position inside
  an epoch must be something a checkpoint can store: :class:`ShardedBatchSampler` yields
  batches from a permutation drawn with its own generator and can start at any batch;
* per-sample randomness (frame sampling, augmentation) must not depend on which worker
  loads a sample or what it loaded before: the sampler hands each sample a seed derived
  from ``(seed, epoch, index)`` and :class:`SeededDataset` runs the wrapped dataset's
  ``__getitem__`` with python, numpy and torch seeded from it (and restores them after).

Sharding follows ``DistributedSampler``: rank ``r`` of ``W`` takes positions ``r, r+W, ...``
of the epoch permutation, so batch ``k`` of all ranks together holds exactly the samples a
single process with a ``W`` times larger batch sees in its batch ``k``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

SampleKey = tuple[int, int]  # (dataset index, per-sample seed)


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A 31-bit seed that depends only on the run seed, the epoch and the sample index."""
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(1)[0]) & 0x7FFFFFFF


class ShardedBatchSampler(Sampler[list[SampleKey]]):
    """Batches of ``(index, seed)`` keys for one rank; resumable at a batch position.

    The epoch permutation is cut to a multiple of ``batch_size * world_size`` so every rank
    runs the same number of batches (a rank that ran one more would hang in all-reduce).
    """

    def __init__(
        self, num_samples: int, batch_size: int, *, seed: int = 0, rank: int = 0, world_size: int = 1, shuffle: bool = True
    ) -> None:
        if num_samples < batch_size * world_size:
            raise ValueError(
                f"dataset has {num_samples} samples, fewer than one global batch "
                f"({batch_size} per rank x {world_size} ranks)"
            )
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.shuffle = shuffle
        self.epoch = 0
        self.start_batch = 0

    def set_position(self, epoch: int, start_batch: int = 0) -> None:
        """Continue from batch ``start_batch`` of ``epoch`` (what a checkpoint stores)."""
        if not 0 <= start_batch <= len(self):
            raise ValueError(f"start_batch {start_batch} outside 0..{len(self)}")
        self.epoch = epoch
        self.start_batch = start_batch

    def __len__(self) -> int:
        return self.num_samples // (self.batch_size * self.world_size)

    def _epoch_indices(self) -> list[int]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(self.num_samples, generator=generator).tolist()
        else:
            order = list(range(self.num_samples))
        usable = len(self) * self.batch_size * self.world_size
        return order[:usable][self.rank :: self.world_size]

    def __iter__(self) -> Iterator[list[SampleKey]]:
        indices = self._epoch_indices()
        for batch in range(self.start_batch, len(self)):
            chunk = indices[batch * self.batch_size : (batch + 1) * self.batch_size]
            yield [(i, sample_seed(self.seed, self.epoch, i)) for i in chunk]


class SeededDataset(Dataset):
    """Wraps a map-style dataset so item ``(index, seed)`` is loaded under RNGs seeded with ``seed``.

    The caller's RNG states are restored afterwards, so loading in the main process
    (``num_workers=0``) leaves the training RNG streams (dropout, masking) untouched.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: SampleKey) -> Any:
        index, seed = key
        py_state, np_state = random.getstate(), np.random.get_state()
        with torch.random.fork_rng(devices=[]):
            random.seed(seed)
            np.random.seed(seed)
            torch.manual_seed(seed)
            try:
                return self.dataset[index]
            finally:
                random.setstate(py_state)
                np.random.set_state(np_state)
