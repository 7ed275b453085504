"""GPU-path switches of the pretraining engine: activation checkpointing and DDP's graph mode.

Kept apart from the engine so benchmarks and tests can apply them to a bare model.
"""

from __future__ import annotations

from torch import nn


def enable_activation_checkpointing(model: nn.Module) -> list[str]:
    """Recompute activations in backward wherever the model supports it; returns what changed.

    - every :class:`~tempvl_core.model.layers.TransformerStack` (temporal, fusion layers);
    - the text encoder (transformers' ``gradient_checkpointing_enable``);
    - a backbone with ``set_grad_checkpointing`` (timm models, the built-in Video Swin-T).
    """
    from tempvl_core.model.layers import TransformerStack

    changed: list[str] = []
    for name, module in model.named_modules():
        if isinstance(module, TransformerStack):
            module.checkpointing = True
            changed.append(name)
    text = getattr(getattr(model, "text_encoder", None), "model", None)
    if text is not None and getattr(text, "supports_gradient_checkpointing", False):
        if hasattr(text, "activation_checkpointing_enable"):  # transformers >= 5.x name
            text.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            text.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        changed.append("text_encoder")
    backbone = getattr(getattr(model, "video_encoder", None), "backbone", None)
    if backbone is not None and hasattr(backbone, "set_grad_checkpointing"):
        backbone.set_grad_checkpointing(True)
        changed.append("video_encoder.backbone")
    return changed


def prepare_for_ddp(model: nn.Module) -> bool:
    """Freeze the heads no enabled objective can reach and say whether DDP must still search
    for unused parameters (``find_unused_parameters``): only when an objective is switched off.

    With every objective on, each step reaches every trainable parameter except the heads that
    the configuration rules out (the text-localization head of the other ``tl_strategy``, an
    absent QA head); freezing those lets DDP skip its per-step graph traversal.
    """
    config = getattr(model, "config", None)
    if not hasattr(config, "loss_weights"):  # not a TemPVL model: nothing is known about its graph
        return True
    idle = {"tokens": "tl_cls_head", "cls": "tl_span_head"}.get(config.tl_strategy)
    for name in filter(None, [idle, "qa_head"]):
        head = getattr(model, name, None)
        if head is not None:
            head.requires_grad_(False)
    from tempvl_core.model.config import LOSS_NAMES

    return any(config.weight(name) <= 0 for name in LOSS_NAMES)
