"""Which annotation files each dataset has, per task and split, and how to read them.

``DATASETS`` maps a dataset name (also its folder under a data root) to a :class:`DatasetSpec`.
``validate`` walks it to parse a whole dataset; plugins and task YAML can use the same names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tempvl_core.data.loaders import (
    activitynet,
    anet_captions,
    charades_sta,
    didemo,
    lsmdc,
    msrvtt,
    msvd,
    pretrain,
    qvhighlights,
    tacos,
    thumos14,
)
from tempvl_core.data.records import LoadResult

Reader = Callable[[Path], LoadResult]


@dataclass(frozen=True)
class SplitSource:
    """One task's split of a dataset: the files it needs (relative to the dataset folder)
    and ``read(dataset_dir) -> LoadResult`` that parses them."""

    task: str
    split: str
    files: tuple[str, ...]
    read: Reader


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset: ``folder`` under the data root, ``video_dir`` (relative to that folder,
    where ``video_name`` of its records is looked up) and its annotation sources."""

    name: str
    folder: str
    video_dir: str
    sources: tuple[SplitSource, ...]

    def splits(self, task: str) -> tuple[str, ...]:
        """Split names this dataset offers for ``task``."""
        return tuple(s.split for s in self.sources if s.task == task)

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.task for s in self.sources))


def _msrvtt() -> tuple[SplitSource, ...]:
    def train(csv_name: str, split: str) -> SplitSource:
        return SplitSource("retrieval", split, (csv_name, "MSRVTT_data.json"),
                           lambda d: msrvtt.read_msrvtt_retrieval_train(d / csv_name, d / "MSRVTT_data.json", split))  # fmt: skip

    sources = [train("MSRVTT_train.9k.csv", "train_9k"), train("MSRVTT_train.7k.csv", "train_7k"),
               SplitSource("retrieval", "test", ("MSRVTT_JSFUSION_test.csv",),
                           lambda d: msrvtt.read_msrvtt_retrieval_test(d / "MSRVTT_JSFUSION_test.csv"))]  # fmt: skip
    for split in msrvtt.CAPTION_SPLITS:
        sources.append(SplitSource("captioning", split, ("MSRVTT_data.json",),
                                   lambda d, s=split: msrvtt.read_msrvtt_captioning(d / "MSRVTT_data.json", s)))  # fmt: skip
    for split in msrvtt.QA_SPLITS:
        sources.append(SplitSource("qa", split, (f"{split}_qa.json",), lambda d, s=split: msrvtt.read_msrvtt_qa(d / f"{s}_qa.json")))
    sources.append(SplitSource("mc", "test", ("msrvtt_mc.json",), lambda d: msrvtt.read_msrvtt_mc(d / "msrvtt_mc.json")))
    return tuple(sources)


def _didemo() -> tuple[SplitSource, ...]:
    out = []
    for s in didemo.SPLITS:
        files = (f"{s}_data.json", f"{s}_list.txt")
        out.append(SplitSource("retrieval", s, files, lambda d, s=s: didemo.read_didemo_retrieval(d / f"{s}_data.json", d / f"{s}_list.txt", s)))
        out.append(SplitSource("moments", s, files[:1], lambda d, s=s: didemo.read_didemo_moments(d / f"{s}_data.json")))
    return tuple(out)


def _msvd() -> tuple[SplitSource, ...]:
    out = []
    for s in msvd.SPLITS:
        files = ("raw-captions.pkl", f"{s}_list.txt")
        out.append(SplitSource("retrieval", s, files, lambda d, s=s: msvd.read_msvd_retrieval(d / "raw-captions.pkl", d / f"{s}_list.txt", s)))
        out.append(SplitSource("captioning", s, files, lambda d, s=s: msvd.read_msvd_captioning(d / "raw-captions.pkl", d / f"{s}_list.txt", s)))
        out.append(SplitSource("qa", s, (f"{s}_qa.json", "youtube_mapping.txt"),
                               lambda d, s=s: msvd.read_msvd_qa(d / f"{s}_qa.json", d / "youtube_mapping.txt")))  # fmt: skip
    return tuple(out)


def _per_split(task: str, splits: tuple[str, ...], name: Callable[[str], str], read: Callable[[Path, str], LoadResult]) -> tuple[SplitSource, ...]:
    return tuple(SplitSource(task, s, (name(s),), lambda d, s=s: read(d / name(s), s)) for s in splits)


def _charades() -> tuple[SplitSource, ...]:
    return tuple(
        SplitSource("moments", s, (f"charades_sta_{s}.txt", f"Charades_v1_{s}.csv"),
                    lambda d, s=s: charades_sta.read_charades_sta(d / f"charades_sta_{s}.txt", d / f"Charades_v1_{s}.csv", s))
        for s in charades_sta.SPLITS
    )  # fmt: skip


def _anet_captions() -> tuple[SplitSource, ...]:
    moments = _per_split("moments", anet_captions.SPLITS, lambda s: f"{s}.json",
                         lambda p, s: anet_captions.read_anet_captions_moments(p))  # fmt: skip
    retrieval = _per_split("retrieval", anet_captions.SPLITS, lambda s: f"{s}.json",
                           lambda p, s: anet_captions.read_anet_captions_retrieval(p, s))  # fmt: skip
    return moments + retrieval


def _thumos() -> tuple[SplitSource, ...]:
    json_sources = _per_split("action", thumos14.SPLITS, lambda s: "thumos14.json", thumos14.read_thumos14_actionformer)
    txt_sources = _per_split("action-txt", thumos14.SPLITS, lambda s: f"annotations_{s}", thumos14.read_thumos14_txt)
    return json_sources + txt_sources


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec("msrvtt", "msrvtt", "videos", _msrvtt()),
        DatasetSpec("didemo", "didemo", "videos", _didemo()),
        DatasetSpec("msvd", "msvd", "YouTubeClips", _msvd()),
        DatasetSpec("lsmdc", "lsmdc", "videos", _per_split("retrieval", lsmdc.SPLITS, lsmdc.FILES.__getitem__, lsmdc.read_lsmdc)),
        DatasetSpec("charades-sta", "charades-sta", "Charades_v1_480", _charades()),
        DatasetSpec("anet-captions", "anet-captions", "videos", _anet_captions()),
        DatasetSpec("tacos", "tacos", "videos", _per_split("moments", tacos.SPLITS, lambda s: f"{s}.json", lambda p, s: tacos.read_tacos(p))),
        DatasetSpec("qvhighlights", "qvhighlights", "videos",
                    _per_split("moments", qvhighlights.SPLITS, lambda s: f"highlight_{s}_release.jsonl", lambda p, s: qvhighlights.read_qvhighlights(p))),
        DatasetSpec("thumos14", "thumos14", "videos", _thumos()),
        DatasetSpec("activitynet", "activitynet", "videos",
                    _per_split("action", activitynet.SPLITS, lambda s: "activity_net.v1-3.min.json", activitynet.read_activitynet_v13)),
        DatasetSpec("webvid", "webvid", "videos", _per_split("pretrain", ("train",), lambda s: f"results_{s}.csv", lambda p, s: pretrain.read_webvid(p))),
        DatasetSpec("cc3m", "cc3m", "images", _per_split("pretrain", ("train",), lambda s: "Train_GCC-training.tsv", lambda p, s: pretrain.read_cc3m(p))),
    )
}  # fmt: skip
