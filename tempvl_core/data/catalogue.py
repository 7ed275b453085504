"""The dataset catalogue: every annotation file name, fallback and video folder, written once.

``DATASETS`` maps a dataset name (also its folder under a data root) to a :class:`DatasetSpec`:
its video folder and, per task kind (``retrieval``, ``moments``, ``qa``, ``mc``, ``captioning``,
``action``, ``pretrain``) and split, the :class:`Layout` s a split may be stored in, preferred
first. A layout lists the files it needs (relative to the dataset folder), the files it reads
when present, and the ``read_*`` function that parses them.

:func:`load` is the one way to read a split's annotations: the plugins (through
``tempvl_bench.api.catalogue``), the study, ``check-videos`` and ``prepare-videos`` call it, and
``validate`` picks each split's layout the same way (:meth:`SplitSource.resolve`). So the files
a run reads are the files ``validate`` checked, always. The parsers
(:mod:`tempvl_core.data.loaders`) take explicit file paths and never import this module.

File names: a name ending in ``/<glob>`` (``annotations_val/*_val.txt``) is a folder whose
matching files are read; the reader is passed the folder.
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


def _target(folder: Path, name: str) -> Path:
    """The path a reader is given: the folder of a ``folder/<glob>`` name, else the file."""
    return Path(folder) / (name.split("/*", 1)[0] if "/*" in name else name)


def _expand(folder: Path, name: str) -> list[Path]:
    """The files behind one name (a glob name lists its matches, sorted)."""
    if "/*" in name:
        sub, pattern = name.split("/", 1)
        return sorted(p for p in (Path(folder) / sub).glob(pattern) if p.is_file())
    return [Path(folder) / name]


@dataclass(frozen=True)
class Layout:
    """One way a split is stored: ``files`` (all needed, in the reader's argument order), then the
    split name when ``pass_split``, then ``optional`` files (``None`` when absent)."""

    files: tuple[str, ...]
    reader: Reader
    pass_split: bool = False
    optional: tuple[str, ...] = ()
    #: What this layout is, for messages ("official", "BSN", "2D-TAN file names").
    label: str = "official"

    def present(self, folder: Path) -> bool:
        return all(_target(folder, name).exists() for name in self.files)

    def absent(self, folder: Path) -> list[str]:
        return [name for name in self.files if not _target(folder, name).exists()]

    def paths(self, folder: Path) -> list[Path]:
        """Every file this layout reads under ``folder`` (folders expanded; absent optional files left out)."""
        out = [p for name in self.files for p in _expand(folder, name)]
        return out + [Path(folder) / name for name in self.optional if (Path(folder) / name).is_file()]

    def read(self, folder: Path, split: str) -> LoadResult:
        args: list = [_target(folder, name) for name in self.files]
        if self.pass_split:
            args.append(split)
        args += [p if p.is_file() else None for p in (Path(folder) / name for name in self.optional)]
        return self.reader(*args)


@dataclass(frozen=True)
class SplitSource:
    """One task kind's split of a dataset and the layouts it may be stored in, preferred first."""

    task: str
    split: str
    layouts: tuple[Layout, ...]

    @property
    def files(self) -> tuple[str, ...]:
        """The preferred layout's files."""
        return self.layouts[0].files

    def resolve(self, folder: Path) -> Layout | None:
        """The first layout whose files all exist under ``folder``, or ``None``."""
        return next((layout for layout in self.layouts if layout.present(folder)), None)

    def missing_message(self, folder: Path) -> str:
        """Which files are absent, for every layout (``validate`` prints it)."""
        parts = [f"{', '.join(layout.absent(folder))}" + (f" ({layout.label})" if len(self.layouts) > 1 else "")
                 for layout in self.layouts]
        return "not found: " + "; nor ".join(parts)


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

    def source(self, task: str, split: str) -> SplitSource:
        """The source of ``task``/``split``; ``ValueError`` naming the splits that exist."""
        for source in self.sources:
            if (source.task, source.split) == (task, split):
                return source
        offered = ", ".join(self.splits(task)) or "none"
        raise ValueError(f"dataset {self.name!r} has no {task!r} split {split!r}; splits: {offered}")


@dataclass(frozen=True)
class ResolvedSplit:
    """The files one split is read from, as :func:`resolve` found them."""

    dataset: str
    task: str
    split: str
    folder: Path
    layout: Layout

    @property
    def files(self) -> list[Path]:
        return self.layout.paths(self.folder)

    def read(self) -> LoadResult:
        return self.layout.read(self.folder, self.split)


def resolve(dataset: str, folder: Path, task: str, split: str) -> ResolvedSplit:
    """The layout of ``dataset``'s ``task``/``split`` found under the annotation folder ``folder``.

    Raises ``ValueError`` for an unknown dataset or split (naming what exists) and
    ``FileNotFoundError`` naming the files of every layout when none is complete.
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(sorted(DATASETS))}")
    source = DATASETS[dataset].source(task, split)
    layout = source.resolve(Path(folder))
    if layout is None:
        raise FileNotFoundError(
            f"{folder}: annotation files of {dataset} ({task}, split {split}) {source.missing_message(Path(folder))}; "
            "check --data-root / TEMPVL_DATA and the layout in docs/data.md, or use --demo"
        )
    return ResolvedSplit(dataset, task, split, Path(folder), layout)


@dataclass(frozen=True)
class Annotations:
    """One split as :func:`load` read it: the typed records (file order), the files read (the
    ones ``validate`` checks and results.json hashes) and the parser's counts (clipped or
    dropped windows, ...)."""

    records: list
    files: list[Path]
    stats: dict[str, int]


def load(dataset: str, folder: Path, task: str, split: str) -> Annotations:
    """The records of ``dataset``'s ``task`` (retrieval, moments, qa, mc, captioning, action,
    pretrain) for ``split``, read from the annotation folder ``folder``.

    The files are those of the first complete layout :func:`resolve` finds. Raises
    ``ValueError`` naming the datasets or splits that exist when the combination is unknown,
    ``FileNotFoundError`` naming the missing files, and
    :class:`~tempvl_core.data.errors.AnnotationError` (file, place, what was expected) for a
    malformed file.
    """
    resolved = resolve(dataset, folder, task, split)
    result = resolved.read()
    return Annotations(list(result.records), resolved.files, dict(result.stats))


# ---------------------------------------------------------------------------------------------
# The catalogue itself.


def _each(task: str, splits: tuple[str, ...], *layouts: Callable[[str], Layout]) -> list[SplitSource]:
    return [SplitSource(task, s, tuple(make(s) for make in layouts)) for s in splits]


def _one(files: Callable[[str], tuple[str, ...]], reader: Reader, pass_split: bool = False,
         **kw) -> Callable[[str], Layout]:  # fmt: skip
    return lambda s: Layout(files(s), reader, pass_split, **kw)


def _msrvtt() -> list[SplitSource]:
    data = "MSRVTT_data.json"
    train = msrvtt.read_msrvtt_retrieval_train
    lists = {"train_9k": "MSRVTT_train.9k.csv", "train_7k": "MSRVTT_train.7k.csv"}
    return [
        *_each("retrieval", ("train_9k", "train_7k"), _one(lambda s: (lists[s], data), train, True)),
        *_each("retrieval", ("test",), _one(lambda s: ("MSRVTT_JSFUSION_test.csv",), msrvtt.read_msrvtt_retrieval_test)),
        *_each("captioning", msrvtt.CAPTION_SPLITS, _one(lambda s: (data,), msrvtt.read_msrvtt_captioning, True)),
        *_each("qa", msrvtt.QA_SPLITS, _one(lambda s: (f"{s}_qa.json",), msrvtt.read_msrvtt_qa)),
        *_each("mc", ("test",), _one(lambda s: ("msrvtt_mc.json",), msrvtt.read_msrvtt_mc)),
    ]


def _didemo() -> list[SplitSource]:
    return [
        *_each("retrieval", didemo.SPLITS, _one(lambda s: (f"{s}_data.json", f"{s}_list.txt"),
                                                didemo.read_didemo_retrieval, True)),  # fmt: skip
        *_each("moments", didemo.SPLITS, _one(lambda s: (f"{s}_data.json",), didemo.read_didemo_moments)),
    ]


def _msvd() -> list[SplitSource]:
    lists = _one(lambda s: ("raw-captions.pkl", f"{s}_list.txt"), msvd.read_msvd_retrieval, True)
    captions = _one(lambda s: ("raw-captions.pkl", f"{s}_list.txt"), msvd.read_msvd_captioning, True)
    return [
        *_each("retrieval", msvd.SPLITS, lists),
        *_each("captioning", msvd.SPLITS, captions),
        *_each("qa", msvd.SPLITS, _one(lambda s: (f"{s}_qa.json", "youtube_mapping.txt"), msvd.read_msvd_qa)),
    ]


#: 2D-TAN ships ActivityNet Captions val_1/val_2 as val.json/test.json.
_ANET_2DTAN = {"train": "train.json", "val_1": "val.json", "val_2": "test.json"}
#: CLIP4Clip's id lists order (and restrict) the retrieval videos when present.
_ANET_IDS = {"train": ("train_ids.json",), "val_1": ("val_ids.json",), "val_2": ()}


def _anet_captions() -> list[SplitSource]:
    def layouts(reader: Reader, pass_split: bool, ids: bool) -> list[Callable[[str], Layout]]:
        opt = (lambda s: _ANET_IDS[s]) if ids else (lambda s: ())
        return [
            lambda s: Layout((f"{s}.json",), reader, pass_split, opt(s)),
            lambda s: Layout((_ANET_2DTAN[s],), reader, pass_split, opt(s), label="2D-TAN file names"),
        ]

    return [
        *_each("moments", anet_captions.SPLITS, *layouts(anet_captions.read_anet_captions_moments, False, False)),
        *_each("retrieval", anet_captions.SPLITS, *layouts(anet_captions.read_anet_captions_retrieval, True, True)),
    ]


def _thumos14() -> list[SplitSource]:
    return _each(
        "action", thumos14.SPLITS,
        _one(lambda s: ("thumos14.json",), thumos14.read_thumos14_actionformer, True, label="ActionFormer"),
        _one(lambda s: (f"annotations_{s}/*_{s}.txt",), thumos14.read_thumos14_txt, True, label="per-class txt"),
    )  # fmt: skip


#: BSN's re-packaging of ActivityNet v1.3 (the videos that could still be downloaded).
ACTIVITYNET_BSN_FILES = ("anet_anno_action.json", "video_info_new.csv")


def _activitynet() -> list[SplitSource]:
    return _each(
        "action", activitynet.SPLITS,
        _one(lambda s: ("activity_net.v1-3.min.json",), activitynet.read_activitynet_v13, True),
        _one(lambda s: ACTIVITYNET_BSN_FILES, activitynet.read_activitynet_bsn, True, label="BSN"),
    )  # fmt: skip


def _spec(name: str, video_dir: str, sources: list[SplitSource]) -> DatasetSpec:
    return DatasetSpec(name, name, video_dir, tuple(sources))


_SPECS = (
    _spec("msrvtt", "videos", _msrvtt()),
    _spec("didemo", "videos", _didemo()),
    _spec("msvd", "YouTubeClips", _msvd()),
    _spec("lsmdc", "videos", _each("retrieval", lsmdc.SPLITS, _one(lambda s: (lsmdc.FILES[s],), lsmdc.read_lsmdc, True))),
    _spec("charades-sta", "Charades_v1_480", _each("moments", charades_sta.SPLITS, _one(
        lambda s: (f"charades_sta_{s}.txt", f"Charades_v1_{s}.csv"), charades_sta.read_charades_sta, True))),
    _spec("anet-captions", "videos", _anet_captions()),
    _spec("tacos", "videos", _each("moments", tacos.SPLITS, _one(lambda s: (f"{s}.json",), tacos.read_tacos))),
    _spec("qvhighlights", "videos", _each("moments", qvhighlights.SPLITS, _one(
        lambda s: (f"highlight_{s}_release.jsonl",), qvhighlights.read_qvhighlights))),
    _spec("thumos14", "videos", _thumos14()),
    _spec("activitynet", "videos", _activitynet()),
    _spec("webvid", "videos", _each("pretrain", ("train",), _one(lambda s: ("results_train.csv",), pretrain.read_webvid))),
    _spec("cc3m", "images", _each("pretrain", ("train",), _one(lambda s: ("Train_GCC-training.tsv",), pretrain.read_cc3m))),
)  # fmt: skip

DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in _SPECS}
