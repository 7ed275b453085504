"""The ``options:`` mapping of a localization task file, validated by the one config validator."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tempvl_bench.api import TAL_PROTOCOLS, checked, options_from_mapping
from tempvl_plugins.action_localization.decode import DecodeConfig

_HEAD_KEYS = ("hidden", "layers", "kernel", "dropout", "center")


@dataclass(frozen=True)
class LocalizationOptions:
    #: Metric protocol: ``thumos14`` (tIoU 0.3:0.7) or ``activitynet`` (0.5:0.95).
    protocol: str = checked(choices=tuple(TAL_PROTOCOLS))
    #: Zero-shot prompt; ``{}`` is replaced by the class name in words.
    prompt_template: str = checked("{}", must=lambda t: t.count("{}") == 1, expected="a string with one '{}'")
    #: False: TemPVL frozen, frame features extracted once and only the head trains (fast,
    #: ActionFormer-style). True: the video encoder trains with the head on decoded frames.
    train_video_encoder: bool = False
    #: Sizes of the localization head (:class:`~.head.HeadConfig`).
    head: dict[str, Any] = checked(default_factory=dict, must=lambda h: set(h) <= set(_HEAD_KEYS),
                                   expected=f"a mapping with keys among {', '.join(_HEAD_KEYS)}")
    decode: DecodeConfig = field(default_factory=DecodeConfig)

    @classmethod
    def from_config(cls, config) -> "LocalizationOptions":
        """Parse ``config.options``; errors name the task file and the key."""
        return options_from_mapping(cls, config.options, config.source, getattr(config, "set_keys", ()))
