"""Vocabulary: key ids (from the parser, or raw integer keys of key-sequence files) -> token ids.

Token ids 0..3 are specials (``PAD``, ``DIST``, ``MASK``, ``UNK``); keys get ids from
``N_SPECIAL`` on, in order of first appearance in the fitting sequences. ``UNK_KEY`` and any key
not in the vocabulary encode to ``UNK``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from logbert.errors import InputDataError
from logbert.records import UNK_KEY

PAD, DIST, MASK, UNK = 0, 1, 2, 3
N_SPECIAL = 4


class Vocab:
    """Maps key ids to token ids and back.

    Example:
        >>> v = Vocab.fit([[5, 7, 5], [9]])
        >>> v.encode([5, 9, 42, -1]), len(v), v.decode_token(4), v.decode_token(UNK)
        ([4, 6, 3, 3], 7, 5, None)
    """

    PAD: ClassVar[int] = PAD
    DIST: ClassVar[int] = DIST
    MASK: ClassVar[int] = MASK
    UNK: ClassVar[int] = UNK
    N_SPECIAL: ClassVar[int] = N_SPECIAL

    def __init__(self, keys: Sequence[int] = ()) -> None:
        self.keys: list[int] = [int(k) for k in keys]  # token id N_SPECIAL + i <-> keys[i]
        self._index = {k: i + N_SPECIAL for i, k in enumerate(self.keys)}
        if len(self._index) != len(self.keys):
            raise InputDataError("vocabulary keys must be distinct")
        if UNK_KEY in self._index:
            raise InputDataError(f"UNK_KEY ({UNK_KEY}) cannot be a vocabulary key")

    @classmethod
    def fit(cls, sequences: Iterable[Sequence[int]], min_count: int = 1) -> Vocab:
        """Vocabulary of the keys seen at least ``min_count`` times (``UNK_KEY`` never counts).

        Raises:
            ValueError: ``min_count`` < 1.
        """
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count}")
        counts: Counter[int] = Counter()
        for seq in sequences:
            counts.update(int(k) for k in seq)
        counts.pop(UNK_KEY, None)
        return cls([k for k, n in counts.items() if n >= min_count])  # Counter keeps first-seen order

    def encode(self, key_ids: Iterable[int]) -> list[int]:
        """Token ids of ``key_ids``; unknown keys and ``UNK_KEY`` become ``UNK``."""
        get = self._index.get
        return [get(k, UNK) for k in key_ids]

    def decode_token(self, token_id: int) -> int | None:
        """Key id of a token id; None for the specials.

        Raises:
            IndexError: ``token_id`` is outside the vocabulary.
        """
        if token_id < 0 or token_id >= len(self):
            raise IndexError(f"token id {token_id} outside the vocabulary of size {len(self)}")
        return None if token_id < N_SPECIAL else self.keys[token_id - N_SPECIAL]

    def __len__(self) -> int:
        return N_SPECIAL + len(self.keys)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.keys == other.keys

    def __hash__(self) -> int:
        return hash(tuple(self.keys))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe state."""
        return {"specials": ["PAD", "DIST", "MASK", "UNK"], "keys": list(self.keys)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Vocab:
        """Inverse of :meth:`to_dict`.

        Raises:
            InputDataError: the dict is not a vocabulary state.
        """
        keys = data.get("keys") if isinstance(data, dict) else None
        if not isinstance(keys, list) or not all(isinstance(k, int) and not isinstance(k, bool) for k in keys):
            raise InputDataError("invalid vocabulary state: expected {'keys': [int, ...]}")
        return cls(keys)
