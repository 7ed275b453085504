"""Video reading: one reader (decord, PyAV fallback), sampling strategies and transforms."""

from .reader import (
    Clip,
    VideoDecodeError,
    VideoInfo,
    center_crop,
    is_image,
    probe,
    read_frames,
    resize_short_side,
)
from .sampling import SAMPLING_STRATEGIES, sample_indices

_TRANSFORMS = ("CLIP_MEAN", "CLIP_STD", "EvalTransform", "TrainTransform", "eval_transform", "train_transform")


def __getattr__(name: str):
    # Transforms need torch; import them on first use so decoding-only tools start fast.
    if name in _TRANSFORMS:
        from . import transforms

        return getattr(transforms, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    *_TRANSFORMS,
    "Clip",
    "SAMPLING_STRATEGIES",
    "VideoDecodeError",
    "VideoInfo",
    "center_crop",
    "is_image",
    "probe",
    "read_frames",
    "resize_short_side",
    "sample_indices",
]
