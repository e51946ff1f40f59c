"""Time baselines: how long a session lasts, and how long it waits before each key.

* :class:`SessionDurationDetector` (``session_duration``): the session's elapsed time (first to
  last line) against the training sessions' durations: a lifecycle that is slow as a whole is
  seen even when no single gap is odd (the DeepLog OpenStack anomalies last 52.9-74.6 s, every
  other session at most 49.7 s).
* :class:`TimeGapDetector` (``time_gap``): per key, the time since the session's previous line
  (log-scaled: ``log1p(gap)``) against that key's training gaps; the session scores its most
  unusual gap.

Both read :class:`~logbert.records.SessionSignals` and score with the same robust statistics as
:mod:`logbert.baselines.params` (robust z-score, or distance outside the 1-99 % training range).
Sequences without signals or without timestamps score 0.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from logbert.baselines.base import FloatArray, IntArray, SignalDetector
from logbert.baselines.params import RobustStat
from logbert.records import SessionSignals

__all__ = ["SessionDurationDetector", "TimeGapDetector"]

Method = Literal["zscore", "range"]
Side = Literal["both", "upper"]


def _check(method: str, side: str) -> None:
    if method not in ("zscore", "range"):
        raise ValueError(f"method must be 'zscore' or 'range', got {method!r}")
    if side not in ("both", "upper"):
        raise ValueError(f"side must be 'both' or 'upper', got {side!r}")


def _score(stat: RobustStat, x: float, method: Method, side: Side) -> float:
    if side == "upper" and x <= stat.median:
        return 0.0
    return stat.zscore(x) if method == "zscore" else stat.range_score(x)


class SessionDurationDetector(SignalDetector):
    """Scores a session by how unusual its duration (``SessionSignals.elapsed``) is.

    Args:
        method: ``"zscore"`` = robust z-score against the training durations; ``"range"`` =
            distance outside their 1-99 % range, in range widths.
        side: ``"upper"`` = only sessions longer than the training median score (default; a
            session cut short shows in its keys), ``"both"`` = too short too.
        rel_floor: the robust scale is at least this share of the median duration.

    Example:
        >>> from logbert.records import SessionSignals as S
        >>> d = SessionDurationDetector().fit([[0]] * 4, [S((0.0,), ((),), t) for t in (20.0, 22.0, 24.0, 21.0)])
        >>> d.decision_function([[0], [0]], [S((0.0,), ((),), 23.0), S((0.0,), ((),), 60.0)]).round(1).tolist()
        [1.0, 26.0]
    """

    name = "session_duration"

    def __init__(self, method: Method = "zscore", side: Side = "upper", rel_floor: float = 0.01) -> None:
        self.method = method
        self.side = side
        self.rel_floor = rel_floor

    def _fit_signals(self, seqs: list[IntArray], signals: list[SessionSignals | None]) -> None:
        _check(self.method, self.side)
        durations = np.array([s.elapsed for s in signals if s is not None and s.elapsed is not None], dtype=np.float64)
        self.stat_: RobustStat | None = RobustStat.of(durations, self.rel_floor) if durations.size else None
        self.fitted_ = True

    def _score_signals(self, seqs: list[IntArray], signals: list[SessionSignals | None]) -> FloatArray:
        stat = self.stat_
        if stat is None:
            return np.zeros(len(seqs), dtype=np.float64)
        return np.array(
            [
                0.0 if s is None or s.elapsed is None else _score(stat, s.elapsed, self.method, self.side)
                for s in signals
            ],
            dtype=np.float64,
        )


class TimeGapDetector(SignalDetector):
    """Scores a session by its most unusual wait before a key: per key id, ``log1p(gap)`` against
    that key's training gaps (robust z-score or range distance; ``side="upper"``: only waits longer
    than usual). The first position (gap 0 by definition) and unknown gaps (NaN) are not scored.

    Args:
        method, side: as :class:`SessionDurationDetector`.
        min_values: a key needs this many training gaps to be scored.
        abs_floor: the robust scale of log1p(gap) is at least this (0.05: about 5 % of a gap).
    """

    name = "time_gap"

    def __init__(
        self, method: Method = "zscore", side: Side = "upper", min_values: int = 3, abs_floor: float = 0.05
    ) -> None:
        self.method = method
        self.side = side
        self.min_values = min_values
        self.abs_floor = abs_floor

    def _fit_signals(self, seqs: list[IntArray], signals: list[SessionSignals | None]) -> None:
        _check(self.method, self.side)
        gaps: dict[int, list[float]] = {}
        for seq, sig in zip(seqs, signals, strict=True):
            if sig is None:
                continue
            for position, (key, gap) in enumerate(zip(seq.tolist(), sig.gaps, strict=True)):
                if position and math.isfinite(gap):
                    gaps.setdefault(key, []).append(math.log1p(gap))
        self.stats_: dict[int, RobustStat] = {}
        for key, values in gaps.items():
            if len(values) >= self.min_values:
                stat = RobustStat.of(np.asarray(values), 0.0)
                self.stats_[key] = RobustStat(stat.median, max(stat.scale, self.abs_floor), stat.lo, stat.hi, stat.n)
        self.fitted_ = True

    def _score_signals(self, seqs: list[IntArray], signals: list[SessionSignals | None]) -> FloatArray:
        out = np.zeros(len(seqs), dtype=np.float64)
        for i, (seq, sig) in enumerate(zip(seqs, signals, strict=True)):
            worst = self.worst_gap(seq, sig)
            out[i] = worst[2] if worst is not None else 0.0
        return out

    def worst_gap(self, seq: IntArray | list[int], sig: SessionSignals | None) -> tuple[int, float, float] | None:
        """(position, gap in seconds, score) of the session's most unusual wait, or None."""
        if sig is None:
            return None
        best: tuple[int, float, float] | None = None
        for position, (key, gap) in enumerate(zip(np.asarray(seq).tolist(), sig.gaps, strict=True)):
            stat = self.stats_.get(key)
            if not position or stat is None or not math.isfinite(gap):
                continue
            score = _score(stat, math.log1p(gap), self.method, self.side)
            if best is None or score > best[2]:
                best = (position, gap, score)
        return best
