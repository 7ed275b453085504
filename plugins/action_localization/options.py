"""The ``options:`` mapping of a localization task file, validated once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tempvl_bench.metrics import TAL_PROTOCOLS
from tempvl_plugins.action_localization.decode import DecodeConfig

_HEAD_KEYS = ("hidden", "layers", "kernel", "dropout", "center")


@dataclass(frozen=True)
class LocalizationOptions:
    #: Metric protocol: ``thumos14`` (tIoU 0.3:0.7) or ``activitynet`` (0.5:0.95).
    protocol: str
    #: Zero-shot prompt; ``{}`` is replaced by the class name in words.
    prompt_template: str = "{}"
    #: False: TemPVL frozen, frame features extracted once and only the head trains (fast,
    #: ActionFormer-style). True: the video encoder trains with the head on decoded frames.
    train_video_encoder: bool = False
    head: dict[str, Any] = field(default_factory=dict)
    decode: DecodeConfig = field(default_factory=DecodeConfig)

    @classmethod
    def from_config(cls, config) -> "LocalizationOptions":
        """Parse ``config.options``; errors name the task file and the key."""
        where = f"{config.source}: key 'options"
        raw = dict(config.options)
        allowed = {"protocol", "prompt_template", "train_video_encoder", "head", "decode"}
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise ValueError(f"{where}.{unknown[0]}': unknown key; allowed: {sorted(allowed)}")
        protocol = raw.get("protocol")
        if protocol not in TAL_PROTOCOLS:
            raise ValueError(f"{where}.protocol': expected one of {sorted(TAL_PROTOCOLS)}, got {protocol!r}")
        template = raw.get("prompt_template", "{}")
        if not isinstance(template, str) or template.count("{}") != 1:
            raise ValueError(f"{where}.prompt_template': expected a string with one '{{}}', got {template!r}")
        train_encoder = raw.get("train_video_encoder", False)
        if not isinstance(train_encoder, bool):
            raise ValueError(f"{where}.train_video_encoder': expected true or false, got {train_encoder!r}")
        head = raw.get("head") or {}
        if not isinstance(head, dict) or set(head) - set(_HEAD_KEYS):
            raise ValueError(f"{where}.head': expected a mapping with keys among {list(_HEAD_KEYS)}, got {head!r}")
        decode = DecodeConfig.from_options(raw.get("decode"), where=f"{where}.decode'")
        return cls(protocol, template, train_encoder, head, decode)
