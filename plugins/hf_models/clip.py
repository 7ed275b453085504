"""``hf-clip``: a transformers CLIP-style dual encoder as a video-text model, as CLIP4Clip
evaluates it: a ``CLIPModel``, or a ``VisionTextDualEncoderModel`` (a vision and a text tower of
any origin joined by CLIP's projections and learnable temperature). ``config.json``'s
``model_type`` says which.

Frames go through the model's own processor (resize, centre crop, mean and std) and
``get_image_features``; each frame embedding is L2-normalised, the video is their mean over the
real frames, normalised again (CLIP4Clip's zero-shot "meanP"). Texts go through
``get_text_features`` and are normalised. Per-frame embeddings live in the text space, so moments
can be read off each frame's similarity to the query. Finetuning is CLIP4Clip meanP's: the
symmetric InfoNCE loss on these embeddings with CLIP's own learnable temperature.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tempvl_bench.api import ModelOptions
from tempvl_core.losses import vtc_loss
from tempvl_plugins.hf_models.files import model_folder


def pooled(output) -> Tensor:
    """The projected embeddings of ``get_*_features``: a tensor in transformers 4, the
    ``pooler_output`` of a model output in transformers 5."""
    return output if isinstance(output, Tensor) else output.pooler_output


class ProcessorFrames:
    """Decoded uint8 frames ``[T, H, W, 3]`` -> ``pixel_values [T, 3, S, S]`` by the model's image
    processor (its resize, crop, rescale, mean and std); the same for training and evaluation."""

    def __init__(self, image_processor) -> None:
        self.image_processor = image_processor

    def __call__(self, frames, rng: np.random.Generator | None = None) -> Tensor:
        images = [np.asarray(frame) for frame in frames]
        pixels = self.image_processor(images=images, return_tensors="pt")["pixel_values"].float()
        return pixels.reshape(len(images), *pixels.shape[-3:])  # a video processor adds a video axis


class ProcessedVideoText(nn.Module):
    """What a transformers CLIP-family model shares: its processor's tokenizer and frame
    transform, and ``device``."""

    def __init__(self, processor, config) -> None:
        super().__init__()
        self.tokenizer = processor.tokenizer
        self.frame_transform = ProcessorFrames(processor.image_processor)
        self.max_text_positions = int(config.text_config.max_position_embeddings)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def tokenize(self, texts: list[str], max_length: int | None = None) -> dict[str, Tensor]:
        length = min(max_length or self.max_text_positions, self.max_text_positions)
        tokens = self.tokenizer(list(texts), padding=True, truncation=True, max_length=length, return_tensors="pt")
        return {k: v.to(self.device) for k, v in tokens.items() if k in ("input_ids", "attention_mask")}


class HFClipVideo(ProcessedVideoText):
    """A CLIPModel or VisionTextDualEncoderModel with the methods the families call (see
    :mod:`tempvl_bench.plugin.capabilities`); both have ``text_model``, ``get_text_features``,
    ``get_image_features`` and ``logit_scale``."""

    def __init__(self, clip: nn.Module, processor) -> None:
        super().__init__(processor, clip.config)
        self.clip = clip

    @property
    def text_encoder(self) -> nn.Module:
        """The text tower (``finetune.train_text_layers`` freezes all but its top layers)."""
        return self.clip.text_model

    def encode_text(self, tokens: dict[str, Tensor]) -> Tensor:
        return F.normalize(pooled(self.clip.get_text_features(**tokens)).float(), dim=-1)

    def video_frame_features(self, frames: Tensor, frame_mask: Tensor | None = None) -> Tensor:
        """L2-normalised per-frame image embeddings ``[B, T, D]`` (zeros at padded frames)."""
        b, t = frames.shape[:2]
        mask = torch.ones(b, t, dtype=torch.bool, device=frames.device) if frame_mask is None else frame_mask.bool()
        real = frames.to(self.device)[mask.to(self.device)]
        emb = F.normalize(pooled(self.clip.get_image_features(pixel_values=real)).float(), dim=-1)
        out = emb.new_zeros(b, t, emb.shape[-1])
        out[mask.to(out.device)] = emb
        return out

    def embed_video_features(self, features: Tensor) -> Tensor:
        """Frame features are already embeddings in the text space."""
        return features

    def encode_video(self, frames: Tensor, frame_mask: Tensor | None = None) -> Tensor:
        """meanP: the normalised mean of the normalised embeddings of the real frames."""
        feats = self.video_frame_features(frames, frame_mask)
        if frame_mask is None:
            return F.normalize(feats.mean(1), dim=-1)
        weights = frame_mask.to(feats.device, feats.dtype)[..., None]
        return F.normalize((feats * weights).sum(1) / weights.sum(1).clamp(min=1.0), dim=-1)

    def vtc_loss(self, video_emb: Tensor, text_emb: Tensor) -> Tensor:
        """Symmetric InfoNCE with CLIP's learnable temperature (CLIP4Clip's loss)."""
        return vtc_loss(video_emb, text_emb, self.clip.logit_scale)


def load_model_and_processor(model_class, processor_class, folder):
    """The model (safetensors only, float32) and its processor from ``folder``, offline and quietly."""
    from transformers.utils import logging

    logging.disable_progress_bar()  # one "Loading weights" bar per run is noise in the run's log
    model = model_class.from_pretrained(str(folder), local_files_only=True, use_safetensors=True)
    return model.float(), processor_class.from_pretrained(str(folder), local_files_only=True)


#: ``model_type`` of config.json -> the transformers model and processor classes that load it.
CLIP_MODEL_TYPES = {"clip": ("CLIPModel", "CLIPProcessor"),
                    "vision-text-dual-encoder": ("VisionTextDualEncoderModel", "VisionTextDualEncoderProcessor")}


def clip_classes(folder: Path):
    """The model and processor classes for the folder's ``config.json`` ``model_type``."""
    import transformers

    config = folder / "config.json"
    try:
        model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError) as exc:
        raise ValueError(f"{config}: not a readable JSON object ({exc})") from None
    if model_type not in CLIP_MODEL_TYPES:
        raise ValueError(f"{config}: model_type {model_type!r} is not a model hf-clip runs; expected one of "
                         f"{', '.join(CLIP_MODEL_TYPES)} (use --model hf-xclip for an X-CLIP folder)")
    return tuple(getattr(transformers, name) for name in CLIP_MODEL_TYPES[model_type])


def load_clip(options: ModelOptions) -> HFClipVideo:
    folder = model_folder("hf-clip", options)
    model = HFClipVideo(*load_model_and_processor(*clip_classes(folder), folder))
    return model.to(options.device).eval()
