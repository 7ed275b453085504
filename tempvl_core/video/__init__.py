"""Video reading: one reader (PyAV and decord, each the other's fallback), sampling, transforms,
check-videos and prepare-videos."""

from .check import CheckReport, FailedVideo, check_videos
from .prepare import PrepareReport, prepare_videos, prepared_path, resolve_video
from .reader import (
    Clip,
    VideoDecodeError,
    VideoInfo,
    center_crop,
    is_image,
    probe,
    read_frames,
    read_indices,
    resize_short_side,
)
from .sampling import SAMPLING_STRATEGIES, sample_indices

_TRANSFORMS = (
    "CLIP_MEAN", "CLIP_STD", "EvalTransform", "TrainTransform", "eval_transform", "train_transform"
)


def __getattr__(name: str):
    # Transforms need torch; import them on first use so decoding-only tools start fast.
    if name in _TRANSFORMS:
        from . import transforms

        return getattr(transforms, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    *_TRANSFORMS,
    "CheckReport",
    "Clip",
    "FailedVideo",
    "PrepareReport",
    "SAMPLING_STRATEGIES",
    "VideoDecodeError",
    "VideoInfo",
    "center_crop",
    "check_videos",
    "is_image",
    "prepare_videos",
    "prepared_path",
    "probe",
    "read_frames",
    "read_indices",
    "resize_short_side",
    "resolve_video",
    "sample_indices",
]
