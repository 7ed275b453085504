"""Metrics for every benchmark family, matching the official evaluators (docs/metrics.md).

One implementation per family, shared by the plugins, the ``score`` command and the tests.
"""

from tempvl_bench.metrics.captioning import CaptionScorer, caption_metrics
from tempvl_bench.metrics.moment import (
    MomentPrediction,
    MomentQuery,
    moment_metrics_single,
    nms_keep,
    qvhighlights_metrics,
)
from tempvl_bench.metrics.names import FAMILY_NAMES, format_threshold, metric_direction
from tempvl_bench.metrics.qa import Prediction as QAPrediction
from tempvl_bench.metrics.qa import QAItem, prediction_credit, qa_metrics, top_answer, top_choices
from tempvl_bench.metrics.retrieval import (
    multi_caption_retrieval_metrics,
    paragraph_retrieval_metrics,
    retrieval_metrics,
)
from tempvl_bench.metrics.tal import TAL_PROTOCOLS, SegmentTable, tal_metrics

__all__ = [
    "CaptionScorer",
    "caption_metrics",
    "QAItem",
    "QAPrediction",
    "qa_metrics",
    "prediction_credit",
    "top_answer",
    "top_choices",
    "FAMILY_NAMES",
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
]
