"""The LogBERT training objectives (MLKP, VHM, and the count head's), as pure functions."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from logbert.windowing.dataset import IGNORE_INDEX


def masked_key_loss(logits: Tensor, labels: Tensor, n_masked: int | None = None) -> Tensor:
    """Masked log-key prediction (MLKP): mean cross-entropy over the masked positions only.

    Args:
        logits: (B, T, V) key-prediction logits.
        labels: (B, T) long, the true token id at masked positions, ``IGNORE_INDEX`` elsewhere.
        n_masked: divide the summed cross-entropy by this instead of by the masked positions of
            ``labels``: the whole batch's count when these rows are one process's share of it.

    Returns:
        A scalar; 0 (still attached to the graph) when no position is masked.
    """
    v = logits.shape[-1]
    total = F.cross_entropy(logits.reshape(-1, v), labels.reshape(-1), ignore_index=IGNORE_INDEX, reduction="sum")
    if n_masked is None:
        # the count stays a tensor on the logits' device: no host sync a step on a GPU (asking whether any key is
        # masked waited for the GPU every step). The same numbers as the "mean" reduction, which divides this sum
        # by this count (tests/training/test_losses.py)
        return total / (labels != IGNORE_INDEX).sum().clamp(min=1)
    return total / max(1, n_masked)


def hypersphere_loss(
    dist_embedding: Tensor, center: Tensor, n_rows: int | None = None, *, per_dimension: bool = False
) -> Tensor:
    """Volume of hypersphere minimisation (VHM): mean squared distance to the centre.

    Args:
        dist_embedding: (B, C) DIST embeddings.
        center: (C,) the centre of normal training sequences (a constant, no gradient needed).
        n_rows: divide the summed distances by this instead of by B (the whole batch's rows when
            these are one process's share of it).
        per_dimension: each squared distance divided by the width C (``train.vhm_per_dimension``), so that
            ``train.alpha`` weighs the term against MLKP's cross-entropy whatever ``d_model`` is.

    Returns:
        A scalar: ``mean_b ||dist_embedding[b] - center||^2`` (divided by C ``per_dimension``).
    """
    squared = (dist_embedding - center) ** 2
    distances = squared.mean(dim=-1) if per_dimension else squared.sum(dim=-1)
    return distances.mean() if n_rows is None else distances.sum() / n_rows


def count_loss(count_logits: Tensor, targets: Tensor, n_rows: int | None = None) -> Tensor:
    """The count head's loss (``model.key_counts``): cross-entropy of every token id's count bucket in a row.

    Args:
        count_logits: (B, V, K) count-bucket logits per token id.
        targets: (B, V) long, each token id's true count bucket (``logbert.model.encoder.count_buckets``).
        n_rows: divide by this instead of by B (the whole batch's rows when these are one process's share).

    Returns:
        A scalar: per row, the summed cross-entropy over the columns divided by how many keys the row holds (the
        absent keys are easy, and a row of many keys should not outweigh one of few), then the mean over rows. One
        masked key's MLKP term and one present key's count term then weigh alike. The special tokens' columns
        (PAD, DIST, MASK, and UNK, which no training row holds) are always 0: learnt at once, and never scored.
    """
    per_key = F.cross_entropy(
        count_logits.reshape(-1, count_logits.shape[-1]).float(), targets.reshape(-1), reduction="none"
    )
    per_row = per_key.view(targets.shape).sum(dim=1) / (targets > 0).sum(dim=1).clamp(min=1)
    return per_row.mean() if n_rows is None else per_row.sum() / n_rows
