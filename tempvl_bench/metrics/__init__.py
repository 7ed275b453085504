"""Metrics for every benchmark family, matching the official evaluators (docs/metrics.md).

One implementation per family, shared by the plugins, the ``score`` command and the tests.
Names are imported on first use: ``score --family tal`` loads the TAL modules only.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "captioning": ("CaptionScorer", "caption_metrics", "caption_outcomes", "best_constant_caption"),
    "moment": ("MomentPrediction", "MomentQuery", "moment_metrics_single", "nms_keep", "qvhighlights_metrics",
               "moment_outcomes_single", "qvhighlights_outcomes"),
    "families": ("FAMILIES", "Family"),
    "names": ("format_threshold", "metric_direction"),
    "qa": ("QAItem", "qa_metrics", "qa_outcomes", "prediction_credit", "top_answer", "top_choices"),
    "retrieval": ("multi_caption_retrieval_metrics", "paragraph_retrieval_metrics", "retrieval_metrics",
                  "retrieval_outcomes"),
    "tal": ("TAL_PROTOCOLS", "SegmentTable", "tal_metrics", "tal_outcomes", "tal_class_ap"),
}
#: Exported name -> (module, name there).
_EXPORTS = {name: (module, name) for module, names in _HOMES.items() for name in names}
_EXPORTS["QAPrediction"] = ("qa", "Prediction")

__all__ = [
    "CaptionScorer",
    "caption_metrics",
    "caption_outcomes",
    "best_constant_caption",
    "QAItem",
    "QAPrediction",
    "qa_metrics",
    "prediction_credit",
    "top_answer",
    "top_choices",
    "FAMILIES",
    "Family",
    "format_threshold",
    "metric_direction",
    "MomentPrediction",
    "MomentQuery",
    "moment_metrics_single",
    "nms_keep",
    "qvhighlights_metrics",
    "multi_caption_retrieval_metrics",
    "paragraph_retrieval_metrics",
    "retrieval_metrics",
    "SegmentTable",
    "TAL_PROTOCOLS",
    "tal_metrics",
    "retrieval_outcomes",
    "qa_outcomes",
    "moment_outcomes_single",
    "qvhighlights_outcomes",
    "tal_outcomes",
    "tal_class_ap",
]


def __getattr__(name: str) -> Any:
    if name in _HOMES:  # a submodule (``metrics.tal``), imported on first access like the names
        return importlib.import_module(f"{__name__}.{name}")
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    value = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
