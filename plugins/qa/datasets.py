"""Per-dataset adapters of the QA tasks: which annotation files a task reads and how.

Open-ended adapters return :class:`tempvl_core.data.records.QAItem` lists; the multiple-choice
adapter returns :class:`tempvl_core.data.records.MCItem` lists (and, for finetuning, MSR-VTT
training captions as :class:`tempvl_core.data.records.RetrievalItem`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class QAAdapter:
    description: str
    #: ``open-ended`` (answer vocabulary) or ``multiple-choice`` (pick one of the options).
    kind: str
    #: (annotation folder, split) -> (records, annotation files read)
    load: Callable[[Path, str], tuple[list, list[Path]]]


def _msrvtt_qa(root: Path, split: str):
    from tempvl_core.data.loaders import load_msrvtt_qa

    return load_msrvtt_qa(root, split), [root / f"{split}_qa.json"]


def _msvd_qa(root: Path, split: str):
    from tempvl_core.data.loaders import load_msvd_qa

    return load_msvd_qa(root, split), [root / f"{split}_qa.json", root / "youtube_mapping.txt"]


def _msrvtt_mc(root: Path, split: str):
    from tempvl_core.data.loaders import load_msrvtt_mc

    return load_msrvtt_mc(root, split), [root / "msrvtt_mc.json"]


def load_msrvtt_mc_training(root: Path, split: str):
    """MSR-VTT captions for finetuning the multiple-choice task (``train_9k``/``train_7k``): the
    9k list leaves out every JSFusion test video, hence every multiple-choice video."""
    from tempvl_core.data.loaders import load_msrvtt_retrieval

    name = "MSRVTT_train.9k.csv" if split == "train_9k" else "MSRVTT_train.7k.csv"
    return load_msrvtt_retrieval(root, split), [root / name, root / "MSRVTT_data.json"]


ADAPTERS: dict[str, QAAdapter] = {
    "msrvtt-qa": QAAdapter("MSRVTT-QA open-ended video question answering", "open-ended", _msrvtt_qa),
    "msvd-qa": QAAdapter("MSVD-QA open-ended video question answering", "open-ended", _msvd_qa),
    "msrvtt-mc": QAAdapter("MSR-VTT multiple choice: pick the caption of the video among 5", "multiple-choice", _msrvtt_mc),
}
