"""Typed records produced by the annotation loaders, one kind per task family.

Conventions shared by every record:

- ``video_id``: the dataset's own identifier of the video (``"video7020"`` for MSR-VTT,
  ``"v_QOlSCBRmfWY"`` for ActivityNet Captions, the exact file name for DiDeMo).
- ``video_name``: the file name, or relative path under the dataset's video folder, to look the
  media file up with :class:`tempvl_core.data.video_index.VideoIndex` (``"video7020.mp4"``,
  ``"0001_American_Beauty/0001_American_Beauty_00.00.51.926-00.00.54.129.avi"``).
- Times are float seconds from the start of the video.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar


@dataclass(frozen=True, slots=True)
class RetrievalItem:
    """One video and the texts that retrieve it.

    Paragraph datasets (DiDeMo, ActivityNet Captions) hold a single text: the video's sentences
    joined with a space in file order. Multi-caption datasets (MSVD, MSR-VTT training) hold every
    caption; 1-caption protocols (MSR-VTT 1k-A test, LSMDC) hold exactly one.
    """

    video_id: str
    video_name: str
    texts: tuple[str, ...]
    split: str


@dataclass(frozen=True, slots=True)
class QAItem:
    """One open-ended question about a video (MSRVTT-QA, MSVD-QA).

    ``question_type`` is the dataset's category of the question when it has one (MSRVTT-QA
    ``category_id`` as a string), else ``None``.
    """

    question_id: str
    video_id: str
    video_name: str
    question: str
    answer: str
    question_type: str | None


@dataclass(frozen=True, slots=True)
class MCItem:
    """One multiple-choice item (MSR-VTT MC): pick the option that describes the video.

    ``answer_index`` is the 0-based index of the correct entry of ``options``.
    """

    item_id: str
    video_id: str
    video_name: str
    options: tuple[str, ...]
    answer_index: int


@dataclass(frozen=True, slots=True)
class CaptionItem:
    """One video with all its reference captions (captioning evaluation and training)."""

    video_id: str
    video_name: str
    captions: tuple[str, ...]
    split: str


@dataclass(frozen=True, slots=True)
class MomentQuery:
    """One natural-language query with its ground-truth moments in one video.

    ``windows`` holds one ``(start, end)`` in seconds per ground-truth moment; several windows are
    several annotators (DiDeMo) or several relevant spans (QVHighlights). Test splits released
    without ground truth have ``windows == ()``.
    ``duration`` is the video length in seconds when the annotations give it, else ``None``.
    ``saliency_clip_ids``/``saliency_scores``: QVHighlights highlight labels (2-second clip
    indices, and per clip one 0-4 score per rater); ``None`` elsewhere.
    ``segment_windows``: DiDeMo's original 5-second segment indices ``(start_seg, end_seg)``
    (both inclusive), one per annotator, kept for the official segment-IoU metric.
    """

    query_id: str
    video_id: str
    video_name: str
    query: str
    duration: float | None
    windows: tuple[tuple[float, float], ...]
    saliency_clip_ids: tuple[int, ...] | None = None
    saliency_scores: tuple[tuple[int, ...], ...] | None = None
    segment_windows: tuple[tuple[int, int], ...] | None = None


@dataclass(frozen=True, slots=True)
class ActionInstance:
    """One labelled action span; ``label_id`` is the dataset's class index when it has one."""

    label: str
    start: float
    end: float
    label_id: int | None = None


@dataclass(frozen=True, slots=True)
class ActionVideo:
    """One untrimmed video with its action instances (temporal action localization).

    ``subset`` keeps the dataset's own subset name (``"validation"``, ``"test"``, ``"training"``).
    ``duration`` and ``fps`` are ``None`` when the annotation file does not give them.
    """

    video_id: str
    video_name: str
    duration: float | None
    subset: str
    instances: tuple[ActionInstance, ...]
    fps: float | None = None


@dataclass(frozen=True, slots=True)
class PretrainItem:
    """One pretraining pair: a video (or an image used as a 1-frame video) and its caption.

    ``media_name`` is the path relative to the dataset's media folder; ``duration`` is in
    seconds when known; ``is_image`` marks still images (CC3M).
    """

    media_name: str
    caption: str
    duration: float | None
    is_image: bool


RecordT = TypeVar("RecordT")


@dataclass(slots=True)
class LoadResult(Generic[RecordT]):
    """Records read from annotation files plus counts of what was repaired or left out.

    ``stats`` keys used across loaders: ``"clipped"`` (windows cut to the video length),
    ``"dropped"`` (items or windows left out because they were empty or invalid),
    ``"missing"`` (split-list entries with no annotation), ``"ambiguous"`` (THUMOS14
    ``Ambiguous`` spans excluded). Loaders add only keys they count.
    """

    records: list[RecordT]
    stats: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.records)

    def count(self, key: str) -> int:
        """The count for ``key``, 0 when the loader never counted it."""
        return self.stats.get(key, 0)
