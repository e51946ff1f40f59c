"""Cut training rows: make the model read a masked last position from the keys before it.

Masked key prediction alone has a blind spot at the end of a row. In every training row the last
key of a bounded session is the session-end key, so "a masked position with nothing after it" is
the end key, always: the model learns to read that off the padding and never asks whether the
keys before it make a complete session. A session that stops after two of its twenty lines (the
HDFS write that dies early) then scores as an ordinary end.

``train.cut_ratio`` cuts that share of training rows after a random key ``c - 1`` and masks the
key at ``c`` (the next key, or the end key when nothing was cut) as the row's new last token;
everything after it becomes padding. A masked last position is then sometimes the end and
sometimes any next key, and only the keys before it tell which: the end of a session that stops
too early becomes a surprising key for the ordinary masked scoring (``max_nll``), with no change
to scoring. The key counts seen so far are part of what the model must read, so this is the
session-level "is this session complete?" signal of issue 9, learnt by the same head.

Leakage: the masked key at the cut is never an input (it is MASK, and every later key is padding),
so nothing can be read off the input; the earlier keys keep their own random masks.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from logbert.windowing.dataset import IGNORE_INDEX


def cut_rows(
    token_ids: Tensor,
    labels: Tensor,
    pad_mask: Tensor,
    originals: Sequence[Sequence[int]],
    *,
    ratio: float,
    mask_id: int,
    pad_id: int,
    generator: torch.Generator,
) -> tuple[Tensor, Tensor, Tensor]:
    """Cut a ``ratio`` share of the rows of a masked batch (new tensors; the inputs are unchanged).

    Args:
        token_ids: (B, T) masked token ids, DIST at position 0.
        labels: (B, T) true token ids at masked positions, ``IGNORE_INDEX`` elsewhere.
        pad_mask: (B, T) bool, True = padding.
        originals: the B unmasked token rows (DIST first), as encoded.
        ratio: probability that a row is cut.
        mask_id: the MASK token id.
        pad_id: the PAD token id.
        generator: the seeded source of randomness (the only one used).

    Returns:
        ``(token_ids, labels, pad_mask)``. A cut row ``[DIST, t_1, ..., t_n]`` becomes
        ``[DIST, t_1', ..., t_{c-1}', MASK, PAD, ...]`` with label ``t_c`` at ``c``, for ``c`` drawn
        uniformly from ``2..n`` (``t_1`` stays, so a bounded session keeps its start key);
        ``t_i'`` keep their own masks. Rows with a single key are never cut.
    """
    token_ids, labels, pad_mask = token_ids.clone(), labels.clone(), pad_mask.clone()
    b = token_ids.shape[0]
    draws = torch.rand(b, generator=generator)  # (B,)
    spots = torch.rand(b, generator=generator)  # (B,) where each row would be cut
    for i in range(b):
        n = len(originals[i]) - 1  # keys, DIST excluded
        if n < 2 or float(draws[i]) >= ratio:
            continue
        c = 2 + min(n - 2, int(float(spots[i]) * (n - 1)))  # uniform in 2..n
        token_ids[i, c] = mask_id
        labels[i, c] = int(originals[i][c])
        token_ids[i, c + 1 :] = pad_id
        labels[i, c + 1 :] = IGNORE_INDEX
        pad_mask[i, c + 1 :] = True
    return token_ids, labels, pad_mask
