"""Text-video retrieval metrics with CLIP4Clip's conventions.

``sim[i, j]`` is the similarity of text ``i`` and video ``j``. Text-to-video (t2v) ranks
each row, video-to-text (v2t) ranks each column. Recalls are in percent; ranks are 1-based.

Ties: CLIP4Clip emits one rank entry per tied position, so its denominators can exceed the
number of queries. We give every query exactly one rank, ``1 + (number of strictly greater
scores)``, which equals the reference's first entry; for tie-free inputs the two agree exactly.

Memory: ranks are computed row-block by row-block (compare each block against its target
scores and count), so a 10,000 x 10,000 matrix never needs a sorted or negated copy.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

RECALL_KS: tuple[int, ...] = (1, 5, 10)

# Rows (or columns) compared at once; 512 x 10,000 booleans is ~5 MB.
_BLOCK = 512


def _as_matrix(sim: np.ndarray) -> np.ndarray:
    matrix = np.asarray(sim)
    if matrix.ndim != 2:
        raise ValueError(f"similarity matrix must be 2-D (texts x videos), got shape {matrix.shape}")
    if matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise ValueError(f"similarity matrix is empty: shape {matrix.shape}")
    if not np.issubdtype(matrix.dtype, np.number) or np.issubdtype(matrix.dtype, np.complexfloating):
        raise ValueError(f"similarity matrix must hold real numbers, got dtype {matrix.dtype}")
    if np.issubdtype(matrix.dtype, np.floating) and np.isnan(matrix).any():
        where = np.argwhere(np.isnan(matrix))[0].tolist()
        raise ValueError(f"similarity matrix contains NaN (first at [text, video] = {where})")
    return matrix


def row_ranks(matrix: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """1-based rank of ``matrix[i, targets[i]]`` within row ``i``: 1 + count of strictly greater."""
    n_rows = matrix.shape[0]
    ranks = np.empty(n_rows, dtype=np.int64)
    for start in range(0, n_rows, _BLOCK):
        stop = min(start + _BLOCK, n_rows)
        block = matrix[start:stop]
        own = block[np.arange(stop - start), targets[start:stop]]
        ranks[start:stop] = np.count_nonzero(block > own[:, None], axis=1) + 1
    return ranks


def column_ranks(matrix: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """1-based rank of ``matrix[targets[j], j]`` within column ``j``."""
    n_cols = matrix.shape[1]
    ranks = np.empty(n_cols, dtype=np.int64)
    for start in range(0, n_cols, _BLOCK):
        stop = min(start + _BLOCK, n_cols)
        block = matrix[:, start:stop]
        own = block[targets[start:stop], np.arange(stop - start)]
        ranks[start:stop] = np.count_nonzero(block > own[None, :], axis=0) + 1
    return ranks


def summarize_ranks(ranks: np.ndarray, prefix: str, *, torch_style: bool = False) -> dict[str, float]:
    """R@K (percent), MdR and MnR of 1-based ranks, under ``prefix`` (``t2v`` or ``v2t``).

    Default: CLIP4Clip's numpy ``compute_metrics`` (square case), which works on 0-based ranks:
    ``np.median(r0) + 1`` (mean of the two middle values for an even count), ``np.mean(r0) + 1``.
    ``torch_style``: its multi-caption torch path: lower middle value (``torch.median``), R@K in
    float32 (``int * 100 / n`` on tensors) and ``np.mean`` of the 1-based ranks.
    """
    ranks = np.asarray(ranks, dtype=np.int64)
    n = ranks.size
    if n == 0:
        raise ValueError("no ranks to summarize")
    out: dict[str, float] = {}
    for k in RECALL_KS:
        hits = int(np.count_nonzero(ranks <= k))
        if torch_style:
            out[f"{prefix}/R@{k}"] = float(np.float32(hits * 100) / np.float32(n))
        else:
            out[f"{prefix}/R@{k}"] = float(hits) * 100 / n
    if torch_style:
        out[f"{prefix}/MdR"] = float(np.sort(ranks)[(n - 1) // 2])
        out[f"{prefix}/MnR"] = float(np.mean(ranks))
    else:
        # Same float operations as the reference, so the last bit agrees too.
        out[f"{prefix}/MdR"] = float(np.median(ranks - 1) + 1)
        out[f"{prefix}/MnR"] = float(np.mean(ranks - 1) + 1)
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
    out = summarize_ranks(row_ranks(matrix, diagonal), "t2v")
    out.update(summarize_ranks(column_ranks(matrix, diagonal), "v2t"))
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
    for v_start in range(0, n_videos, _BLOCK):
        v_stop = min(v_start + _BLOCK, n_videos)
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
    out = summarize_ranks(row_ranks(matrix, index), "t2v", torch_style=True)
    per_video = video_caption_max(matrix, index)
    # per_video[v, j] is caption-group v vs video j; v2t ranks groups for each video j.
    diagonal = np.arange(per_video.shape[0])
    out.update(summarize_ranks(column_ranks(per_video, diagonal), "v2t"))
    return out


def paragraph_retrieval_metrics(sim: np.ndarray) -> dict[str, float]:
    """Paragraph protocol (DiDeMo, ActivityNet Captions): one paragraph per video, i.e. square."""
    return retrieval_metrics(sim)
