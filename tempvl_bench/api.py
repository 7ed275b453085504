"""The public API for plugin authors: one import, as ``import pytest`` is for pytest plugins.

``from tempvl_bench.api import hookimpl, TaskSpec, TaskFamily, Split, Scores, ...`` gives the
hook marker, the registries' spec types, the run context, the family steps' types, the dataset
catalogue (``catalogue.load`` reads a split's annotations), the video encoding function,
finetuning helpers and the metric functions. Plugins import nothing else from the harness;
anything not listed here is internal and may change.

Importing this module is cheap: names that pull in numpy or torch (metrics, finetuning,
encoding) are loaded on first use, so a plugin's ``__init__`` may import it at entry-point
load time without slowing down ``tempvl-bench list``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tempvl_bench import hookimpl
from tempvl_bench.plugin.capabilities import (
    CAPABILITIES,
    CLIP_EMBEDDINGS,
    FINETUNING,
    FRAME_EMBEDDINGS,
    GENERATION,
    GROUNDING,
    MATCHING,
    similarity,
)
from tempvl_bench.config import ConfigError, TaskConfig, builtin_task_file, checked, options_from_mapping
from tempvl_bench.run.family import NoOptions, Scores, Split, TaskFamily
from tempvl_bench.plugin.registry import (
    BackboneOptions,
    BackboneRegistry,
    BackboneSpec,
    ModelIdentity,
    ModelOptions,
    ModelRegistry,
    ModelSpec,
    TaskRegistry,
    TaskSpec,
    TextEncoderRegistry,
    TextEncoderSpec,
)
from tempvl_bench.run.types import RunContext, RunOptions, TaskOutput

#: name -> module of the names loaded on first use (they import numpy or torch).
_LAZY = {
    # video encoding (the one function a feature cache wraps) and clip loading
    "encode_videos": "tempvl_bench.run.encoding",
    "frame_features": "tempvl_bench.run.encoding",
    "ClipLoaderFactory": "tempvl_bench.run.clips",
    # annotations (the dataset catalogue: catalogue.load reads a split) and results files
    "catalogue": "tempvl_core.data.catalogue",
    "write_json_atomic": "tempvl_bench.report.results",
    # finetuning
    "finetune": "tempvl_bench.run.finetune",
    "finetune_vtc": "tempvl_bench.run.finetune",
    "trainable_parameters": "tempvl_bench.run.finetune",
    "EpochLog": "tempvl_bench.run.finetune",
    # per-query outcomes (intervals, paired tests) and trivial predictors (baselines)
    "Outcomes": "tempvl_bench.report.uncertainty",
    **{name: "tempvl_bench.metrics.priors" for name in (
        "best_constant_window", "sampled_prior_windows", "majority", "class_prior_segments", "frame_windows",
        "window_iou")},
    **{name: "tempvl_bench.metrics.grounding" for name in ("grounding_diagnostics",)},
    # metrics: one implementation per family
    **{
        name: "tempvl_bench.metrics"
        for name in (
            "caption_metrics", "caption_outcomes", "best_constant_caption", "CaptionScorer", "QAGroundTruth",
            "QAPrediction", "qa_metrics", "prediction_credit",
            "top_answer", "top_choices", "MomentPrediction", "MomentGroundTruth", "moment_metrics_single",
            "qvhighlights_metrics", "nms_keep", "retrieval_metrics", "multi_caption_retrieval_metrics",
            "paragraph_retrieval_metrics", "tal_metrics", "TAL_PROTOCOLS", "SegmentTable",
            "metric_direction", "format_threshold", "FAMILIES", "retrieval_outcomes", "qa_outcomes",
            "moment_outcomes_single", "qvhighlights_outcomes", "tal_outcomes", "tal_class_ap",
        )
    },
}

#: The lazy names that are modules themselves, not a name inside one.
_MODULES = frozenset({"catalogue"})

__all__ = [
    "hookimpl",
    "BackboneOptions", "BackboneRegistry", "BackboneSpec", "TaskRegistry", "TaskSpec", "TextEncoderRegistry",
    "TextEncoderSpec",
    "ModelSpec", "ModelOptions", "ModelIdentity", "ModelRegistry",
    "CAPABILITIES", "CLIP_EMBEDDINGS", "FRAME_EMBEDDINGS", "GENERATION", "FINETUNING", "GROUNDING", "MATCHING",
    "similarity",
    "RunContext", "RunOptions", "TaskOutput",
    "TaskFamily", "Split", "Scores", "NoOptions",
    "ConfigError", "TaskConfig", "builtin_task_file", "checked", "options_from_mapping",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tempvl_bench.api' has no attribute {name!r}")
    imported = importlib.import_module(module)
    value = imported if name in _MODULES else getattr(imported, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # the lazy names, for type checkers and editors
    from tempvl_core.data import catalogue
    from tempvl_bench.run.clips import ClipLoaderFactory
    from tempvl_bench.run.encoding import encode_videos, frame_features
    from tempvl_bench.run.finetune import EpochLog, finetune, finetune_vtc, trainable_parameters
    from tempvl_bench.metrics import (
        FAMILIES,
        TAL_PROTOCOLS,
        CaptionScorer,
        MomentGroundTruth,
        MomentPrediction,
        QAGroundTruth,
        QAPrediction,
        SegmentTable,
        caption_metrics,
        format_threshold,
        metric_direction,
        moment_metrics_single,
        moment_outcomes_single,
        qa_outcomes,
        qvhighlights_outcomes,
        retrieval_outcomes,
        tal_class_ap,
        tal_outcomes,
        multi_caption_retrieval_metrics,
        nms_keep,
        paragraph_retrieval_metrics,
        prediction_credit,
        qa_metrics,
        qvhighlights_metrics,
        retrieval_metrics,
        tal_metrics,
        top_answer,
        top_choices,
    )
    from tempvl_bench.report.results import write_json_atomic
    from tempvl_bench.metrics.priors import (
        best_constant_window,
        class_prior_segments,
        frame_windows,
        majority,
        sampled_prior_windows,
        window_iou,
    )
    from tempvl_bench.metrics.grounding import grounding_diagnostics
    from tempvl_bench.report.uncertainty import Outcomes
