"""A session scores its worst window: the one rule that turns window scores into session scores.

``logbert train`` (threshold), ``evaluate``, ``score``, the baselines in ``evaluate`` and the
benchmark all call :func:`session_scores`; the streaming engine applies the same rule as
windows arrive (a session is anomalous once one of its windows is).
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import replace
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from logbert.config import WindowConfig
from logbert.records import UNK_KEY, KeySequence, SessionSignals
from logbert.windowing.signals import SignalBuckets
from logbert.windowing.windows import SkippedSequence, session_overlap, split_all, with_session_bounds

FloatArray = npt.NDArray[np.float64]
#: What a detector scores: a whole session, or each window of at most ``window.max_len`` keys.
Unit = Literal["session", "window"]


class SequenceScorer(Protocol):
    """Anything with ``decision_function``: LogBERT, the baselines. Higher = more anomalous."""

    def decision_function(self, seqs: Sequence[Sequence[int]]) -> npt.ArrayLike: ...


class ChannelScorer(Protocol):
    """A time- and value-aware LogBERT: (N, 3) key, time and value scores per sequence."""

    def channel_scores(
        self,
        seqs: Sequence[Sequence[int]],
        signals: Sequence[SessionSignals | None] | None = None,
        offsets: Sequence[int] | None = None,
    ) -> npt.NDArray[np.float64]: ...


def weighs_volume(scorer: object) -> bool:
    """True when ``scorer``'s score of a time window's piece depends on the window's keys before it (LogBERT's
    volume surprise, :mod:`logbert.scoring.volume`): it is then given each window's ``unit_offset``."""
    return bool(getattr(scorer, "weighs_volume", False))


def window_offsets(scorer: object, windows: Sequence[KeySequence]) -> list[int] | None:
    """Each window's ``unit_offset`` for a scorer that :func:`weighs_volume`, else None (nothing to pass)."""
    return [w.unit_offset for w in windows] if weighs_volume(scorer) else None


def reads_signals(scorer: object) -> bool:
    """True when ``scorer`` reads each sequence's time and values: a time- or value-aware LogBERT
    (``reads_signals``), a signal baseline (``needs_signals``). Their ``decision_function`` then takes
    ``signals`` and a sequence's score is no longer a function of its keys alone (no de-duplication)."""
    return bool(getattr(scorer, "reads_signals", False) or getattr(scorer, "needs_signals", False))


def session_windows(
    sessions: Sequence[KeySequence], window: WindowConfig
) -> tuple[list[KeySequence], list[SkippedSequence]]:
    """Each session cut into windows of at most ``window.max_len`` keys (shorter than ``min_len``: skipped).

    In mode "session" with ``window.session_bounds``, a session is first bounded by its start and end
    keys (:func:`~logbert.windowing.windows.with_session_bounds`): a whole session, not a cut. In mode
    "session", consecutive windows share ``window.session_overlap`` keys
    (:func:`~logbert.windowing.windows.session_window_starts`); every one is a training row and is scored.
    """
    if window.bounded:
        sessions = [with_session_bounds(s) for s in sessions]
    return split_all(sessions, window.max_len, window.min_len, session_overlap(window))


def score_unique(
    scorer: SequenceScorer,
    seqs: Sequence[Sequence[int]],
    signals: Sequence[SessionSignals | None] | None = None,
    offsets: Sequence[int] | None = None,
) -> FloatArray:
    """Scores of ``seqs``, computing each distinct sequence once (scores are deterministic). A scorer that
    :func:`reads_signals` gets ``signals`` (one per sequence) and scores every sequence; one that
    :func:`weighs_volume` gets ``offsets`` (one per sequence; equal keys at another offset are another sequence)."""
    if not seqs:
        return np.zeros(0, dtype=np.float64)
    decide: Any = scorer.decision_function
    at = offsets if offsets is not None and weighs_volume(scorer) else None
    if signals is not None and reads_signals(scorer):
        extra = {} if at is None else {"offsets": list(at)}
        return np.asarray(decide([list(s) for s in seqs], list(signals), **extra), dtype=np.float64)
    index: dict[tuple[int, ...], int] = {}
    rows = (tuple(s) if at is None else (at[i], *s) for i, s in enumerate(seqs))
    inverse = np.fromiter((index.setdefault(r, len(index)) for r in rows), dtype=np.int64, count=len(seqs))
    if at is None:
        scores = np.asarray(decide([list(k) for k in index]), dtype=np.float64)
    else:
        scores = np.asarray(decide([list(k[1:]) for k in index], offsets=[k[0] for k in index]), dtype=np.float64)
    return scores[inverse]


def session_scores(
    scorer: SequenceScorer, sessions: Sequence[KeySequence], window: WindowConfig, unit: Unit = "window"
) -> FloatArray:
    """One score per session, in input order: the maximum over its windows (``unit="window"``), or
    the session's own score (``unit="session"``, for detectors that read whole sessions).

    A session with no window at least ``window.min_len`` keys long scores ``-inf`` (never flagged).
    """
    if unit == "session":
        return score_unique(scorer, [s.key_ids for s in sessions], [s.signals for s in sessions])
    scores, _, _, _ = worst_windows(scorer, sessions, window)
    return scores


def worst_windows(
    scorer: SequenceScorer, sessions: Sequence[KeySequence], window: WindowConfig
) -> tuple[FloatArray, list[KeySequence], list[int | None], list[SkippedSequence]]:
    """Per session (input order): its worst window's score, and which window that is.

    Returns:
        ``(scores, windows, worst, skipped)``: ``scores[i]`` is the maximum over session ``i``'s
        windows (``-inf`` without a window), ``windows`` every window, ``worst[i]`` the index into
        ``windows`` of the first window reaching that maximum (None without a window), ``skipped``
        the windows shorter than ``window.min_len``.
    """
    windows, skipped, owners = _owned_windows(sessions, window)
    window_scores = score_unique(
        scorer, [w.key_ids for w in windows], [w.signals for w in windows], window_offsets(scorer, windows)
    )
    scores, worst = _worst(len(sessions), owners, window_scores)
    return scores, windows, worst, skipped


def _owned_windows(
    sessions: Sequence[KeySequence], window: WindowConfig
) -> tuple[list[KeySequence], list[SkippedSequence], list[int]]:
    """:func:`session_windows`, and for each window the index of its session. Two sessions may share an id (two
    lines of a key-sequence file, two sequences of one request): each keeps its own windows, never the other's."""
    if len({s.session_id for s in sessions}) < len(sessions):
        sessions = [replace(s, session_id=str(i)) for i, s in enumerate(sessions)]
    windows, skipped = session_windows(sessions, window)
    position = {s.session_id: i for i, s in enumerate(sessions)}
    return windows, skipped, [position[w.session_id] for w in windows]


def _worst(n_sessions: int, owners: Sequence[int], window_scores: FloatArray) -> tuple[FloatArray, list[int | None]]:
    """Per session its worst window's score (``-inf`` without a window) and that window's index: the one rule."""
    scores = np.full(n_sessions, -np.inf)
    worst: list[int | None] = [None] * n_sessions
    for j, (i, score) in enumerate(zip(owners, window_scores, strict=True)):
        if score > scores[i]:
            scores[i], worst[i] = score, j
    return scores, worst


class MissScorer(Protocol):
    """A key-only LogBERT: its per-window outputs (misses and masked keys among them) and its score of them."""

    def scores(self, seqs: Sequence[Sequence[int]], *, offsets: Sequence[int] | None = None) -> Any: ...

    def score_of(self, out: Any) -> npt.NDArray[np.float64]: ...


def session_misses(
    scorer: MissScorer, sessions: Sequence[KeySequence], window: WindowConfig
) -> tuple[FloatArray, npt.NDArray[np.int64], list[tuple[int, ...]]]:
    """:func:`session_scores` of a key-only LogBERT, and from the same pass per session the misses over all of its
    windows and the masked keys of each window (what :func:`~logbert.evaluation.thresholds.miss_ratio_floor` reads;
    a session without a window: 0 and ``()``)."""
    windows, _, owners = _owned_windows(sessions, window)
    offsets = window_offsets(scorer, windows)  # each distinct window is scored once inside, its volume added after
    out = scorer.scores([list(w.key_ids) for w in windows], **({} if offsets is None else {"offsets": offsets}))
    scores, _ = _worst(len(sessions), owners, np.asarray(scorer.score_of(out), dtype=np.float64))
    misses = np.zeros(len(sessions), dtype=np.int64)
    lengths: list[list[int]] = [[] for _ in sessions]
    for i, missed, masked in zip(owners, out.n_misses.tolist(), out.n_masked.tolist(), strict=True):
        misses[i] += missed
        lengths[i].append(masked)
    return scores, misses, [tuple(n) for n in lengths]


def session_channels(
    scorer: ChannelScorer, sessions: Sequence[KeySequence], window: WindowConfig
) -> npt.NDArray[np.float64]:
    """(N, 3) per session (input order) the largest key, time and value score over its windows, each
    channel on its own (the rule of :func:`session_scores`, channel by channel: the combined score's
    maximum over windows is then the combination of these, since both take maxima). ``-inf`` rows:
    no window at least ``window.min_len`` keys long."""
    windows, _, owners = _owned_windows(sessions, window)
    out = np.full((len(sessions), 3), -np.inf)
    if not windows:
        return out
    keys, signals = [list(w.key_ids) for w in windows], [w.signals for w in windows]
    offsets = window_offsets(scorer, windows)
    extra = {} if offsets is None else {"offsets": offsets}
    per_window = np.asarray(scorer.channel_scores(keys, signals, **extra), dtype=np.float64)
    for i, row in zip(owners, per_window, strict=True):
        out[i] = np.maximum(out[i], row)
    return out


def unseen_category_sessions(sessions: Sequence[KeySequence], buckets: SignalBuckets | None) -> npt.NDArray[np.bool_]:
    """(N,) bool: True where a session holds a state/status category its scoring model never trained on.

    ``buckets`` are that model's signal buckets (None: a key-only model, nothing is new). Such a value
    gets the largest value surprise (:mod:`logbert.windowing.signals`), so, like a session with an
    unseen key (:func:`unseen_key_sessions`), the session's score says "something new", not how normal
    it is: the threshold and the channel scales leave it out and count it.
    """
    if buckets is None or not buckets.categories:
        return np.zeros(len(sessions), dtype=np.bool_)
    return np.fromiter(
        (
            s.signals is not None
            and any(
                buckets.is_new_category(k, slot, v)
                for k, values in zip(s.key_ids, s.signals.values, strict=False)
                for slot, v in enumerate(values)
            )
            for s in sessions
        ),
        dtype=np.bool_,
        count=len(sessions),
    )


def unseen_key_sessions(sessions: Sequence[KeySequence], known: Container[int]) -> npt.NDArray[np.bool_]:
    """(N,) bool: True where a session holds a key outside ``known`` (``UNK_KEY`` is never known).

    ``known`` is what the scoring model trained on: its vocabulary (``key in vocab``), or the keys of
    a fold model's training windows. Such a key is scored as pure surprise (always a miss, or the
    ``nll_cap``), so the session's score says "a template never seen", not how normal its order is:
    the threshold leaves these sessions out and counts them (``logbert.pipeline.calibrate``).
    """
    return np.fromiter(
        (any(k == UNK_KEY or k not in known for k in s.key_ids) for s in sessions), dtype=np.bool_, count=len(sessions)
    )
