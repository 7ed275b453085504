"""Per-dataset adapters: which annotation files a localization task reads, and class prompts.

Each adapter returns :class:`tempvl_core.data.records.ActionVideo` lists (ground-truth segments
in seconds) and the files it read. ``prompt_words`` turns a class name into words for the
zero-shot text prompts (THUMOS14 names are CamelCase: ``CricketBowling`` -> ``cricket bowling``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


@dataclass(frozen=True)
class LocalizationAdapter:
    description: str
    #: (annotation folder, split) -> (videos, annotation files read)
    load: Callable[[Path, str], tuple[list, list[Path]]]
    prompt_words: Callable[[str], str]


def camel_to_words(name: str) -> str:
    """``"CricketBowling"`` -> ``"cricket bowling"``; names with spaces are only lower-cased."""
    if " " in name:
        return name.lower()
    return " ".join(part.lower() for part in _CAMEL.split(name) if part)


def _thumos14(root: Path, split: str):
    from tempvl_core.data.loaders.thumos14 import load_thumos14

    videos = load_thumos14(root, split)
    if (root / "thumos14.json").is_file():
        return videos, [root / "thumos14.json"]
    return videos, sorted((root / f"annotations_{split}").glob(f"*_{split}.txt"))


#: BSN's re-packaging of ActivityNet v1.3 (the videos that could still be downloaded).
BSN_FILES = ("anet_anno_action.json", "video_info_new.csv")


def _activitynet(root: Path, split: str):
    """The official ``activity_net.v1-3.min.json``; else the BSN files when only those exist."""
    from tempvl_core.data.loaders.activitynet import load_activitynet, read_activitynet_bsn

    official = root / "activity_net.v1-3.min.json"
    bsn = [root / name for name in BSN_FILES]
    if not official.is_file() and all(p.is_file() for p in bsn):
        return read_activitynet_bsn(bsn[0], bsn[1], split).records, bsn
    return load_activitynet(root, split), [official]


ADAPTERS: dict[str, LocalizationAdapter] = {
    "thumos14": LocalizationAdapter("THUMOS14 temporal action localization", _thumos14, camel_to_words),
    "activitynet": LocalizationAdapter("ActivityNet v1.3 temporal action localization", _activitynet, str.lower),
}

#: Task name -> dataset (the task's ``dataset`` key names the adapter).
TASKS: dict[str, str] = {"thumos14": "thumos14", "activitynet-tal": "activitynet"}
