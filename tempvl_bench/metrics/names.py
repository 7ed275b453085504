"""Canonical metric names and which direction is better.

Every result file, table and log uses these names (see docs/metrics.md); which family reports
which of them, under which protocol, is in the table of :mod:`tempvl_bench.metrics.families`. Units: recalls,
accuracies, mAPs and mIoU in percent; captioning on pycocoevalcap's scale; ranks as numbers.
"""

from __future__ import annotations

from typing import Literal, Sequence

Direction = Literal["higher", "lower"]

RETRIEVAL: tuple[str, ...] = tuple(
    f"{side}/{metric}"
    for side in ("t2v", "v2t")
    for metric in ("R@1", "R@5", "R@10", "MdR", "MnR")
)

CAPTIONING: tuple[str, ...] = (
    "cap/BLEU@1", "cap/BLEU@2", "cap/BLEU@3", "cap/BLEU@4",
    "cap/METEOR", "cap/ROUGE-L", "cap/CIDEr",
)

#: Question-answering names; per-type accuracies are ``qa/acc/<type>`` on top of these.
QA: tuple[str, ...] = ("qa/acc",)

MOMENT_SINGLE: tuple[str, ...] = (
    "mr/R1@0.3", "mr/R1@0.5", "mr/R1@0.7",
    "mr/R5@0.3", "mr/R5@0.5", "mr/R5@0.7",
    "mr/mIoU",
)

QVHIGHLIGHTS: tuple[str, ...] = (
    "mr/R1@0.5", "mr/R1@0.7",
    "mr/mAP@0.5", "mr/mAP@0.75", "mr/mAP@avg",
    "mr/mAP-short", "mr/mAP-middle", "mr/mAP-long",
    "hd/mAP", "hd/HIT@1",
    "hd/mAP@Fair", "hd/HIT@1@Fair", "hd/mAP@Good", "hd/HIT@1@Good",
)


def format_threshold(threshold: float) -> str:
    """Shortest decimal for a threshold in a metric name: 0.8999999999999999 -> ``0.9``.

    Only the name is rounded; computations keep the exact float.
    """
    text = f"{round(float(threshold), 6):.6f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def tal_names(thresholds: Sequence[float]) -> tuple[str, ...]:
    """``tal/mAP@<t>`` for each threshold, then ``tal/mAP@avg``."""
    return tuple(f"tal/mAP@{format_threshold(t)}" for t in thresholds) + ("tal/mAP@avg",)


_LOWER_IS_BETTER_SUFFIXES = ("/MdR", "/MnR")


def metric_direction(name: str) -> Direction:
    """``"lower"`` for median/mean rank (``*/MdR``, ``*/MnR``), ``"higher"`` for everything else."""
    return "lower" if name.endswith(_LOWER_IS_BETTER_SUFFIXES) else "higher"
