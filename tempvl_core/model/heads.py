"""Prediction heads on top of the fusion and grounding encoders."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class LMHead(nn.Module):
    """BERT-style LM head (dense + GELU + LayerNorm + decoder) whose decoder weight is tied to
    the text encoder's word embeddings, so MLM and captioning reuse the pretrained vocabulary
    projection instead of learning a new 30k x hidden matrix."""

    def __init__(self, hidden: int, word_embeddings: nn.Embedding):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.decoder = nn.Linear(hidden, word_embeddings.num_embeddings)
        if word_embeddings.embedding_dim == hidden:
            self.decoder.weight = word_embeddings.weight  # tied

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.norm(F.gelu(self.dense(x))))


class SpanHead(nn.Module):
    """Start/end logits over positions: ``[B, L, dim] -> ([B, L], [B, L])``."""

    def __init__(self, dim: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, 2))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        logits = self.mlp(x)
        return logits[..., 0], logits[..., 1]


class ClassifierHead(nn.Module):
    """MLP classifier on a pooled feature (VTM, QA, TL-by-CLS scoring)."""

    def __init__(self, dim: int, num_classes: int):
        super().__init__()
        self.num_classes = num_classes
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.mlp(x)
