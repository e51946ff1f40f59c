"""Key sequences -> padded token tensors, and the random key masking used for training.

Token layout of one row: ``[DIST, k_1, ..., k_n, PAD, ..., PAD]``. DIST (token id 1) sits at
position 0 and its final hidden state is the sequence embedding the hypersphere loss uses;
PAD (token id 0) fills the row; MASK (token id 2) replaces the keys the model must predict.
Labels use ``IGNORE_INDEX`` (-100) at every position that is not masked. ``IGNORE_INDEX`` is
never a token id and is never fed to the embedding.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple, Protocol

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from logbert.config import SIGNAL_MASK, SIGNAL_NONE

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
    gap_ids: Tensor | None = None  # (B, T) long gap bucket ids, unmasked (time-aware models only)
    value_ids: Tensor | None = None  # (B, T) long value bucket ids, unmasked (value-aware models only)


class SignalBatch(NamedTuple):
    """The masked signal inputs of a batch and their labels (see :func:`mask_signals`)."""

    gap_ids: Tensor | None  # (B, T) long, inputs: masked buckets replaced by SIGNAL_MASK
    value_ids: Tensor | None
    gap_labels: Tensor | None  # (B, T) long, true bucket at masked positions, IGNORE_INDEX elsewhere
    value_labels: Tensor | None


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
    token_ids = right_padded(rows, width, pad_id, torch.long)  # (B, T)
    pad_mask = torch.arange(width) >= torch.tensor([len(r) for r in rows])[:, None]  # (B, T)
    return token_ids, pad_mask


def right_padded(rows: Sequence[Sequence[float]], width: int, fill: float, dtype: torch.dtype) -> Tensor:
    """(len(rows), width) of ``dtype``: each row's values from the left, ``fill`` after them.

    One tensor of every row's values written through a mask, instead of three small tensor operations a row
    (on a CPU each costs microseconds, and a batch has hundreds of rows); a boolean index fills row by row,
    in order.
    """
    lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
    out = torch.full((len(rows), width), fill, dtype=dtype)
    out[torch.arange(width) < lengths[:, None]] = torch.tensor(list(itertools.chain.from_iterable(rows)), dtype=dtype)
    return out


def pad_signal_rows(rows: Sequence[Sequence[int]], width: int) -> Tensor:
    """Right-pad signal bucket rows (aligned with token rows) with ``SIGNAL_NONE`` into (B, width) long."""
    return right_padded(rows, width, SIGNAL_NONE, torch.long)


def mask_signals(
    token_ids: Tensor,
    pad_mask: Tensor,
    gap_ids: Tensor | None,
    value_ids: Tensor | None,
    mask_ratio: float,
    mask_id: int,
    generator: torch.Generator,
    blind_rows: float = 0.0,
) -> SignalBatch:
    """Hide signal buckets for the model to predict, apart from the key mask.

    One draw per position (DIST included: its gap bucket is the session's elapsed time) chooses, with
    probability ``mask_ratio``, the positions whose gap and value are hidden and predicted *while their
    key stays visible*: that is how scoring asks "this key, but this late / this large?". Where the
    key itself is masked its signals are hidden too (a bucket must not give the key away) but not
    predicted. Positions without a signal (NONE) and padding are never hidden nor predicted. Called
    after the key mask and the cuts (``token_ids`` holds their MASKs), with the same generator: a
    key-only model never draws here, so its random stream is unchanged.

    ``blind_rows`` (``model.keys_see_signals = False``: 0.5): that share of rows, drawn after the positions, has
    every time and value hidden and none predicted, so their keys are learnt from the keys alone, as the key pass
    of such a model scores them (:func:`blind_signals`). 0 draws nothing.
    """
    chosen = (torch.rand(pad_mask.shape, generator=generator) < mask_ratio) & ~pad_mask  # (B, T)
    key_masked = token_ids == mask_id
    if blind_rows > 0:
        blind = (torch.rand(pad_mask.shape[0], generator=generator) < blind_rows)[:, None] & ~pad_mask  # (B, T)
        chosen = chosen & ~blind  # nothing to predict where nothing is seen
        key_masked = key_masked | blind

    def one(ids: Tensor | None) -> tuple[Tensor | None, Tensor | None]:
        if ids is None:
            return None, None
        ids = ids.masked_fill(pad_mask, SIGNAL_NONE)  # cut rows: their tail is padding now
        has = ids != SIGNAL_NONE
        labels = torch.where(chosen & has, ids, torch.full_like(ids, IGNORE_INDEX))
        # a masked key's buckets are hidden even when they are NONE: "no time here" is the session-end key,
        # "no number here" a template without one, and either would give the key away (HDFS: a write that
        # stops after two lines read as a normal end, docs/time_values.md)
        return ids.masked_fill((chosen & has) | key_masked, SIGNAL_MASK), labels

    gap_in, gap_labels = one(gap_ids)
    value_in, value_labels = one(value_ids)
    return SignalBatch(gap_in, value_in, gap_labels, value_labels)


def blind_signals(ids: Tensor | None, pad_mask: Tensor) -> Tensor | None:
    """A row's signal ids with every time and value hidden (MASK at each non-padding position, DIST included):
    what the key pass of a model with ``model.keys_see_signals = False`` reads, as its training's blind rows
    (:func:`mask_signals`) did."""
    return None if ids is None else ids.masked_fill(~pad_mask, SIGNAL_MASK)


def distinct_rows(
    rows: Sequence[Sequence[int]], *columns: Sequence[Sequence[object]] | None
) -> tuple[list[int], np.ndarray]:
    """The first index of each distinct row and, per row, which distinct row it is.

    A row is its keys and its entries of ``columns`` (a None column is left out): the signal inputs of a model
    that reads them, one :class:`~logbert.windowing.signals.SignalRow` or one id list per row. The scorer scores
    each distinct row once and the trainer's centre pass embeds each once (``logbert.scoring.scorer``,
    ``logbert.training.trainer.compute_center``): a row's numbers depend on the row alone, and real logs
    repeat (the DevStack test sessions' 446 windows hold 158 distinct ones, the 4,855 DeepLog HDFS training
    sessions 839).

    >>> distinct_rows([[1, 2], [3], [1, 2]])
    ([0, 1], array([0, 1, 0]))
    >>> distinct_rows([[1, 2], [3], [1, 2], [1, 2]], [[0, 5], [0], [0, 5], [0, 6]], None)
    ([0, 1, 3], array([0, 1, 0, 2]))
    """
    first: dict[tuple[object, ...], int] = {}
    distinct: list[int] = []
    inverse = np.empty(len(rows), dtype=np.int64)
    for i, row in enumerate(rows):
        key = (tuple(row), *(_frozen(column[i]) for column in columns if column is not None))
        j = first.setdefault(key, len(distinct))
        if j == len(distinct):
            distinct.append(i)
        inverse[i] = j
    return distinct, inverse


def _frozen(entry: Sequence[object]) -> tuple[object, ...]:
    """A row's entry of a column as a hashable tuple (the fields of a SignalRow are lists)."""
    return tuple(tuple(f) if isinstance(f, Iterable) and not isinstance(f, str) else f for f in entry)


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
    an epoch depend only on that generator's seed. ``gap_rows`` / ``value_rows``: optional signal
    bucket rows aligned with the token rows (``logbert.windowing.signals.encode_signals``).
    """

    def __init__(
        self,
        seqs: Sequence[Sequence[int]],
        vocab: TokenVocab,
        max_len: int,
        *,
        gap_rows: Sequence[Sequence[int]] | None = None,
        value_rows: Sequence[Sequence[int]] | None = None,
    ) -> None:
        for i, seq in enumerate(seqs):
            if len(seq) == 0:
                raise ValueError(f"sequence {i} is empty; training needs at least one key per sequence")
        self.rows = encode_sequences(seqs, vocab, max_len)
        self.vocab = vocab
        self.max_len = max_len
        # the rows once as one padded tensor: a batch is an index and a slice, no per-row Python work
        self.lengths = torch.tensor([len(r) for r in self.rows], dtype=torch.long)  # (N,) tokens, DIST included
        self.tokens = pad_tokens(self.rows, vocab.PAD)[0] if self.rows else torch.zeros(0, 1, dtype=torch.long)
        for name, extra in (("gap_rows", gap_rows), ("value_rows", value_rows)):
            if extra is not None and [len(r) for r in extra] != [len(r) for r in self.rows]:
                raise ValueError(f"{name} are not aligned with the token rows")
        self.gap_rows = None if gap_rows is None else [list(r) for r in gap_rows]
        self.value_rows = None if value_rows is None else [list(r) for r in value_rows]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> list[int]:
        return self.rows[index]

    def collate(
        self,
        rows: Sequence[Sequence[int]],
        mask_ratio: float,
        generator: torch.Generator,
        indices: Sequence[int] | None = None,
    ) -> MaskedBatch:
        """Pad ``rows`` and mask keys at random (see :func:`random_key_mask`); with ``indices`` (the
        rows' places in the dataset) also the rows' unmasked signal buckets (masked later, by
        :func:`mask_signals`)."""
        token_ids, pad_mask = pad_tokens(rows, self.vocab.PAD)
        return self._mask(token_ids, pad_mask, mask_ratio, generator, indices)

    def collate_index(
        self,
        index: Sequence[int],
        mask_ratio: float,
        generator: torch.Generator,
        reorder: Callable[[Tensor, Tensor], Tensor] | None = None,
    ) -> MaskedBatch:
        """:meth:`collate` of the rows at ``index`` (with their signal buckets when the dataset has them),
        from the pre-padded tensor: the same batch, faster. ``reorder(token_ids, pad_mask)`` rearranges the
        unmasked rows first (``train.order_jitter``; key-only datasets)."""
        at = torch.as_tensor(index, dtype=torch.long)
        lengths = self.lengths[at]  # (B,)
        width = int(lengths.max())
        token_ids = self.tokens[at, :width]  # (B, T) a copy: masking never writes into the dataset
        pad_mask = torch.arange(width)[None, :] >= lengths[:, None]  # (B, T)
        if reorder is not None:
            if self.gap_rows is not None or self.value_rows is not None:
                raise ValueError("reordering keys would leave their time and value buckets behind: key-only rows only")
            token_ids = reorder(token_ids, pad_mask)
        with_signals = self.gap_rows is not None or self.value_rows is not None
        return self._mask(token_ids, pad_mask, mask_ratio, generator, index if with_signals else None)

    def _mask(
        self,
        token_ids: Tensor,
        pad_mask: Tensor,
        mask_ratio: float,
        generator: torch.Generator,
        indices: Sequence[int] | None,
    ) -> MaskedBatch:
        chosen = random_key_mask(pad_mask, mask_ratio, generator)
        masked, labels = apply_mask(token_ids, chosen, self.vocab.MASK)
        if indices is None:
            return MaskedBatch(masked, labels, pad_mask)
        width = token_ids.shape[1]
        gaps = None if self.gap_rows is None else pad_signal_rows([self.gap_rows[i] for i in indices], width)
        values = None if self.value_rows is None else pad_signal_rows([self.value_rows[i] for i in indices], width)
        return MaskedBatch(masked, labels, pad_mask, gaps, values)
