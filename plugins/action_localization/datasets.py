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

from tempvl_core.data import split_loader

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


ADAPTERS: dict[str, LocalizationAdapter] = {
    "thumos14": LocalizationAdapter(
        "THUMOS14 temporal action localization", split_loader("thumos14", "action"), camel_to_words),
    "activitynet": LocalizationAdapter(
        "ActivityNet v1.3 temporal action localization", split_loader("activitynet", "action"), str.lower),
}

#: Task name -> dataset (the task's ``dataset`` key names the adapter).
TASKS: dict[str, str] = {"thumos14": "thumos14", "activitynet-tal": "activitynet"}
