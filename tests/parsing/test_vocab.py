from __future__ import annotations

import json

import pytest

from logbert.errors import InputDataError
from logbert.parsing.vocab import DIST, MASK, N_SPECIAL, PAD, UNK, Vocab
from logbert.records import UNK_KEY


def test_specials_and_encode() -> None:
    assert (PAD, DIST, MASK, UNK, N_SPECIAL) == (0, 1, 2, 3, 4)
    v = Vocab.fit([[7, 3, 7], [UNK_KEY, 11]])
    assert len(v) == N_SPECIAL + 3
    assert v.encode([7, 3, 11, 99, UNK_KEY]) == [4, 5, 6, UNK, UNK]
    assert [v.decode_token(t) for t in range(len(v))] == [None, None, None, None, 7, 3, 11]
    with pytest.raises(IndexError):
        v.decode_token(len(v))


def test_min_count_and_raw_keys() -> None:
    v = Vocab.fit([[0, 0, 5], [5, 9]], min_count=2)  # raw integer keys from a key-sequence file
    assert v.keys == [0, 5] and v.encode([9]) == [UNK]
    with pytest.raises(ValueError):
        Vocab.fit([[1]], min_count=0)


def test_round_trip() -> None:
    v = Vocab.fit([[3, 1, 2]])
    w = Vocab.from_dict(json.loads(json.dumps(v.to_dict())))
    assert w == v and w.encode([1, 2, 3]) == v.encode([1, 2, 3])
    with pytest.raises(InputDataError):
        Vocab.from_dict({"keys": ["a"]})
