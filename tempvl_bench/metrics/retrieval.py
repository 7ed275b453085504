"""Text-video retrieval metrics with CLIP4Clip's conventions.

``sim[i, j]`` is the similarity of text ``i`` and video ``j``. Text-to-video (t2v) ranks
each row, video-to-text (v2t) ranks each column. Recalls are in percent; ranks are 1-based.

Ties: CLIP4Clip emits one rank entry per tied position, so its denominators can exceed the
number of queries. We give every query one outcome, the expectation over breaking its ties
uniformly at random: with ``g`` candidates strictly higher than the true one and ``t`` others
tied with it, R@K counts ``clamp((K - g) / (t + 1), 0, 1)`` and the rank is ``g + 1 + t / 2``.
Without ties this is the reference exactly; a constant matrix scores exactly chance (an
optimistic "1 + strictly greater" rank would give a collapsed model R@1 = 100).

Memory: counts are taken row-block by row-block into one reused boolean buffer, so a
10,000 x 10,000 matrix never needs a sorted, negated or boolean N x N copy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

import numpy as np

RECALL_KS: tuple[int, ...] = (1, 5, 10)

# Bytes of matrix compared at once: a block stays in cache for its four comparisons.
_BLOCK_BYTES = 1 << 19
# Caption groups reduced at once by ``video_caption_max``.
_VIDEO_CHUNK = 512


@dataclass(frozen=True)
class TiedRanks:
    """Per query: candidates scoring strictly higher than the true one, and others tied with it."""

    higher: np.ndarray
    tied: np.ndarray

    @classmethod
    def from_ranks(cls, ranks: Sequence[int] | np.ndarray) -> "TiedRanks":
        """Tie-free 1-based ranks."""
        ranks = np.asarray(ranks, dtype=np.int64)
        return cls(ranks - 1, np.zeros_like(ranks))

    @property
    def expected_rank(self) -> np.ndarray:
        """1-based rank expected under uniform tie breaking: ``higher + 1 + tied / 2``."""
        return self.higher + 1 + self.tied / 2

    def hits_at(self, k: int) -> Fraction:
        """Expected number of queries whose true candidate lands in the top ``k``, exactly."""
        numerators = np.clip(k - self.higher, 0, self.tied + 1)
        if not self.tied.any():
            return Fraction(int(numerators.sum()))
        # Sum num / (tied + 1) exactly, grouped by denominator, so chance is exactly chance.
        denominators, group = np.unique(self.tied + 1, return_inverse=True)
        sums = np.bincount(group.ravel(), weights=numerators, minlength=denominators.size)
        return sum((Fraction(int(s), int(d)) for s, d in zip(sums, denominators)), Fraction(0))


def _raise_non_finite(matrix: np.ndarray) -> None:
    """Raise if ``matrix`` holds NaN or infinities, counting them and naming the first."""
    step = max(1, _BLOCK_BYTES // max(1, matrix[0].nbytes))
    bad, first = 0, None
    for start in range(0, matrix.shape[0], step):
        rows = ~np.isfinite(matrix[start:start + step])
        if first is None and rows.any():
            i, j = np.argwhere(rows)[0]
            first = (start + int(i), int(j))
        bad += int(np.count_nonzero(rows))
    if bad:
        raise ValueError(f"similarity matrix has {bad} non-finite value(s) (NaN or infinity); first at "
                         f"[text, video] = {list(first)}: {matrix[first]}")


def _as_matrix(sim: np.ndarray) -> np.ndarray:
    matrix = np.asarray(sim)
    if matrix.ndim != 2:
        raise ValueError(f"similarity matrix must be 2-D (texts x videos), got shape {matrix.shape}")
    if matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise ValueError(f"similarity matrix is empty: shape {matrix.shape}")
    if not np.issubdtype(matrix.dtype, np.number) or np.issubdtype(matrix.dtype, np.complexfloating):
        raise ValueError(f"similarity matrix must hold real numbers, got dtype {matrix.dtype}")
    return matrix


def _counts(block: np.ndarray, own: np.ndarray, axis: int, buffer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row (axis 1) or column (axis 0) of ``block``: entries > ``own`` and entries >= ``own``."""
    as_bytes = buffer.view(np.uint8)
    np.greater(block, own, out=buffer)
    greater = np.add.reduce(as_bytes, axis=axis, dtype=np.int32)
    np.greater_equal(block, own, out=buffer)
    return greater, np.add.reduce(as_bytes, axis=axis, dtype=np.int32)


def tie_counts(matrix: np.ndarray, row_targets: np.ndarray | None = None,
               col_targets: np.ndarray | None = None) -> tuple[TiedRanks | None, TiedRanks | None]:
    """Ranks of ``matrix[i, row_targets[i]]`` in row i and of ``matrix[col_targets[j], j]`` in column j.

    One pass over small row blocks (cache-sized), counting greater and greater-or-equal
    entries for both directions while a block is hot; the block sums catch NaN and infinity
    on the way (both propagate), so the finite check costs no extra pass.
    """
    n_rows, n_cols = matrix.shape
    step = max(1, _BLOCK_BYTES // max(1, matrix[0].nbytes))
    rows = (np.empty(n_rows, np.int64), np.empty(n_rows, np.int64)) if row_targets is not None else None
    cols = (np.zeros(n_cols, np.int64), np.zeros(n_cols, np.int64)) if col_targets is not None else None
    own_col = None if cols is None else matrix[col_targets, np.arange(n_cols)][None, :]
    buffer = np.empty((min(step, n_rows), n_cols), dtype=bool)
    finite = True
    for start in range(0, n_rows, step):
        block = matrix[start:start + step]
        view = buffer[:block.shape[0]]
        if finite and np.issubdtype(matrix.dtype, np.floating):
            with np.errstate(over="ignore", invalid="ignore"):
                finite = math.isfinite(float(block.sum()))
        if rows is not None:
            own = block[np.arange(block.shape[0]), row_targets[start:start + step]][:, None]
            greater, at_least = _counts(block, own, 1, view)
            rows[0][start:start + step], rows[1][start:start + step] = greater, at_least
        if cols is not None:
            greater, at_least = _counts(block, own_col, 0, view)
            cols[0][:] += greater
            cols[1][:] += at_least
    if not finite:
        _raise_non_finite(matrix)  # or a finite sum that overflowed: then nothing is raised
    return tuple(None if c is None else TiedRanks(c[0], c[1] - c[0] - 1) for c in (rows, cols))


def summarize_ranks(ranks: TiedRanks | Sequence[int] | np.ndarray, prefix: str, *,
                    torch_style: bool = False) -> dict[str, float]:
    """R@K (percent), MdR and MnR under ``prefix`` (``t2v`` or ``v2t``).

    ``ranks``: :class:`TiedRanks`, or tie-free 1-based ranks. Default: CLIP4Clip's numpy
    ``compute_metrics`` (square case), which works on 0-based ranks: ``np.median(r0) + 1``
    (mean of the two middle values for an even count), ``np.mean(r0) + 1``.
    ``torch_style``: its multi-caption torch path: lower middle value (``torch.median``), R@K in
    float32 (``int * 100 / n`` on tensors) and ``np.mean`` of the 1-based ranks.
    """
    if not isinstance(ranks, TiedRanks):
        ranks = TiedRanks.from_ranks(ranks)
    n = ranks.higher.size
    if n == 0:
        raise ValueError("no ranks to summarize")
    out: dict[str, float] = {}
    for k in RECALL_KS:
        hits = ranks.hits_at(k)
        if torch_style and hits.denominator == 1:
            out[f"{prefix}/R@{k}"] = float(np.float32(int(hits) * 100) / np.float32(n))
        elif torch_style:
            out[f"{prefix}/R@{k}"] = float(np.float32(float(hits * 100 / n)))
        else:
            out[f"{prefix}/R@{k}"] = float(hits * 100 / n)  # correctly rounded: float(h) * 100 / n
    expected = ranks.expected_rank
    if torch_style:
        out[f"{prefix}/MdR"] = float(np.sort(expected)[(n - 1) // 2])
        out[f"{prefix}/MnR"] = float(np.mean(expected))
    else:
        # Same float operations as the reference, so the last bit agrees too.
        out[f"{prefix}/MdR"] = float(np.median(expected - 1) + 1)
        out[f"{prefix}/MnR"] = float(np.mean(expected - 1) + 1)
    return out
def retrieval_metrics(sim: np.ndarray) -> dict[str, float]:
    """Square protocol (MSR-VTT 1k-A, DiDeMo/ActivityNet paragraphs, LSMDC): text i pairs video i.

    Returns ``t2v/R@1, t2v/R@5, t2v/R@10, t2v/MdR, t2v/MnR`` and the same with ``v2t/``.
    """
    matrix = _as_matrix(sim)
    if matrix.shape[0] != matrix.shape[1]:
        raise ValueError(
            f"square retrieval needs as many texts as videos, got shape {matrix.shape}; "
            "use multi_caption_retrieval_metrics for several captions per video"
        )
    diagonal = np.arange(matrix.shape[0])
    t2v, v2t = tie_counts(matrix, row_targets=diagonal, col_targets=diagonal)
    out = summarize_ranks(t2v, "t2v")
    out.update(summarize_ranks(v2t, "v2t"))
    return out


def _validate_index(text_video_index: Sequence[int] | np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    index = np.asarray(text_video_index)
    n_texts, n_videos = shape
    if index.ndim != 1 or index.size != n_texts:
        raise ValueError(f"text_video_index must list one video per text ({n_texts}), got shape {index.shape}")
    if not np.issubdtype(index.dtype, np.integer):
        raise ValueError(f"text_video_index must hold integers, got dtype {index.dtype}")
    if index.size and (index.min() < 0 or index.max() >= n_videos):
        bad = int(np.flatnonzero((index < 0) | (index >= n_videos))[0])
        raise ValueError(f"text {bad} points at video {int(index[bad])}, outside 0..{n_videos - 1}")
    counts = np.bincount(index, minlength=n_videos)
    if (counts == 0).any():
        missing = int(np.flatnonzero(counts == 0)[0])
        raise ValueError(f"video {missing} has no caption: every video needs at least one text")
    return index.astype(np.int64)


def video_caption_max(matrix: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``out[v, j]`` = max similarity between video ``j`` and any caption of video ``v``."""
    n_videos = matrix.shape[1]
    order = np.argsort(index, kind="stable")
    starts = np.searchsorted(index[order], np.arange(n_videos))
    out = np.empty((n_videos, n_videos), dtype=matrix.dtype)
    # Whole videos per chunk so reduceat never straddles a chunk boundary.
    for v_start in range(0, n_videos, _VIDEO_CHUNK):
        v_stop = min(v_start + _VIDEO_CHUNK, n_videos)
        row_start = starts[v_start]
        row_stop = starts[v_stop] if v_stop < n_videos else order.size
        rows = matrix[order[row_start:row_stop]]
        out[v_start:v_stop] = np.maximum.reduceat(rows, starts[v_start:v_stop] - row_start, axis=0)
    return out


def multi_caption_retrieval_metrics(sim: np.ndarray,
                                    text_video_index: Sequence[int] | np.ndarray) -> dict[str, float]:
    """Multi-caption protocol (MSVD): several texts per video, ``text_video_index[i]`` = video of text i.

    t2v ranks each caption's own video among all videos; MdR is the lower middle value and
    R@K is computed in float32, as CLIP4Clip's torch path does. v2t first takes, for each
    video, the max similarity over each video's captions, then ranks that square matrix with
    the square conventions (numpy median).
    """
    matrix = _as_matrix(sim)
    index = _validate_index(text_video_index, matrix.shape)
    t2v, _ = tie_counts(matrix, row_targets=index)  # raises on NaN or infinity first
    out = summarize_ranks(t2v, "t2v", torch_style=True)
    per_video = video_caption_max(matrix, index)
    # per_video[v, j] is caption-group v vs video j; v2t ranks groups for each video j.
    _, v2t = tie_counts(per_video, col_targets=np.arange(per_video.shape[0]))
    out.update(summarize_ranks(v2t, "v2t"))
    return out


def paragraph_retrieval_metrics(sim: np.ndarray) -> dict[str, float]:
    """Paragraph protocol (DiDeMo, ActivityNet Captions): one paragraph per video, i.e. square."""
    return retrieval_metrics(sim)


def rank_outcomes(ranks: TiedRanks, prefix: str, *, torch_style: bool = False) -> dict[str, tuple[np.ndarray, str]]:
    """Per query: R@K (percent, the expectation over its ties) and its expected rank, each with
    the statistic that gives :func:`summarize_ranks`'s value (the mean; the median for MdR,
    the lower middle value in CLIP4Clip's torch path)."""
    higher, tied = ranks.higher.astype(np.float64), ranks.tied.astype(np.float64)
    out = {f"{prefix}/R@{k}": (100.0 * np.clip((k - higher) / (tied + 1), 0, 1), "mean") for k in RECALL_KS}
    out[f"{prefix}/MdR"] = (ranks.expected_rank.astype(np.float64), "lower_median" if torch_style else "median")
    out[f"{prefix}/MnR"] = (ranks.expected_rank.astype(np.float64), "mean")
    return out


def retrieval_outcomes(sim: np.ndarray, text_video_index: Sequence[int] | np.ndarray | None = None
                       ) -> dict[str, tuple[np.ndarray, str]]:
    """The metrics of :func:`retrieval_metrics` (``text_video_index`` None) or
    :func:`multi_caption_retrieval_metrics` per query: t2v per text, v2t per video."""
    matrix = _as_matrix(sim)
    if text_video_index is None:
        diagonal = np.arange(matrix.shape[0])
        t2v, v2t = tie_counts(matrix, row_targets=diagonal, col_targets=diagonal)
        return {**rank_outcomes(t2v, "t2v"), **rank_outcomes(v2t, "v2t")}
    index = _validate_index(text_video_index, matrix.shape)
    t2v, _ = tie_counts(matrix, row_targets=index)
    per_video = video_caption_max(matrix, index)
    _, v2t = tie_counts(per_video, col_targets=np.arange(per_video.shape[0]))
    return {**rank_outcomes(t2v, "t2v", torch_style=True), **rank_outcomes(v2t, "v2t")}
