"""Per-dataset adapters: which annotation files a moment-retrieval task reads, and query grouping.

The queries (:class:`tempvl_core.data.records.MomentQuery`) are read through the dataset
catalogue (kind ``moments``) and must have ground truth (:func:`require_ground_truth`).
``protocol`` picks the metric: ``single`` (2D-TAN, one ground-truth window per query) or
``qvhighlights`` (Moment-DETR, several windows per query and per-clip saliency).
Evaluation decodes each video once: :func:`group_queries_by_video` gathers a video's queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from tempvl_core.data.records import MomentQuery


@dataclass(frozen=True)
class MomentAdapter:
    description: str
    protocol: str


@dataclass(frozen=True)
class VideoGroup:
    """One video and the indices (into the query list) of the queries asked about it.

    ``video_name`` is what :class:`tempvl_bench.run.clips.ClipLoaderFactory` looks the file up by.
    """

    video_id: str
    video_name: str
    queries: tuple[int, ...]
    #: The video's length from its first query's annotation (None when not given); a feature
    #: pack's row checks and time bases use it.
    duration: float | None = None


def group_queries_by_video(queries: Sequence[MomentQuery]) -> list[VideoGroup]:
    """Videos in order of first appearance, each with its queries in list order."""
    order: dict[str, list[int]] = {}
    names: dict[str, str] = {}
    for i, query in enumerate(queries):
        order.setdefault(query.video_id, []).append(i)
        names.setdefault(query.video_id, query.video_name)
    return [VideoGroup(vid, names[vid], tuple(idx), queries[idx[0]].duration) for vid, idx in order.items()]


def require_ground_truth(queries: Sequence[MomentQuery], files: Sequence[Path]) -> None:
    """Refuse a split whose queries lack ground-truth windows: QVHighlights' public test file has
    none, and scoring it needs the evaluation server or the later released
    ``highlight_test_with_gt.jsonl``, which the catalogue does not read."""
    unlabelled = [q.query_id for q in queries if not q.windows]
    if unlabelled:
        raise ValueError(f"{files[0]}: {len(unlabelled)} queries have no relevant_windows (first qid "
                         f"{unlabelled[0]}); evaluate a split with ground truth, e.g. splits.eval=val")


#: Dataset (catalogue name, also the task's ``dataset`` key) -> adapter.
ADAPTERS: dict[str, MomentAdapter] = {
    "charades-sta": MomentAdapter("Charades-STA moment retrieval (2D-TAN protocol)", "single"),
    "anet-captions": MomentAdapter("ActivityNet Captions moment retrieval (2D-TAN protocol)", "single"),
    "qvhighlights": MomentAdapter(
        "QVHighlights moment retrieval and highlight detection (Moment-DETR protocol)", "qvhighlights"),
}
