"""Video clips for task runners: the task config turned into data loaders over records.

Plugins call :class:`ClipLoaderFactory` instead of wiring the reader, transforms and video
lookup themselves, so every benchmark samples, resizes and reports failures the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

from tempvl_bench.run import interrupts
from tempvl_bench.run.tempvl_model import TEMPVL
from tempvl_bench.run.types import RunContext


class ClipLoaderFactory:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.video = ctx.config.video
        #: The run's one index: substitutes it hands out (``video.allow_substitutes``) are recorded.
        self.index = ctx.video_index
        prepared = ctx.prepared_video_dir
        #: Prepared copies (``tempvl-bench prepare-videos``) are read instead of the originals.
        self.prepared_root = prepared if prepared.is_dir() else None
        #: Every evaluation pass served (``train=False``), so the harness can report its failures.
        self.evaluated: list[TrackedBatches] = []

    def video_path(self, record) -> Path:
        """The media file of a record (its prepared copy when there is one); a missing file maps
        to its expected path, so it fails to decode and is reported, never replaced."""
        from tempvl_core.video.prepare import resolve_video

        found = self.index.lookup(record.video_name)
        if found is None:
            return self.ctx.video_dir / record.video_name
        return resolve_video(found, source_root=self.ctx.video_dir, prepared_root=self.prepared_root)

    def readable_path(self, record) -> Path:
        """:meth:`video_path` for the reader: a name that matches no file (missing, ambiguous, or
        only a substitute while substitutes are off) fails with the index's reason."""
        from tempvl_core.video import VideoDecodeError

        if self.index.lookup(record.video_name) is None:
            raise VideoDecodeError(self.ctx.video_dir / record.video_name, why_no_video(self.index, record.video_name))
        return self.video_path(record)

    def model_transform(self):
        """The model's own frame preprocessing (``model.frame_transform``, see the model hook),
        or None: the harness's resize, crop and CLIP normalisation at ``video.size``."""
        if self.ctx.model_name == TEMPVL:
            return None
        return getattr(self.ctx.model(), "frame_transform", None)

    def steps_per_epoch(self, n: int) -> int:
        size = self.ctx.config.batch.train
        return max(1, n // size) if n >= size else 1

    def loader(self, records: Sequence, *, train: bool, epoch: int = 0, desc: str | None = None) -> Iterator[dict]:
        """Collated batches (``frames``, ``frame_mask``, ``index``, ``failed``...) of ``records``."""
        from tempvl_core.data.pipeline import ClipSampling, VideoClipDataset, make_loader
        from tempvl_core.video import eval_transform, train_transform

        cfg = self.ctx.config
        own = self.model_transform()
        if own is not None:  # the model's processor resizes, crops and normalises the decoded frames
            transform = own
        elif train:
            transform = train_transform(self.video.size, hflip=self.video.hflip, scale=(self.video.train_crop_min_scale, 1.0))
        else:
            transform = eval_transform(self.video.size)
        sampling = ClipSampling(
            num_frames=self.video.num_frames,
            sampling=self.video.train_sampling if train else self.video.sampling,
            fps=self.video.fps,
            size=None if own is not None else self.video.size,
            # Training crops randomly from the whole frame (the train transform); eval centre-crops.
            crop="none" if train else "center",
        )
        for record in records:  # here, not in loader workers: substitutions must land in this process's index
            self.index.lookup(record.video_name)
        dataset = VideoClipDataset(records, self.readable_path, sampling=sampling, transform=transform, seed=self.ctx.seed)
        dataset.set_epoch(epoch)
        loader = make_loader(
            dataset,
            batch_size=cfg.batch.train if train else cfg.batch.eval,
            shuffle=train,
            num_workers=cfg.batch.num_workers,
            seed=self.ctx.seed * 1000 + epoch,
            drop_last=train and len(records) >= cfg.batch.train,
        )
        with interrupts.deferred():  # interrupted while it starts its workers, it would be left half-built
            batches = iter(loader)
        yield from self._progress(batches, len(loader), desc)

    def _progress(self, batches: Iterator[dict], total: int, desc: str | None):
        if desc is None or not self.ctx.options.progress:
            yield from batches
            return
        from tqdm.auto import tqdm

        yield from tqdm(batches, total=total, desc=f"{self.ctx.spec.name}: {desc}", leave=False)

    def batches(self, records: Sequence, *, train: bool, epoch: int = 0, desc: str | None = None) -> "TrackedBatches":
        """The non-empty batches of ``records``, with failed videos counted on the way.

        A video that fails to decode drops out of its batch (it is never replaced), is listed in
        ``.failed_videos``, and stops the run once more than ``video.max_failed_fraction`` fail.
        """
        tracked = TrackedBatches(self, records, train=train, epoch=epoch, desc=desc)
        if not train:
            self.evaluated.append(tracked)
        return tracked

    def failed_videos(self, since: int = 0) -> list[dict[str, str]]:
        """Failed videos of the evaluation passes from number ``since`` on (each video once)."""
        found: dict[str, dict[str, str]] = {}
        for tracked in self.evaluated[since:]:
            for failure in tracked.failed_videos:
                found.setdefault(failure["path"], failure)
        return list(found.values())

    def failure_tracker(self, total: int):
        from tempvl_core.data.pipeline import FailureTracker

        return FailureTracker(max_failed_fraction=self.video.max_failed_fraction, total=total)


class TrackedBatches:
    """Iterable of non-empty collated batches; see :meth:`ClipLoaderFactory.batches`."""

    def __init__(self, clips: ClipLoaderFactory, records: Sequence, *, train: bool, epoch: int, desc: str | None):
        self._clips, self._records = clips, records
        self._train, self._epoch, self._desc = train, epoch, desc
        self.tracker = clips.failure_tracker(len(records))

    def __iter__(self) -> Iterator[dict]:
        loader = self._clips.loader(self._records, train=self._train, epoch=self._epoch, desc=self._desc)
        for batch in loader:
            interrupts.check()  # an interrupt swallowed on the way (e.g. in a __del__) still ends the run
            self.tracker.update(batch)
            if batch["batch_size"]:
                yield batch
        self.tracker.finalize()

    @property
    def failed_videos(self) -> list[dict[str, str]]:
        """Failures so far, in the results.json ``failed_videos`` shape."""
        return [{"path": str(f.path), "error": f.error} for f in self.tracker.failed]


def why_no_video(index, name: str) -> str:
    """Why ``name`` matches no file, and how to accept the one file that could stand in for it."""
    why = index.why_missing(name) or f"{name!r}: no usable file"
    if not index.allow_substitutes and len(index.substitutes(name)) == 1:
        why += ("; to read it instead set video.allow_substitutes: true in the task file "
                "(or --set video.allow_substitutes=true): results.json then lists the substitution")
    return why
