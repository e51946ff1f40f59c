"""How much busier than the normal time windows a time window is: the volume surprise.

A storm of known lines (a client retrying, an upstream failing 60 times a minute where it fails once)
is, for masked key prediction, a run of ordinary keys: a time window longer than ``window.max_len``
keys is scored in pieces, and each piece of the storm looks like a normal piece. What is abnormal is
how many lines the window holds. Measured on a new user's nginx error log (60 s windows, about 12
lines a minute, the busiest of 361 training windows 26 lines): a burst of 109 lines a minute of known
templates scored 6.96 against a threshold of 7.93 (``docs/benchmarks.md``, stop 56), while a
count-vector detector flagged it.

The *volume* of a piece is the number of lines of its time window up to the piece's end: the keys of
the window before it (``KeySequence.unit_offset``) plus its own. Offline and streaming know it alike
when the piece is cut, so the service alerts during the storm, not after it, and scores what
``logbert score`` scores. The reference is the number of lines of each normal training time window
(``n`` of them; :func:`window_totals` of their pieces). The surprise of a volume ``v`` is, in nats,

    log(n + 1) x max(0, log2(v / (VOLUME_MARGIN x busiest)))

0 up to :data:`VOLUME_MARGIN` (2) times the busiest normal training window, then ``log(n + 1)``, the
surprise of a window busier than all ``n`` normal ones, for each doubling beyond that. Why a margin
and no surprise inside it: a first rule gave windows within the training range their conformal
upper-tail surprise and windows beyond the busiest that surprise plus an exponential tail. On a new
user's auth log (6 training hours, the busiest minute 27 lines, tested on busier afternoon and
evening hours) windows of 32-41 lines, 1.2-1.5 times the busiest training window and nothing else unusual,
became false alarms (3 of 186 normal windows instead of 1, and 7 of the 11 false alarms of another
test day), while the storm they were built for held 292 lines a minute. Load drifts by the hour and
the day; a storm is many times the normal rate. The ramp in doublings keeps a window four times the
busiest from scoring like one barely past the margin.

Only *busy* windows are surprising: a quiet one (an outage) writes no lines to be scored. Windows
that are not time windows get no volume surprise.

``scoring.volume_weight`` adds ``weight x surprise`` to the key score (:class:`LogBertDetector`), as
``length_weight`` adds the short-session surprise; the threshold is then calibrated on that sum by
the one rule, so the false-alarm rate it states still holds.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["VolumeReference", "piece_volumes", "window_totals"]

#: A time window is surprising for its lines only beyond this many times the busiest normal training window (see
#: the module: load that drifts by the hour is no storm).
VOLUME_MARGIN = 2.0


def piece_volumes(offsets: Sequence[int], lengths: Sequence[int]) -> list[int]:
    """The volume of each piece: the lines of its time window up to its end (``offset + length``).

    >>> piece_volumes([0, 32, 0], [32, 5, 7])
    [32, 37, 7]
    """
    return [int(o) + int(n) for o, n in zip(offsets, lengths, strict=True)]


def window_totals(offsets: Sequence[int], lengths: Sequence[int]) -> list[int]:
    """The lines of each time window, from its pieces given in order (:func:`~logbert.windowing.windows.split_all`'s
    order: a window's pieces one after the other, offsets 0, ``max_len``, ...): the volume of each piece that the
    next piece does not continue (the next one starts a window, offset 0, or there is none).

    >>> window_totals([0, 32, 64, 0, 0], [32, 32, 5, 7, 32])
    [69, 7, 32]
    """
    volumes = piece_volumes(offsets, lengths)
    return [v for i, v in enumerate(volumes) if i + 1 == len(volumes) or offsets[i + 1] == 0]


@dataclass(frozen=True, slots=True)
class VolumeReference:
    """The normal time-window volumes a volume surprise is measured against."""

    volumes: tuple[int, ...]  # sorted lines of the normal training time windows

    @classmethod
    def fit(cls, volumes: Sequence[int]) -> VolumeReference:
        """The reference of the normal training time windows' lines (:func:`window_totals`).

        >>> VolumeReference.fit([3, 1, 2]).volumes
        (1, 2, 3)
        """
        return cls(tuple(sorted(int(v) for v in volumes)))

    @property
    def margin(self) -> float:
        """The lines a window may hold before its volume is a surprise: :data:`VOLUME_MARGIN` x the busiest."""
        return VOLUME_MARGIN * self.volumes[-1] if self.volumes else math.inf

    def surprise(self, volumes: Sequence[int]) -> np.ndarray:
        """(N,) float64 the volume surprise of each volume, in nats (see the module); 0 without a reference.

        Example:
            >>> ref = VolumeReference.fit(range(1, 100))  # 99 windows, the busiest 99 lines: a margin of 198
            >>> ref.surprise([10, 198, 396, 792]).round(3).tolist()
            [0.0, 0.0, 4.605, 9.21]
        """
        return np.fromiter((self.surprise_of(v) for v in volumes), dtype=np.float64, count=len(volumes))

    def surprise_of(self, volume: int) -> float:
        """The volume surprise of one volume (:meth:`surprise`), in nats."""
        if not self.volumes or volume <= self.margin:
            return 0.0
        return math.log(len(self.volumes) + 1) * math.log2(volume / self.margin)

    def describe(self, volume: int) -> str:
        """One line for an explanation: how a time window of ``volume`` lines so far compares with the normal ones.

        Example:
            >>> VolumeReference((10, 12, 26)).describe(109)
            '109 lines in this time window so far: 4.2 times the busiest of 3 normal training windows (26 lines)'
        """
        if not self.volumes:
            return f"{volume} lines in this time window so far"
        times = volume / max(1, self.volumes[-1])
        busiest = f"the busiest of {len(self.volumes)} normal training windows ({self.volumes[-1]} lines)"
        return f"{volume} lines in this time window so far: {times:.1f} times {busiest}"

    # -- persistence (meta.json of the artifact) ----------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: the volume histogram as ``[[volume, count], ...]``."""
        return {"histogram": [[v, c] for v, c in sorted(Counter(self.volumes).items())]}

    @classmethod
    def from_dict(cls, state: Any) -> VolumeReference:
        """The inverse of :meth:`to_dict`.

        Raises:
            ValueError: not what :meth:`to_dict` writes (a histogram entry that is not two non-negative integers).
        """
        if not isinstance(state, dict) or not isinstance(state.get("histogram"), list):
            raise ValueError("window_volumes must be an object with a histogram list")
        volumes: list[int] = []
        for item in state["histogram"]:
            if not (isinstance(item, list) and len(item) == 2 and all(_is_count(x) for x in item)):
                raise ValueError(f"window_volumes histogram entry {item!r} is not [volume, count]")
            volumes.extend([item[0]] * item[1])
        return cls(tuple(sorted(volumes)))


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
