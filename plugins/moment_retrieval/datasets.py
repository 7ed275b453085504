"""Per-dataset adapters: which annotation files a moment-retrieval task reads, and query grouping.

Each adapter returns :class:`tempvl_core.data.records.MomentQuery` lists plus the files it read.
``protocol`` picks the metric: ``single`` (2D-TAN, one ground-truth window per query) or
``qvhighlights`` (Moment-DETR, several windows per query and per-clip saliency).
Evaluation decodes each video once: :func:`group_by_video` gathers a video's queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from tempvl_core.data import split_loader

from tempvl_core.data.records import MomentQuery


@dataclass(frozen=True)
class MomentAdapter:
    description: str
    protocol: str
    #: (annotation folder, split) -> (queries, annotation files read)
    load: Callable[[Path, str], tuple[list[MomentQuery], list[Path]]]


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


def group_by_video(queries: Sequence[MomentQuery]) -> list[VideoGroup]:
    """Videos in order of first appearance, each with its queries in list order."""
    order: dict[str, list[int]] = {}
    names: dict[str, str] = {}
    for i, query in enumerate(queries):
        order.setdefault(query.video_id, []).append(i)
        names.setdefault(query.video_id, query.video_name)
    return [VideoGroup(vid, names[vid], tuple(idx), queries[idx[0]].duration) for vid, idx in order.items()]


def _qvhighlights(root: Path, split: str):
    queries, files = split_loader("qvhighlights", "moments")(root, split)
    path = files[0]
    unlabelled = [q.query_id for q in queries if not q.windows]
    if unlabelled:
        # The public test file has no labels; scoring it needs the evaluation server or the
        # later released highlight_test_with_gt.jsonl, which the loader does not read.
        raise ValueError(f"{path}: {len(unlabelled)} queries have no relevant_windows (first qid "
                         f"{unlabelled[0]}); evaluate a split with ground truth, e.g. splits.eval=val")
    return queries, files


ADAPTERS: dict[str, MomentAdapter] = {
    "charades-sta": MomentAdapter(
        "Charades-STA moment retrieval (2D-TAN protocol)", "single", split_loader("charades-sta", "moments")),
    "anet-captions": MomentAdapter(
        "ActivityNet Captions moment retrieval (2D-TAN protocol)", "single", split_loader("anet-captions", "moments")),
    "qvhighlights": MomentAdapter(
        "QVHighlights moment retrieval and highlight detection (Moment-DETR protocol)", "qvhighlights", _qvhighlights
    ),
}
