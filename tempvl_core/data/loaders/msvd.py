"""MSVD: multi-caption retrieval, captioning and MSVD-QA.

Files (``<root>/``): ``raw-captions.pkl`` (``{clip_id: [[token, ...], ...]}``, read with the
restricted unpickler), split lists ``{train,val,test}_list.txt`` (clip ids, maybe without a
final newline), ``youtube_mapping.txt`` (``<clip_id> vid<N>`` per line, maybe CRLF) and
``{train,val,test}_qa.json`` (``[{"answer", "id", "question", "video_id": N}]``, N -> ``vidN``).
Videos: ``YouTubeClips/<clip_id>.avi``; ``video_name`` is ``<clip_id>.avi``.
"""

from __future__ import annotations

from pathlib import Path

from tempvl_core.data.errors import AnnotationError
from tempvl_core.data.loaders._io import (
    int_field, str_field, question_type, read_json, read_lines, read_name_list,
)
from tempvl_core.data.records import CaptionItem, LoadResult, QAItem, RetrievalItem
from tempvl_core.data.safe_pickle import safe_load_pickle

SPLITS = ("train", "val", "test")


def read_msvd_captions(pkl: Path) -> dict[str, tuple[str, ...]]:
    """Clip id -> captions (tokens joined with spaces), from ``raw-captions.pkl``."""
    data = safe_load_pickle(pkl)
    if not isinstance(data, dict):
        raise AnnotationError(pkl, "top level", "a dict {clip_id: [[token, ...], ...]}", type(data).__name__)
    out = {}
    for clip, captions in data.items():
        if not isinstance(captions, list) or not all(
            isinstance(c, list) and all(isinstance(token, str) for token in c) for c in captions
        ):
            raise AnnotationError(pkl, f"key {clip!r}", "a list of token lists (lists of strings)", captions)
        out[clip] = tuple(" ".join(tokens) for tokens in captions)
    return out


def _split_items(pkl: Path, list_txt: Path) -> tuple[list[tuple[str, tuple[str, ...]]], int]:
    captions = read_msvd_captions(pkl)
    names = list(dict.fromkeys(read_name_list(list_txt, "MSVD split list")))
    found = [(clip, captions[clip]) for clip in names if clip in captions]
    return found, len(names) - len(found)


def read_msvd_retrieval(pkl: Path, list_txt: Path, split: str) -> LoadResult[RetrievalItem]:
    """Multi-caption retrieval: one item per listed clip with all its captions, list order.

    Every caption of a test clip is a query. ``stats["missing"]`` counts listed clips without
    captions; ``stats["captions"]`` is the number of texts.
    """
    found, missing = _split_items(pkl, list_txt)
    items = [RetrievalItem(clip, f"{clip}.avi", texts, split) for clip, texts in found]
    return LoadResult(items, {"missing": missing, "captions": sum(len(i.texts) for i in items)})


def read_msvd_captioning(pkl: Path, list_txt: Path, split: str) -> LoadResult[CaptionItem]:
    """Captioning items for the clips of ``list_txt`` (same split lists as retrieval)."""
    found, missing = _split_items(pkl, list_txt)
    return LoadResult([CaptionItem(clip, f"{clip}.avi", texts, split) for clip, texts in found], {"missing": missing})


def read_msvd_mapping(path: Path) -> dict[str, str]:
    """``vid<N>`` -> clip id from ``youtube_mapping.txt`` (lines ``<clip_id> vid<N>``)."""
    mapping = {}
    for number, line in read_lines(path, "MSVD youtube mapping"):
        fields = line.split()
        if len(fields) != 2 or not fields[1].startswith("vid"):
            raise AnnotationError(path, f"line {number}", "'<clip_id> vid<N>'", line)
        mapping[fields[1]] = fields[0]
    return mapping


def read_msvd_qa(qa_json: Path, mapping_txt: Path) -> LoadResult[QAItem]:
    """MSVD-QA questions in file order; ``stats["missing"]`` counts ids absent from the mapping."""
    mapping = read_msvd_mapping(mapping_txt)
    data = read_json(qa_json, "MSVD-QA questions")
    if not isinstance(data, list):
        raise AnnotationError(qa_json, "top level", "a JSON list of questions", type(data).__name__)
    items, missing = [], 0
    for index, entry in enumerate(data):
        where = f"item {index}"
        vid = int_field(entry, "video_id", qa_json, where, "an integer video id")
        qid = int_field(entry, "id", qa_json, where, "an integer question id")
        question = str_field(entry, "question", qa_json, where)
        answer = str_field(entry, "answer", qa_json, where)
        clip = mapping.get(f"vid{vid}")
        if clip is None:
            missing += 1
            continue
        items.append(QAItem(str(qid), clip, f"{clip}.avi", question, answer, question_type(question)))
    return LoadResult(items, {"missing": missing})
