"""``tempvl-bench score``: score a prediction file against ground truth, offline.

Prints one JSON object (canonical metric name -> number; ``null`` for an undefined value such as
an empty QVHighlights length bucket) and writes it to ``--output`` when given. Malformed input
exits with status 2 and a message naming the file and the problem. File formats: docs/metrics.md.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from tempvl_core.atomic import write_atomic

from tempvl_bench.metrics import files
from tempvl_bench.metrics.files import ScoreInputError
from tempvl_bench.metrics.jsonio import gc_paused
from tempvl_bench.metrics.tal import TAL_PROTOCOLS

FAMILIES = ("retrieval", "captioning", "qa", "tal", "mr")
PROTOCOLS: dict[str, tuple[str, ...]] = {
    "retrieval": ("square", "paragraph", "multi-caption"),
    "tal": tuple(TAL_PROTOCOLS),
    "mr": ("qvhighlights", "single"),
}

__all__ = ["ScoreInputError", "configure_parser", "run", "score"]


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``score`` options to ``parser``."""
    parser.add_argument("--family", required=True, choices=FAMILIES, help="benchmark family")
    parser.add_argument("--predictions", required=True, type=Path, metavar="FILE",
                        help="retrieval: .npy texts x videos; captioning: COCO results list; qa: "
                             "{question_id: answer}; tal: {\"results\": ...}; mr: Moment-DETR JSONL")
    parser.add_argument("--ground-truth", type=Path, metavar="FILE",
                        help="required except for square retrieval (retrieval: JSON list of each "
                             "text's video index)")
    parser.add_argument("--protocol", metavar="NAME",
                        help="retrieval: square|paragraph|multi-caption; tal: activitynet|thumos14; "
                             "mr: qvhighlights|single")
    parser.add_argument("--subset", default="validation", metavar="NAME",
                        help="tal: ground-truth subset to evaluate (default: validation)")
    parser.add_argument("--answer-vocab", type=Path, metavar="FILE", help="qa: JSON list of allowed answers")
    parser.add_argument("--output", type=Path, metavar="FILE", help="also write the JSON object here")


def _protocol(family: str, requested: str | None, default: str) -> str:
    choices = PROTOCOLS.get(family, ())
    if requested is None:
        return default
    if requested not in choices:
        raise ScoreInputError("--protocol", f"unknown protocol {requested!r} for {family}; "
                                            f"expected one of {list(choices) or ['(none)']}")
    return requested


def _need_gt(args: argparse.Namespace) -> Path:
    if args.ground_truth is None:
        raise ScoreInputError("--ground-truth", f"--family {args.family} needs a ground-truth file")
    return args.ground_truth


def _retrieval(args: argparse.Namespace) -> dict[str, float]:
    from tempvl_bench.metrics import multi_caption_retrieval_metrics, retrieval_metrics

    sim = files.load_similarity(args.predictions)
    index = (None if args.ground_truth is None
             else files.load_text_video_index(args.ground_truth, sim.shape[0], sim.shape[1]))
    protocol = _protocol("retrieval", args.protocol, "square" if index is None else "multi-caption")
    if protocol == "multi-caption" and index is None:
        raise ScoreInputError("--ground-truth", "the multi-caption protocol needs each text's video index")
    if protocol != "multi-caption":
        if sim.shape[0] != sim.shape[1]:
            raise ScoreInputError(args.predictions, f"square retrieval needs as many texts as videos, got "
                                                    f"{sim.shape}; pass --ground-truth for several captions per video")
        if index is not None and not np.array_equal(index, np.arange(sim.shape[0])):
            raise ScoreInputError(args.ground_truth, "square protocol: text i must describe video i")
    try:  # the index is checked: what the metric refuses (NaN, infinity) is in the matrix
        return multi_caption_retrieval_metrics(sim, index) if protocol == "multi-caption" else retrieval_metrics(sim)
    except ValueError as err:
        raise ScoreInputError(args.predictions, str(err)) from None


def _captioning(args: argparse.Namespace) -> dict[str, float]:
    from tempvl_bench.metrics import caption_metrics

    _protocol("captioning", args.protocol, "")
    corpus, _ = caption_metrics(files.load_caption_predictions(args.predictions),
                                files.load_caption_references(_need_gt(args)))
    return corpus


def _qa(args: argparse.Namespace) -> dict[str, float]:
    from tempvl_bench.metrics import qa_metrics

    _protocol("qa", args.protocol, "")
    vocab = None if args.answer_vocab is None else files.load_answer_vocab(args.answer_vocab)
    return qa_metrics(files.load_qa_predictions(args.predictions), files.load_qa_ground_truth(_need_gt(args)), vocab)


def _tal(args: argparse.Namespace) -> dict[str, float]:
    from tempvl_bench.metrics import tal_metrics

    protocol = _protocol("tal", args.protocol, "activitynet")
    truth = files.load_tal_ground_truth(_need_gt(args), args.subset)
    return tal_metrics(truth, files.load_tal_predictions(args.predictions), protocol=protocol)


def _mr(args: argparse.Namespace) -> dict[str, float]:
    from tempvl_bench.metrics import moment_metrics_single, qvhighlights_metrics

    protocol = _protocol("mr", args.protocol, "qvhighlights")
    gt_path = _need_gt(args)
    queries = files.load_moment_ground_truth(gt_path)
    predictions = files.load_moment_predictions(args.predictions)
    if protocol == "qvhighlights":
        return qvhighlights_metrics(predictions, queries)
    ground_truth = {}
    for query in queries:  # the reader refused repeated qids and non-positive durations
        if len(query.windows) != 1:
            raise ScoreInputError(gt_path, f"qid {query.qid}: the single-moment protocol needs exactly one "
                                           f"relevant window, got {len(query.windows)}")
        start, end = query.windows[0]
        # 2D-TAN clips the ground truth to the video when loading it.
        clipped = (max(0.0, start), min(query.duration, end))
        if clipped[1] < clipped[0]:
            raise ScoreInputError(gt_path, f"qid {query.qid}: relevant window [{start}, {end}] lies outside the "
                                           f"video (duration {query.duration})")
        ground_truth[query.qid] = clipped
    ranked = {pred.qid: pred.windows[:, :2] for pred in predictions}  # qids unique, windows ordered
    return moment_metrics_single(ranked, ground_truth)


SCORERS: dict[str, Callable[[argparse.Namespace], dict[str, float]]] = {
    "retrieval": _retrieval, "captioning": _captioning, "qa": _qa, "tal": _tal, "mr": _mr,
}


def score(args: argparse.Namespace) -> dict[str, float]:
    """Metrics for the parsed arguments; raises :class:`ScoreInputError` on malformed input."""
    try:
        with gc_paused():  # millions of small objects on large files: see jsonio.gc_paused
            return SCORERS[args.family](args)
    except ScoreInputError:
        raise
    except ValueError as err:  # the metric functions' consistency checks (unknown ids, shapes, ...)
        where = args.predictions if args.ground_truth is None else f"{args.predictions} vs {args.ground_truth}"
        raise ScoreInputError(where, str(err)) from None


def _jsonable(metrics: dict[str, float]) -> dict[str, float | None]:
    return {k: (None if isinstance(v, float) and math.isnan(v) else float(v)) for k, v in metrics.items()}


def run(args: argparse.Namespace) -> int:
    """Score, print the JSON object on stdout, write ``--output``; 2 on malformed input."""
    try:
        if args.output is not None and args.output.is_dir():  # refuse before the work, not after
            raise ScoreInputError(args.output, "--output is a directory; give a file name such as metrics.json")
        metrics = score(args)
        text = json.dumps(_jsonable(metrics), indent=2, allow_nan=False)
        print(text)
        if args.output is not None:
            _write_output(args.output, text + "\n")
    except ScoreInputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def _write_output(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text)  # a killed or failed write never leaves a truncated file
    except OSError as err:
        raise ScoreInputError(path, f"cannot write --output ({err.strerror or err})") from None
