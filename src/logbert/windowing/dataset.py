"""Key sequences -> padded token tensors, and the random key masking used for training.

Token layout of one row: ``[DIST, k_1, ..., k_n, PAD, ..., PAD]``. DIST (token id 1) sits at
position 0 and its final hidden state is the sequence embedding the hypersphere loss uses;
PAD (token id 0) fills the row; MASK (token id 2) replaces the keys the model must predict.
Labels use ``IGNORE_INDEX`` (-100) at every position that is not masked. ``IGNORE_INDEX`` is
never a token id and is never fed to the embedding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

import torch
from torch import Tensor
from torch.utils.data import Dataset

#: Label of a position that is not predicted (``torch.nn.functional.cross_entropy``'s default).
IGNORE_INDEX = -100


class TokenVocab(Protocol):
    """What this module needs from ``logbert.parsing.vocab.Vocab``."""

    @property
    def PAD(self) -> int: ...  # noqa: N802 - the vocabulary's constant names

    @property
    def DIST(self) -> int: ...  # noqa: N802

    @property
    def MASK(self) -> int: ...  # noqa: N802

    @property
    def UNK(self) -> int: ...  # noqa: N802

    @property
    def N_SPECIAL(self) -> int: ...  # noqa: N802

    def encode(self, key_ids: Sequence[int]) -> list[int]: ...

    def decode_token(self, token_id: int) -> int | None: ...

    def __len__(self) -> int: ...


class MaskedBatch(NamedTuple):
    """One training batch."""

    token_ids: Tensor  # (B, T) long, masked keys replaced by MASK
    labels: Tensor  # (B, T) long, true token id at masked positions, IGNORE_INDEX elsewhere
    pad_mask: Tensor  # (B, T) bool, True = padding


def check_lengths(seqs: Sequence[Sequence[int]], max_len: int) -> None:
    """Raise ``ValueError`` naming the first sequence longer than ``max_len`` keys."""
    for i, seq in enumerate(seqs):
        if len(seq) > max_len:
            raise ValueError(f"sequence {i} has {len(seq)} keys, more than max_len={max_len}; split it first")


def pad_tokens(rows: Sequence[Sequence[int]], pad_id: int, pad_to: int | None = None) -> tuple[Tensor, Tensor]:
    """Right-pad token rows (DIST already in front) into ``(token_ids, pad_mask)``.

    Args:
        rows: token id lists, each starting with DIST.
        pad_id: the PAD token id.
        pad_to: row length T; default the longest row.

    Returns:
        ``token_ids`` (B, T) long and ``pad_mask`` (B, T) bool with True at padding.
    """
    if not rows:
        raise ValueError("cannot pad an empty batch")
    longest = max(len(r) for r in rows)
    width = longest if pad_to is None else pad_to
    if width < longest:
        raise ValueError(f"pad_to={pad_to} is shorter than the longest row ({longest} tokens)")
    token_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)  # (B, T)
    pad_mask = torch.ones((len(rows), width), dtype=torch.bool)  # (B, T)
    for i, row in enumerate(rows):
        token_ids[i, : len(row)] = torch.as_tensor(row, dtype=torch.long)
        pad_mask[i, : len(row)] = False
    return token_ids, pad_mask


def encode_sequences(seqs: Sequence[Sequence[int]], vocab: TokenVocab, max_len: int) -> list[list[int]]:
    """Key-id sequences -> token rows ``[DIST, tokens...]`` (unknown keys become UNK).

    Raises:
        ValueError: a sequence is longer than ``max_len`` keys.
    """
    check_lengths(seqs, max_len)
    return [[vocab.DIST, *vocab.encode(list(seq))] for seq in seqs]


def random_key_mask(pad_mask: Tensor, mask_ratio: float, generator: torch.Generator) -> Tensor:
    """Choose keys to mask: each key with probability ``mask_ratio``, at least one per row.

    Position 0 (DIST) and padding are never chosen.

    Args:
        pad_mask: (B, T) bool, True = padding; every row must hold at least one key.
        mask_ratio: probability of masking each key.
        generator: the seeded source of randomness (the only one used).

    Returns:
        (B, T) bool, True = masked.
    """
    maskable = ~pad_mask
    maskable[:, 0] = False  # DIST
    if not bool(maskable.any(dim=1).all()):
        raise ValueError("every sequence needs at least one key to mask")
    u = torch.rand(pad_mask.shape, generator=generator)  # (B, T)
    u = u.masked_fill(~maskable, 2.0)  # above any ratio: never chosen, never the row minimum
    chosen = u < mask_ratio
    # rows where the coin chose nothing get their lowest draw masked
    lowest = u == u.min(dim=1, keepdim=True).values  # (B, T)
    empty = ~chosen.any(dim=1, keepdim=True)  # (B, 1)
    return chosen | (lowest & empty & maskable)


def apply_mask(token_ids: Tensor, chosen: Tensor, mask_id: int) -> tuple[Tensor, Tensor]:
    """Replace chosen positions by MASK; return ``(masked token_ids, labels)``, both (B, T)."""
    labels = torch.where(chosen, token_ids, torch.full_like(token_ids, IGNORE_INDEX))
    masked = token_ids.masked_fill(chosen, mask_id)
    return masked, labels


class MaskedKeyDataset(Dataset[list[int]]):
    """Normal key sequences encoded once as token rows ``[DIST, tokens...]``.

    Masking happens in :meth:`collate`, with the caller's seeded generator, so that the masks of
    an epoch depend only on that generator's seed.
    """

    def __init__(self, seqs: Sequence[Sequence[int]], vocab: TokenVocab, max_len: int) -> None:
        for i, seq in enumerate(seqs):
            if len(seq) == 0:
                raise ValueError(f"sequence {i} is empty; training needs at least one key per sequence")
        self.rows = encode_sequences(seqs, vocab, max_len)
        self.vocab = vocab
        self.max_len = max_len
        # the rows once as one padded tensor: a batch is an index and a slice, no per-row Python work
        self.lengths = torch.tensor([len(r) for r in self.rows], dtype=torch.long)  # (N,) tokens, DIST included
        self.tokens = pad_tokens(self.rows, vocab.PAD)[0] if self.rows else torch.zeros(0, 1, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> list[int]:
        return self.rows[index]

    def collate(self, rows: Sequence[Sequence[int]], mask_ratio: float, generator: torch.Generator) -> MaskedBatch:
        """Pad ``rows`` and mask keys at random (see :func:`random_key_mask`)."""
        token_ids, pad_mask = pad_tokens(rows, self.vocab.PAD)
        return self._mask(token_ids, pad_mask, mask_ratio, generator)

    def collate_index(self, index: Sequence[int], mask_ratio: float, generator: torch.Generator) -> MaskedBatch:
        """:meth:`collate` of the rows at ``index``, from the pre-padded tensor (the same batch, faster)."""
        at = torch.as_tensor(index, dtype=torch.long)
        lengths = self.lengths[at]  # (B,)
        width = int(lengths.max())
        token_ids = self.tokens[at, :width]  # (B, T) a copy: masking never writes into the dataset
        pad_mask = torch.arange(width)[None, :] >= lengths[:, None]  # (B, T)
        return self._mask(token_ids, pad_mask, mask_ratio, generator)

    def _mask(self, token_ids: Tensor, pad_mask: Tensor, mask_ratio: float, generator: torch.Generator) -> MaskedBatch:
        chosen = random_key_mask(pad_mask, mask_ratio, generator)
        masked, labels = apply_mask(token_ids, chosen, self.vocab.MASK)
        return MaskedBatch(masked, labels, pad_mask)
