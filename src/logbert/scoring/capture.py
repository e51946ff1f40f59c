"""Sessions already in flight when the capture began: the capture-edge rule.

A log read from some moment on (``logbert score`` of a file cut out of a longer log, ``logbert tail``
or the service started while VMs are mid-lifecycle) opens with the *tails* of sessions that began
before it. Their first captured line is not the line a session begins with, and a session whose
lifecycle was mostly before the capture is far shorter than any normal one: to the model both look
anomalous, and every such session alerted. On DeepLog OpenStack's abnormal file two of the three
false alarms of the time- and value-aware model were this (a VM whose first captured line is
"Creating image"; a single "VM Stopped" line one second after the file's first line).

The rule (:meth:`CaptureEdge.in_flight`, the one function offline scoring and streaming call): a
session was in flight at the capture start when

(a) its first line's timestamp is within ``window_s`` seconds of the capture's first timestamp
    (offline: the first timestamped line of the file; streaming: the first timestamped line the
    engine ever saw, kept in its checkpoints), and
(b) its first key is not one that begins a normal training session, and is a template training saw (a template
    never seen tells nothing of where the session began, and may be the failure itself: a logcat thread that
    began 200 s into the capture with its crash was excused).

Such a session is still scored, but not flagged: its result says why. Both facts are learned from
the normal training sessions and stored in the artifact's ``meta.json`` (``"capture_edge"``):

* ``first_keys``: the keys normal training sessions begin with (those that began after the training
  log's own capture edge, see :meth:`CaptureEdge.fit`). A session that begins with one of them may
  have begun at the capture start, and is judged as any other.
* ``window_s``: the largest gap between consecutive lines of a normal training session. A normal
  session that began before the capture (its last line before it at time ``t < c``) writes its next
  line at most this long after ``t``, so its first captured line lies within ``window_s`` of the
  capture start ``c``. It is the tightest bound that holds for every normal session (the longest
  session's duration also holds, but is several times wider on OpenStack: more fresh sessions
  with an odd first key would be excused). A session whose first captured line comes later was not
  in flight, or was itself slower than anything normal, and is judged as any other.

Limits: an *anomalous* session in flight at the capture start is not alerted (it is counted and
reported as in flight); a normal session in flight whose first captured line comes after a gap longer
than any in training still alerts. Without timestamps (key-sequence files, formats without time), or
for an artifact without ``capture_edge`` (trained before this rule, or on windows that are not
sessions), the rule is off. Sessions still open at the *end* of a capture are not treated: offline a
file's end is known, but a stream (``tail``, the service) has none, so the same rule could not give
the same decision in both; such a session keeps its score and its alert.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from logbert.records import SESSION_END_KEY, SESSION_START_KEY, UNK_KEY

__all__ = ["CaptureEdge", "first_key"]


def first_key(key_ids: Sequence[int]) -> int | None:
    """The first key of a session that stands for a line (session-bound pseudo keys skipped); None if none."""
    for k in key_ids:
        if k not in (SESSION_START_KEY, SESSION_END_KEY):
            return k
    return None


@dataclass(frozen=True, slots=True)
class CaptureEdge:
    """What a session in flight at the capture start is told apart by (see the module)."""

    window_s: float  # largest gap between consecutive lines of a normal training session, seconds
    first_keys: frozenset[int]  # keys that begin normal training sessions
    n_sessions: int  # training sessions it was fitted on

    @classmethod
    def fit(
        cls, sessions: Iterable[tuple[Sequence[int], Sequence[float | None]]], capture_start: float | None = None
    ) -> CaptureEdge | None:
        """From normal training sessions, each (its key ids, one timestamp per key, None where unknown).

        ``capture_start``: the training log's first timestamp. The training log has a capture edge too: a
        session already running when *it* began would teach its odd first key as a normal one (DeepLog's
        ``openstack_normal1`` opens with a lifecycle whose first line is "VM Started"). So the first keys
        come from the sessions that began more than ``window_s`` after it (from all of them when none did).

        Returns None (the rule stays off) when no session has two timestamped lines: without time
        there is no window.

        Example:
            >>> CaptureEdge.fit([([1, 2, 3], [0.0, 4.0, 5.0]), ([1, 3], [10.0, 12.5]), ([4], [20.0])])
            CaptureEdge(window_s=4.0, first_keys=frozenset({1, 4}), n_sessions=3)
            >>> CaptureEdge.fit([([9, 3], [0.0, 4.0]), ([1, 3], [10.0, 12.5])], capture_start=0.0).first_keys
            frozenset({1})
            >>> CaptureEdge.fit([([1, 2], [None, None])]) is None
            True
        """
        starts: list[tuple[int, float | None]] = []
        widest: float | None = None
        for keys, stamps in sessions:
            k = first_key(keys)
            if k is None:
                continue
            known = [t for t in stamps if t is not None and math.isfinite(t)]
            starts.append((k, known[0] if known else None))
            for a, b in zip(known, known[1:], strict=False):
                gap = max(0.0, b - a)  # a step back in time is no gap (as parsing.params.time_gaps)
                widest = gap if widest is None else max(widest, gap)
        if widest is None:
            return None
        later = (
            {k for k, t in starts if t is not None and t - capture_start > widest}
            if capture_start is not None
            else set()
        )
        firsts = later or {k for k, _ in starts}
        return cls(round(widest, 6), frozenset(firsts), len(starts))

    def in_flight(
        self,
        key: int | None,
        first_time: float | None,
        capture_start: float | None,
        template: Callable[[int], str | None] = lambda k: None,
    ) -> str | None:
        """Why a session was in flight at the capture start, or None when it was not (or cannot be told).

        Args:
            key: its first key (:func:`first_key`).
            first_time: the timestamp of its first line (None: unknown, the rule is off).
            capture_start: the capture's first timestamp (None: unknown, the rule is off).
            template: names a key for the reason (``Detector.template``); the caller escapes the reason
                where it is shown, as it does the explanations.

        Example:
            >>> edge = CaptureEdge(15.0, frozenset({1}), 10)
            >>> print(edge.in_flight(7, 102.1, 100.0, lambda k: "Creating image"))  # doctest: +NORMALIZE_WHITESPACE
            partial: began before the first line of the log (first line 2.1 s after it;
            'Creating image' never begins a normal session)
            >>> edge.in_flight(1, 102.1, 100.0) is None, edge.in_flight(7, 115.1, 100.0) is None
            (True, True)
        """
        if key is None or first_time is None or capture_start is None or key in self.first_keys or key == UNK_KEY:
            return None  # a template never seen tells nothing of where the session began, and may be the failure
        after = first_time - capture_start
        if not (math.isfinite(after) and after <= self.window_s):
            return None
        after = max(0.0, after)  # a line stamped before the first one: the log is not in time order
        name = template(key)
        what = f"'{name}'" if name is not None else f"key {key}"
        return (
            f"partial: began before the first line of the log (first line {after:.3g} s after it; "
            f"{what} never begins a normal session)"
        )

    # -- persistence (meta.json of the artifact) ----------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: the window, the sorted first keys, the session count."""
        return {"window_s": self.window_s, "first_keys": sorted(self.first_keys), "n_sessions": self.n_sessions}

    @classmethod
    def from_dict(cls, state: Any) -> CaptureEdge:
        """The inverse of :meth:`to_dict`.

        Raises:
            ValueError: not what :meth:`to_dict` writes.
        """
        if not isinstance(state, dict):
            raise ValueError(f"expected an object, got {type(state).__name__}")
        window, keys, n = state.get("window_s"), state.get("first_keys"), state.get("n_sessions")
        if isinstance(window, bool) or not isinstance(window, int | float) or not math.isfinite(window) or window < 0:
            raise ValueError(f"window_s must be a number >= 0, got {window!r}")
        if not isinstance(keys, list) or not all(isinstance(k, int) and not isinstance(k, bool) for k in keys):
            raise ValueError(f"first_keys must be a list of key ids, got {keys!r}")
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n_sessions must be an integer >= 0, got {n!r}")
        return cls(float(window), frozenset(keys), n)
