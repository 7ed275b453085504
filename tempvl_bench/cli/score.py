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

from tempvl_core.atomic import write_atomic

from tempvl_bench.metrics.families import FAMILIES, ScoreRequest
from tempvl_bench.metrics.files import ScoreInputError
from tempvl_bench.metrics.jsonio import gc_paused

__all__ = ["ScoreInputError", "configure_parser", "run", "score"]


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``score`` options to ``parser``; families and protocols come from the family table."""
    parser.add_argument("--family", required=True, choices=list(FAMILIES), help="benchmark family")
    parser.add_argument("--predictions", required=True, type=Path, metavar="FILE",
                        help="; ".join(f"{f.name}: {f.predictions_format}" for f in FAMILIES.values()))
    parser.add_argument("--ground-truth", type=Path, metavar="FILE",
                        help="required except for square retrieval (retrieval: JSON list of each "
                             "text's video index)")
    parser.add_argument("--protocol", metavar="NAME",
                        help="; ".join(f"{f.name}: {'|'.join(f.protocols)}" for f in FAMILIES.values() if f.protocols))
    parser.add_argument("--subset", default="validation", metavar="NAME",
                        help="tal: ground-truth subset to evaluate (default: validation)")
    parser.add_argument("--answer-vocab", type=Path, metavar="FILE", help="qa: JSON list of allowed answers")
    parser.add_argument("--output", type=Path, metavar="FILE", help="also write the JSON object here")


def _score(args: argparse.Namespace) -> dict[str, float]:
    family = FAMILIES[args.family]
    protocol = family.protocol(args.protocol, has_ground_truth=args.ground_truth is not None)
    if args.ground_truth is None and family.needs_ground_truth:
        raise ScoreInputError("--ground-truth", f"--family {args.family} needs a ground-truth file")
    request = ScoreRequest(args.predictions, args.ground_truth, protocol, args.subset, args.answer_vocab)
    predictions = family.read_predictions(args.predictions)
    truth = None if args.ground_truth is None else family.read_ground_truth(args.ground_truth, predictions, request)
    return family.scorer(predictions, truth, request)


def score(args: argparse.Namespace) -> dict[str, float]:
    """Metrics for the parsed arguments; raises :class:`ScoreInputError` on malformed input."""
    try:
        with gc_paused():  # millions of small objects on large files: see jsonio.gc_paused
            return _score(args)
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
