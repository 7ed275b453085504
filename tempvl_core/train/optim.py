"""AdamW with decoupled weight decay on weight matrices only."""

from __future__ import annotations

import torch
from torch import nn

# Parameters whose names contain one of these are embeddings or learned tokens/scales: decaying
# them towards zero hurts (positional embeddings, [CLS]/query tokens, the contrastive temperature).
NO_DECAY_NAME_PARTS = ("embed", "pos_", "cls_token", "query_token", "mask_token", "logit_scale", "temperature")


def split_decay_groups(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """``(decay, no_decay)`` trainable parameters.

    No decay for: 0/1-d tensors (biases, norm scales), every parameter of an ``nn.Embedding``,
    and parameters named like embeddings or learned tokens (see ``NO_DECAY_NAME_PARTS``).
    Shared (tied) parameters are counted once.
    """
    embedding_params = {id(p) for m in model.modules() if isinstance(m, nn.Embedding) for p in m.parameters()}
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    seen: set[int] = set()
    for name, param in model.named_parameters():
        if not param.requires_grad or id(param) in seen:
            continue
        seen.add(id(param))
        lowered = name.lower()
        if param.ndim <= 1 or id(param) in embedding_params or any(part in lowered for part in NO_DECAY_NAME_PARTS):
            no_decay.append(param)
        else:
            decay.append(param)
    return decay, no_decay


def build_optimizer(
    model: nn.Module, *, lr: float, weight_decay: float, betas: tuple[float, float], fused: bool | None = None
) -> torch.optim.AdamW:
    """AdamW over two parameter groups; ``fused`` defaults to True when the weights are on CUDA."""
    decay, no_decay = split_decay_groups(model)
    if not decay and not no_decay:
        raise ValueError("the model has no trainable parameters")
    if fused is None:
        fused = any(p.is_cuda for p in decay + no_decay)
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=lr, betas=betas, fused=fused or None)
