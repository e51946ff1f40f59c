"""Pure functions that turn key ids into sequences: sessions, sliding/time windows, splits.

Stage 2 of the data flow. Nothing here does I/O or holds state, so the service's streaming
buffers (``service/sessions.py``) and the batch pipeline (``api.py``) share the same code.

The order of operations that keeps evaluation honest is:
``group_sessions`` -> labels attached -> ``split_sessions`` (whole sessions) -> ``split_long``
(windows of each split). A session is split before it is windowed, so no window of a test
session can ever land in the training data.
"""

from __future__ import annotations

import logging
import math
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Generic, Literal, NamedTuple, Protocol, TypeVar

from logbert.config import MaskRule, SessionIdRule, WindowConfig, WindowMode
from logbert.errors import ConfigError, InputDataError
from logbert.records import SESSION_END_KEY, SESSION_START_KEY, KeySequence

logger = logging.getLogger(__name__)

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

#: Session-id regexes; group 1 is the id.
SESSION_ID_RULES: dict[SessionIdRule, str] = {
    # nova tags every instance-scoped line with "[instance: <uuid>]"; bare uuids elsewhere in a line
    # (request ids, image ids, URLs) must not open sessions, hence the literal prefixes. The placement report
    # after a delete ("Deleted allocation for instance <uuid>", one per instance in a DevStack log) names its
    # instance without the tag.
    "openstack_instance": rf"(?:\[instance: |\bDeleted allocation for instance )({_UUID})\b",
    # HDFS block ids may be negative; the word boundary keeps "blk_123" out of "blk_1234".
    "hdfs_block": r"(blk_-?\d+)\b",
}
#: The rules that differ in ``window.session_id_version = 1`` (artifacts trained before version 2): the tag only.
SESSION_ID_RULES_V1: dict[SessionIdRule, str] = {"openstack_instance": rf"\[instance: ({_UUID})\]"}

SkipReason = Literal["empty", "shorter_than_min_len"]


@dataclass(frozen=True, slots=True)
class SkippedSequence:
    """A sequence (or the tail of a long session) left out of the windows, with the reason why."""

    session_id: str
    window_index: int  # index the window would have had inside its session
    n_keys: int
    skipped_reason: SkipReason
    label: int | None = None


class GroupedSessions(NamedTuple):
    """Result of :func:`group_sessions`; unpacks as ``sessions, n_without_session``."""

    sessions: list[KeySequence]
    n_without_session: int  # lines that named no session id (counted, not grouped)


class SessionLike(Protocol):
    """What the split needs of a unit: a raw log's line session or a key sequence."""

    @property
    def session_id(self) -> str: ...

    @property
    def label(self) -> int | None: ...

    @property
    def start_time(self) -> float | None: ...


_S = TypeVar("_S", bound=SessionLike)


class SessionSplit(NamedTuple, Generic[_S]):
    """Whole sessions split for training: ``train``/``val`` normal only, ``test`` everything else."""

    train: list[_S]
    val: list[_S]
    test: list[_S]
    chronological: bool  # True when the split followed start_time, False when it was seeded random


def session_id_pattern(config: WindowConfig) -> re.Pattern[str]:
    """Compile the session-id regex of a window config.

    ``config.session_pattern`` wins over ``config.session_id`` (the rule of :data:`SESSION_ID_RULES`, or of
    :data:`SESSION_ID_RULES_V1` where ``config.session_id_version`` is 1). Group 1 of the pattern is the
    session id when the pattern has a group, otherwise the whole match.

    Raises:
        ConfigError: the pattern is not a valid regex, can match the empty string, or the config
            names neither a pattern nor a preset.
    """
    if config.session_pattern is not None:
        source = config.session_pattern
    elif config.session_id is not None:
        older = SESSION_ID_RULES_V1.get(config.session_id) if config.session_id_version == 1 else None
        source = older or SESSION_ID_RULES[config.session_id]
    else:
        raise ConfigError("no session id pattern: set window.session_id or window.session_pattern")
    try:
        pattern = re.compile(source)
    except re.error as exc:  # the pattern as typed: !r would double every backslash shown
        raise ConfigError(f"window.session_pattern '{source}' is not a valid regex: {exc}") from None
    if pattern.fullmatch("") is not None:
        raise ConfigError(f"window.session_pattern '{source}' matches the empty string")
    return pattern


def session_id_mask(config: WindowConfig) -> MaskRule | None:
    """The masking rule that makes the session id of ``window.session_pattern`` a parameter of its line (None
    without a pattern of the user's: the built-in rules' ids, OpenStack instances and HDFS blocks, have masks of
    their formats).

    Why: an id is never part of an event. A pattern may name a value no built-in mask knows (Postfix's long queue
    ids, ``3yb4gF6pDRz2dZ5``), and left in the content it made templates of each session (``benchmarks.mail_log``
    before: 2,189 templates for 3,000 mails). The rule replaces the pattern's group 1 (or its whole match) and
    keeps the context the pattern matched around it (``task=<*>``, ``<*>:``).
    """
    if config.mode != "session" or config.session_pattern is None:
        return None
    pattern = session_id_pattern(config)
    return MaskRule(name="session_id", pattern=config.session_pattern, group=1 if pattern.groups else 0)


def find_session_ids(text: str, pattern: re.Pattern[str]) -> tuple[str, ...]:
    """Every session id named in ``text``, de-duplicated, in order of appearance.

    >>> find_session_ids("blk_1 to blk_-2 and blk_1", re.compile(SESSION_ID_RULES["hdfs_block"]))
    ('blk_1', 'blk_-2')
    """
    found: dict[str, None] = {}
    for match in pattern.finditer(text):
        session_id = match.group(1) if pattern.groups else match.group(0)
        if session_id:
            found.setdefault(session_id, None)
    return tuple(found)


def _check_lengths(n: int, **others: Sequence[object] | None) -> None:
    for name, values in others.items():
        if values is not None and len(values) != n:
            raise ValueError(f"{name} has {len(values)} items, expected {n} (one per key)")


def session_rows(session_ids_per_line: Sequence[tuple[str, ...]]) -> tuple[dict[str, list[int]], int]:
    """Row indices of each session, in order of first appearance, and the rows that name none.

    The one grouping rule: a line naming two ids belongs to both sessions, a line naming none to
    no session (it is counted). :func:`group_sessions` and the pipeline's corpus reader build on it.

    >>> session_rows([("a",), (), ("b", "a")])
    ({'a': [0, 2], 'b': [2]}, 1)
    """
    rows: dict[str, list[int]] = {}
    n_without = 0
    for i, ids in enumerate(session_ids_per_line):
        if not ids:
            n_without += 1
            continue
        for session_id in ids:
            rows.setdefault(session_id, []).append(i)
    return rows, n_without


def session_part_name(session_id: str, start: float) -> str:
    """The name of the part of a session that begins after a gap (``window.session_gap_s``): its id and the UTC time
    of its first line. The one naming rule for the offline corpus and the streaming router.

    >>> session_part_name("libc-bin:amd64", 1779294445.0), session_part_name("c1", 1779294445.25)
    ('libc-bin:amd64@2026-05-20T16:27:25Z', 'c1@2026-05-20T16:27:25.250Z')
    """
    moment = datetime.fromtimestamp(start, UTC)
    text = moment.isoformat(timespec="milliseconds" if start % 1 else "seconds")
    return f"{session_id}@{text.removesuffix('+00:00')}Z"


def part_session_id(name: str) -> str:
    """The session id a :func:`session_part_name` was made from (what comes before its last ``@``; a name without
    one is returned as it is). Callers try the name itself first: an id may hold an ``@`` of its own.

    >>> part_session_id("libc-bin:amd64@2026-05-20T16:27:25Z"), part_session_id("a@b.org@2026-05-20T16:27:25Z")
    ('libc-bin:amd64', 'a@b.org')
    """
    return name.rpartition("@")[0] or name


def starts_new_part(previous: float | None, current: float | None, gap_s: float | None) -> bool:
    """Whether a line at time ``current`` begins a new part of its session, whose previous timed line was at
    ``previous``: more than ``gap_s`` seconds after it. A line without a time (or the first timed one) never does.
    The one gap rule for the offline corpus and the streaming router."""
    return gap_s is not None and previous is not None and current is not None and current - previous > gap_s


def split_at_gaps(
    rows: Sequence[int], timestamps: Sequence[float | None], gap_s: float
) -> list[tuple[float | None, list[int]]]:
    """One session's rows cut where :func:`starts_new_part` says, each part with the time of its first line (None
    for the first part when its first line has no time).

    >>> split_at_gaps([0, 1, 2, 3], [10.0, None, 500.0, 520.0], 60.0)
    [(10.0, [0, 1]), (500.0, [2, 3])]
    """
    parts: list[tuple[float | None, list[int]]] = []
    last: float | None = None
    for i in rows:
        t = timestamps[i]
        if not parts or starts_new_part(last, t, gap_s):
            parts.append((t, []))
        parts[-1][1].append(i)
        last = t if t is not None else last
    return parts


def unit_rows(
    session_ids_per_line: Sequence[tuple[str, ...]],
    timestamps: Sequence[float | None],
    window: WindowConfig,
) -> tuple[list[tuple[str, list[int]]], int]:
    """The units a log is scored in, as rows: sessions by id, or sliding / time windows.

    The one rule for what a unit is, used by the offline corpus and the service's one-shot
    scoring: mode ``session`` gives one unit per session id (:func:`session_rows`; with
    ``window.session_gap_s``, one per part of it, :func:`split_at_gaps`); ``sliding``
    and ``time`` give windows over all lines, each its own unit named ``w<i>`` / ``t<i>`` (:func:`window_name`).

    Returns:
        ``(units, n_without_session)``: ``(unit id, rows)`` in order of first appearance, and how
        many lines named no session (mode ``session`` only).

    Raises:
        InputDataError: mode ``time`` and no line has a timestamp.
    """
    if window.mode == "session":
        rows_by_id, n_without = session_rows(session_ids_per_line)
        if window.session_gap_s is None:
            return list(rows_by_id.items()), n_without
        units = [
            (session_id if j == 0 or start is None else session_part_name(session_id, start), part)
            for session_id, rows in rows_by_id.items()
            for j, (start, part) in enumerate(split_at_gaps(rows, timestamps, window.session_gap_s))
        ]
        units.sort(key=lambda unit: unit[1][0])  # in order of first appearance, as without gaps
        return units, n_without
    if window.mode == "sliding":
        bounds = window_bounds(len(session_ids_per_line), window.window_size, window.stride)
        return [(window_name("sliding", i), list(range(start, end))) for i, (start, end) in enumerate(bounds)], 0
    runs = time_window_rows(timestamps, window.time_window_s)
    return [(window_name("time", i), rows) for i, rows in enumerate(runs)], 0


def window_name(mode: WindowMode, index: int) -> str:
    """The name of a log's ``index``-th sliding or time window: ``w<index>`` / ``t<index>``. The one naming rule of
    windows: ``score``'s units (:func:`unit_rows`, which labels files and ``evaluate`` name), and ``tail``'s alerts,
    whose window index (``AlertRecord.window_index``, also the service's) is the same number
    (:class:`TimeClock` for time windows).

    >>> window_name("sliding", 16), window_name("time", 10)
    ('w16', 't10')

    Raises:
        ValueError: mode ``session`` (a session is named by its id).
    """
    if mode == "session":
        raise ValueError("a session is named by its id, not by its place")
    return f"{'w' if mode == 'sliding' else 't'}{index}"


def group_sessions(
    session_ids_per_line: Sequence[tuple[str, ...]],
    key_ids: Sequence[int],
    line_nos: Sequence[int] | None = None,
    timestamps: Sequence[float | None] | None = None,
) -> GroupedSessions:
    """Group keys into one sequence per session id, in order of first appearance.

    Args:
        session_ids_per_line: the ids each line names (see :func:`find_session_ids`); a line naming
            two ids goes to both sessions, a line naming none is only counted.
        key_ids: the key id of each line.
        line_nos: the source line number of each line (kept in ``KeySequence.line_nos``).
        timestamps: epoch seconds of each line, or None; the first non-None one of a session
            becomes its ``start_time``.

    Returns:
        ``GroupedSessions(sessions, n_without_session)``; sessions carry ``label=None``.

    Raises:
        ValueError: the per-line inputs differ in length.
    """
    n = len(key_ids)
    _check_lengths(n, session_ids_per_line=session_ids_per_line, line_nos=line_nos, timestamps=timestamps)
    rows_by_session, n_without = session_rows(session_ids_per_line)
    sessions = [
        KeySequence(
            session_id=session_id,
            key_ids=[key_ids[i] for i in rows],
            line_nos=[line_nos[i] for i in rows] if line_nos is not None else [],
            start_time=_first_time(timestamps[i] for i in rows) if timestamps is not None else None,
        )
        for session_id, rows in rows_by_session.items()
    ]
    return GroupedSessions(sessions, n_without)


def window_bounds(n: int, size: int, stride: int) -> list[tuple[int, int]]:
    """``(start, end)`` of the sliding windows over ``n`` keys: starts 0, stride, 2*stride, ...

    The last window is shorter than ``size`` when keys are left after the last full one, so every
    key is in at least one window (with ``stride > size`` the keys between windows are in none).
    The streaming router emits exactly these windows as lines arrive.

    >>> window_bounds(7, 4, 2)
    [(0, 4), (2, 6), (4, 7)]
    """
    if n == 0:
        return []
    starts = list(range(0, max(n - size, 0) + 1, stride))
    if starts[-1] + size < n:  # keys left after the last full window: one more (shorter) window
        starts.append(starts[-1] + stride)
    return [(start, min(start + size, n)) for start in starts if start < n]


def sliding_windows(
    key_ids: Sequence[int],
    size: int,
    stride: int,
    *,
    line_nos: Sequence[int] | None = None,
    timestamps: Sequence[float | None] | None = None,
    session_id: str = "stream",
    label: int | None = None,
) -> list[KeySequence]:
    """Cut a key stream into windows of ``size`` keys every ``stride`` keys.

    Windows start at 0, stride, 2*stride, ...; the last window is shorter than ``size`` when the
    keys do not divide evenly, so every key is in at least one window (``split_long`` or
    ``min_len`` handling decides what to do with short ones). ``window_index`` numbers windows
    from 0; ``start_time`` is the first non-None timestamp inside the window.

    Raises:
        ValueError: ``size`` or ``stride`` below 1, or per-key inputs of different lengths.
    """
    if size < 1 or stride < 1:
        raise ValueError(f"size and stride must be >= 1, got size={size}, stride={stride}")
    n = len(key_ids)
    _check_lengths(n, line_nos=line_nos, timestamps=timestamps)
    windows = []
    for index, (start, end) in enumerate(window_bounds(n, size, stride)):
        windows.append(
            KeySequence(
                session_id=session_id,
                key_ids=list(key_ids[start:end]),
                label=label,
                line_nos=list(line_nos[start:end]) if line_nos is not None else [],
                start_time=_first_time(timestamps[start:end]) if timestamps is not None else None,
                window_index=index,
            )
        )
    return windows


def _first_time(timestamps: Iterable[float | None]) -> float | None:
    return next((t for t in timestamps if t is not None), None)


def time_bucket(timestamp: float, anchor: float, width_s: float) -> int:
    """Index of the ``width_s``-second slot of ``timestamp`` on the grid that starts at ``anchor``.

    The one time-window rule, used offline (:func:`time_window_rows`) and by the streaming router
    (both through :func:`next_time_window`): the grid starts at the stream's first timestamp, and a
    window is a run of consecutive lines in the same slot.
    """
    return math.floor((timestamp - anchor) / width_s)


class TimeClock(NamedTuple):
    """Where a stream of lines is on the time-window grid, after its last line (see :func:`next_time_window`)."""

    anchor: float  # the grid's start: the stream's first timestamp
    last: float  # the time of the last line (a line without one takes the one before it)
    window: int  # the index of the last line's time window, t<window>: the windows from the stream's first line


def next_time_window(clock: TimeClock | None, timestamp: float | None, width_s: float) -> TimeClock | None:
    """``clock`` after one more line, at ``timestamp`` (None: a line without one): the one rule of which time window
    a line is in, and of its index (:func:`window_name`), offline (:func:`time_window_rows`) and in the streaming
    router, where it is kept per source as lines arrive.

    A window is a run of consecutive lines in one slot of :func:`time_bucket`'s grid, so the index counts runs from
    the stream's first line, not slots: a slot no line falls in is no window, and a line back in an earlier slot
    opens a window of its own. A line without a timestamp stays in the window of the line before it; before any
    timestamp (``clock`` None, returned as it is) lines are in window 0, with the first timed line.

    >>> c = next_time_window(None, 100.0, 60.0); c
    TimeClock(anchor=100.0, last=100.0, window=0)
    >>> c = next_time_window(c, 400.0, 60.0); c.window  # slots 1 to 4 are empty: the second window
    1
    >>> next_time_window(next_time_window(c, None, 60.0), 130.0, 60.0).window  # back in slot 0: a window of its own
    2
    """
    if timestamp is None:
        return clock
    if clock is None:
        return TimeClock(timestamp, timestamp, 0)
    moved = time_bucket(timestamp, clock.anchor, width_s) != time_bucket(clock.last, clock.anchor, width_s)
    return TimeClock(clock.anchor, timestamp, clock.window + moved)


def time_window_rows(timestamps: Sequence[float | None], width_s: float) -> list[list[int]]:
    """Rows of each time window, in input order.

    The grid of ``width_s``-second slots starts at the first timestamp of the stream; a window is
    a run of consecutive rows in one slot (a row whose slot differs from the one before starts a
    new window, so an out-of-order line opens a window of its own rather than joining an old one,
    exactly as when the lines arrive one by one). A row without a timestamp (a continuation line)
    takes the last timestamp before it, or the first one of the stream.

    Raises:
        ValueError: ``width_s`` not positive.
        InputDataError: no row has a timestamp (the log format has no time field).

    >>> time_window_rows([100.0, None, 130.0, 161.0, 150.0, 400.0], 60.0)
    [[0, 1, 2], [3], [4], [5]]
    """
    if not width_s > 0:
        raise ValueError(f"width_s must be > 0, got {width_s}")
    if not timestamps:
        return []
    if _first_time(timestamps) is None:
        raise InputDataError("time windows need timestamps, but no line has one (use mode='sliding')")
    windows: list[list[int]] = []
    clock: TimeClock | None = None
    for i, t in enumerate(timestamps):
        clock = next_time_window(clock, t, width_s)
        if (0 if clock is None else clock.window) == len(windows):  # the line opens the next window
            windows.append([])
        windows[-1].append(i)
    return windows


def time_windows(
    key_ids: Sequence[int],
    timestamps: Sequence[float | None],
    width_s: float,
    *,
    line_nos: Sequence[int] | None = None,
    session_id: str = "stream",
    label: int | None = None,
) -> list[KeySequence]:
    """Cut a key stream into tumbling windows of ``width_s`` seconds (see :func:`time_window_rows`).

    ``start_time`` of a window is the start of its slot; ``window_index`` counts the windows.

    Raises:
        ValueError: ``width_s`` not positive, or per-key inputs of different lengths.
        InputDataError: no key has a timestamp (the log format has no time field).
    """
    n = len(key_ids)
    _check_lengths(n, timestamps=timestamps, line_nos=line_nos)
    rows_per_window = time_window_rows(timestamps, width_s)
    anchor = _first_time(timestamps)
    windows = []
    for index, rows in enumerate(rows_per_window):
        assert anchor is not None  # time_window_rows raised otherwise
        first = _first_time(timestamps[i] for i in rows)
        start = anchor if first is None else anchor + time_bucket(first, anchor, width_s) * width_s
        windows.append(
            KeySequence(
                session_id=session_id,
                key_ids=[key_ids[i] for i in rows],
                label=label,
                line_nos=[line_nos[i] for i in rows] if line_nos is not None else [],
                start_time=start,
                window_index=index,
            )
        )
    return windows


def with_session_bounds(seq: KeySequence) -> KeySequence:
    """``seq`` with ``SESSION_START_KEY`` before its first key and ``SESSION_END_KEY`` after its last.

    The pseudo-keys take the line numbers of the first and the last line, so positions still map
    to lines. Cut by :func:`split_long` afterwards, the first window starts with the start key and
    the last ends with the end key; the streaming router adds them the same way (a buffer opens
    with the start key, a close appends the end key), so both cut the same windows.
    """
    line_nos = [seq.line_nos[0], *seq.line_nos, seq.line_nos[-1]] if seq.line_nos else []
    signals = seq.signals
    if signals is not None:  # the pseudo-keys have no line: no gap, no value
        nan = float("nan")
        signals = replace(signals, gaps=(nan, *signals.gaps, nan), values=((), *signals.values, ()))
    return replace(seq, key_ids=[SESSION_START_KEY, *seq.key_ids, SESSION_END_KEY], line_nos=line_nos, signals=signals)


def session_window_starts(n: int, max_len: int, overlap: int = 0) -> list[int]:
    """Where the windows of a session of ``n`` keys start: 0, s, 2s, ... with ``s = max_len - overlap``.

    The one rule for cutting a long session (mode "session"), used by :func:`split_long` (offline
    training and scoring) and the streaming router. A window holds ``max_len`` keys, the last one
    ends at the session's end (it may be shorter); a new window starts only while the one before
    does not reach the end, so no window lies entirely inside the one before it. ``overlap = 0`` is
    the plain cut ``range(0, n, max_len)``.

    >>> session_window_starts(10, 5), session_window_starts(10, 5, 2), session_window_starts(5, 5, 2)
    ([0, 5], [0, 3, 6], [0])

    Raises:
        ValueError: ``max_len < 1`` or ``overlap`` not in ``[0, max_len)``.
    """
    if max_len < 1 or not 0 <= overlap < max_len:
        raise ValueError(f"need 1 <= max_len and 0 <= overlap < max_len, got max_len={max_len}, overlap={overlap}")
    if n <= 0:
        return []
    stride = max_len - overlap
    starts = [0]
    while starts[-1] + max_len < n:  # keys left after this window: one more, `stride` keys on
        starts.append(starts[-1] + stride)
    return starts


def session_overlap(window: WindowConfig) -> int:
    """Keys shared by consecutive windows of a long unit: ``window.session_overlap`` in mode "session",
    0 otherwise (time runs are cut without it; sliding windows overlap by their ``stride``)."""
    return window.session_overlap if window.mode == "session" else 0


def complete_session_windows(n: int, max_len: int, overlap: int = 0) -> tuple[int, int]:
    """The full windows among the first ``n`` keys of a session that goes on (streaming, see
    :func:`session_window_starts`): ``(end, next_start)``, the end of the last full window and where
    the window after it starts; ``(0, 0)`` when no window is full yet. Keys ``[:end]`` cut by
    :func:`split_long` give exactly those windows; the keys from ``next_start`` on start the rest
    (the ``overlap`` keys in ``[next_start:end]`` are in the last full window already).

    >>> complete_session_windows(9, 4, 1), complete_session_windows(3, 4, 1)
    ((7, 6), (0, 0))
    """
    full = [start for start in session_window_starts(n, max_len, overlap) if start + max_len <= n]
    if not full:
        return 0, 0
    return full[-1] + max_len, full[-1] + max_len - overlap


def split_long(
    seq: KeySequence, max_len: int, min_len: int = 1, overlap: int = 0
) -> tuple[list[KeySequence], list[SkippedSequence]]:
    """Cut a session into windows of at most ``max_len`` keys, ``overlap`` keys shared by consecutive ones.

    Windows start where :func:`session_window_starts` says: ``[0:max_len]``, ``[max_len:2*max_len]``,
    ... without overlap; each keeps the session's id, label and ``start_time`` (a ``KeySequence``
    holds one timestamp) and gets its own ``window_index`` (its place in that list of starts) and ``unit_offset``
    (the session's keys before it, counted from ``seq.unit_offset``).
    A window shorter than ``min_len`` (a short session, or the tail of a long one) is not dropped
    silently: it is returned as a :class:`SkippedSequence` with a ``skipped_reason``.

    Raises:
        ValueError: ``max_len < 1``, ``min_len > max_len`` or ``overlap`` not in ``[0, max_len)``.
    """
    if max_len < 1 or min_len > max_len:
        raise ValueError(f"need 1 <= max_len and min_len <= max_len, got max_len={max_len}, min_len={min_len}")
    n = len(seq.key_ids)
    if n == 0:
        return [], [SkippedSequence(seq.session_id, seq.window_index, 0, "empty", seq.label)]
    kept: list[KeySequence] = []
    skipped: list[SkippedSequence] = []
    for index, start in enumerate(session_window_starts(n, max_len, overlap)):
        keys = seq.key_ids[start : start + max_len]
        if len(keys) < min_len:
            skipped.append(SkippedSequence(seq.session_id, index, len(keys), "shorter_than_min_len", seq.label))
            continue
        kept.append(
            KeySequence(
                session_id=seq.session_id,
                key_ids=list(keys),
                label=seq.label,
                line_nos=list(seq.line_nos[start : start + max_len]),
                start_time=seq.start_time,
                window_index=index,
                signals=None if seq.signals is None else seq.signals.window(start, start + max_len),
                unit_offset=seq.unit_offset + start,
            )
        )
    return kept, skipped


def split_all(
    sequences: Iterable[KeySequence], max_len: int, min_len: int = 1, overlap: int = 0
) -> tuple[list[KeySequence], list[SkippedSequence]]:
    """:func:`split_long` over many sequences; windows and skips keep the input order."""
    kept: list[KeySequence] = []
    skipped: list[SkippedSequence] = []
    for seq in sequences:
        k, s = split_long(seq, max_len, min_len, overlap)
        kept.extend(k)
        skipped.extend(s)
    return kept, skipped


def split_sessions(
    sessions: Sequence[_S],
    *,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    chronological: bool = True,
    val_spread: bool = False,
) -> SessionSplit[_S]:
    """Split whole sessions (before windowing) into train / validation / test.

    * Every session labelled anomalous (``label == 1``) goes to test; train and val hold only
      normal sessions (label 0 or None).
    * Of the normal sessions, ``test_fraction`` go to test and ``val_fraction`` to val (rounded;
      val gets at least one when ``val_fraction > 0`` and two or more normal sessions remain).
    * ``chronological=True`` and every session has a ``start_time``: the earliest normal sessions
      train, the next ones validate, the latest are tested. Otherwise a seeded shuffle decides
      (``SessionSplit.chronological`` says which happened). The same input and seed always give
      the same split.
    * Sequences sharing a ``session_id`` (e.g. windows of one session) always stay together, so a
      test session never leaks into train. Within each part, the input order is kept.

    Raises:
        ConfigError: a fraction outside [0, 1) or ``val_fraction + test_fraction >= 1``.
    """
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0 <= value < 1:
            raise ConfigError(f"{name} must be in [0, 1), got {value}")
    if val_fraction + test_fraction >= 1:
        raise ConfigError(f"val_fraction + test_fraction must be < 1, got {val_fraction} + {test_fraction}")

    groups: dict[str, list[int]] = {}
    for i, seq in enumerate(sessions):
        groups.setdefault(seq.session_id, []).append(i)
    anomalous = [sid for sid, rows in groups.items() if any(sessions[i].label == 1 for i in rows)]
    normal = [sid for sid, rows in groups.items() if all(sessions[i].label != 1 for i in rows)]

    def group_start(sid: str) -> float | None:
        times = [t for i in groups[sid] if (t := sessions[i].start_time) is not None]
        return min(times) if times else None

    starts = {sid: group_start(sid) for sid in normal}
    use_time = chronological and all(t is not None for t in starts.values())
    if chronological and not use_time:
        logger.info("some sessions have no start_time: seeded random split instead of chronological")
    if use_time:
        order = sorted(normal, key=lambda sid: (starts[sid], groups[sid][0]))
    else:
        order = list(normal)
        random.Random(seed).shuffle(order)

    n = len(order)
    n_test = round(n * test_fraction)
    n_val = round(n * val_fraction)
    if val_fraction > 0 and n_val == 0 and n - n_test >= 2:
        n_val = 1
    if use_time:  # oldest train, then val, newest test
        order = order[::-1]  # newest first, so the slicing below is shared with the random case
        if val_spread:  # validation drawn from the whole older part, not the slice before the test
            older = order[n_test:]
            random.Random(seed).shuffle(older)
            order = order[:n_test] + older
    test_ids, val_ids, train_ids = order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]

    def pick(ids: Iterable[str]) -> list[_S]:
        rows = sorted(i for sid in ids for i in groups[sid])
        return [sessions[i] for i in rows]

    return SessionSplit(
        train=pick(train_ids),
        val=pick(val_ids),
        test=pick([*test_ids, *anomalous]),
        chronological=use_time,
    )
