"""Two rule-like baselines: unseen keys, and unusual sequence length.

They set the floor any learned detector must beat: on some public datasets (BGL notably)
"a key never seen in training appears" already finds most anomalies.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from logbert.baselines.base import BaselineDetector, FloatArray, IntArray
from logbert.records import UNK_KEY

__all__ = ["NewEventDetector", "SequenceLengthDetector"]


class NewEventDetector(BaselineDetector):
    """Scores a sequence by its keys never seen in training.

    ``UNK_KEY`` (a template the frozen parser did not know) is always new, even if it
    appeared in the training data.

    Args:
        score: ``"count"`` = number of positions holding an unseen key; ``"share"`` = that
            number divided by the sequence length. An empty sequence scores 0.

    Scores: higher = more anomalous; 0 means every key was seen in training.

    Example:
        >>> NewEventDetector().fit([[1, 2], [2, 3]]).decision_function([[1, 2], [1, 9, 9, -1]]).tolist()
        [0.0, 3.0]
    """

    name = "new_event"

    def __init__(self, score: Literal["count", "share"] = "count") -> None:
        self.score = score

    def _fit(self, seqs: list[IntArray]) -> None:
        if self.score not in ("count", "share"):
            raise ValueError(f"score must be 'count' or 'share', got {self.score!r}")
        keys = np.unique(np.concatenate(seqs))
        self.known_keys_: IntArray = keys[keys != UNK_KEY]
        self.fitted_ = True

    def _score(self, seqs: list[IntArray]) -> FloatArray:
        out = np.empty(len(seqs), dtype=np.float64)
        for i, seq in enumerate(seqs):
            n_new = float(np.count_nonzero(~np.isin(seq, self.known_keys_)))
            out[i] = n_new if self.score == "count" else (n_new / seq.shape[0] if seq.shape[0] else 0.0)
        return out


class SequenceLengthDetector(BaselineDetector):
    """Scores a sequence by how unusual its length is compared with the training sequences.

    Args:
        mode: ``"range"`` = number of keys by which the length falls outside the training
            range ``[min_len_, max_len_]`` (0 inside it); ``"zscore"`` = ``|len - mean| / std``
            over the training lengths, with ``std`` floored at one key so that a training set
            of constant length gives finite scores.

    Scores: higher = more anomalous. Note that windows split at ``WindowConfig.max_len`` cap
    the length, so this baseline is most useful in session mode with long ``max_len``.

    Example:
        >>> SequenceLengthDetector().fit([[1, 2], [1, 2, 3]]).decision_function([[1, 2], [], [1] * 7]).tolist()
        [0.0, 2.0, 4.0]
    """

    name = "sequence_length"

    def __init__(self, mode: Literal["range", "zscore"] = "range") -> None:
        self.mode = mode

    def _fit(self, seqs: list[IntArray]) -> None:
        if self.mode not in ("range", "zscore"):
            raise ValueError(f"mode must be 'range' or 'zscore', got {self.mode!r}")
        lengths = np.array([s.shape[0] for s in seqs], dtype=np.float64)
        self.min_len_ = float(lengths.min())
        self.max_len_ = float(lengths.max())
        self.mean_len_ = float(lengths.mean())
        self.std_len_ = max(float(lengths.std()), 1.0)  # floor: one key, so constant lengths stay finite
        self.fitted_ = True

    def _score(self, seqs: list[IntArray]) -> FloatArray:
        lengths = np.array([s.shape[0] for s in seqs], dtype=np.float64)
        if self.mode == "range":
            below = self.min_len_ - lengths
            above = lengths - self.max_len_
            return np.maximum(0.0, np.maximum(below, above))
        return np.abs(lengths - self.mean_len_) / self.std_len_
