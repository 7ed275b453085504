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

Reader = Callable[..., LoadResult]


@dataclass(frozen=True)
class SplitSource:
    """One task's split of a dataset: the files it needs (relative to the dataset folder) and
    the ``read_*`` function that parses them, called with those paths in order, then the split
    name when ``pass_split`` is true."""

    task: str
    split: str
    files: tuple[str, ...]
    reader: Reader
    pass_split: bool = False

    def read(self, dataset_dir: Path) -> LoadResult:
        """Parse this split's files under ``dataset_dir``."""
        paths = [Path(dataset_dir) / name for name in self.files]
        return self.reader(*paths, self.split) if self.pass_split else self.reader(*paths)


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


def _each(task: str, splits: tuple[str, ...], files: Callable[[str], tuple[str, ...]], reader: Reader,
          pass_split: bool = False) -> list[SplitSource]:  # fmt: skip
    return [SplitSource(task, s, files(s), reader, pass_split) for s in splits]


def _msrvtt() -> list[SplitSource]:
    data = "MSRVTT_data.json"
    train = msrvtt.read_msrvtt_retrieval_train
    return [
        SplitSource("retrieval", "train_9k", ("MSRVTT_train.9k.csv", data), train, True),
        SplitSource("retrieval", "train_7k", ("MSRVTT_train.7k.csv", data), train, True),
        SplitSource("retrieval", "test", ("MSRVTT_JSFUSION_test.csv",), msrvtt.read_msrvtt_retrieval_test),
        *_each("captioning", msrvtt.CAPTION_SPLITS, lambda s: (data,), msrvtt.read_msrvtt_captioning, True),
        *_each("qa", msrvtt.QA_SPLITS, lambda s: (f"{s}_qa.json",), msrvtt.read_msrvtt_qa),
        SplitSource("mc", "test", ("msrvtt_mc.json",), msrvtt.read_msrvtt_mc),
    ]


def _didemo() -> list[SplitSource]:
    return [
        *_each("retrieval", didemo.SPLITS, lambda s: (f"{s}_data.json", f"{s}_list.txt"),
               didemo.read_didemo_retrieval, True),  # fmt: skip
        *_each("moments", didemo.SPLITS, lambda s: (f"{s}_data.json",), didemo.read_didemo_moments),
    ]


def _msvd() -> list[SplitSource]:
    lists = lambda s: ("raw-captions.pkl", f"{s}_list.txt")  # noqa: E731
    return [
        *_each("retrieval", msvd.SPLITS, lists, msvd.read_msvd_retrieval, True),
        *_each("captioning", msvd.SPLITS, lists, msvd.read_msvd_captioning, True),
        *_each("qa", msvd.SPLITS, lambda s: (f"{s}_qa.json", "youtube_mapping.txt"), msvd.read_msvd_qa),
    ]


def _anet_captions() -> list[SplitSource]:
    files = lambda s: (f"{s}.json",)  # noqa: E731
    return [
        *_each("moments", anet_captions.SPLITS, files, anet_captions.read_anet_captions_moments),
        *_each("retrieval", anet_captions.SPLITS, files, anet_captions.read_anet_captions_retrieval, True),
    ]


def _thumos14() -> list[SplitSource]:
    return [
        *_each("action", thumos14.SPLITS, lambda s: ("thumos14.json",), thumos14.read_thumos14_actionformer, True),
        *_each("action-txt", thumos14.SPLITS, lambda s: (f"annotations_{s}",), thumos14.read_thumos14_txt, True),
    ]


def _spec(name: str, video_dir: str, sources: list[SplitSource]) -> DatasetSpec:
    return DatasetSpec(name, name, video_dir, tuple(sources))


_SPECS = (
    _spec("msrvtt", "videos", _msrvtt()),
    _spec("didemo", "videos", _didemo()),
    _spec("msvd", "YouTubeClips", _msvd()),
    _spec("lsmdc", "videos", _each("retrieval", lsmdc.SPLITS, lambda s: (lsmdc.FILES[s],), lsmdc.read_lsmdc, True)),
    _spec("charades-sta", "Charades_v1_480", _each(
        "moments", charades_sta.SPLITS, lambda s: (f"charades_sta_{s}.txt", f"Charades_v1_{s}.csv"),
        charades_sta.read_charades_sta, True)),
    _spec("anet-captions", "videos", _anet_captions()),
    _spec("tacos", "videos", _each("moments", tacos.SPLITS, lambda s: (f"{s}.json",), tacos.read_tacos)),
    _spec("qvhighlights", "videos", _each(
        "moments", qvhighlights.SPLITS, lambda s: (f"highlight_{s}_release.jsonl",), qvhighlights.read_qvhighlights)),
    _spec("thumos14", "videos", _thumos14()),
    _spec("activitynet", "videos", _each(
        "action", activitynet.SPLITS, lambda s: ("activity_net.v1-3.min.json",), activitynet.read_activitynet_v13, True)),
    _spec("webvid", "videos", _each("pretrain", ("train",), lambda s: ("results_train.csv",), pretrain.read_webvid)),
    _spec("cc3m", "images", _each("pretrain", ("train",), lambda s: ("Train_GCC-training.tsv",), pretrain.read_cc3m)),
)  # fmt: skip

DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in _SPECS}
