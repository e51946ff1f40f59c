"""The record schema every stage shares: a header-parsed line and a key sequence.

Names follow one rule across the code base: ``template`` is a mined string, ``key_id`` the
parser's integer for it (``UNK_KEY`` for a template unseen at inference), ``token_id`` the
vocabulary index the model sees (specials PAD/DIST/MASK/UNK included).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

#: key_id of a line whose template the frozen parser has never seen.
UNK_KEY = -1
#: Pseudo-keys that bound a whole session (``window.session_bounds``): the first key of its first
#: window and the last of its last. The model then learns where sessions start and end, so a
#: session that stops early (an HDFS write that ends after two lines) has a mispredicted end. They
#: are keys like any other to the vocabulary and the model; no line stands behind them.
SESSION_START_KEY = -2
SESSION_END_KEY = -3
#: What people read for the pseudo-keys (templates, explanations).
BOUND_TEMPLATES = {SESSION_START_KEY: "<session start>", SESSION_END_KEY: "<session end>"}


#: Syslog lines carry no year; this one is assumed for a log's first line (a leap year, so that Feb 29 reads), and
#: the next one from its first line after New Year on (:class:`SyslogCalendar`).
SYSLOG_YEAR: Final[int] = 2000
#: A month more than this many months before the last line's begins the next year; more than this many after it is a
#: late line of the year before. Half a year: consecutive lines of one log are never that far apart in any other way.
_YEAR_TURN_MONTHS: Final[int] = 6


@dataclass(slots=True)
class SyslogCalendar:
    """The year of yearless lines (syslog's ``May 16 00:00:04``, klog's ``0516``), read in order.

    Such a line's year is :data:`SYSLOG_YEAR` until a line's month lies more than half a year before the latest
    one's: the log crossed New Year (``Dec 31`` then ``Jan  1``), and the year is one more from there on. A month more
    than half a year *after* the latest one's is a late line of the year before (writers interleaved around midnight):
    it reads in that year and moves nothing. Without this, a log read across New Year went back almost a year at
    midnight: a session across it lasted a year, and every session after it began before the log's first line.

    Mutable, one per stream of lines read in order: a file's reader keeps one; the streaming engine one per source,
    handed to each request's parse and kept in its checkpoints, so that a request after New Year reads as offline.

    >>> c = SyslogCalendar()
    >>> [c.year_of(m) for m in (11, 12, 12, 1, 12, 1, 2)]
    [2000, 2000, 2000, 2001, 2000, 2001, 2001]
    """

    year: int = SYSLOG_YEAR
    month: int = 0  # the month that set ``year`` last; 0: no line yet

    def year_of(self, month: int) -> int:
        """The year of a line of ``month`` (1-12) read after the lines before it."""
        if self.month:
            if month < self.month - _YEAR_TURN_MONTHS:
                self.year += 1
            elif month > self.month + _YEAR_TURN_MONTHS:
                return self.year - 1
        self.month = month
        return self.year


def n_log_keys(key_ids: Sequence[int]) -> int:
    """How many of ``key_ids`` stand for log lines: a session's start and end marks are not counted (every
    ``n_keys`` a user reads, of a session, a window or an alert, counts alike)."""
    return sum(1 for k in key_ids if k != SESSION_START_KEY and k != SESSION_END_KEY)

#: What an input file holds: raw log lines, or pre-parsed key sequences (``[id,]k1 k2 ...``).
InputKind = Literal["raw", "keys"]
#: Why an input line gave no record: blank, its header does not match the format, or (``parser.envelope``) it is a
#: piece of a longer line, read with the piece that ends it (not refused: counted). (Binary and
#: over-long lines are not refused: they are repaired, counted and parsed; see ``parsing.reader``.)
LineProblem = Literal["empty", "malformed", "partial"]
#: A typed parameter value (``logbert.parsing.params``): a number in its slot's base unit (seconds,
#: bytes, count), a category label, or None (an id slot, or a value that did not convert).
ParamValue = float | str | None


@dataclass(frozen=True, slots=True)
class LogLine:
    """One raw line after header parsing (before masking and template mining)."""

    line_no: int  # 1-based line number in its file
    content: str  # the free-text part of the line, the only part Drain sees
    timestamp: float | None = None  # seconds since the epoch, or None when the format has no time
    fields: Mapping[str, str] = field(default_factory=dict)  # the other header fields (Level, Component ...)
    # parser.continuation = "attach": a line without a header (a stack trace's "at ..." line) continues the last line
    # that had one; this is that line's text for session ids (parsing.headers.line_text_for_sessions), so it goes
    # to the same sessions. None for a line with its own header
    continues: str | None = None


@dataclass(frozen=True, slots=True)
class KeySequence:
    """An ordered run of log keys: one session, or one window of a session or stream.

    ``label`` is 1 for anomalous, 0 for normal, None when unknown. Frozen: a stage that changes a
    sequence's meaning (new keys, a label) makes a new one (``dataclasses.replace``).
    """

    session_id: str
    key_ids: list[int]
    label: int | None = None
    line_nos: list[int] = field(default_factory=list)  # source line of each key (empty for key files)
    start_time: float | None = None  # first timestamp, when the format has one
    window_index: int = 0  # position of this window inside its session (0 for the first)
    # time and parameter values, aligned with key_ids (issue 13; built only for time- and value-aware models and
    # the signal baselines): windows cut them like their keys, session bounds get no signal
    signals: SessionSignals | None = None
    # keys of its unit (a session, a time window) before this window: a time window's volume so far is this plus
    # its own keys (logbert.scoring.volume)
    unit_offset: int = 0


@dataclass(frozen=True, slots=True)
class SessionSignals:
    """Time and parameter values of one session, position by position, aligned with its
    ``KeySequence.key_ids`` (no session-bound pseudo keys): made by
    :func:`logbert.parsing.params.session_signals`, read by the value- and time-aware detectors.

    ``gaps[i]``: seconds since the session's previous line (0.0 at position 0; NaN when a time is
    unknown, e.g. key files or formats without timestamps). ``values[i]``: one typed value per
    slot of position i's template (empty for a template without slots or an unknown one).
    ``elapsed``: seconds from the first to the last line (None without timestamps).
    """

    gaps: tuple[float, ...]
    values: tuple[tuple[ParamValue, ...], ...]
    elapsed: float | None = None
    session_id: str = ""

    def __len__(self) -> int:
        return len(self.gaps)

    def window(self, start: int, stop: int) -> SessionSignals:
        """Positions ``start:stop`` (a window of the session); its first gap is kept as it was
        (the time since the line before the window), ``elapsed`` stays the session's."""
        return SessionSignals(self.gaps[start:stop], self.values[start:stop], self.elapsed, self.session_id)


@dataclass(slots=True)
class ReadReport:
    """What happened to every input line: nothing is dropped without being counted here."""

    n_lines: int = 0  # lines read
    n_parsed: int = 0  # lines whose header matched the format
    n_malformed: int = 0  # header did not match (e.g. traceback continuation lines, unless attached)
    n_continued: int = 0  # parser.continuation = "attach": lines without a header read as their message's (parsed)
    n_binary: int = 0  # not valid UTF-8 or holding control bytes; decoded with replacement and counted
    n_truncated: int = 0  # longer than ParserConfig.max_line_chars
    n_escaped: int = 0  # terminal escape sequences (ANSI colours) removed before parsing
    # a terminal's progress display (carriage returns inside the line) read as the text before it and the last of
    # each run of alike steps (parsing.reader.redrawn)
    n_redrawn: int = 0
    n_empty: int = 0  # blank lines
    # parser.envelope: pieces of a line the container runtime split (CRI "P", docker's "log" without "\n"), each read
    # as part of the line that ends it (counted there: parsed or malformed); and lines whose last piece never came (the
    # input ends first): read as what their pieces hold, their last piece counted as the line. parser.format = "csv":
    # the lines of a record whose quoted field holds line breaks, its last line counted as the record
    n_pieces: int = 0
    n_unended: int = 0
    n_without_session: int = 0  # parsed, but no session id found (mode="session" only)
    # template unseen by the frozen parser (mapped to UNK_KEY); of a key-sequence file: lines with a key the model lacks
    n_unknown_template: int = 0
    malformed_examples: list[str] = field(default_factory=list)  # first few offending lines, for the report
    warnings: list[str] = field(default_factory=list)  # the header format looks wrong (parsing.headers.format_warnings)
    first_time: float | None = None  # timestamp of the first timestamped line: where the capture begins
    # sessions already in flight at that first line (logbert.scoring.capture): scored, not alerted
    n_in_flight: int = 0

    def as_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}
