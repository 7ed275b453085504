"""``TemPVLConfig``: every architecture size and objective weight in one typed dataclass."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Weight of each pretraining loss when a config does not set it (VTM is off by default).
DEFAULT_LOSS_WEIGHTS = {"vtc": 1.0, "mlm": 1.0, "mr": 1.0, "tl": 1.0, "vtm": 0.0}
LOSS_NAMES = tuple(DEFAULT_LOSS_WEIGHTS)
MERGE_SAMPLING = ("random", "hard")
MERGE_ORDERS = ("shuffled", "source")
TL_STRATEGIES = ("tokens", "cls")
TEXT_POOLING = ("mean", "cls")


@dataclass
class TemPVLConfig:
    """Architecture and pretraining objectives of a TemPVL model.

    A loss weight of 0 switches that objective off entirely: it is not computed, does not
    appear in the output of ``TemPVL.forward`` and adds nothing to the graph.
    """

    name: str = "tiny"
    # Video side.
    image_size: int = 64
    num_frames: int = 8
    max_frames: int = 32  # temporal position embeddings (frames per clip at most)
    video_dim: int = 256
    video_heads: int = 4
    temporal_layers: int = 1  # 0 = mean pooling of frame features
    # Each frame also gets a learnt linear map of x_{t+1} - x_{t-1} before the temporal layers
    # (motion one linear step away; VideoEncoder's TemporalDifference). Off by default, so a
    # checkpoint without its weights loads.
    temporal_difference: bool = False
    # Text side.
    text_layers: int | None = 2  # keep the first N layers of the text encoder (None = all)
    max_text_len: int = 32
    text_pooling: str = "mean"  # "mean" suits sentence-transformers weights, "cls" suits BERT
    train_text_encoder: bool = True  # False locks the pretrained text encoder (and the tied LM decoder)
    # Joint space and fusion.
    embed_dim: int = 256
    fusion_layers: int = 2
    fusion_heads: int = 6
    grounding_layers: int = 1
    grounding_kernel: int = 3  # temporal convolution after each grounding block (1 = none)
    dropout: float = 0.0
    temperature: float = 0.07  # initial VTC temperature (learnable)
    # Clip / text merging (MR and TL).
    merge_clips: int = 3  # K clips merged into one long video
    merge_frames_per_clip: int | None = None  # subsample each clip to this many frames
    merge_random_lengths: bool = True  # each clip keeps a random share (half to all) of its frames
    merge_hold_frames: int = 0  # up to this many still copies of a clip's first/last frame around it
    merge_sampling: str = "random"  # "random" | "hard"
    # "shuffled": partners from the whole batch in a random order (the paper); "source": partners
    # cut from the anchor's own video, in their order there (no picture jump at a clip boundary).
    merge_order: str = "shuffled"
    merge_temperature: float = 0.1  # hard sampling: partners drawn with p ~ exp(cosine / T)
    merge_warmup_steps: int = 0  # hard sampling draws random partners for this many steps first
    merge_shuffled_texts: bool = False  # control: MR/TL pair each clip with another clip's text
    # MR also trains the joint space frame by frame: on the merged video, every frame of the
    # anchor clip must match the anchor's text (cosine of video_proj and the text embedding) better
    # than every other frame, by a margin (losses.saliency_hinge; Moment-DETR's saliency loss with
    # labels from the merge). 0: the paper's MR, start/end classification only.
    mr_saliency_weight: float = 0.0
    tl_strategy: str = "tokens"  # "tokens" (concatenate token sequences) | "cls" (one feature per text)
    # Merged sequences are cropped to this many frames and placed at a random position offset
    # below it: set it to the frame count evaluation uses, so every position evaluation sees is
    # trained (at most max_frames, the size of the temporal position table).
    max_merged_frames: int = 32
    max_merged_text_len: int = 96
    mlm_prob: float = 0.15
    qa_num_answers: int = 0  # > 0 builds the QA classifier (see TemPVL.ensure_qa_head)
    loss_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_LOSS_WEIGHTS))

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the offending field and what it accepts."""
        unknown = set(self.loss_weights) - set(LOSS_NAMES)
        if unknown:
            raise ValueError(f"loss_weights has unknown keys {sorted(unknown)}; expected a subset of {LOSS_NAMES}")
        for name, weight in self.loss_weights.items():
            if weight < 0:
                raise ValueError(f"loss_weights[{name!r}] = {weight} must be >= 0")
        choices = {
            "merge_sampling": (self.merge_sampling, MERGE_SAMPLING),
            "merge_order": (self.merge_order, MERGE_ORDERS),
            "tl_strategy": (self.tl_strategy, TL_STRATEGIES),
            "text_pooling": (self.text_pooling, TEXT_POOLING),
        }
        for key, (value, allowed) in choices.items():
            if value not in allowed:
                raise ValueError(f"{key}={value!r} is not one of {allowed}")
        if self.merge_clips < 1:
            raise ValueError(f"merge_clips={self.merge_clips} must be >= 1")
        if self.num_frames > self.max_frames:
            raise ValueError(f"num_frames={self.num_frames} exceeds max_frames={self.max_frames}")
        if self.temporal_layers < 0 or self.fusion_layers < 1 or self.grounding_layers < 1:
            raise ValueError("temporal_layers must be >= 0, fusion_layers and grounding_layers >= 1")
        if self.max_merged_frames < 1 or (self.temporal_layers > 0 and self.max_merged_frames > self.max_frames):
            raise ValueError(
                f"max_merged_frames={self.max_merged_frames} must be in [1, max_frames={self.max_frames}]: merged "
                "sequences are numbered with the temporal position table"
            )
        if self.merge_temperature <= 0 or self.merge_warmup_steps < 0 or self.grounding_kernel < 1:
            raise ValueError("merge_temperature must be > 0, merge_warmup_steps >= 0 and grounding_kernel >= 1")
        if self.merge_hold_frames < 0:
            raise ValueError(f"merge_hold_frames={self.merge_hold_frames} must be >= 0")
        if not self.mr_saliency_weight >= 0:
            raise ValueError(f"mr_saliency_weight={self.mr_saliency_weight} must be >= 0")
        if self.video_dim % self.video_heads:
            raise ValueError(f"video_dim={self.video_dim} is not divisible by video_heads={self.video_heads}")

    def weight(self, loss: str) -> float:
        """Weight of one objective (0 when absent)."""
        return float(self.loss_weights.get(loss, 0.0))

    @classmethod
    def tiny(cls, **overrides: Any) -> "TemPVLConfig":
        """CPU-sized: 64 px frames, 8 frames, 2 text layers, 2 fusion layers."""
        return cls(**{"name": "tiny", **overrides})

    @classmethod
    def base(cls, **overrides: Any) -> "TemPVLConfig":
        """Paper-sized: ViT-B/16 or Swin-T per frame at 224 px, BERT-base text encoder."""
        values = dict(
            name="base",
            image_size=224, num_frames=8, max_frames=64,  # frames
            video_dim=768, video_heads=12, temporal_layers=2,  # video encoder
            text_layers=None, max_text_len=40, text_pooling="cls",  # text encoder
            embed_dim=256, fusion_layers=3, fusion_heads=12, grounding_layers=2, dropout=0.1,  # joint model
            max_merged_frames=64, max_merged_text_len=128,  # merged long videos
        )
        return cls(**{**values, **overrides})

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "TemPVLConfig":
        presets = {"tiny": cls.tiny, "base": cls.base}
        if name not in presets:
            raise ValueError(f"unknown TemPVL preset {name!r}; expected one of {sorted(presets)}")
        return presets[name](**overrides)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "<dict>") -> "TemPVLConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"{source}: unknown TemPVLConfig keys {sorted(unknown)}")
        return cls(**values)

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: Path) -> "TemPVLConfig":
        try:
            values = json.loads(Path(path).read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from exc
        return cls.from_dict(values, source=str(path))
