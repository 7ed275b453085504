"""The torch pipeline never swaps a broken video for another sample; it reports it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from tempvl_core.data.pipeline import (
    ClipSampling,
    FailedSample,
    FailureTracker,
    TooManyFailedVideos,
    VideoClipDataset,
    collate_clips,
    make_loader,
)
from tempvl_core.video.transforms import eval_transform

from .videogen import decoded_indices


@dataclass
class Pair:
    video: str
    caption_ids: list[int]


@pytest.fixture()
def records(short_video, long_gop_video, garbage_file, image_file):
    root = short_video.parent
    return [
        Pair(short_video.name, [5, 6, 7]),
        Pair("missing.mp4", [1]),
        Pair(long_gop_video.name, [9]),
        Pair(garbage_file.name, [2, 3]),
        Pair(image_file.name, [4, 4]),
    ], root


def _dataset(records, root, **kw):
    return VideoClipDataset(
        records, lambda r: root / r.video, tokens=lambda r: r.caption_ids, **kw
    )


def test_failed_samples_are_markers_not_replacements(records):
    recs, root = records
    ds = _dataset(recs, root, sampling=ClipSampling(num_frames=4, size=None))
    missing = ds[1]
    assert isinstance(missing, FailedSample) and missing.index == 1
    assert missing.path == root / "missing.mp4" and "missing file" in missing.error
    assert isinstance(ds[3], FailedSample) and "could not open" in ds[3].error
    assert decoded_indices(ds[0]["frames"].numpy()) == [2, 6, 10, 14]


def test_collate_drops_failures_pads_frames_and_tokens(records):
    recs, root = records
    ds = _dataset(recs, root, sampling=ClipSampling(num_frames=4, size=16), transform=eval_transform(16))
    batch = collate_clips([ds[i] for i in range(len(ds))])
    assert batch["batch_size"] == 3
    assert batch["index"].tolist() == [0, 2, 4]
    assert [f.index for f in batch["failed"]] == [1, 3]
    assert batch["frames"].shape == (3, 4, 3, 16, 16)
    # The image is a one-frame clip: three padded (zero) frames, masked out.
    assert batch["frame_mask"].tolist() == [[True] * 4, [True] * 4, [True, False, False, False]]
    assert torch.all(batch["frames"][2, 1:] == 0)
    assert batch["tokens"].tolist() == [[5, 6, 7], [9, 0, 0], [4, 4, 0]]
    assert batch["token_mask"].sum(1).tolist() == [3, 1, 2]
    assert [r.video for r in batch["records"]] == [recs[0].video, recs[2].video, recs[4].video]


def test_batch_of_only_failures(records):
    recs, root = records
    ds = _dataset(recs, root)
    batch = collate_clips([ds[1], ds[3]])
    assert batch["batch_size"] == 0 and len(batch["failed"]) == 2 and "frames" not in batch


def _order_and_frames(ds, workers):
    loader = make_loader(ds, batch_size=2, shuffle=True, num_workers=workers, seed=11, pin_memory=False)
    out = []
    for batch in loader:
        for i, frames in zip(batch["index"].tolist(), batch["frames"]):
            out.append((i, tuple(decoded_indices(frames.numpy()))))
    return out


def test_loader_random_sampling_is_deterministic_by_seed(long_gop_video):
    recs = [{"video": long_gop_video}] * 4
    ds = VideoClipDataset(recs, lambda r: r["video"], seed=3,
                          sampling=ClipSampling(num_frames=3, sampling="random", size=None))
    serial = _order_and_frames(ds, 0)
    assert serial == _order_and_frames(ds, 2)  # same draws with worker processes
    assert len({frames for _, frames in serial}) > 1  # each index gets its own draw
    ds.set_epoch(1)
    assert _order_and_frames(ds, 0) != serial


def test_window_outside_video_is_a_failure_not_a_crash(short_video):
    ds = VideoClipDataset([{"v": short_video}], lambda r: r["v"], window=lambda r: (30.0, 31.0))
    item = ds[0]
    assert isinstance(item, FailedSample) and "outside the video" in item.error


def _batch(ok: int, failed: list[str]) -> dict:
    return {"batch_size": ok, "failed": [FailedSample(i, Path(p), "boom") for i, p in enumerate(failed)]}


def test_failure_tracker_default_allows_no_failure():
    tracker = FailureTracker(total=10)
    tracker.update(_batch(4, []))
    with pytest.raises(TooManyFailedVideos, match=r"1 of 10 videos failed.*\n  a\.mp4: boom"):
        tracker.update(_batch(3, ["a.mp4"]))


def test_failure_tracker_threshold():
    tracker = FailureTracker(max_failed_fraction=0.2, total=10)
    tracker.update(_batch(3, ["a.mp4", "b.mp4"]))  # 2/10 allowed
    tracker.update(_batch(5, []))
    with pytest.raises(TooManyFailedVideos, match="3 of 10"):
        tracker.update(_batch(0, ["c.mp4"]))


def test_failure_tracker_without_total_checks_at_the_end():
    tracker = FailureTracker(max_failed_fraction=0.1, show=2)
    tracker.update(_batch(1, ["a.mp4"]))  # 50% so far, but the run is not over
    tracker.update(_batch(18, []))
    tracker.finalize()  # 1 of 20 = 5%
    assert tracker.failed_fraction == pytest.approx(0.05)
    tracker.update(_batch(0, ["b.mp4", "c.mp4", "d.mp4"]))
    with pytest.raises(TooManyFailedVideos, match=r"(?s)4 of 23.*and 2 more") as err:
        tracker.finalize()
    assert "b.mp4" in str(err.value) and "c.mp4" not in str(err.value)


def test_collate_explains_mixed_frame_sizes(short_video, image_file):
    ds = VideoClipDataset([short_video, image_file], lambda r: r,
                          sampling=ClipSampling(num_frames=2, size=16, crop="none"))
    with pytest.raises(ValueError, match=r"cannot batch frames.*sample 1.*crop='center'"):
        collate_clips([ds[0], ds[1]])
