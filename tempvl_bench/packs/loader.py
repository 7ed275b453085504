"""Batches of feature-pack rows, shaped like decoded clips: the ``ctx.clips`` of a pack run.

Each batch carries ``frames`` ``[B, T, D]`` (the rows), ``frame_mask``, ``timestamps`` (the
second each row's cell starts, from the layout's time base), ``index`` and ``records``, so the
families' finetuning and prediction steps run unchanged. A bad file is a failed sample (listed,
and fatal beyond ``video.max_failed_fraction``), never padded or replaced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

from tempvl_bench.run.clips import ClipLoaderFactory


class PackDataset:
    """Map-style dataset of records' pack rows (items as ``VideoClipDataset``'s)."""

    def __init__(self, records: Sequence, source) -> None:
        self.records, self.source = list(records), source

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int):
        import numpy as np
        import torch

        from tempvl_core.data.features import PackError
        from tempvl_core.data.pipeline import FailedSample

        record = self.records[index]
        try:
            rows = self.source.read(record)
        except PackError as err:
            return FailedSample(index, err.path, err.reason)
        # A writable float32 copy: memory-mapped rows are read-only, and batches are float32.
        return {"index": index, "frames": torch.from_numpy(np.array(rows.features, dtype=np.float32)),
                "timestamps": torch.from_numpy(rows.starts).float(), "record": record}


class PackClipFactory(ClipLoaderFactory):
    """:class:`~tempvl_bench.run.clips.ClipLoaderFactory` over a feature pack instead of videos."""

    def __init__(self, ctx) -> None:  # no video index: the videos need not exist
        self.ctx = ctx
        self.video = ctx.config.video
        self.source = ctx.features
        self.evaluated = []

    def video_path(self, record) -> Path:
        """The record's first pack file (an HDF5 dataset's path is not a file: never cached)."""
        return Path(self.source.reader.location(record.video_id))

    def loader(self, records: Sequence, *, train: bool, epoch: int = 0, desc: str | None = None) -> Iterator[dict]:
        from tempvl_core.data.pipeline import make_loader

        cfg = self.ctx.config
        size = cfg.batch.train if train else cfg.batch.eval
        # In this process: reading rows is cheap, and HDF5 handles do not survive a fork.
        loader = make_loader(PackDataset(records, self.source), batch_size=size, shuffle=train, num_workers=0,
                             seed=self.ctx.seed * 1000 + epoch, drop_last=train and len(records) >= size)
        yield from self._progress(loader, len(loader), desc)
