"""The one table of benchmark families: what the harness knows about each built-in family.

A family's name is the ``family:`` key of its task files and the ``family`` of its results.json
records; the same name is ``tempvl-bench score --family NAME``. Each entry says which annotation
kind its splits hold (``validate``, ``check-videos``), its canonical metric names per protocol
(a task file's ``metrics:`` is checked against them) and how ``score`` reads and scores its
prediction and ground-truth files (formats: docs/metrics.md). Adding a family is adding an entry.

A task family from a third-party plugin need not be here: its task file then sets
``splits.train_kind``/``eval_kind`` and its ``TaskFamily.metric_names`` lists its metrics.

Importing this module is cheap (no numpy): readers and metrics are imported on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

__all__ = ["FAMILIES", "Family", "ScoreRequest"]


@dataclass(frozen=True)
class ScoreRequest:
    """What ``tempvl-bench score`` was given (the protocol already checked against the family's)."""

    predictions: Path
    ground_truth: Path | None = None
    #: One of the family's protocols, or None for the family's default.
    protocol: str | None = None
    #: TAL: the ground-truth subset evaluated.
    subset: str = "validation"
    #: QA: a JSON list of the allowed answers.
    answer_vocab: Path | None = None


@dataclass(frozen=True)
class Family:
    """One benchmark family (see the module docstring)."""

    name: str
    #: Annotation kind its splits hold by default (``tempvl_core.data.catalogue``).
    annotation_kind: str
    #: ``--protocol`` values ``score`` accepts; the first is the default (none: no protocols).
    protocols: tuple[str, ...]
    #: protocol -> canonical metric names (called with a protocol of :attr:`protocols`, or None).
    names: Callable[[str | None], tuple[str, ...]]
    #: Reads the prediction file; raises :class:`ScoreInputError` naming the file and entry.
    read_predictions: Callable[[Path], Any]
    #: Reads the ground-truth file, given what the prediction file held and the request.
    read_ground_truth: Callable[[Path, Any, ScoreRequest], Any]
    #: Metrics of the predictions against the ground truth (None: none was given).
    scorer: Callable[[Any, Any, ScoreRequest], dict[str, float]]
    #: The prediction file's format, for ``score --help``.
    predictions_format: str
    #: False when ``score`` can score without a ground-truth file (square retrieval).
    needs_ground_truth: bool = True
    #: The default protocol when a ground-truth file is given, if not the first.
    protocol_with_ground_truth: str | None = None

    def protocol(self, requested: str | None, has_ground_truth: bool = False) -> str | None:
        """``requested`` checked against :attr:`protocols`, or the default (None: no protocols)."""
        if requested is None:
            if has_ground_truth and self.protocol_with_ground_truth:
                return self.protocol_with_ground_truth
            return self.protocols[0] if self.protocols else None
        if requested not in self.protocols:
            from tempvl_bench.metrics.jsonio import ScoreInputError

            raise ScoreInputError("--protocol", f"unknown protocol {requested!r} for {self.name}; "
                                                f"expected one of {list(self.protocols) or ['(none)']}")
        return requested

    def metric_names(self, protocol: str | None = None) -> tuple[str, ...]:
        """The canonical metric names of this family under ``protocol`` (None: the default)."""
        if protocol is not None and protocol not in self.protocols:
            raise ValueError(f"family {self.name!r} has no protocol {protocol!r}; expected one of "
                             f"{list(self.protocols) or ['(none)']}")
        return self.names(protocol if protocol is not None else self.protocol(None))


def _names(attr: str) -> Callable[[str | None], tuple[str, ...]]:
    """The same names under every protocol: ``attr`` of :mod:`tempvl_bench.metrics.names`."""

    def names(protocol: str | None) -> tuple[str, ...]:
        from tempvl_bench.metrics import names as canonical

        return getattr(canonical, attr)

    return names


def _read(function: str) -> Callable[..., Any]:
    """A reader of :mod:`tempvl_bench.metrics.files`, imported on first use (it imports numpy)."""

    def read(path: Path, *_: Any) -> Any:
        from tempvl_bench.metrics import files

        return getattr(files, function)(path)

    read.__name__ = function
    return read


# --- retrieval ---------------------------------------------------------------------------------


def _read_text_video_index(path: Path, similarity: Any, request: ScoreRequest) -> Any:
    from tempvl_bench.metrics.files import load_text_video_index

    return load_text_video_index(path, similarity.shape[0], similarity.shape[1])


def _score_retrieval(similarity: Any, index: Any, request: ScoreRequest) -> dict[str, float]:
    import numpy as np

    from tempvl_bench.metrics.jsonio import ScoreInputError
    from tempvl_bench.metrics.retrieval import multi_caption_retrieval_metrics, retrieval_metrics

    if request.protocol == "multi-caption" and index is None:
        raise ScoreInputError("--ground-truth", "the multi-caption protocol needs each text's video index")
    if request.protocol != "multi-caption":
        if similarity.shape[0] != similarity.shape[1]:
            raise ScoreInputError(request.predictions, f"square retrieval needs as many texts as videos, got "
                                                       f"{similarity.shape}; pass --ground-truth for several captions "
                                                       "per video")
        if index is not None and not np.array_equal(index, np.arange(similarity.shape[0])):
            raise ScoreInputError(request.ground_truth, "square protocol: text i must describe video i")
    try:  # the index is checked: what the metric refuses (NaN, infinity) is in the matrix
        if request.protocol == "multi-caption":
            return multi_caption_retrieval_metrics(similarity, index)
        return retrieval_metrics(similarity)
    except ValueError as err:
        raise ScoreInputError(request.predictions, str(err)) from None


# --- captioning, question answering ----------------------------------------------------------


def _score_captioning(predictions: Any, references: Any, request: ScoreRequest) -> dict[str, float]:
    from tempvl_bench.metrics.captioning import caption_metrics

    return caption_metrics(predictions, references)[0]


def _score_qa(predictions: Any, truth: Any, request: ScoreRequest) -> dict[str, float]:
    from tempvl_bench.metrics.files import load_answer_vocab
    from tempvl_bench.metrics.qa import qa_metrics

    vocab = None if request.answer_vocab is None else load_answer_vocab(request.answer_vocab)
    return qa_metrics(predictions, truth, vocab)


# --- temporal action localization ------------------------------------------------------------


def _tal_names(protocol: str | None) -> tuple[str, ...]:
    from tempvl_bench.metrics.names import tal_names
    from tempvl_bench.metrics.tal import TAL_PROTOCOLS

    return tal_names(TAL_PROTOCOLS[protocol])


def _read_tal_ground_truth(path: Path, predictions: Any, request: ScoreRequest) -> Any:
    from tempvl_bench.metrics.tal_files import load_tal_ground_truth

    return load_tal_ground_truth(path, request.subset)


def _score_tal(predictions: Any, truth: Any, request: ScoreRequest) -> dict[str, float]:
    from tempvl_bench.metrics.tal import tal_metrics

    return tal_metrics(truth, predictions, protocol=request.protocol)


# --- moment retrieval ----------------------------------------------------------------------


def _moment_names(protocol: str | None) -> tuple[str, ...]:
    from tempvl_bench.metrics.names import MOMENT_SINGLE, QVHIGHLIGHTS

    return MOMENT_SINGLE if protocol == "single" else QVHIGHLIGHTS


def _score_moments(predictions: Any, queries: Any, request: ScoreRequest) -> dict[str, float]:
    from tempvl_bench.metrics.jsonio import ScoreInputError
    from tempvl_bench.metrics.moment import moment_metrics_single, qvhighlights_metrics

    if request.protocol == "qvhighlights":
        return qvhighlights_metrics(predictions, queries)
    ground_truth = {}
    for query in queries:  # the reader refused repeated qids and non-positive durations
        if len(query.windows) != 1:
            raise ScoreInputError(request.ground_truth, f"qid {query.qid}: the single-moment protocol needs exactly "
                                                        f"one relevant window, got {len(query.windows)}")
        start, end = query.windows[0]
        # 2D-TAN clips the ground truth to the video when loading it.
        clipped = (max(0.0, start), min(query.duration, end))
        if clipped[1] < clipped[0]:
            raise ScoreInputError(request.ground_truth, f"qid {query.qid}: relevant window [{start}, {end}] lies "
                                                        f"outside the video (duration {query.duration})")
        ground_truth[query.qid] = clipped
    ranked = {pred.qid: pred.windows[:, :2] for pred in predictions}  # qids unique, windows ordered
    return moment_metrics_single(ranked, ground_truth)


# --- the table ----------------------------------------------------------------------------------

#: Family name -> its entry; the names are those of ``family:`` in ``tasks/*.yaml``.
FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("retrieval", "retrieval", ("square", "paragraph", "multi-caption"), _names("RETRIEVAL"),
           _read("load_similarity"), _read_text_video_index, _score_retrieval,
           "a .npy matrix, texts x videos", needs_ground_truth=False, protocol_with_ground_truth="multi-caption"),
    Family("captioning", "captioning", (), _names("CAPTIONING"),
           _read("load_caption_predictions"), _read("load_caption_references"), _score_captioning,
           "a COCO results list"),
    Family("qa", "qa", (), _names("QA"),
           _read("load_qa_predictions"), _read("load_qa_ground_truth"), _score_qa,
           "{question_id: answer}"),
    Family("tal", "action", ("activitynet", "thumos14"), _tal_names,
           _read("load_tal_predictions"), _read_tal_ground_truth, _score_tal,
           "{\"results\": ...}"),
    Family("moment-retrieval", "moments", ("qvhighlights", "single"), _moment_names,
           _read("load_moment_predictions"), _read("load_moment_ground_truth"), _score_moments,
           "Moment-DETR JSONL"),
)}

