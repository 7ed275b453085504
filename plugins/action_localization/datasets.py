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


def _from_catalogue(dataset: str):
    """An adapter's ``load``: the split's files as the dataset catalogue finds them (the official
    ``activity_net.v1-3.min.json``, else BSN's files; ``thumos14.json``, else the per-class txt)."""

    def load(root: Path, split: str):
        from tempvl_core.data.catalogue import load as load_split

        result, files = load_split(dataset, root, "action", split)
        return result.records, files

    return load


ADAPTERS: dict[str, LocalizationAdapter] = {
    "thumos14": LocalizationAdapter("THUMOS14 temporal action localization", _from_catalogue("thumos14"), camel_to_words),
    "activitynet": LocalizationAdapter("ActivityNet v1.3 temporal action localization", _from_catalogue("activitynet"), str.lower),
}

#: Task name -> dataset (the task's ``dataset`` key names the adapter).
TASKS: dict[str, str] = {"thumos14": "thumos14", "activitynet-tal": "activitynet"}
