"""The records moment and highlight metrics read: one query's ground truth and its prediction
(QVHighlights JSONL shapes), shared by :mod:`.moment` and :mod:`.highlights`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Hashable

import numpy as np


@dataclass(frozen=True)
class MomentGroundTruth:
    """Ground truth of one query (QVHighlights JSONL shape)."""

    qid: Hashable
    duration: float
    windows: list[tuple[float, float]]
    relevant_clip_ids: list[int] | None = None
    saliency_scores: list[list[float]] | None = None


@dataclass(frozen=True)
class MomentPrediction:
    """Predicted windows ``[start, end, score]`` in rank order, and optional per-clip saliency."""

    qid: Hashable
    windows: np.ndarray
    saliency: np.ndarray | None = field(default=None)
