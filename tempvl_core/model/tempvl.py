"""The TemPVL model: dual encoders, fusion and grounding encoders, pretraining forward.

Inference paths beyond the dual encoder (re-ranking, localization, captioning, QA) live in
:mod:`tempvl_core.model.inference`; the per-objective computations in
:mod:`tempvl_core.model.objectives`; save/load in :mod:`tempvl_core.model.checkpoint`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tempvl_core import losses, merging
from tempvl_core.model import objectives
from tempvl_core.model.checkpoint import load_pretrained, save_pretrained
from tempvl_core.model.config import TemPVLConfig
from tempvl_core.model.fusion import FusionEncoder, GroundingEncoder
from tempvl_core.model.heads import ClassifierHead, LMHead, SpanHead
from tempvl_core.model.inference import InferenceMixin
from tempvl_core.model.text_encoder import TextEncoder, default_text_encoder_path, mean_pool
from tempvl_core.model.video_encoder import VideoEncoder, masked_mean

TextInput = list[str] | dict[str, Tensor]


class TemPVL(InferenceMixin, nn.Module):
    """Temporal Perceiving Video-Language model.

    Args:
        config: sizes and objective weights (``TemPVLConfig.tiny()`` / ``.base()``).
        backbone: per-frame image model (``[N,3,H,W] -> [N,C]``, attribute ``num_features``).
        text_encoder_path: local BERT-family folder; ``None`` = the packaged MiniLM.
        load_text_weights: ``False`` builds the text encoder from its config only (used by
            :meth:`from_pretrained`, whose checkpoint holds every weight).

    Frames are float tensors ``[B, T, 3, H, W]`` already normalized the way the backbone
    expects; ``frame_mask`` ``[B, T]`` (True = real frame) marks padding.
    """

    def __init__(
        self,
        config: TemPVLConfig,
        backbone: nn.Module,
        text_encoder_path: str | Path | None = None,
        load_text_weights: bool = True,
    ):
        super().__init__()
        config.validate()
        self.config = config
        path = Path(text_encoder_path) if text_encoder_path is not None else default_text_encoder_path()
        self.text_encoder = TextEncoder(path, num_layers=config.text_layers, load_weights=load_text_weights)
        if not config.train_text_encoder:
            self.text_encoder.requires_grad_(False)
        hidden = self.text_encoder.hidden_size
        if hidden % config.fusion_heads:
            raise ValueError(f"text hidden size {hidden} is not divisible by fusion_heads={config.fusion_heads}")
        self.video_encoder = VideoEncoder(
            backbone, config.video_dim, config.max_frames, config.temporal_layers, config.video_heads, config.dropout,
            config.temporal_difference,
        )
        self.video_proj = nn.Linear(config.video_dim, config.embed_dim)
        self.text_proj = nn.Linear(hidden, config.embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / config.temperature)))
        self.fusion = FusionEncoder(hidden, config.video_dim, config.fusion_layers, config.fusion_heads, config.dropout)
        self.grounding = GroundingEncoder(
            config.video_dim, hidden, config.grounding_layers, config.video_heads, config.dropout, config.grounding_kernel
        )
        # Training forwards that merged clips so far: hard merge sampling starts after
        # config.merge_warmup_steps of them (a buffer, so checkpoints resume the count). Its host
        # mirror decides, so no step reads the buffer back; it is set again from every state
        # dict loaded (_load_from_state_dict).
        self.register_buffer("merge_steps", torch.zeros((), dtype=torch.long))
        self.merge_steps_host = 0
        self.mr_head = SpanHead(config.video_dim)
        self.tl_span_head = SpanHead(hidden)
        self.tl_cls_head = ClassifierHead(hidden, 1)
        self.vtm_head = ClassifierHead(hidden, 2)
        self.lm_head = LMHead(hidden, self.text_encoder.word_embeddings)
        self.qa_head: ClassifierHead | None = None
        if config.qa_num_answers > 0:
            self.qa_head = ClassifierHead(hidden, config.qa_num_answers)

    # ------------------------------------------------------------------ basics
    @property
    def device(self) -> torch.device:
        return self.logit_scale.device

    def tokenize(self, texts: list[str], max_len: int | None = None) -> dict[str, Tensor]:
        """Tokenize on the model's device (``max_len`` defaults to ``config.max_text_len``)."""
        tokens = self.text_encoder.tokenize(texts, max_len or self.config.max_text_len)
        return {k: v.to(self.device, non_blocking=True) for k, v in tokens.items()}

    def _tokens(self, texts: TextInput) -> tuple[Tensor, Tensor]:
        ids, mask = self._tokens_as_given(texts)
        return ids.to(self.device, non_blocking=True), mask.to(self.device, non_blocking=True)

    def _tokens_as_given(self, texts: TextInput) -> tuple[Tensor, Tensor]:
        """``(input_ids, attention_mask)`` where they are: on the CPU when tokenized here."""
        if isinstance(texts, str):
            raise TypeError("expected a list of texts or a tokenized dict, got a single str: wrap it in a list")
        if isinstance(texts, dict):
            ids = torch.as_tensor(texts["input_ids"])
            mask = texts.get("attention_mask")
            return ids, torch.ones_like(ids) if mask is None else torch.as_tensor(mask)
        tokens = self.text_encoder.tokenize(list(texts), self.config.max_text_len)
        return tokens["input_ids"], tokens["attention_mask"]

    def _frames(self, frames: Tensor, frame_mask: Tensor | None) -> tuple[Tensor, Tensor | None]:
        frames = frames.to(self.device, dtype=self.logit_scale.dtype, non_blocking=True)
        if frame_mask is not None:
            frame_mask = frame_mask.to(self.device, non_blocking=True).bool()
        return frames, frame_mask

    @property
    def temporal_stride(self) -> int:
        """Frames per video feature position (the backbone's; 1 for a per-frame backbone)."""
        return self.video_encoder.temporal_stride

    def feature_mask(self, frame_mask: Tensor | None) -> Tensor | None:
        """A ``[B, T]`` frame mask on the model's device at the rate of the video features that
        :meth:`video_features` returns (see :mod:`tempvl_core.model.clip_backbone`)."""
        return None if frame_mask is None else self.video_encoder.feature_mask(frame_mask.to(self.device).bool())

    def text_features(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """Text encoder token features ``[B, L, hidden]``."""
        return self.text_encoder(input_ids, attention_mask)

    def pool_text(self, features: Tensor, attention_mask: Tensor) -> Tensor:
        if self.config.text_pooling == "cls":
            return features[:, 0]
        return mean_pool(features, attention_mask)

    # ------------------------------------------------------------ dual encoder
    def video_features(self, frames: Tensor, frame_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Per-frame features ``[B, T, video_dim]`` and clip features ``[B, video_dim]``."""
        frames, frame_mask = self._frames(frames, frame_mask)
        return self.video_encoder(frames, frame_mask)

    def video_frame_features(self, frames: Tensor, frame_mask: Tensor | None = None) -> Tensor:
        """Temporally contextualized per-frame features ``[B, T, video_dim]`` (meaningful only
        where ``frame_mask`` is True). Used for action localization."""
        return self.video_features(frames, frame_mask)[0]

    frame_features = video_frame_features

    def encode_video(self, frames: Tensor, frame_mask: Tensor | None = None) -> Tensor:
        """L2-normalized clip embeddings ``[B, embed_dim]`` in the joint space."""
        return self.embed_video_features(self.video_features(frames, frame_mask)[1])

    def embed_video_features(self, features: Tensor) -> Tensor:
        """Video features in the joint space, L2-normalized: pooled clip features ``[B, video_dim]``
        (what VTC matches) or per-frame features ``[..., T, video_dim]`` (each frame against a text
        embedding: highlight saliency, the study's alignment probe, MR's saliency hinge)."""
        return F.normalize(self.video_proj(features), dim=-1)

    def encode_text(self, texts: TextInput) -> Tensor:
        """L2-normalized text embeddings ``[B, embed_dim]`` from strings or a tokenized dict."""
        ids, mask = self._tokens(texts)
        return self._embed_text(self.text_features(ids, mask), mask)

    def _embed_text(self, features: Tensor, mask: Tensor) -> Tensor:
        return F.normalize(self.text_proj(self.pool_text(features, mask)), dim=-1)

    def similarity(self, text_emb: Tensor, video_emb: Tensor) -> Tensor:
        """``[Nt, Nv]`` scores: cosine similarity times the learned logit scale
        (``exp(logit_scale)``, clamped at 100). Monotone in cosine, so rankings equal plain
        cosine rankings; the scale only matters for softmax-based uses."""
        scale = self.logit_scale.exp().clamp(max=100.0)
        return scale * text_emb.to(video_emb.dtype) @ video_emb.t()

    def vtc_loss(self, video_emb: Tensor, text_emb: Tensor) -> Tensor:
        """Symmetric InfoNCE with the learnable temperature, negatives from all ranks."""
        return losses.vtc_loss(video_emb, text_emb, self.logit_scale)

    # -------------------------------------------------------------- pretraining
    def forward(self, batch: dict[str, Any], generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Compute every enabled pretraining objective.

        ``batch``: ``frames`` ``[B,T,3,H,W]``, optional ``frame_mask`` ``[B,T]``, and either
        ``texts`` (list of str) or ``input_ids`` / ``attention_mask``, and optionally
        ``mergeable`` ``[B]`` (bool): which items may be merged for MR/TL (stills take part in
        VTC and MLM only), and ``source`` / ``source_index`` ``[B]`` (int): the video each clip
        was cut from and its index there (``merge_order: source`` needs them), and optionally
        ``host``: a :class:`~tempvl_core.model.objectives.HostBatch` of CPU copies of these
        fields, kept by the collate function before the batch moved to the device (merges and MLM
        targets are planned from them, so the step never waits for the device; without it, device
        fields are copied back). ``generator`` makes masking and merge sampling reproducible.

        Returns ``loss_<name>`` (already multiplied by its weight) for each objective whose
        weight is > 0, and ``loss`` (their sum).
        """
        if "frames" not in batch:
            raise KeyError("batch lacks 'frames' ([B, T, 3, H, W])")
        texts = batch.get("texts")
        if texts is None:
            if "input_ids" not in batch:
                raise KeyError("batch needs 'texts' (list of str) or 'input_ids'/'attention_mask'")
            texts = {"input_ids": batch["input_ids"], "attention_mask": batch.get("attention_mask")}
        # Host copies plan merges and MLM targets (see objectives): the batch's own fields where
        # they are on the CPU, else those of batch["host"] (a collate function's HostBatch), else
        # copies of the device tensors (each a wait for the device).
        host = batch.get("host")
        host = host if isinstance(host, objectives.HostBatch) else objectives.HostBatch()
        host_ids, host_mask = self._tokens_as_given(texts)
        host_ids = host.get("input_ids", host_ids)
        host_att = host.get("attention_mask", host_mask)
        ids, mask = host_ids.to(self.device, non_blocking=True), host_att.to(self.device, non_blocking=True)
        host_frame_mask = host.get("frame_mask", batch.get("frame_mask"))
        frames, frame_mask = self._frames(batch["frames"], batch.get("frame_mask"))
        raw_feats = self.video_encoder.frame_features(frames, frame_mask, host_mask=host_frame_mask)
        frame_mask = self.video_encoder.feature_mask(frame_mask)  # a clip backbone's features are strided
        host_frame_mask = self.video_encoder.feature_mask(host_frame_mask)
        frame_feats = self.video_encoder.contextualize(raw_feats, frame_mask)
        clip_feats = masked_mean(frame_feats, frame_mask)
        if ids.shape[0] != frame_feats.shape[0]:
            raise ValueError(f"batch has {frame_feats.shape[0]} videos but {ids.shape[0]} texts")
        merging_on = self.config.weight("mr") > 0 or self.config.weight("tl") > 0
        state = objectives.BatchState(
            input_ids=ids,
            attention_mask=mask,
            text_feats=self.text_features(ids, mask),
            frame_feats=frame_feats,
            frame_mask=frame_mask,
            video_emb=self.embed_video_features(clip_feats),
            generator=generator,
            raw_frame_feats=raw_feats,
            mergeable=self._mergeable(host.get("mergeable", batch.get("mergeable")), ids.shape[0]),
            hard_sampling=self.merge_steps_host >= self.config.merge_warmup_steps,
            source=self._per_item(host.get("source", batch.get("source")), "source", ids.shape[0]),
            source_index=self._per_item(host.get("source_index", batch.get("source_index")), "source_index", ids.shape[0]),
            frame_lengths=self._frame_lengths(host_frame_mask) if merging_on else None,
            host_input_ids=host_ids,
            host_attention_mask=host_att,
        )
        if merging_on and self.training:
            self.merge_steps += 1
            self.merge_steps_host += 1
        state.text_emb = self._embed_text(state.text_feats, mask)
        computers = {
            "vtc": lambda: self.vtc_loss(state.video_emb, state.text_emb),
            "mlm": lambda: objectives.mlm_loss(self, state),
            "mr": lambda: objectives.mr_loss(self, state),
            "tl": lambda: objectives.tl_loss(self, state),
            "vtm": lambda: objectives.vtm_loss(self, state),
        }
        out: dict[str, Tensor] = {}
        for name, compute in computers.items():
            weight = self.config.weight(name)
            if weight > 0:
                out[f"loss_{name}"] = weight * compute()
        if not out:
            raise ValueError("every loss weight is 0: enable at least one objective in config.loss_weights")
        out["loss"] = torch.stack(list(out.values())).sum()
        return out

    @staticmethod
    def _per_item(value: Any, key: str, batch_size: int) -> Tensor | None:
        """An optional ``[B]`` integer batch field (kept on the CPU: merging plans there)."""
        if value is None:
            return None
        value = torch.as_tensor(value).cpu()
        if tuple(value.shape) != (batch_size,) or value.dtype.is_floating_point:
            raise ValueError(f"batch[{key!r}] must be [{batch_size}] integers, got {tuple(value.shape)} {value.dtype}")
        return value.long()

    def _mergeable(self, mergeable: Any, batch_size: int) -> Tensor | None:
        """The ``[B]`` mergeable flags, on the CPU (merging plans there)."""
        if mergeable is None:
            return None
        mergeable = objectives.host_copy(torch.as_tensor(mergeable)).bool()
        if tuple(mergeable.shape) != (batch_size,):
            raise ValueError(f"batch['mergeable'] must be [{batch_size}] booleans, got {tuple(mergeable.shape)}")
        return mergeable

    @staticmethod
    def _frame_lengths(host_mask: Tensor | None) -> Tensor | None:
        """Real feature positions per clip, from the host frame mask (merging needs them first)."""
        return None if host_mask is None else merging.frame_lengths(host_mask)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs) -> None:
        """Loads as usual, then sets the host mirror of ``merge_steps`` from the loaded value
        (read once per load, from the state dict, usually still on the CPU)."""
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)
        value = state_dict.get(prefix + "merge_steps")
        if isinstance(value, Tensor) and value.numel() == 1:
            self.merge_steps_host = int(value)

    # -------------------------------------------------------------- save / load
    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``config.json``, ``model.safetensors`` and ``text_encoder/`` (config and
        tokenizer) to ``directory``. No pickle anywhere."""
        return save_pretrained(self, Path(directory))

    @classmethod
    def from_pretrained(cls, directory: str | Path, backbone: nn.Module, strict: bool = True) -> "TemPVL":
        """Rebuild a model saved by :meth:`save_pretrained`; ``backbone`` must have the same
        architecture as the saved one (its weights are overwritten by the checkpoint)."""
        return load_pretrained(cls, Path(directory), backbone, strict=strict)
