"""Order jitter: train on rows whose neighbouring keys are sometimes swapped.

Lines that several threads or machines write at about the same time reach the log in an order that
carries no meaning: in HDFS the ``allocateBlock`` line of a block and the first ``Receiving block``
lines of its data nodes come in any order, so normal sessions hold the same keys in many orders, most
of them rare. A model that learned only the orders it saw then finds a rare interleaving as surprising
as a missing or an unknown key, and the normal sessions at the top of the score range, which set the
threshold, are such interleavings.

``train.order_jitter`` swaps adjacent keys of a training row with that probability per pair (two
vectorised passes, odd then even pairs, so a key moves at most two places), before the row is masked:
the masked-key task then sees that these keys may trade places and learns which neighbours are
exchangeable from the keys around them. Session bounds, DIST and padding never move. A key missing or
added still changes the counts the model reads, so those anomalies keep their surprise.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor


def jitter_order(
    token_ids: Tensor, pad_mask: Tensor, ratio: float, fixed: Iterable[int], generator: torch.Generator
) -> Tensor:
    """Swap adjacent keys of each row with probability ``ratio`` per pair (a new tensor; the input is unchanged).

    Args:
        token_ids: (B, T) unmasked token ids, DIST at position 0.
        pad_mask: (B, T) bool, True = padding.
        ratio: probability that a pair of adjacent keys is swapped, per pass.
        fixed: token ids that never move (the session bounds).
        generator: the seeded source of randomness (the only one used).

    Returns:
        (B, T) the jittered rows: the same keys per row, pairs swapped in two passes (pairs starting at
        odd positions, then at even ones); a pair is swapped only when both are movable keys.
    """
    out = token_ids.clone()
    b, t = out.shape
    if t < 3:
        return out
    movable = ~pad_mask.clone()
    movable[:, 0] = False  # DIST
    for token in fixed:
        movable &= out != token
    for first in (1, 2):
        left = torch.arange(first, t - 1, 2)  # (P,) left position of each pair
        if left.numel() == 0:
            continue
        draw = torch.rand(b, left.numel(), generator=generator) < ratio  # (B, P)
        swap = draw & movable[:, left] & movable[:, left + 1]  # (B, P)
        rows, pairs = swap.nonzero(as_tuple=True)
        i, j = left[pairs], left[pairs] + 1
        a, c = out[rows, i].clone(), out[rows, j].clone()
        out[rows, i], out[rows, j] = c, a
    return out
