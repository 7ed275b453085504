"""Per-dataset adapters of the localization tasks: description and class prompts.

The videos (:class:`tempvl_core.data.records.ActionVideo`, ground-truth segments in seconds) are
read through the dataset catalogue (kind ``action``). ``prompt_words`` turns a class name into words for the
zero-shot text prompts (THUMOS14 names are CamelCase: ``CricketBowling`` -> ``cricket bowling``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


@dataclass(frozen=True)
class LocalizationAdapter:
    description: str
    prompt_words: Callable[[str], str]


def camel_to_words(name: str) -> str:
    """``"CricketBowling"`` -> ``"cricket bowling"``; names with spaces are only lower-cased."""
    if " " in name:
        return name.lower()
    return " ".join(part.lower() for part in _CAMEL.split(name) if part)


#: Dataset (catalogue name, also the task's ``dataset`` key) -> adapter.
ADAPTERS: dict[str, LocalizationAdapter] = {
    "thumos14": LocalizationAdapter("THUMOS14 temporal action localization", camel_to_words),
    "activitynet": LocalizationAdapter("ActivityNet v1.3 temporal action localization", str.lower),
}

#: Task name -> dataset (the task's ``dataset`` key names the adapter).
TASKS: dict[str, str] = {"thumos14": "thumos14", "activitynet-tal": "activitynet"}
