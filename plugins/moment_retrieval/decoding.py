"""What each protocol keeps of a query's ranked windows, and QVHighlights' per-clip saliency.

The time grid and the ranking of windows live in :mod:`tempvl_core.model.windows` (shared with
the localization study); this module holds only the benchmark protocols' choices on top.
"""

from __future__ import annotations

import numpy as np

from tempvl_bench.api import nms_keep
from tempvl_core.model.windows import RankedWindows

CLIP_SECONDS = 2.0  # QVHighlights saliency clips


def select_windows(ranked: RankedWindows, nms_threshold: float, top_k: int) -> RankedWindows:
    """Greedy NMS in rank order (2D-TAN's rule: IoU <= threshold survives), first ``top_k`` kept.

    For the single-moment protocol (0.5, 5) this is exactly what its metric keeps from the full
    ranking, so storing only these windows changes no number.
    """
    return ranked.top(nms_keep(ranked.windows[:, :2], nms_threshold, top_k))


def clip_saliency(frame_scores: np.ndarray, bounds: np.ndarray, duration: float) -> np.ndarray:
    """Per 2-second clip (``int(duration / 2)`` of them, at least 1): the score of the frame
    whose cell holds the clip's centre."""
    n_clips = max(1, int(duration / CLIP_SECONDS))
    centres = (np.arange(n_clips) + 0.5) * CLIP_SECONDS
    cells = np.searchsorted(bounds[1:-1], centres, side="right")
    return np.asarray(frame_scores, dtype=np.float64)[cells]
