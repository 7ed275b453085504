"""MSR-VTT: 1k-A retrieval, captioning, MSRVTT-QA and multiple choice.

Files (``<root>/``):
- ``MSRVTT_data.json``: ``{"info", "videos": [{"video_id", "split": train|validate|test, ...}],
  "sentences": [{"caption", "video_id", "sen_id"}]}``.
- ``MSRVTT_train.9k.csv``/``MSRVTT_train.7k.csv``: header ``video_id``, one video per row.
- ``MSRVTT_JSFUSION_test.csv``: header ``key,vid_key,video_id,sentence``; row i pairs text i
  with video i, so row order is kept.
- ``{train,val,test}_qa.json``: ``[{"answer", "category_id", "id", "question", "video_id": N}]``
  with N meaning ``videoN``.
- ``msrvtt_mc.json``: ``[{"video": "video7010.mp4", "caption": [5 options], "answer": i}]``.
Videos: ``videos/video<N>.mp4``; ``video_name`` is ``video<N>.mp4``.
"""

from __future__ import annotations

from pathlib import Path

from tempvl_core.data.errors import AnnotationError
from tempvl_core.data.loaders._io import (
    check_split, get_key, int_field, str_field, question_type, read_csv_rows, read_json,
)
from tempvl_core.data.records import CaptionItem, LoadResult, MCItem, QAItem, RetrievalItem

RETRIEVAL_SPLITS = ("train_9k", "train_7k", "test")
CAPTION_SPLITS = ("train", "validate", "test")
QA_SPLITS = ("train", "val", "test")


def read_msrvtt_data(path: Path) -> tuple[dict[str, str], dict[str, list[str]]]:
    """``(video_id -> split, video_id -> captions in file order)`` from ``MSRVTT_data.json``."""
    data = read_json(path, "MSR-VTT annotations")
    videos = get_key(data, "videos", path, "top level")
    sentences = get_key(data, "sentences", path, "top level")
    if not isinstance(videos, list) or not isinstance(sentences, list):
        raise AnnotationError(path, "top level", "'videos' and 'sentences' lists", type(videos).__name__)
    splits: dict[str, str] = {}
    for i, video in enumerate(videos):
        where = f"'videos'[{i}]"
        vid = str_field(video, "video_id", path, where)
        split = str_field(video, "split", path, where)
        if split not in CAPTION_SPLITS:
            raise AnnotationError(path, f"{where} 'split'", f"one of {list(CAPTION_SPLITS)}", split)
        splits[vid] = split
    captions: dict[str, list[str]] = {vid: [] for vid in splits}
    for i, sentence in enumerate(sentences):
        where = f"'sentences'[{i}]"
        vid = str_field(sentence, "video_id", path, where)
        text = str_field(sentence, "caption", path, where)
        if vid not in captions:
            raise AnnotationError(path, f"{where} 'video_id'", "a video listed under 'videos'", vid)
        captions[vid].append(text)
    return splits, captions


def read_msrvtt_video_list(csv_path: Path) -> list[str]:
    """Video ids of a ``MSRVTT_train.*.csv`` (column ``video_id``), file order."""
    return [row["video_id"] for _, row in read_csv_rows(csv_path, "MSR-VTT video list", ("video_id",))]


def read_msrvtt_retrieval_train(train_csv: Path, data_json: Path, split: str = "train_9k") -> LoadResult[RetrievalItem]:
    """Training items: every caption of each listed video (20 per video, 180k pairs for 9k).

    ``stats``: ``missing`` (listed videos absent from the JSON), ``pairs`` (number of texts).
    """
    _, captions = read_msrvtt_data(data_json)
    ids = read_msrvtt_video_list(train_csv)
    items = [RetrievalItem(v, f"{v}.mp4", tuple(captions[v]), split) for v in ids if captions.get(v)]
    return LoadResult(items, {"missing": len(ids) - len(items), "pairs": sum(len(i.texts) for i in items)})


def read_msrvtt_retrieval_test(jsfusion_csv: Path) -> LoadResult[RetrievalItem]:
    """The 1k-A test pairs in row order: text i retrieves video i."""
    rows = read_csv_rows(jsfusion_csv, "MSR-VTT 1k-A test pairs", ("video_id", "sentence"))
    items = [RetrievalItem(r["video_id"], f"{r['video_id']}.mp4", (r["sentence"],), "test") for _, r in rows]
    return LoadResult(items, {})


def read_msrvtt_captioning(data_json: Path, split: str) -> LoadResult[CaptionItem]:
    """Captioning videos whose ``split`` field is ``split`` (train/validate/test), file order."""
    check_split(split, CAPTION_SPLITS, "msrvtt captioning")
    splits, captions = read_msrvtt_data(data_json)
    items = [CaptionItem(v, f"{v}.mp4", tuple(captions[v]), split) for v, s in splits.items() if s == split]
    return LoadResult(items, {"no_captions": sum(not i.captions for i in items)})


def _list_of_objects(path: Path, what: str) -> list:
    data = read_json(path, what)
    if not isinstance(data, list):
        raise AnnotationError(path, "top level", f"a JSON list ({what})", type(data).__name__)
    return data


def read_msrvtt_qa(qa_json: Path) -> LoadResult[QAItem]:
    """MSRVTT-QA questions in file order; ``video_id`` N becomes ``videoN``.

    ``question_type`` is the question's first word (what/who/how/when/where).
    """
    items = []
    for index, entry in enumerate(_list_of_objects(qa_json, "MSRVTT-QA questions")):
        where = f"item {index}"
        vid = int_field(entry, "video_id", qa_json, where, "an integer video id")
        qid = int_field(entry, "id", qa_json, where, "an integer question id")
        question = str_field(entry, "question", qa_json, where)
        answer = str_field(entry, "answer", qa_json, where)
        items.append(QAItem(str(qid), f"video{vid}", f"video{vid}.mp4", question, answer, question_type(question)))
    return LoadResult(items, {})


def read_msrvtt_mc(mc_json: Path) -> LoadResult[MCItem]:
    """Multiple-choice items in file order; ``item_id`` is the 0-based position."""
    items = []
    for index, entry in enumerate(_list_of_objects(mc_json, "MSR-VTT multiple choice")):
        where = f"item {index}"
        video = str_field(entry, "video", mc_json, where)
        options = get_key(entry, "caption", mc_json, where)
        if not isinstance(options, list) or len(options) < 2 or not all(isinstance(o, str) for o in options):
            raise AnnotationError(mc_json, f"{where} 'caption'", "a list of option strings", options)
        answer = int_field(entry, "answer", mc_json, where, "an integer option index")
        if not 0 <= answer < len(options):
            raise AnnotationError(mc_json, f"{where} 'answer'", f"an index in [0, {len(options)})", answer)
        name = video if "." in video else f"{video}.mp4"
        items.append(MCItem(str(index), name.rsplit(".", 1)[0], name, tuple(options), answer))
    return LoadResult(items, {})
