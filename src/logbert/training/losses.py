"""The two LogBERT training objectives, as pure functions."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from logbert.windowing.dataset import IGNORE_INDEX


def masked_key_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Masked log-key prediction (MLKP): mean cross-entropy over the masked positions only.

    Args:
        logits: (B, T, V) key-prediction logits.
        labels: (B, T) long, the true token id at masked positions, ``IGNORE_INDEX`` elsewhere.

    Returns:
        A scalar; 0 (still attached to the graph) when no position is masked.
    """
    if not bool((labels != IGNORE_INDEX).any()):
        return logits.sum() * 0.0
    v = logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, v), labels.reshape(-1), ignore_index=IGNORE_INDEX)


def hypersphere_loss(dist_embedding: Tensor, center: Tensor) -> Tensor:
    """Volume of hypersphere minimisation (VHM): mean squared distance to the centre.

    Args:
        dist_embedding: (B, C) DIST embeddings.
        center: (C,) the centre of normal training sequences (a constant, no gradient needed).

    Returns:
        A scalar: ``mean_b ||dist_embedding[b] - center||^2``.
    """
    return ((dist_embedding - center) ** 2).sum(dim=-1).mean()
