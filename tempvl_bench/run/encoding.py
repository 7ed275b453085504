"""The one place evaluation videos are decoded and encoded.

Every family's prediction step reads its videos through :func:`encode_videos`, so decoding,
failure accounting and the model's video encoder are called the same way for every task, and
a feature cache can wrap this one function. ``level`` says how far to encode:

- ``"clip"``: adds ``video_emb``, the joint-space clip embeddings ``[B, D]`` (float32, CPU),
  as ``model.encode_video`` gives them (retrieval, QA and multiple choice by similarity);
- ``"frames"``: adds ``features`` ``[B, T', D]`` (on the model's device) and ``feature_mask``
  ``[B, T']``: the per-position video features at the backbone's feature rate (moment
  retrieval, action localization);
- ``"pixels"``: the decoded frames only, for heads that encode the video themselves together
  with the text (captioning's decoder, the QA classifier, the VTM head).

Each item is the collated batch (``frames``, ``frame_mask``, ``timestamps``, ``index``...)
with those keys added.
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

from tempvl_bench.run import distributed
from tempvl_bench.run.feature_cache import cached_encode_videos
from tempvl_bench.run.sharding import ShardedEncodedVideos

LEVELS = ("clip", "frames", "pixels")


class EncodedVideos:
    """Iterable of encoded batches of ``records``; failures as ``.failed_videos``."""

    def __init__(self, clips: Any, model: Any, records: Sequence, level: str, desc: str | None) -> None:
        if level not in LEVELS:
            raise ValueError(f"encode_videos: level {level!r}; expected one of {', '.join(LEVELS)}")
        self.model, self.level = model, level
        self.batches = clips.batches(records, train=False, desc=desc)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        import torch

        with torch.no_grad():
            for batch in self.batches:
                yield _encode(self.model, batch, self.level)

    def map(self, step):
        """``[step(batch) for batch in self]`` (shared out between ranks under torchrun)."""
        return [step(batch) for batch in self]

    def record_index(self, failure) -> int:
        """The index into ``records`` of a failed sample."""
        return int(failure.index)

    @property
    def tracker(self):
        return self.batches.tracker

    @property
    def failed_videos(self) -> list[dict[str, str]]:
        """Videos that failed to decode, in the results.json ``failed_videos`` shape."""
        return [{"path": str(f.path), "error": f.error} for f in self.tracker.failed]


def encode_videos(clips: Any, model: Any, records: Sequence, *, level: str, desc: str | None = None):
    """``records``' videos decoded (eval sampling and transform) and encoded to ``level``.

    ``clips`` is the run's :class:`tempvl_bench.run.clips.ClipLoaderFactory` (``ctx.clips``).
    A video that fails to decode drops out of its batch and is listed in ``.failed_videos``.
    Levels ``clip`` and ``frames`` go through the feature cache (:mod:`tempvl_bench.run.feature_cache`)
    unless the run says ``--no-cache``: its batches carry the encoded keys, not ``frames``.

    Under torchrun (:mod:`tempvl_bench.run.distributed`) each rank encodes whole batches of its own
    and iterating gives every rank all the batches (levels ``clip`` and ``frames``: the encoded
    videos are gathered). At level ``pixels`` call ``.map(step)`` instead of iterating, so the
    per-batch work is shared out too: ``step(batch)`` runs on one rank per batch and ``map``
    returns every batch's result, in order, on every rank (iterating decodes every video on
    every rank). Alone, ``.map(step)`` is ``[step(b) for b in batches]``.
    """
    if distributed.world_size() > 1:
        return ShardedEncodedVideos(clips, model, records, level, desc, local_pass)
    return local_pass(clips, model, records, level, desc)


def local_pass(clips: Any, model: Any, records: Sequence, level: str, desc: str | None):
    """This process's encoding of ``records`` (cached where it can be)."""
    if getattr(clips, "ctx", None) is None:  # a bare batch source (tests): nothing to key a cache by
        return EncodedVideos(clips, model, records, level, desc)
    cached = cached_encode_videos(clips, model, records, level=level, desc=desc, encode=_encode)
    return cached if cached is not None else EncodedVideos(clips, model, records, level, desc)


def _encode(model: Any, batch: dict[str, Any], level: str) -> dict[str, Any]:
    if level == "clip":
        mask = batch.get("frame_mask")
        emb = model.encode_video(batch["frames"].to(model.device), None if mask is None else mask.to(model.device))
        batch["video_emb"] = emb.float().cpu()
    elif level == "frames":
        batch["features"], batch["feature_mask"] = _frame_features(model, batch)
    return batch


def frame_features(model: Any, batch: dict[str, Any]):
    """``(features, feature_mask)`` of a batch: the ones :func:`encode_videos` stored at level
    ``"frames"``, else computed now (for callers holding a plain decoded batch)."""
    if "features" in batch:
        return batch["features"], batch["feature_mask"]
    return _frame_features(model, batch)


def _frame_features(model: Any, batch: dict[str, Any]):
    from tempvl_core.model.clip_backbone import feature_mask, model_stride

    frame_mask = batch.get("frame_mask")
    device = model.device
    feats = model.video_frame_features(batch["frames"].to(device), None if frame_mask is None else frame_mask.to(device))
    mask = None if frame_mask is None else feature_mask(frame_mask, model_stride(model)).to(feats.device).bool()
    return feats, mask
