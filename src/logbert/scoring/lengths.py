"""How much shorter than the normal sessions a whole session is: the short-session surprise.

A session that stops early (the HDFS write that ends after ``5 5 22``) is, for masked key prediction,
one surprising session-end key. That surprise saturates: the end key's probability after a short
prefix is pushed down only by how often training saw such prefixes continue, and it settles near
the surprise of a rare but normal key (DeepLog HDFS keys, 2,000 training sessions: ``-log p`` of the
early end about 7.3, the rarest normal keys 7 to 10), so the early stops fall on either side of the
threshold by seed. Their length itself is far outside the normal range (2-3 keys against at least
13), and that is what this module measures.

A *whole session* is a window that starts with ``SESSION_START_KEY`` and ends with
``SESSION_END_KEY`` (``window.mode = "session"``, the session fits one window); its length is the
number of keys between the bounds. The reference is fitted on the training windows: the lengths of
the whole sessions among them, and the number of sessions (windows that open with the start key;
a session too long for one window counts as longer than every whole one). The surprise of a whole
session of length ``L`` is the lower-tail conformal surprise in nats, less ``log 2``:

    max(0, log((n + 1) / (1 + #{reference lengths <= L})) - log 2)

0 for a session at least as long as about half the normal ones, at most ``log((n + 1) / 2)`` for one
shorter than every normal session. Only *short* sessions are surprising: a long session's extra
keys are each predicted, and scored, by the model. Windows that are not whole sessions (sliding
and time windows, the windows of a long session) get 0.

``scoring.length_weight`` adds ``weight x surprise`` to the key score (:class:`LogBertDetector`);
the threshold is then calibrated on that sum by the one rule, so the false-alarm rate it states
still holds.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from logbert.records import SESSION_END_KEY, SESSION_START_KEY

__all__ = ["LengthReference", "whole_session_length"]


def whole_session_length(keys: Sequence[int]) -> int | None:
    """The number of keys between the bounds of a whole session (see the module); None for any other window."""
    if len(keys) >= 2 and keys[0] == SESSION_START_KEY and keys[-1] == SESSION_END_KEY:
        return len(keys) - 2
    return None


@dataclass(frozen=True, slots=True)
class LengthReference:
    """The normal session lengths a short-session surprise is measured against."""

    lengths: tuple[int, ...]  # sorted lengths of the whole training sessions
    n_sessions: int  # training sessions, whole or not (windows that open with the start key)

    @classmethod
    def fit(cls, windows: Sequence[Sequence[int]]) -> LengthReference:
        """The reference of normal training windows (key ids, session bounds included).

        Example:
            >>> S, E = SESSION_START_KEY, SESSION_END_KEY
            >>> LengthReference.fit([[S, 1, 2, E], [S, 1, 2, 3, E], [S, 1, 2], [3, E], [1, 2]])
            LengthReference(lengths=(2, 3), n_sessions=3)
        """
        lengths = sorted(n for n in map(whole_session_length, windows) if n is not None)
        n_sessions = sum(1 for w in windows if len(w) > 0 and w[0] == SESSION_START_KEY)
        return cls(tuple(lengths), n_sessions)

    def surprise(self, windows: Sequence[Sequence[int]]) -> np.ndarray:
        """(N,) float64 the short-session surprise of each window, in nats (0 for no whole session).

        Example:
            >>> S, E = SESSION_START_KEY, SESSION_END_KEY
            >>> ref = LengthReference.fit([[S, *range(n), E] for n in (10, 11, 12, 13, 14, 15, 16)])
            >>> ref.surprise([[S, 1, 2, E], [S, *range(13), E], [1, 2]]).round(3).tolist()
            [1.386, 0.0, 0.0]
        """
        out = np.zeros(len(windows), dtype=np.float64)
        if self.n_sessions == 0:
            return out
        top = math.log(self.n_sessions + 1) - math.log(2.0)
        for i, keys in enumerate(windows):
            n = whole_session_length(keys)
            if n is not None:
                out[i] = max(0.0, top - math.log(1 + self.at_most(n)))  # 1 + normal sessions no longer
        return out

    def at_most(self, n_keys: int) -> int:
        """How many of the whole training sessions had at most ``n_keys`` keys."""
        return bisect.bisect_right(self.lengths, n_keys)

    def describe(self, n_keys: int) -> str:
        """One line for an explanation: how a whole session of ``n_keys`` keys compares with the normal ones.

        Example:
            >>> LengthReference((13, 14, 15), 3).describe(2)
            'session of 2 keys: 0 of 3 normal training sessions were this short (shortest 13 keys)'
        """
        at_most = self.at_most(n_keys)
        shortest = f" (shortest {self.lengths[0]} keys)" if self.lengths else ""
        seen = f"{at_most} of {self.n_sessions} normal training sessions were this short"
        return f"session of {n_keys} keys: {seen}{shortest}"

    # -- persistence (meta.json of the artifact) ----------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: the length histogram (as ``[[length, count], ...]``) and the session count."""
        return {"n_sessions": self.n_sessions, "histogram": [[n, c] for n, c in sorted(Counter(self.lengths).items())]}

    @classmethod
    def from_dict(cls, state: Any) -> LengthReference:
        """The inverse of :meth:`to_dict`.

        Raises:
            ValueError: not what :meth:`to_dict` writes (negative or non-integer lengths or counts,
                more whole sessions than sessions).
        """
        if not isinstance(state, dict):
            raise ValueError("session_lengths must be an object")
        n_sessions, histogram = state.get("n_sessions"), state.get("histogram")
        if not isinstance(n_sessions, int) or not _is_count(n_sessions) or not isinstance(histogram, list):
            raise ValueError("session_lengths needs a non-negative integer n_sessions and a histogram list")
        lengths: list[int] = []
        for item in histogram:
            if not (isinstance(item, list) and len(item) == 2 and _is_count(item[0]) and _is_count(item[1])):
                raise ValueError(f"session_lengths histogram entry {item!r} is not [length, count]")
            lengths.extend([item[0]] * item[1])
        if len(lengths) > n_sessions:
            raise ValueError(f"{len(lengths)} whole sessions but n_sessions = {n_sessions}")
        return cls(tuple(sorted(lengths)), n_sessions)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
