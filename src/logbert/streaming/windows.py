"""Per-session window buffers: parsed lines in, complete key windows out.

The stateful counterpart of the library's pure windowing (:mod:`logbert.windowing.windows`): the
router applies the same rules as lines arrive, so that a stream cut here gives the windows the
offline pipeline cuts from the same lines.

* ``session``: a session's keys are cut by :func:`~logbert.windowing.windows.split_long` (windows
  of ``max_len`` keys starting where :func:`~logbert.windowing.windows.session_window_starts` says;
  the shorter tail when the session closes). With ``window.session_overlap`` = o, a full window
  leaves its last o lines in the buffer as the start of the next one (they are already scored: a
  close that adds nothing after them emits no window, as offline).
* ``sliding``: a source's keys are cut by :func:`~logbert.windowing.windows.window_bounds`
  (``window_size`` keys every ``stride``; the shorter last window when the source closes). A source
  closed for being idle keeps its place on that grid: its lines from the last window's start on are
  kept (at most :data:`MAX_RESUMED_SOURCES` sources), and when it sends again the windows go on where
  offline cuts them. The shorter window scored at the idle close is then scored again once full (the
  same window index and first line; an alert store that keys alerts by them keeps the first alert).
* ``time``: a window is a run of consecutive lines of a source in one slot of
  :func:`~logbert.windowing.windows.time_bucket`'s grid, anchored at the source's first
  timestamp (a line without one takes the previous line's); a run is then cut like a session.
  Its index is offline's, ``t<i>`` (:func:`~logbert.windowing.windows.next_time_window`, kept per
  source across closes): every piece of a run longer than ``max_len`` keys has the run's index.

Every window goes through ``split_long(max_len, min_len)`` last, as offline: a window shorter
than ``min_len`` is not scored, it is counted in ``n_skipped_short``.

Evictions (the engine's ``max_open_sessions``): the router remembers the keys it closed as
``evicted`` (the most recent :data:`EVICTED_KEYS_KEPT`, or more when more may be open at once, and
in its checkpoints). A key that gets a line again was still receiving lines: it is split, its
lines scored as two units (:meth:`SessionRouter.was_evicted` tells the engine, which counts and
says so). In mode "session" the later part is named as a ``window.session_gap_s`` part is, its id
and the time of its first line (:func:`evicted_part_name`), so that the two parts' windows and
alerts can be told apart (window 0 of each, before, under one id).

Times and values (a model with ``model.signals``; the router is given a
:data:`~logbert.streaming.protocol.SignalBuilder`): every window carries the
:class:`~logbert.records.SessionSignals` offline windowing gives it. Offline builds them per *unit*
(a session, a sliding window, a time run: gaps from the unit's first line, ``elapsed`` the whole
unit's) and cuts them with the keys (``SessionSignals.window``: a later window's first gap is the
time since the line before it, its ``elapsed`` still the unit's). So in modes "session" and "time"
the router does not cut a unit at ``max_len`` while it grows: it holds the unit's lines until the
unit ends (the session closes, the time run changes slot) and cuts them then, the windows and
signals of the offline path. A unit longer than ``hold_keys`` keys (memory) has its complete
windows scored early, with the elapsed time so far (the only case where a score can differ from
offline); what the rest needs of them (the last timestamp, the earliest and latest) is kept in
the buffer (``carry``). Key-only models: no builder, nothing per line, windows as before.

Not thread-safe: :class:`logbert.streaming.engine.StreamEngine` calls it under its lock.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from logbert.config import WindowConfig
from logbert.records import BOUND_TEMPLATES, SESSION_END_KEY, SESSION_START_KEY, KeySequence, ParamValue, SessionSignals
from logbert.results import EmitReason
from logbert.streaming.protocol import SignalBuilder
from logbert.windowing.windows import (
    TimeClock,
    complete_session_windows,
    next_time_window,
    session_overlap,
    session_part_name,
    session_window_starts,
    split_long,
    starts_new_part,
    time_bucket,
    window_bounds,
)

#: Sliding windows: idle-closed sources whose place on the window grid is kept (the least recent dropped first).
MAX_RESUMED_SOURCES: Final[int] = 1024
#: Evicted keys remembered (at least; the router's ``evicted_kept``), so that one that gets a line again is known to
#: have been split by its eviction. About 0.1 kB each in memory, its id in every checkpoint.
EVICTED_KEYS_KEPT: Final[int] = 10_000

#: One parsed line, ready to be buffered (``results.ParsedLine`` plus its stream's numbering):
#: ``(line_no, raw, key_id, template, timestamp, source, offset)``, read with the index constants
#: below; ``offset`` is the line's position in the engine's stream of all sources (None: no journal).
#:
#: A plain tuple, not a dataclass or a named tuple, because an open service holds one per buffered
#: line (220k on the HDFS replay): Python's cyclic garbage collector stops tracking an *exact* tuple
#: of strings and numbers, while it traverses every dataclass or named-tuple instance on each full
#: collection, which paused ingest requests for 84-287 ms on that replay (measured with
#: ``benchmarks/service/profile_engine.py``). A checkpoint writes it as it is (a JSON array).
RoutedLine = tuple[int, str, int, "str | None", "float | None", str, "int | None"]
LINE_NO: Final = 0
RAW: Final = 1
KEY_ID: Final = 2
TEMPLATE: Final = 3
TIMESTAMP: Final = 4
SOURCE: Final = 5
OFFSET: Final = 6
#: Times and values: keys a unit (session, time run) holds before its complete windows are scored
#: early (rounded down to whole windows): a bound on the memory of one never-ending session.
HOLD_KEYS: Final = 1024

#: What the rest of a unit needs of its lines already scored (``_Buffer.carry``): the timestamp of the
#: last one (None: unknown, the next gap is NaN as offline), the earliest and the latest known one.
Carry = tuple["float | None", "float | None", "float | None"]


def routed_line(
    line_no: int,
    raw: str,
    key_id: int,
    template: str | None,
    timestamp: float | None,
    source: str,
    offset: int | None = None,
) -> RoutedLine:
    """A :data:`RoutedLine` from its fields."""
    return (line_no, raw, key_id, template, timestamp, source, offset)


def evicted_part_name(session_id: str, line: RoutedLine) -> str:
    """The name of the part of a session that begins with ``line``, the first after the session was evicted while
    still receiving lines: as a gap's part (:func:`~logbert.windowing.windows.session_part_name`), its id and the time
    of that line; a line without a time gives its line number in its source instead (``<id>@line<N>``). Both come
    from the line, so a journal replay names the part as the first run did.

    >>> evicted_part_name("c1", routed_line(7, "raw", 3, None, 1779294445.0, "src"))
    'c1@2026-05-20T16:27:25Z'
    >>> evicted_part_name("c1", routed_line(7, "raw", 3, None, None, "src"))
    'c1@line7'
    """
    t = line[TIMESTAMP]
    return session_part_name(session_id, t) if t is not None else f"{session_id}@line{line[LINE_NO]}"


@dataclass(frozen=True, slots=True)
class PendingWindow:
    """A complete window waiting for the model, with the raw lines behind each key."""

    sequence: KeySequence
    raws: tuple[str, ...]  # raw line behind each key (same length as sequence.key_ids)
    templates: tuple[str | None, ...]  # template seen at each key (None = unseen)
    source: str
    reason: EmitReason
    first_offset: int | None = None  # stream offset of the first line: with the session id, the window's identity
    # why its session is never alerted: in flight when the stream began (logbert.scoring.capture); None otherwise
    partial: str | None = None


@dataclass(slots=True)
class _Buffer:
    key: str  # session id (mode "session") or source name (modes "sliding", "time")
    source: str
    last_seen: float
    next_window_index: int = 0  # time: the index of the current run (t<i>), which every piece of it has
    # session/time: the lines of the current run, none of them scored yet, except with a session
    # overlap: once a window was emitted, its last `overlap` lines start the buffer (see _covered).
    # sliding: the lines from the start of the last emitted window on (from the first line
    # before any window), so window_bounds over them gives the stream's next windows.
    lines: list[RoutedLine] = field(default_factory=list)
    n_emitted: int = 0  # sliding: windows of `lines` already emitted (0, or 1: the one at lines[0])
    slot: int | None = None  # time: grid slot of the current run (None before any timestamp)
    last: RoutedLine | None = None  # session bounds: the last real line, behind the end key
    carry: Carry | None = None  # times and values: the unit's lines scored early (see the module)
    # window.session_gap_s: the name of the session's current part ("<id>@<time>", None = the id itself) and the
    # time of its last timed line, which the next line's time is compared with
    name: str | None = None
    last_time: float | None = None
    # session/time: the keys of the current unit emitted before `lines` and no longer held (the next window's
    # KeySequence.unit_offset, as split_long gives it offline: a time window's volume so far)
    unit_offset: int = 0


class SessionRouter:
    """Bounded map of open buffers, most recently active last.

    Args:
        window: the artifact's window config (mode, sizes, ``min_len``).
        max_len: the effective window length (the smaller of the artifact's and the service's cap).
            A sliding window holds at most this many keys too, and ``min_len`` is capped by it.
    """

    def __init__(
        self,
        window: WindowConfig,
        max_len: int,
        signals: SignalBuilder | None = None,
        hold_keys: int = HOLD_KEYS,
        evicted_kept: int = EVICTED_KEYS_KEPT,
    ) -> None:
        self.window = window
        self.mode = window.mode
        self.max_len = max_len
        self.min_len = min(window.min_len, max_len)  # a service cap below the artifact's min_len
        self.window_size = min(window.window_size, max_len)
        # mode "session": keys shared by consecutive windows (0 in the other modes); a service cap on
        # max_len below the artifact's overlap leaves at least one new key per window
        self.overlap = min(session_overlap(window), max_len - 1)
        self.stride = window.stride
        # mode "session": start and end keys around each session (with_session_bounds, as offline)
        self.bounds = window.bounded
        # mode "session": a line this long after its session's previous timed line ends that session and starts a
        # part of its own (windowing.windows.starts_new_part, the offline rule); its windows are emitted with reason
        # "gap", and add() says "opened" for the new part
        self.gap_s = window.session_gap_s if window.mode == "session" else None
        self._buffers: OrderedDict[str, _Buffer] = OrderedDict()
        # time mode, per source: its place on the grid (anchor = its first timestamp, its last timestamp, the index of
        # its last line's window). Kept when a buffer closes, so a source that comes back stays on the grid of its
        # stream, and its windows are numbered on.
        self._clocks: dict[str, TimeClock] = {}
        # sliding, per source closed for being idle: (lines, n_emitted, next_window_index) of its buffer before the
        # close, so that its next line goes on on the stream's grid (an idle spell does not start a new one)
        self._resume: OrderedDict[str, tuple[list[RoutedLine], int, int]] = OrderedDict()
        self.n_skipped_short = 0  # windows shorter than min_len (not scored, counted)
        # keys closed as "evicted", least recent first (see the module): one that gets a line again is split
        self._evicted: OrderedDict[str, None] = OrderedDict()
        self.evicted_kept = evicted_kept
        # times and values (see the module): each window's signals, built per unit; sessions and time
        # runs are held whole (up to hold_keys, whole windows) so that they are cut as offline
        self.signals = signals
        self.hold = signals is not None and self.mode != "sliding"
        self.hold_keys = max(1, hold_keys // max_len) * max_len

    def __len__(self) -> int:
        return len(self._buffers)

    def __contains__(self, key: str) -> bool:
        return key in self._buffers

    def open_keys(self) -> list[str]:
        return list(self._buffers)

    def was_evicted(self, key: str) -> bool:
        """Whether ``key`` is not open and was evicted (among the most recent ``evicted_kept``): a line for it now
        splits it (the next :meth:`add` of it opens its later part)."""
        return key in self._evicted and key not in self._buffers

    def source_of(self, key: str) -> str:
        """The source of an open buffer (raises KeyError when ``key`` is not open)."""
        return self._buffers[key].source

    def pending_keys(self, key: str) -> int:
        """Keys buffered for ``key`` that a later window will score (0 when it is not open)."""
        buf = self._buffers.get(key)
        if buf is None:
            return 0
        if self.mode != "sliding" or buf.n_emitted == 0:  # lines, not the start key nor those scored already
            return sum(1 for ln in buf.lines[self._covered(buf) :] if ln[KEY_ID] not in BOUND_TEMPLATES)
        # past the last emitted window, and not in the gap before the next one (stride > size)
        return max(0, len(buf.lines) - max(self.window_size, self.stride))

    def add(self, key: str, line: RoutedLine, now: float) -> tuple[bool, list[PendingWindow]]:
        """Buffer one line; returns (whether a new buffer, or a new part of a session, was opened, windows completed
        by it: with ``window.session_gap_s``, first those of the part it ended, reason "gap")."""
        buf = self._buffers.get(key)
        opened = buf is None
        if buf is None:
            buf = _Buffer(key=key, source=line[SOURCE], last_seen=now)
            if (kept := self._resume.pop(key, None)) is not None:
                buf.lines, buf.n_emitted, buf.next_window_index = kept
            if self._evicted and key in self._evicted:  # evicted while still receiving lines: its later part
                del self._evicted[key]
                if self.mode == "session":
                    buf.name = evicted_part_name(key, line)
            self._buffers[key] = buf
        else:
            self._buffers.move_to_end(key)
        buf.last_seen = now
        if self.mode == "sliding":
            return opened, self._add_sliding(buf, line)
        out: list[PendingWindow] = []
        if self.gap_s is not None:
            t = line[TIMESTAMP]
            if not opened and starts_new_part(buf.last_time, t, self.gap_s):
                assert t is not None  # starts_new_part needs a time
                out.extend(self._end_part(buf))
                buf.name, opened = session_part_name(key, t), True
            if t is not None:
                buf.last_time = t
        if self.mode == "time":
            clock = self._tick(key, line)
            slot = None if clock is None else time_bucket(clock.last, clock.anchor, self.window.time_window_s)
            if slot is not None and buf.slot is not None and slot != buf.slot:
                out.extend(self._flush_run(buf, "time"))
            if slot is not None:
                buf.slot = slot
            buf.next_window_index = 0 if clock is None else clock.window  # offline's t<i>, of the run the line is in
        if self.bounds:
            if opened:
                buf.lines.append(_bound(line, SESSION_START_KEY))
            buf.last = line
        buf.lines.append(line)
        if not self.hold:
            if len(buf.lines) == self.max_len:  # split_long's cut, made as the keys arrive
                out.extend(self._flush_full(buf))
        elif len(buf.lines) >= self.hold_keys:  # a very long unit: its complete windows now
            out.extend(self._flush_full(buf))
        return opened, out

    def close(self, key: str, reason: EmitReason) -> list[PendingWindow] | None:
        """Close one buffer (its unscored keys become the last window); None when ``key`` is not open."""
        buf = self._buffers.pop(key, None)
        if buf is None:
            return None
        if self.bounds and buf.last is not None:
            # never past max_len (a full run was cut), but when a unit is held for its signals
            buf.lines.append(_bound(buf.last, SESSION_END_KEY))
        if reason == "evicted":
            self._evicted[key] = None
            while len(self._evicted) > self.evicted_kept:
                self._evicted.popitem(last=False)
        if self.mode != "sliding":
            return self._flush_run(buf, reason)
        if reason == "idle":  # a quiet spell, not the stream's end: keep the source's place on the grid
            self._resume[key] = (buf.lines, buf.n_emitted, buf.next_window_index)  # buf is closed: no copy
            self._resume.move_to_end(key)
            while len(self._resume) > MAX_RESUMED_SOURCES:
                self._resume.popitem(last=False)
        out: list[PendingWindow] = []
        for start, end in window_bounds(len(buf.lines), self.window_size, self.stride)[buf.n_emitted :]:
            out.extend(self._emit(buf, buf.lines[start:end], reason))  # only the shorter last window is left
        return out

    def _end_part(self, buf: _Buffer) -> list[PendingWindow]:
        """End the session's current part as :meth:`close` ends a session (the end key, the last window); the
        buffer then holds the next part, its windows counted from 0."""
        if self.bounds and buf.last is not None:
            buf.lines.append(_bound(buf.last, SESSION_END_KEY))
        out = self._flush_run(buf, "gap")
        buf.next_window_index, buf.last = 0, None
        return out

    def idle(self, now: float, idle_timeout_s: float) -> Iterator[str]:
        """Keys idle for at least ``idle_timeout_s``, most idle first."""
        for key, buf in self._buffers.items():
            if now - buf.last_seen < idle_timeout_s:
                break  # ordered by activity: every later buffer is more recent
            yield key

    def least_recent(self) -> str | None:
        return next(iter(self._buffers), None)

    # ------------------------------------------------------------------ rules
    def _add_sliding(self, buf: _Buffer, line: RoutedLine) -> list[PendingWindow]:
        buf.lines.append(line)
        bounds = window_bounds(len(buf.lines), self.window_size, self.stride)
        if len(bounds) <= buf.n_emitted:
            return []
        start, end = bounds[buf.n_emitted]
        if end - start < self.window_size:
            return []  # the shorter last window: only once the source closes
        out = self._emit(buf, buf.lines[start:end], "full")
        # Keep the lines from this window's start on: window_bounds over them gives the same
        # windows as over the whole stream (its windows start on the same stride grid).
        del buf.lines[:start]
        buf.n_emitted = 1
        return out

    def _tick(self, key: str, line: RoutedLine) -> TimeClock | None:
        """The source's place on the time grid after ``line`` (time mode); None while it has had no timestamp yet
        (the line then joins the current run, as offline gives it the stream's first timestamp)."""
        clock = next_time_window(self._clocks.get(key), line[TIMESTAMP], self.window.time_window_s)
        if clock is not None:
            self._clocks[key] = clock
        return clock

    def _covered(self, buf: _Buffer) -> int:
        """Lines at the head of ``buf.lines`` that are in a window emitted already: the last ``overlap``
        lines of a full window (mode "session", after its first window; every window emitted before a
        session closes is full, see :meth:`_flush_full`), else 0. Derived from the checkpointed
        ``next_window_index``, so a restored buffer cuts the same windows."""
        return self.overlap if buf.next_window_index > 0 else 0

    def _flush_run(self, buf: _Buffer, reason: EmitReason) -> list[PendingWindow]:
        lines, buf.lines = buf.lines, []
        # nothing after the overlap kept from the last full window: it lies inside that one (no window)
        out = self._emit(buf, lines, reason) if len(lines) > self._covered(buf) else []
        buf.carry = None  # the unit ends here (time mode: the next run is a unit of its own)
        buf.unit_offset = 0
        return out

    def _flush_full(self, buf: _Buffer) -> list[PendingWindow]:
        """The full windows at the head of a unit that goes on (key-only: the one of ``max_len`` lines;
        held: a unit of ``hold_keys`` lines, scored early with the elapsed time so far). The buffer keeps
        the lines from the next window's start on (:func:`complete_session_windows`)."""
        end, next_start = complete_session_windows(len(buf.lines), self.max_len, self.overlap)
        out = self._emit(buf, buf.lines[:end], "full")
        if self.hold:
            buf.carry = _carry(buf.carry, buf.lines[:next_start])  # what the lines still held need of those gone
        del buf.lines[:next_start]
        buf.unit_offset += next_start
        return out

    def _unit_signals(self, buf: _Buffer, lines: Sequence[RoutedLine]) -> SessionSignals:
        """The signals of one unit's lines (or of its part after ``buf.carry``), one position per line:
        the builder's over the real lines, NaN and no values at the session bounds (as
        ``with_session_bounds``). A carried earlier part enters as three leading pseudo-lines (its
        earliest, latest and last timestamps): the gap before the first line and the elapsed time are
        then the whole unit's, by the builder's own rules, and the three are cut off."""
        assert self.signals is not None
        real = [i for i, ln in enumerate(lines) if ln[KEY_ID] not in BOUND_TEMPLATES]
        keys = [lines[i][KEY_ID] for i in real]
        stamps: list[float | None] = [lines[i][TIMESTAMP] for i in real]
        raws = [lines[i][RAW] for i in real]
        lead = 0
        if buf.carry is not None:
            last, first_known, last_known = buf.carry
            keys = [SESSION_START_KEY] * 3 + keys
            stamps = [first_known, last_known, last, *stamps]
            raws = ["", "", "", *raws]
            lead = 3
        built = self.signals(keys, stamps, raws)
        built = built.window(lead, len(built))
        nan = float("nan")
        gaps = [nan] * len(lines)
        values: list[tuple[ParamValue, ...]] = [()] * len(lines)
        for j, i in enumerate(real):
            gaps[i] = built.gaps[j]
            values[i] = built.values[j]
        return SessionSignals(tuple(gaps), tuple(values), built.elapsed, buf.name or buf.key)

    def _emit(self, buf: _Buffer, lines: Sequence[RoutedLine], reason: EmitReason) -> list[PendingWindow]:
        """``split_long`` of one run's lines: pieces of at most ``max_len``, short ones counted."""
        seq = KeySequence(
            session_id=buf.name or buf.key,
            key_ids=[ln[KEY_ID] for ln in lines],
            line_nos=[ln[LINE_NO] for ln in lines],
            start_time=next((ln[TIMESTAMP] for ln in lines if ln[TIMESTAMP] is not None), None),
            unit_offset=buf.unit_offset,
        )
        if self.signals is not None:  # cut with the keys by split_long (SessionSignals.window)
            seq = replace(seq, signals=self._unit_signals(buf, lines))
        kept, skipped = split_long(seq, self.max_len, self.min_len, self.overlap)
        self.n_skipped_short += len(skipped)
        starts = session_window_starts(len(lines), self.max_len, self.overlap)  # split_long's piece i: starts[i]
        out = []
        for piece in kept:
            start = starts[piece.window_index]
            part = lines[start : start + len(piece.key_ids)]
            out.append(
                PendingWindow(
                    sequence=replace(piece, window_index=buf.next_window_index),
                    raws=tuple(ln[RAW] for ln in part),
                    templates=tuple(ln[TEMPLATE] for ln in part),
                    source=buf.source,
                    reason=reason,
                    first_offset=part[0][OFFSET],
                )
            )
            if self.mode != "time":  # a time window's pieces are one window, named by its index (see add)
                buf.next_window_index += 1
        return out

    # ------------------------------------------------------------------ state (journal checkpoints)
    def snapshot(self) -> RouterSnapshot:
        """What :meth:`state` needs, taken cheaply (the caller holds the engine's locks for it):
        one row per buffer, least recently active first (as evictions need), with a copy of the
        list of its (immutable) lines. :func:`snapshot_state` makes it JSON-ready, outside the locks."""
        rows = [
            (b.key, b.source, b.next_window_index, b.n_emitted, b.slot, list(b.lines), b.last, b.carry, b.name,
             b.last_time, b.unit_offset)
            for b in self._buffers.values()
        ]  # fmt: skip
        resumed = [(k, list(lines), emitted, index) for k, (lines, emitted, index) in self._resume.items()]
        return rows, list(self._clocks.items()), self.n_skipped_short, resumed, list(self._evicted)

    def state(self) -> dict[str, Any]:
        """Everything needed to go on exactly where this router is (JSON-ready)."""
        return snapshot_state(self.snapshot())

    def load_state(self, state: dict[str, Any], now: float) -> list[str]:
        """Replace the buffers with a :meth:`state`; returns the keys of the open buffers.

        Idle time restarts at ``now``: a restored session gets a full ``idle_timeout_s`` again.
        """
        self._buffers.clear()
        for b in state["buffers"]:
            buf = _Buffer(
                key=str(b["key"]),
                source=str(b["source"]),
                last_seen=now,
                next_window_index=int(b["next_window_index"]),
                lines=[line_from_json(ln) for ln in b["lines"]],
                n_emitted=int(b["n_emitted"]),
                slot=None if b["slot"] is None else int(b["slot"]),
                last=None if b.get("last") is None else line_from_json(b["last"]),
                carry=_carry_from_json(b.get("carry")),  # absent: a checkpoint without one, or key-only
                name=None if b.get("name") is None else str(b["name"]),  # absent: no gap rule, or before it
                last_time=None if b.get("last_time") is None else float(b["last_time"]),
                unit_offset=int(b.get("unit_offset", 0)),  # absent: 0, or a checkpoint from before it
            )
            self._buffers[buf.key] = buf
        self._clocks = {}
        for k, anchor, last, *window in state["clocks"]:
            # a checkpoint before windows were numbered as offline: on from the open buffer's count, as it numbered
            index = int(window[0]) if window else self._buffers[k].next_window_index if k in self._buffers else 0
            self._clocks[str(k)] = TimeClock(float(anchor), float(last), index)
        self.n_skipped_short = int(state["n_skipped_short"])
        self._resume = OrderedDict()
        for r in state.get("resumed", []):  # absent: a checkpoint of a build before it, or none kept
            lines = [line_from_json(ln) for ln in r["lines"]]
            self._resume[str(r["key"])] = (lines, int(r["n_emitted"]), int(r["next_window_index"]))
        # absent: a checkpoint of a build before it, or no eviction
        self._evicted = OrderedDict((str(k), None) for k in state.get("evicted", []))
        return list(self._buffers)


#: :meth:`SessionRouter.snapshot`: buffer rows (key, source, next window index, windows emitted,
#: time slot, lines, last line, carry, part name, last time, unit offset), clocks per source (time mode: anchor,
#: last time, window index), windows skipped as short, the sliding grid places of idle-closed sources (key, lines,
#: windows emitted, next window index), and the keys evicted (least recent first).
RouterSnapshot = tuple[
    list[
        tuple[
            str, str, int, int, "int | None", list[RoutedLine], "RoutedLine | None", "Carry | None", "str | None",
            "float | None", int,
        ]
    ],
    list[tuple[str, TimeClock]],
    int,
    list[tuple[str, list[RoutedLine], int, int]],
    list[str],
]


def snapshot_state(snapshot: RouterSnapshot) -> dict[str, Any]:
    """A :meth:`SessionRouter.snapshot` as the JSON-ready state :meth:`SessionRouter.load_state` reads."""
    rows, clocks, n_skipped_short, resumed, evicted = snapshot
    buffers: list[dict[str, Any]] = []
    for key, source, index, emitted, slot, lines, last, carry, name, last_time, unit_offset in rows:
        # lines: the tuples themselves, JSON arrays (read back by line_from_json)
        row = {
            "key": key,
            "source": source,
            "next_window_index": index,
            "n_emitted": emitted,
            "slot": slot,
            "lines": lines,
            "last": last,
        }
        if carry is not None:  # only a long unit of a time/value model: key-only checkpoints stay as they were
            row["carry"] = list(carry)
        if last_time is not None:  # only with window.session_gap_s: other checkpoints stay as they were
            row["last_time"] = last_time
        if name is not None:  # only a later part (a gap's, an eviction's): other checkpoints stay as they were
            row["name"] = name
        if unit_offset:  # only a unit longer than a window, in flight: other checkpoints stay as they were
            row["unit_offset"] = unit_offset
        buffers.append(row)
    out: dict[str, Any] = {
        "buffers": buffers,
        "clocks": [[k, *clock] for k, clock in clocks],
        "n_skipped_short": n_skipped_short,
    }
    if resumed:  # only sliding windows after an idle close: other checkpoints stay as they were
        out["resumed"] = [{"key": k, "lines": ln, "n_emitted": e, "next_window_index": i} for k, ln, e, i in resumed]
    if evicted:  # only after evictions: other checkpoints stay as they were
        out["evicted"] = evicted
    return out


def _bound(line: RoutedLine, key_id: int) -> RoutedLine:
    """The start or end pseudo-line of a session, at the place (and with the text) of its first or
    last real line: an explanation of a missed end shows the line the session stopped at."""
    return (line[LINE_NO], line[RAW], key_id, BOUND_TEMPLATES[key_id], None, line[SOURCE], line[OFFSET])


def _carry(carry: Carry | None, lines: Sequence[RoutedLine]) -> Carry:
    """``carry`` after ``lines`` of the same unit were scored (see :data:`Carry`)."""
    real = [ln for ln in lines if ln[KEY_ID] not in BOUND_TEMPLATES]
    known = [t for ln in real if (t := ln[TIMESTAMP]) is not None]
    if carry is not None:
        known.extend(t for t in carry[1:] if t is not None)
    last = real[-1][TIMESTAMP] if real else (None if carry is None else carry[0])
    return (last, min(known), max(known)) if known else (last, None, None)


def _carry_from_json(row: list[Any] | None) -> Carry | None:
    if row is None:
        return None
    last, first_known, last_known = (None if t is None else float(t) for t in row)
    return (last, first_known, last_known)


def line_from_json(row: list[Any]) -> RoutedLine:
    line_no, raw, key_id, template, timestamp, source, offset = row
    return (
        int(line_no),
        str(raw),
        int(key_id),
        None if template is None else str(template),
        None if timestamp is None else float(timestamp),
        str(source),
        None if offset is None else int(offset),
    )


def window_to_json(w: PendingWindow) -> dict[str, Any]:
    seq = w.sequence
    out: dict[str, Any] = {
        "session_id": seq.session_id,
        "key_ids": list(seq.key_ids),
        "line_nos": list(seq.line_nos),
        "start_time": seq.start_time,
        "window_index": seq.window_index,
        "raws": list(w.raws),
        "templates": list(w.templates),
        "source": w.source,
        "reason": w.reason,
        "first_offset": w.first_offset,
    }
    if seq.signals is not None:  # a time/value model's window (key-only: as before, byte for byte)
        out["signals"] = _signals_to_json(seq.signals)
    if w.partial is not None:  # only a session in flight at the stream's start: other windows as before
        out["partial"] = w.partial
    if seq.unit_offset:  # only a later window of a long unit: other windows as before
        out["unit_offset"] = seq.unit_offset
    return out


def _signals_to_json(sig: SessionSignals) -> dict[str, Any]:
    """A window's signals, JSON-safe: an unknown gap (NaN) as null."""
    return {
        "gaps": [None if g != g else g for g in sig.gaps],
        "values": [list(v) for v in sig.values],
        "elapsed": sig.elapsed,
        "session_id": sig.session_id,
    }


def _signals_from_json(d: dict[str, Any]) -> SessionSignals:
    return SessionSignals(
        tuple(float("nan") if g is None else float(g) for g in d["gaps"]),
        tuple(tuple(None if x is None else x if isinstance(x, str) else float(x) for x in v) for v in d["values"]),
        None if d["elapsed"] is None else float(d["elapsed"]),
        str(d["session_id"]),
    )


def window_from_json(d: dict[str, Any]) -> PendingWindow:
    seq = KeySequence(
        session_id=str(d["session_id"]),
        key_ids=[int(k) for k in d["key_ids"]],
        line_nos=[int(n) for n in d["line_nos"]],
        start_time=None if d["start_time"] is None else float(d["start_time"]),
        window_index=int(d["window_index"]),
        signals=_signals_from_json(d["signals"]) if d.get("signals") is not None else None,
        unit_offset=int(d.get("unit_offset", 0)),
    )
    return PendingWindow(
        sequence=seq,
        raws=tuple(str(r) for r in d["raws"]),
        templates=tuple(None if t is None else str(t) for t in d["templates"]),
        source=str(d["source"]),
        reason=d["reason"],
        first_offset=None if d["first_offset"] is None else int(d["first_offset"]),
        partial=None if d.get("partial") is None else str(d["partial"]),
    )
