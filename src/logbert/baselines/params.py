"""Parameter-value outliers: per template and slot, how far a value lies from the training values.

The value-aware baseline of issue 13 (Uchida et al., 2025: simple per-parameter statistics beat
sequence models on parameter anomalies). It reads the typed values of
:class:`~logbert.records.SessionSignals` (numbers in their base unit, categories as labels; id slots
are None and ignored) and scores a session by its most unusual value:

* a number: its robust z-score ``|x - median| / scale`` against the training values of the same
  template and slot (``method="zscore"``), or how far it lies outside the training quantile range
  ``[q_lo, q_hi]`` in units of that range's width (``method="range"``). ``scale`` is the largest of
  1.4826 x MAD, IQR / 1.349 and ``rel_floor`` x |median| (and a tiny absolute floor), so a slot that
  is constant in training (every claim asks for 2048 MB) still gives finite scores;
* a category never seen in training for its slot: ``category_score``.

A number that is itself a common training value of its slot (at least ``common_share`` of them, and
at least twice) scores 0: a slot with a few discrete values (flavors ask for 512, 2048 or 4096 MB)
has a robust scale of almost 0, and would otherwise make every less frequent value an outlier.

Keys or slots without training values, positions without values, and sequences without signals
score 0: an unseen template is the key detectors' signal, not this one's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from logbert.baselines.base import FloatArray, IntArray, SignalDetector
from logbert.errors import NotFittedError
from logbert.records import SessionSignals

__all__ = ["ParamFinding", "ParamOutlierDetector", "RobustStat", "SlotDisplay"]


class SlotDisplay(Protocol):
    """How explanations name a slot and write its values (``logbert.parsing.params.SlotType``)."""

    @property
    def context(self) -> str: ...

    def display(self, value: float) -> str: ...


@dataclass(frozen=True, slots=True)
class RobustStat:
    """Median, robust scale and the 1 %-99 % range of training values."""

    median: float
    scale: float
    lo: float
    hi: float
    n: int

    @classmethod
    def of(cls, values: FloatArray, rel_floor: float) -> RobustStat:
        median = float(np.median(values))
        q01, q25, q75, q99 = (float(q) for q in np.quantile(values, [0.01, 0.25, 0.75, 0.99]))
        mad = float(np.median(np.abs(values - median)))
        scale = max(1.4826 * mad, (q75 - q25) / 1.349, rel_floor * abs(median), 1e-9)
        return cls(median, scale, q01, q99, int(values.shape[0]))

    def zscore(self, x: float) -> float:
        return abs(x - self.median) / self.scale

    def range_score(self, x: float) -> float:
        width = max(self.hi - self.lo, self.scale)
        return max(0.0, self.lo - x, x - self.hi) / width


@dataclass(frozen=True, slots=True)
class ParamFinding:
    """The most unusual value of a session, for explanations."""

    position: int  # index into the session's keys
    key_id: int
    slot: int
    value: float | str
    score: float
    stat: RobustStat | None  # None for an unseen category
    categories: tuple[str, ...] = ()

    def describe(self, slot: SlotDisplay | None = None, where: str | None = None) -> str:
        """``"Took <*> seconds to build instance. (key 6, slot 1): 42.8 s; training median 20.5 s, range 19.6 s
        to 22.3 s (1-99 %)"``.

        ``slot``: the slot's type (:class:`logbert.parsing.params.SlotType`: its context words and
        units); ``where``: a name for the slot when no type is given (e.g. the template).
        """
        place = slot.context if slot is not None and slot.context else (where or f"key {self.key_id}")
        place += f" (key {self.key_id}, slot {self.slot})"
        if isinstance(self.value, str) or self.stat is None:
            seen = ", ".join(self.categories[:5])
            return f"{place}: {self.value!r}, never seen in training (seen: {seen})"

        def show(v: float) -> str:
            return slot.display(v) if slot is not None else f"{v:.4g}"

        return (
            f"{place}: {show(self.value)}; training median {show(self.stat.median)}, "
            f"range {show(self.stat.lo)} to {show(self.stat.hi)} (1-99 %)"
        )


class ParamOutlierDetector(SignalDetector):
    """Scores a session by its most unusual parameter value (see the module).

    Args:
        method: ``"zscore"`` (robust z-score) or ``"range"`` (distance outside the training 1-99 %
            range, in range widths).
        category_score: the score of a category never seen in training for its slot.
        rel_floor: the robust scale is at least this share of |median|.
        min_values: a slot needs this many training values to be scored.
        common_share: a number that is at least this share of its slot's training values (and
            seen at least twice) scores 0.

    Example:
        >>> from logbert.records import SessionSignals as S
        >>> train = [S((0.0, 1.0), ((), (v,))) for v in (19.5, 20.0, 20.5, 19.8)]
        >>> d = ParamOutlierDetector().fit([[0, 1]] * 4, train)
        >>> test = [S((0.0, 1.0), ((), (20.1,))), S((0.0, 1.0), ((), (42.0,)))]
        >>> d.decision_function([[0, 1], [0, 1]], test).round(1).tolist()
        [0.5, 59.6]
    """

    name = "param_outlier"

    def __init__(
        self,
        method: Literal["zscore", "range"] = "zscore",
        category_score: float = 5.0,
        rel_floor: float = 0.01,
        min_values: int = 3,
        common_share: float = 0.01,
    ) -> None:
        self.method = method
        self.category_score = category_score
        self.rel_floor = rel_floor
        self.min_values = min_values
        self.common_share = common_share

    def _fit_signals(self, seqs: list[IntArray], signals: list[SessionSignals | None]) -> None:
        if self.method not in ("zscore", "range"):
            raise ValueError(f"method must be 'zscore' or 'range', got {self.method!r}")
        numbers: dict[tuple[int, int], list[float]] = {}
        categories: dict[tuple[int, int], dict[str, int]] = {}
        for seq, sig in zip(seqs, signals, strict=True):
            if sig is None:
                continue
            for key, values in zip(seq.tolist(), sig.values, strict=True):
                for slot, v in enumerate(values):
                    if isinstance(v, str):
                        counts = categories.setdefault((key, slot), {})
                        counts[v] = counts.get(v, 0) + 1
                    elif v is not None and np.isfinite(v):
                        numbers.setdefault((key, slot), []).append(float(v))
        self.stats_: dict[tuple[int, int], RobustStat] = {
            ks: RobustStat.of(np.asarray(vs), self.rel_floor)
            for ks, vs in numbers.items()
            if len(vs) >= self.min_values
        }
        self.common_: dict[tuple[int, int], frozenset[float]] = {}
        for ks, vs in numbers.items():
            if ks in self.stats_:
                seen: dict[float, int] = {}
                for v in vs:
                    seen[v] = seen.get(v, 0) + 1
                floor = max(2.0, self.common_share * len(vs))
                self.common_[ks] = frozenset(v for v, c in seen.items() if c >= floor)
        self.categories_: dict[tuple[int, int], tuple[str, ...]] = {
            ks: tuple(sorted(c, key=lambda x: (-c[x], x))) for ks, c in categories.items()
        }
        self.fitted_ = True

    def _score_signals(self, seqs: list[IntArray], signals: list[SessionSignals | None]) -> FloatArray:
        out = np.zeros(len(seqs), dtype=np.float64)
        for i, (seq, sig) in enumerate(zip(seqs, signals, strict=True)):
            finding = self._worst(seq, sig)
            out[i] = finding.score if finding is not None else 0.0
        return out

    def _value_score(self, key: int, slot: int, v: float | str) -> tuple[float, RobustStat | None] | None:
        if isinstance(v, str):
            seen = self.categories_.get((key, slot))
            if seen is None or v in seen:
                return None
            return self.category_score, None
        stat = self.stats_.get((key, slot))
        if stat is None or not np.isfinite(v) or v in self.common_.get((key, slot), ()):
            return None
        return (stat.zscore(v) if self.method == "zscore" else stat.range_score(v)), stat

    def _worst(self, seq: IntArray, sig: SessionSignals | None) -> ParamFinding | None:
        if sig is None:
            return None
        best: ParamFinding | None = None
        for position, (key, values) in enumerate(zip(seq.tolist(), sig.values, strict=True)):
            for slot, v in enumerate(values):
                if v is None:
                    continue
                scored = self._value_score(key, slot, v)
                if scored is None:
                    continue
                score, stat = scored
                if best is None or score > best.score:
                    best = ParamFinding(position, key, slot, v, score, stat, self.categories_.get((key, slot), ()))
        return best

    def explain(self, seq: IntArray | list[int], signals: SessionSignals) -> ParamFinding | None:
        """The value that gives the session its score (None: no scored value)."""
        if not self._is_fitted():
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit(train_seqs, signals) first")
        return self._worst(np.asarray(seq, dtype=np.int64), signals)
