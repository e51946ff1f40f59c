from collections.abc import Sequence

import pytest
import torch

from logbert.windowing.dataset import (
    IGNORE_INDEX,
    MaskedKeyDataset,
    encode_sequences,
    pad_tokens,
    random_key_mask,
)

PAD, DIST, MASK, UNK = 0, 1, 2, 3


class TinyVocab:
    """Keys 10, 11, 12 -> tokens 4, 5, 6; anything else -> UNK."""

    PAD, DIST, MASK, UNK, N_SPECIAL = PAD, DIST, MASK, UNK, 4

    def encode(self, key_ids: Sequence[int]) -> list[int]:
        return [k - 6 if k in (10, 11, 12) else UNK for k in key_ids]

    def decode_token(self, token_id: int) -> int | None:
        return token_id + 6 if token_id >= 4 else None

    def __len__(self) -> int:
        return 7


def encode_batch(seqs: list[list[int]], vocab: TinyVocab, max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """What the trainer and the scorer do with a batch: encode (DIST first), then pad."""
    return pad_tokens(encode_sequences(seqs, vocab, max_len), vocab.PAD)


def test_encode_then_pad_puts_dist_first_and_pads_with_pad() -> None:
    token_ids, pad_mask = encode_batch([[10, 11, 12], [12], [99, -1]], TinyVocab(), max_len=4)
    assert token_ids.tolist() == [[DIST, 4, 5, 6], [DIST, 6, PAD, PAD], [DIST, UNK, UNK, PAD]]
    assert pad_mask.tolist() == [[False] * 4, [False, False, True, True], [False, False, False, True]]
    assert token_ids.dtype == torch.long and pad_mask.dtype == torch.bool


def test_encoding_rejects_too_long_sequences() -> None:
    with pytest.raises(ValueError, match="5 keys"):
        encode_sequences([[10], [10] * 5], TinyVocab(), max_len=4)


def test_masking_never_touches_dist_or_pad_and_uses_mask_id() -> None:
    seqs = [[10, 11, 12, 10, 11, 12, 10, 11], [12], [11, 10], [10, 10, 10]]
    ds = MaskedKeyDataset(seqs, TinyVocab(), max_len=8)
    gen = torch.Generator().manual_seed(0)
    for _ in range(50):
        batch = ds.collate([ds[i] for i in range(len(ds))], 0.5, gen)
        clean, pad_mask = encode_batch(seqs, TinyVocab(), max_len=8)
        masked = batch.labels != IGNORE_INDEX
        assert not masked[:, 0].any() and not (masked & pad_mask).any()
        assert masked.any(dim=1).all()  # at least one key per sequence
        assert (batch.token_ids[masked] == MASK).all()
        assert torch.equal(batch.labels[masked], clean[masked])
        assert torch.equal(batch.token_ids[~masked], clean[~masked])
        assert torch.equal(batch.pad_mask, pad_mask)
        assert (batch.token_ids != IGNORE_INDEX).all()


def test_masking_is_seeded_and_keeps_at_least_one_key_at_a_tiny_ratio() -> None:
    pad_mask = torch.tensor([[False, False, False, True], [False, False, False, False]])
    a = random_key_mask(pad_mask.clone(), 1e-6, torch.Generator().manual_seed(3))
    b = random_key_mask(pad_mask.clone(), 1e-6, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert a.sum(dim=1).tolist() == [1, 1] and not a[:, 0].any() and not a[0, 3]


def test_training_dataset_rejects_empty_sequences() -> None:
    with pytest.raises(ValueError, match="sequence 1 is empty"):
        MaskedKeyDataset([[10], []], TinyVocab(), max_len=4)


def test_the_module_examples_hold() -> None:
    """Its doctests: ``distinct_rows``, the one rule by which the scorer and the centre pass group repeated rows."""
    import doctest

    from logbert.windowing import dataset

    assert doctest.testmod(dataset).failed == 0
