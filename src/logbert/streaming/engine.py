"""The streaming engine: raw lines in, per-session scores and alerts out.

Flow: ``ingest`` hands the raw lines, as they are, to the artifact's frozen parser
(:meth:`Scorer.parse_lines`, the project's one line rule: a blank line is rejected as ``empty``, a
line whose header does not match as ``malformed``; binary and over-long lines are repaired,
counted and parsed; an unseen template becomes ``UNK_KEY`` and is counted), routes each parsed
line to its session (configured id pattern) or to its source's window, and queues every completed
window on a :class:`MicroBatcher`. The batcher's worker thread scores windows from many sessions
together (:meth:`Scorer.score_sequences`; a window with the same keys as one scored before is
answered by the :class:`~logbert.streaming.memo.ScoreMemo`), updates the session summaries and
hands one :class:`AlertRecord` per anomalous window to the alert sink.

Time- and value-aware artifacts (``model.signals``): every window carries the times and values of
its lines (:class:`~logbert.records.SessionSignals`, built by the detector's offline rules from the
routed lines' timestamps and texts), cut as offline windowing cuts them, so a session gets the
score ``logbert score`` gives it; see :mod:`logbert.streaming.windows` for the one difference
(units longer than ``HOLD_KEYS``). Such windows are never memoised.

Memory is bounded: at most ``max_open_sessions`` open buffers (the most idle one is closed and
scored when a new session would exceed it), windows of at most ``max_window_len`` keys, and a
bounded number of closed-session summaries and recent score points. An evicted session that gets
more lines later was still running: it is scored in two parts (in mode "session" the later one
named ``<id>@<time of its first line>``), counted in ``sessions_split_by_eviction`` and in the
ingest answer (``sessions_split``), and a warning (at most one a minute) says to raise the limit.

Thread safety: ``ingest`` may be called from several threads. One ingest lock serialises the
calls from numbering their lines to routing them, so a session's keys are buffered in line-number
order even when two requests of one source race (the parser is the only heavy step, and it has
to run one call at a time anyway); queries and the scorer take a second, short-held lock for the
shared state. Scoring runs on the batcher's single worker thread, so ``parse_lines`` and
``score_sequences`` may run at the same time, but never two calls of either.

Cores: parsing and routing run on the request's thread, scoring on the worker, and the model
runs with ``train.num_threads`` torch threads (0: usable cores - 1, see :mod:`logbert.threads`),
so on two cores one parses while one scores: torch releases the GIL in its kernels, and a
request never waits for the model (only for the GIL while the worker runs Python).
"""

from __future__ import annotations

import hashlib
import heapq
import logging
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from operator import attrgetter
from typing import Any, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field

from logbert.config import WindowMode
from logbert.errors import LogBertError
from logbert.records import SESSION_END_KEY, SESSION_START_KEY, UNK_KEY, LineProblem, SyslogCalendar
from logbert.results import EmitReason, ParsedLine, PositionExplanation, SequenceScore, SessionState
from logbert.streaming.batcher import MicroBatcher
from logbert.streaming.journal import IngestEvent, JournalError
from logbert.streaming.memo import ScoreMemo
from logbert.streaming.protocol import (
    AlertSink,
    EventLog,
    PieceKeeper,
    Scorer,
    in_flight_rule,
    piece_keeper,
    signal_builder,
)
from logbert.streaming.stats import StreamStats
from logbert.streaming.windows import (
    EVICTED_KEYS_KEPT,
    KEY_ID,
    SOURCE,
    TIMESTAMP,
    PendingWindow,
    RoutedLine,
    RouterSnapshot,
    SessionRouter,
    snapshot_state,
    window_from_json,
    window_to_json,
)
from logbert.windowing.windows import part_session_id, window_name

logger = logging.getLogger(__name__)

#: The ingest rate is averaged over this many seconds (and older entries are dropped).
RATE_HORIZON_S = 10.0
#: Distinct windows whose scores the engine remembers (:class:`ScoreMemo`, ~1 KB each): a window
#: with the same keys as one scored before is not scored again. HDFS's 2 % sample has 1,553
#: distinct windows among 11,615.
SCORE_MEMO_WINDOWS = 20_000
#: At most one warning about sessions split by eviction per this many seconds (the ones between are counted in it).
SPLIT_WARNING_INTERVAL_S = 60.0
#: Windows that alerted which the engine remembers, so that a window scored again (a sliding source's window scored
#: short as the source went idle, then complete) alerts once; a window is scored again within one idle spell.
ALERTED_WINDOWS_KEPT = 4096


class Overloaded(LogBertError):
    """The scoring queue is full: the caller should retry later (HTTP 503)."""


class RequestConflict(LogBertError):
    """An ingest call's request id was used before for other lines (HTTP 422): a client bug, never applied."""


class StreamLimits(BaseModel):
    """Bounds of the engine: the service's ``Settings.limits``, or ``logbert tail``'s options.

    Lines themselves are bounded by the artifact (``parser.max_line_chars``), not here.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_open_sessions: int = Field(10_000, ge=1)  # open buffers; the most idle is closed (scored) beyond this
    idle_timeout_s: float = Field(300.0, gt=0)  # a session with no line for this long is closed and scored
    max_window_len: int = Field(512, ge=2)  # cap on keys per window (the artifact's window.max_len applies too)
    # windows per model call. 256: on the HDFS replay (2 cores, score memo on) close-all's tail
    # took 3.2-4.6 s at 256 against 4.4-6.4 s at 64 and 3.5-4.2 s at 1024 (benchmarks/service/profile_engine.py)
    batch_size: int = Field(256, ge=1)
    flush_interval_s: float = Field(0.05, ge=0)  # how long a partial batch waits for more windows
    max_pending_windows: int = Field(50_000, ge=1)  # queued windows beyond which ingest answers Overloaded
    closed_sessions_kept: int = Field(10_000, ge=0)  # summaries of closed sessions kept for queries
    recent_scores_kept: int = Field(2_000, ge=1)  # score points kept for "score over time"
    max_sources: int = Field(100_000, ge=1)  # sources whose line numbering is remembered (least recent forgotten)
    # ingest calls whose request id (the service's Idempotency-Key header) is remembered, so that a client's retry of a
    # call it got no answer to is answered, not applied twice; the least recent are forgotten beyond this (each costs
    # about 0.3 kB of memory and 0.15 kB of every checkpoint, plus about 0.1 kB of each for every run of consecutive
    # lines it rejected for one reason; at 20 requests a second, 10,000 cover 8 minutes)
    max_request_ids: int = Field(10_000, ge=0)


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """An anomalous window. Higher ``anomaly_score`` = more anomalous."""

    session_id: str
    source: str
    window_index: int
    anomaly_score: float
    threshold: float
    miss_ratio: float
    dist_score: float
    n_keys: int  # the window's log lines (SequenceScore.n_keys: its start and end marks not counted)
    n_misses: int
    n_unknown: int  # keys the model's vocabulary maps to UNK (SequenceScore.n_unknown)
    # the window's session start and end marks (window.session_bounds): predicted like keys, a missed one is among
    # n_misses, so the misses are of n_keys + n_marks positions
    n_marks: int
    created_at: float  # epoch seconds
    first_line_no: int | None
    last_line_no: int | None
    reason: EmitReason  # why the window was scored (full, closed, idle ...)
    # stream offset of the window's first line (None without a journal): with session_id, the
    # window's identity, so an alert produced again by a journal replay is stored once
    stream_offset: int | None
    misses: tuple[PositionExplanation, ...]  # each with the raw line behind the key
    # what else was surprising (SequenceScore.surprises): a time or value and what was expected, a session far
    # shorter than the normal ones
    surprises: tuple[str, ...]
    # the window as `score` names its unit in window modes time / sliding ("t10", "w16": windowing's window_name);
    # None in mode session, where window_index is the window's place in its session (score's worst_window)
    window: str | None = None

    def missed(self) -> str:
        """"M of N" for people: the misses over every position that could miss (a tail alert said "missed=25/24"
        where the session's end mark was the 25th miss)."""
        marks = f" ({self.n_keys} keys, {self.n_marks} session marks)" if self.n_marks else ""
        return f"{self.n_misses} of {self.n_keys + self.n_marks}{marks}"


@dataclass(frozen=True, slots=True)
class ScorePoint:
    """One scored window, for "score over time"."""

    time: float  # epoch seconds when it was scored
    session_id: str
    window_index: int
    anomaly_score: float
    threshold: float
    is_anomaly: bool
    log_time: float | None = None  # epoch seconds of the window's first timestamped line (None: no time)


@dataclass(slots=True)
class SessionSummary:
    """What is known about one session. ``max_score``: higher = more anomalous."""

    session_id: str
    source: str
    state: SessionState
    first_seen: float  # epoch seconds
    last_seen: float
    n_lines: int = 0
    n_pending_keys: int = 0  # buffered keys not yet in a scored window
    n_windows_pending: int = 0  # windows queued for the model
    n_windows_scored: int = 0
    n_anomalous_windows: int = 0
    n_unknown_templates: int = 0  # lines whose template the frozen parser had never seen (UNK_KEY)
    max_score: float | None = None
    last_score: float | None = None
    threshold: float | None = None
    is_anomaly: bool = False
    closed_reason: EmitReason | None = None
    # why it is never alerted: it was in flight when the stream began (logbert.scoring.capture); None otherwise
    partial: str | None = None


@dataclass(slots=True)
class RecoveryReport:
    """What :meth:`StreamEngine.recover` found in the journal."""

    sessions_restored: int = 0  # open sessions (buffers) from the checkpoint
    windows_restored: int = 0  # windows whose alerts were not stored at the checkpoint: scored again
    requests_replayed: int = 0  # ingest calls after the checkpoint, applied again
    lines_replayed: int = 0
    closes_replayed: int = 0


@dataclass(frozen=True, slots=True)
class LineRejection:
    """A line that gave no record."""

    index: int  # 0-based position of the line in its ingest call
    line_no: int  # line number given to it in its source's stream
    reason: LineProblem


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    """What happened to the lines of one ingest call."""

    received: int
    accepted: int  # parsed and routed to a session or window
    rejected: int  # gave no record (see rejections)
    unrouted: int  # parsed, but no session id found (mode "session")
    unknown_templates: int  # routed lines whose template the parser had never seen (scored as UNK)
    binary: int  # lines with bytes that are not UTF-8 or control characters: repaired (U+FFFD), then parsed
    truncated: int  # lines longer than the artifact's parser.max_line_chars: truncated, then parsed
    windows_queued: int  # windows completed by this call and queued for the model
    first_line_no: int  # line number given to the first line of this call in its source's stream
    rejections: tuple[LineRejection, ...]
    # the call repeats an earlier one with the same request id and lines: nothing was applied again, and the counts
    # and rejections are those of the first
    duplicate: bool = False
    # sessions this call closed early to stay within max_open_sessions (the most idle ones), and sessions it reopened
    # that such an eviction had closed while they were still receiving lines: each is scored in two parts (mode
    # session: the later one named "<id>@<time>"). Raise max_open_sessions when this is not 0. A retry answered from
    # a checkpoint's memory of its request id says 0 for both
    sessions_evicted: int = 0
    sessions_split: int = 0


class StreamEngine:
    """Per-session state over a loaded artifact.

    Args:
        detector: the loaded artifact (anything that implements :class:`Scorer`).
        limits: memory and batching bounds.
        alert_sink: receives alerts on the scoring thread (None: alerts are only counted).
        clock: monotonic clock for idle timeouts (injectable for tests).
        wall_clock: epoch clock for timestamps shown to users.
        journal: the ingest journal (None: lines live in memory only). With one, every ingest and
            close is appended before it is applied, :meth:`checkpoint` commits the state once its
            alerts are stored, :meth:`recover` restores it on start, and :meth:`shutdown` leaves
            open sessions open (the next start goes on with them).
        journal_tag: identity of the artifact (its meta.json hash): a checkpoint holds key ids of
            one vocabulary, and another artifact's is refused.
        score_memo_windows: distinct windows whose scores are remembered (0: every window goes to
            the model; see :mod:`logbert.streaming.memo`).
    """

    def __init__(
        self,
        detector: Scorer,
        limits: StreamLimits,
        alert_sink: AlertSink | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        journal: EventLog | None = None,
        journal_tag: str | None = None,
        score_memo_windows: int = SCORE_MEMO_WINDOWS,
    ) -> None:
        self.detector = detector
        self.journal = journal
        self.journal_tag = journal_tag
        self.limits = limits
        self.alert_sink = alert_sink
        self._clock = clock
        self._wall = wall_clock
        window = detector.config.window
        self.max_len = min(limits.max_window_len, window.max_len)
        self.session_mode = window.mode == "session"
        self.window_mode = window.mode
        # mode session: a session's later parts (after a window.session_gap_s gap, or after its eviction) are named
        # "<id>@<time>"; their windows count in the id's summary
        self.parts = self.session_mode
        # parser.continuation = "attach": each source's last line with its own header, which a line without one at
        # the start of its next request continues (offline, a file's lines continue across any block)
        self.attach_continuations = detector.config.parser.continuation == "attach"
        # per source, its streams' last lines with their own header (one stream, "", without parser.envelope)
        self._heads: OrderedDict[str, dict[str, str]] = OrderedDict()
        # parser.envelope: each source's pieces of a line the container runtime split whose last piece has not come,
        # read again before its next request (offline, a file's pieces join across any block; parsing.reader); and
        # parser.format = "csv": the lines of a record whose quoted field holds line breaks (the detector says which)
        self._open_pieces = piece_keeper(detector)
        self._pieces: OrderedDict[str, list[str]] = OrderedDict()
        # each source's year of yearless lines (syslog's "Dec 31"), handed to its next request's parse: a request after
        # New Year reads its lines in the next year, as offline (records.SyslogCalendar); none for other formats
        self._calendars: OrderedDict[str, SyslogCalendar] = OrderedDict()
        # a time/value model: each window carries its signals, built by the offline rules (None: key-only)
        self._router = SessionRouter(
            window,
            self.max_len,
            signals=signal_builder(detector),
            evicted_kept=max(EVICTED_KEYS_KEPT, limits.max_open_sessions),
        )
        # sessions in flight when the stream began (logbert.scoring.capture): the detector's rule, the one offline
        # scoring uses, against the first timestamped line this engine ever saw (kept in its checkpoints, so a
        # restart does not open the window again); None: no rule (sessions only, and the artifact must have it)
        self._in_flight = in_flight_rule(detector) if self.session_mode else None
        self._capture_start: float | None = None
        self._partial: dict[str, str] = {}  # open sessions in flight at the start -> why (bounded by the router)
        self._lock = threading.RLock()
        self._ingest_lock = threading.Lock()  # numbering, parsing and routing of one call at a time
        self._summaries: dict[str, SessionSummary] = {}
        self._closed: OrderedDict[str, None] = OrderedDict()
        self._recent: deque[ScorePoint] = deque(maxlen=limits.recent_scores_kept)
        # per source, the next line number; least recently used first, bounded by limits.max_sources
        self._next_line_no: OrderedDict[str, int] = OrderedDict()
        self._rate: deque[tuple[float, int]] = deque()
        self.counters: Counter[str] = Counter()
        self.closed_by_reason: Counter[EmitReason] = Counter()
        # sessions split by eviction not yet in a warning, the last one's id, and when the last warning was given
        self._splits_unwarned = 0
        self._last_split: str | None = None
        self._split_warned_at: float | None = None
        self._next_offset = 0  # stream offset of the next line (all sources)
        # (source, request id) -> (digest of its lines, the first answer without its rejections, their runs): ingest
        # calls a retry must not apply again, least recent first, bounded by limits.max_request_ids; in checkpoints and
        # journal records
        self._requests: OrderedDict[tuple[str, str], tuple[str, IngestOutcome, RejectionRuns]] = OrderedDict()
        # windows handed to the scorer whose alerts are not yet with the sink, by id(): a
        # checkpoint keeps them, so a crash before their alerts are stored scores them again
        self._outstanding: dict[int, PendingWindow] = {}
        # the last ALERTED_WINDOWS_KEPT windows that alerted: a sliding source's window scored short at an idle close
        # is scored again once complete (same start), and one anomaly alerts once, as the alert store keeps it
        self._alerted: OrderedDict[tuple[str, str, int, int], None] = OrderedDict()
        # per source, the (session, window index) scored last: a window scored again (pieces of a long time window,
        # a sliding window scored short at an idle close and then complete) is counted once in windows_distinct
        self._last_window: OrderedDict[str, tuple[str, int]] = OrderedDict()
        self._changes = 0  # events applied and batches scored: a checkpoint with none since the last is skipped
        self._checkpointed_changes = 0
        self._unsaved_since: float | None = None  # clock time of the oldest change not in a checkpoint (None: none)
        self._memo = ScoreMemo(score_memo_windows)  # used on the scoring thread only
        self._batcher: MicroBatcher[PendingWindow] = MicroBatcher(
            self._score_batch, limits.batch_size, limits.flush_interval_s
        )

    # ------------------------------------------------------------------ ingest
    def ingest(
        self, lines: Sequence[str | bytes], source: str = "default", request_id: str | None = None
    ) -> IngestOutcome:
        """Parse, route and buffer raw lines; completed windows are queued for scoring.

        Args:
            lines: raw lines as received (bytes are decoded by the parser's line rule); a
                trailing line terminator is ignored.
            source: the stream they come from (its own line numbering and, in modes "sliding"
                and "time", its own windows).
            request_id: the caller's id of this call (the service's ``Idempotency-Key`` header). A later call from
                the same source with the same id and the same lines is answered with the first one's counts and
                rejections (``duplicate``) and not applied again, also after a crash and a restart: the id is in the
                journal record and in the checkpoints (the ``limits.max_request_ids`` most recent ids).

        Raises:
            Overloaded: the scoring queue holds ``max_pending_windows`` windows already.
            RequestConflict: ``request_id`` was used before for other lines.
        """
        request = None if request_id is None else (request_id, lines_digest(lines))
        with self._ingest_lock:
            if request is not None and (first_answer := self._answered(source, *request)) is not None:
                return first_answer  # a retry of a call whose answer the client did not get
            if self._batcher.pending >= self.limits.max_pending_windows:
                raise Overloaded(f"scoring queue is full ({self._batcher.pending} windows pending); retry later")
            with self._lock:
                first = self._next_line_no.get(source, 1)
                offset = self._next_offset
            if self.journal is not None:  # on disk before it is applied, and before it is answered
                self.journal.append_ingest(source, lines, first, offset, request)  # type: ignore[arg-type]
            outcome = self._apply_ingest(lines, source, first, offset)
            self._remember(source, request, outcome)
            return outcome

    def _answered(self, source: str, request_id: str, digest: str) -> IngestOutcome | None:
        """The first answer to an ingest call with this id from this source, if one is remembered."""
        with self._lock:
            known = self._requests.get((source, request_id))
        if known is None:
            return None
        first_digest, outcome, runs = known
        if first_digest != digest:
            raise RequestConflict(
                f"request id {request_id[:64]!r} of source {source[:64]!r} was used before for other lines: a retry "
                "must send the same lines; new lines need a new id"
            )
        with self._lock:
            self.counters["requests_retried"] += 1
        return replace(outcome, rejections=_rejections(runs, outcome.first_line_no))

    def _remember(self, source: str, request: tuple[str, str] | None, outcome: IngestOutcome) -> None:
        if request is None or self.limits.max_request_ids == 0:
            return
        # its rejections as runs: a block of lines in the wrong format costs one entry, not one per line
        first_answer = replace(outcome, rejections=(), duplicate=True)
        runs = _rejection_runs(outcome.rejections)
        with self._lock:
            requests = self._requests
            requests.pop((source, request[0]), None)
            requests[(source, request[0])] = (request[1], first_answer, runs)
            while len(requests) > self.limits.max_request_ids:
                requests.popitem(last=False)

    def _apply_ingest(self, lines: Sequence[str | bytes], source: str, first: int, offset: int) -> IngestOutcome:
        """Number, parse and route one ingest call (also a replayed one: same lines, same numbers)."""
        with self._lock:
            # a source silent the longest (beyond max_sources) numbers anew if it returns
            _most_recent(self._next_line_no, source, first + len(lines), self.limits.max_sources)
            self._next_offset = max(self._next_offset, offset + len(lines))
            self._changed()
        heads = list(self._heads.get(source, {}).values()) if self.attach_continuations else []
        pieces = self._pieces.get(source, []) if self._open_pieces is not None else []
        # parsed after the lines they may continue (each stream's) and the pieces their first line may end, which are
        # then left out (their counts are the report's only)
        before: list[str | bytes] = [*heads, *pieces]
        # the heads read again move no year: their months are the calendar's latest ones
        calendar = replace(self._calendars.get(source) or SyslogCalendar())
        if not before:
            outcomes, report = self.detector.parse_lines(lines, start_line_no=first, calendar=calendar)
        else:
            outcomes, report = self.detector.parse_lines(
                [*before, *lines], start_line_no=first - len(before), calendar=calendar
            )
            outcomes = outcomes[len(before) :]
        if len(outcomes) != len(lines):
            raise LogBertError(f"parse_lines returned {len(outcomes)} outcomes for {len(lines)} lines")
        now, wall = self._clock(), self._wall()
        rejections: list[LineRejection] = []
        windows: list[PendingWindow] = []
        n_unknown_templates = unrouted = 0
        session_mode, add = self.session_mode, self._add
        # One pass under the lock, per line only what routing needs (this loop and _add were a
        # sixth of the ingest time on the HDFS replay): the lock is short-held by queries only.
        with self._lock:
            evicted_before = self.closed_by_reason["evicted"]
            split_before = self.counters["sessions_split_by_eviction"]
            for i, p in enumerate(outcomes):
                if isinstance(p, str):
                    if p != "partial":  # a piece of a split line is accepted: read with the piece that ends it
                        rejections.append(LineRejection(i, first + i, p))
                    continue
                if self._capture_start is None and self._in_flight is not None and p.timestamp is not None:
                    self._capture_start = p.timestamp  # offline: ReadReport.first_time, any parsed line
                keys = p.session_ids if session_mode else (source,)
                if not keys:
                    unrouted += 1
                    continue
                n_unknown_templates += p.key_id == UNK_KEY  # of scored lines, as offline (ReadReport)
                line: RoutedLine = (first + i, p.raw, p.key_id, p.template, p.timestamp, source, offset + i)
                for key in keys if len(keys) == 1 else dict.fromkeys(keys):
                    add(key, line, now, wall, windows)
            outcome = IngestOutcome(
                received=len(lines),
                accepted=len(lines) - len(rejections) - unrouted,
                rejected=len(rejections),
                unrouted=unrouted,
                unknown_templates=n_unknown_templates,
                binary=report.n_binary,
                truncated=report.n_truncated,
                windows_queued=len(windows),
                first_line_no=first,
                rejections=tuple(rejections),
                sessions_evicted=self.closed_by_reason["evicted"] - evicted_before,
                sessions_split=self.counters["sessions_split_by_eviction"] - split_before,
            )
            self._account(outcome, now)
            if self.attach_continuations:
                self._note_head(source, outcomes)
            if self._open_pieces is not None:
                self._note_pieces(self._open_pieces, source, [*pieces, *lines])
            if calendar.month:  # a yearless line was read (a syslog format): its year goes on in the next request
                _most_recent(self._calendars, source, calendar, self.limits.max_sources)
        self._submit(windows)
        if outcome.sessions_split:
            self._warn_split(outcome.sessions_split, now)
        return outcome

    def _warn_split(self, n: int, now: float) -> None:
        """Say that ``n`` more sessions were split by eviction: at once the first time, then at most once every
        :data:`SPLIT_WARNING_INTERVAL_S` seconds with those split since the last warning."""
        with self._lock:
            self._splits_unwarned += n
            if self._split_warned_at is not None and now - self._split_warned_at < SPLIT_WARNING_INTERVAL_S:
                return
            self._split_warned_at = now
            n_new, self._splits_unwarned = self._splits_unwarned, 0
            total, example = self.counters["sessions_split_by_eviction"], self._last_split
        later = "the later part named <id>@<time of its first line>" if self.session_mode else "the later one anew"
        logger.warning(
            "max_open_sessions (%d) is too low for this stream: sessions evicted while still receiving lines are "
            "scored in two parts (%s), which can flag or miss what the whole session would not: %d more (%d in all, "
            "the last %r); raise max_open_sessions above the sessions open at once (--max-open-sessions, or "
            "LOGBERT_LIMITS__MAX_OPEN_SESSIONS for the service)",
            self.limits.max_open_sessions,
            later,
            n_new,
            total,
            example,
        )

    def _note_head(self, source: str, outcomes: Sequence[ParsedLine | LineProblem]) -> None:
        """The source's last line with its own header, of each of its streams, for its next request (under
        ``_lock``)."""
        heads = dict(self._heads.get(source, {}))
        for p in outcomes:
            if not isinstance(p, str) and not p.continued:
                heads.pop(p.stream, None)
                heads[p.stream] = p.raw  # the most recent stream last: re-read last, as it came
        if heads:
            _most_recent(self._heads, source, heads, self.limits.max_sources)

    def _note_pieces(self, open_pieces: PieceKeeper, source: str, lines: Sequence[str | bytes]) -> None:
        """The source's pieces of a split line still open after ``lines``, for its next request (under ``_lock``)."""
        pieces = open_pieces(lines)
        if pieces:
            _most_recent(self._pieces, source, pieces, self.limits.max_sources)
        else:
            self._pieces.pop(source, None)

    def _submit(self, windows: list[PendingWindow]) -> None:
        if not windows:
            return
        with self._lock:
            for w in windows:
                self._outstanding[id(w)] = w
        self._batcher.submit(windows)

    def _add(self, key: str, line: RoutedLine, now: float, wall: float, out: list[PendingWindow]) -> None:
        """Buffer one line of session (or source) ``key``; windows it completes go to ``out``."""
        router = self._router
        if len(router) >= self.limits.max_open_sessions and key not in router:
            victim = router.least_recent()
            if victim is not None:
                out.extend(self._close_locked(victim, "evicted", wall))
        was_open = key in router
        if not was_open and router.was_evicted(key):  # still receiving lines when it was evicted: split in two
            self.counters["sessions_split_by_eviction"] += 1
            self._last_split = key
        opened, windows = router.add(key, line, now)
        summary = self._summaries.get(key)
        if summary is None:
            summary = SessionSummary(key, line[SOURCE], "open", first_seen=wall, last_seen=wall)
            self._summaries[key] = summary
        if opened and was_open:  # window.session_gap_s: the line ended the session's part and began the next
            n_ended = sum(1 for w in windows if w.reason == "gap")
            ended = self._mark_partial(key, windows[:n_ended])  # the ended part's windows come first
            self._partial.pop(key, None)
            self.closed_by_reason["gap"] += 1
            summary.n_windows_pending += len(ended)
            out.extend(ended)
            windows = windows[n_ended:]
        if opened:
            self.counters["sessions_opened"] += 1
            summary.state, summary.closed_reason = "open", None
            self._closed.pop(key, None)
            if self._in_flight is not None:  # decided on its first line, as offline on the session's first key
                why = self._in_flight([line[KEY_ID]], line[TIMESTAMP], self._capture_start)
                summary.partial = why
                if why is not None:
                    self._partial[key] = why
                    self.counters["sessions_in_flight"] += 1
        summary.last_seen = wall
        summary.n_lines += 1
        if windows:
            out.extend(self._mark_partial(key, windows))
            summary.n_windows_pending += len(windows)
        if line[KEY_ID] == UNK_KEY:
            summary.n_unknown_templates += 1

    def _account(self, o: IngestOutcome, now: float) -> None:
        c = self.counters
        c["lines_received"] += o.received
        c["lines_accepted"] += o.accepted
        c["lines_unrouted"] += o.unrouted
        c["lines_unknown_template"] += o.unknown_templates
        c["lines_binary"] += o.binary
        c["lines_truncated"] += o.truncated
        c["lines_rejected"] += o.rejected
        for r in o.rejections:
            c[f"rejected_{r.reason}"] += 1
        c["windows_queued"] += o.windows_queued
        self._rate.append((now, o.received))
        self._prune_rate(now)  # on every ingest, not only when someone reads the stats

    # ------------------------------------------------------------------ closing
    def _mark_partial(self, key: str, windows: list[PendingWindow]) -> list[PendingWindow]:
        """The windows of a session in flight at the stream's start carry why (never alerted, see _score_batch)."""
        why = self._partial.get(key)
        return windows if why is None else [replace(w, partial=why) for w in windows]

    def _close_locked(self, key: str, reason: EmitReason, wall: float) -> list[PendingWindow]:
        windows = self._router.close(key, reason)
        if windows is None:
            return []
        windows = self._mark_partial(key, windows)
        self._partial.pop(key, None)
        self.closed_by_reason[reason] += 1
        summary = self._summaries.get(key)
        if summary is not None:
            summary.state, summary.closed_reason = "closed", reason
            summary.n_windows_pending += len(windows)
            self._closed[key] = None
            self._keep_closed()
        return windows

    def _keep_closed(self) -> None:
        """Drop the oldest closed summaries beyond ``limits.closed_sessions_kept`` (after a close, and after a restore
        under a lower limit than the checkpoint's service had)."""
        while len(self._closed) > self.limits.closed_sessions_kept:
            old, _ = self._closed.popitem(last=False)
            self._summaries.pop(old, None)

    def _submit_closed(self, keys: Sequence[str], reason: EmitReason) -> int:
        with self._ingest_lock:  # in the journal's order relative to ingests
            with self._lock:
                keys = [key for key in keys if key in self._router]
            if not keys:
                return 0
            if self.journal is not None:
                self.journal.append_close(keys, reason)
            return self._apply_close(keys, reason)

    def _apply_close(self, keys: Sequence[str], reason: EmitReason) -> int:
        wall = self._wall()
        windows: list[PendingWindow] = []
        closed = 0
        with self._lock:
            for key in keys:
                if key in self._router:
                    closed += 1
                    windows.extend(self._close_locked(key, reason, wall))
            self.counters["windows_queued"] += len(windows)
            self._changed()
        self._submit(windows)
        return closed

    def close_session(self, session_id: str) -> bool:
        """End one session now (its buffered keys are scored); False when it is not open."""
        return self._submit_closed([session_id], "closed") == 1

    def close_sessions(self, keys: Sequence[str], reason: EmitReason = "closed") -> int:
        """End these sessions now (a queue's close events); returns how many were open."""
        return self._submit_closed(keys, reason)

    def end_source(self, source: str = "default") -> int:
        """The input of ``source`` has ended (a file ``tail`` does not follow, standard input): a split line whose last
        piece never came is read as what its pieces hold and routed, as offline reading ends a file (tail left it
        open, and its session a line short of ``score``'s). Returns the lines so read (0 without a parser that
        reads such lines, or without open pieces). Not journaled: a source the service keeps reading never ends."""
        finish = getattr(self.detector, "parse_unended", None)
        if self._open_pieces is None or not callable(finish):
            return 0
        with self._lock:
            pieces = self._pieces.pop(source, None)
            first = self._next_line_no.get(source, 1) - len(pieces or ())
            calendar = replace(self._calendars.get(source) or SyslogCalendar())
            offset = self._next_offset - 1  # the last line's: a window's identity where it starts with this line
            if pieces:
                self._changed()
        if not pieces:
            return 0
        parsed: list[ParsedLine] = finish(pieces, start_line_no=first, calendar=calendar)
        now, wall = self._clock(), self._wall()
        windows: list[PendingWindow] = []
        with self._lock:
            for p in parsed:
                line: RoutedLine = (p.line_no, p.raw, p.key_id, p.template, p.timestamp, source, offset)
                for key in dict.fromkeys(p.session_ids if self.session_mode else (source,)):
                    self._add(key, line, now, wall, windows)
        self._submit(windows)
        return len(parsed)

    def close_all(self, reason: EmitReason = "closed") -> int:
        """End every open session; returns how many were open."""
        with self._lock:
            keys = self._router.open_keys()
        return self._submit_closed(keys, reason)

    def expire_idle(self) -> int:
        """Close sessions idle for ``idle_timeout_s``; returns how many."""
        now = self._clock()
        with self._lock:
            keys = list(self._router.idle(now, self.limits.idle_timeout_s))
        return self._submit_closed(keys, "idle") if keys else 0

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every queued window is scored and its alerts are stored."""
        return self._batcher.drain(timeout)

    def shutdown(self, timeout: float | None = 30.0) -> bool:
        """Flush and stop the worker; False when queued windows were left unscored after ``timeout``.

        Without a journal, every open session is closed and scored first (nothing else would keep
        its lines). With one, open sessions stay open: the caller's last :meth:`checkpoint` keeps
        them, and the windows left unscored, for the next start.
        """
        if self.journal is None:
            self.close_all("shutdown")
        return self._batcher.stop(timeout)

    # ------------------------------------------------------------------ journal
    def _changed(self) -> None:
        """Count a change a checkpoint would keep (under ``_lock``)."""
        self._changes += 1
        if self._unsaved_since is None:
            self._unsaved_since = self._clock()

    def replay_age(self) -> float:
        """Seconds since the oldest change not yet in a checkpoint: how far back a restart would replay the journal
        (0: nothing to replay, or no journal), however old the last checkpoint is."""
        with self._lock:
            since = self._unsaved_since
        return 0.0 if since is None or self.journal is None else max(0.0, self._clock() - since)

    def checkpoint(self, alerts_stored: Callable[[], bool] = lambda: True, force: bool = False) -> bool:
        """Commit the engine's state to the journal, if every alert produced so far is stored.

        The state is taken first and the alert check made after: a window is dropped from the
        state only once its alerts were handed to the sink, so "stored now" covers all of them.
        Returns True when a checkpoint was written (False: no journal, nothing new, or alerts
        still unsaved, when the previous checkpoint stays the one to recover from).

        Raises:
            JournalError: the checkpoint cannot be written.
        """
        if self.journal is None:
            return False
        fork = getattr(self.journal, "fork_checkpoint", None)  # the local journal's; other event logs have none
        child = None
        with self._ingest_lock, self._lock:
            if self._changes == self._checkpointed_changes and not force:
                return False
            changes, unsaved_since = self._changes, self._unsaved_since
            self._unsaved_since = None  # changes from here on are the next checkpoint's
            if callable(fork):  # the state as it is now, taken and written by a forked child: ingest goes on at once
                child = fork(self.journal.next_seq, lambda: self._state(self._take_state()))
            if child is None:
                # only references and list copies under the locks (ingest waits for them), the
                # JSON-ready state is built and written after: for 11.5k open sessions on the loaded
                # 2-core machine, a median 41 ms instead of 61 ms of building it here
                taken = self._take_state()
        committed = False
        try:
            try:
                stored = alerts_stored()
            except BaseException:
                if child is not None:
                    child.abandon()
                raise
            if not stored:
                if child is not None:
                    child.abandon()
                return False
            if child is not None:
                child.finish()
            else:
                self.journal.commit(self._state(taken))
            committed = True
        finally:
            if not committed and unsaved_since is not None:
                with self._lock:  # still in no checkpoint: a restart replays from there
                    self._unsaved_since = unsaved_since
        self._checkpointed_changes = changes
        return True

    def _take_state(self) -> tuple[dict[str, Any], RouterSnapshot, list[PendingWindow]]:
        assert self.journal is not None
        head: dict[str, Any] = {
            "version": 1,
            "artifact": self.journal_tag,
            "next_seq": self.journal.next_seq,
            "next_offset": self._next_offset,
            "line_nos": [[source, n] for source, n in self._next_line_no.items()],
        }
        if self._heads:  # only with parser.continuation = "attach": other checkpoints as before
            # one stream: its line, as checkpoints were before streams; else the streams' lines by stream
            head["heads"] = [
                [source, raws[""] if set(raws) == {""} else raws] for source, raws in self._heads.items()
            ]
        if self._pieces:  # only with parser.envelope and a line split across requests: other checkpoints as before
            head["pieces"] = [[source, list(pieces)] for source, pieces in self._pieces.items()]
        if self._calendars:  # only with yearless lines (syslog formats): other checkpoints as before
            head["calendars"] = [[source, c.year, c.month] for source, c in self._calendars.items()]
        if self._capture_start is not None:  # only with the capture-edge rule: other checkpoints as before
            head["capture_start"] = self._capture_start
            head["in_flight"] = [[key, why] for key, why in self._partial.items()]
        if self._requests:  # only with request ids: other checkpoints as before; a list copy here, its JSON in _state
            head["requests"] = list(self._requests.items())
        # what /v1/sessions and /v1/stats show, so that a restart goes on from it: summaries as rows (copies: the
        # scorer changes them), the closed ones' order (the oldest is dropped first), counters, recent score points
        head["summaries"] = [_SUMMARY_ROW(summary) for summary in self._summaries.values()]
        head["closed"] = list(self._closed)
        head["counters"] = dict(self.counters)
        head["closed_by_reason"] = dict(self.closed_by_reason)
        head["recent"] = list(self._recent)  # frozen points: references, their JSON in _state
        # the window each source scored last: a time window being cut at the checkpoint is counted once after it
        head["last_window"] = [[source, sid, index] for source, (sid, index) in self._last_window.items()]
        return head, self._router.snapshot(), list(self._outstanding.values())

    def _state(self, taken: tuple[dict[str, Any], RouterSnapshot, list[PendingWindow]]) -> dict[str, Any]:
        head, router, outstanding = taken  # every piece immutable, or a copy made under the locks
        if "requests" in head:
            head["requests"] = [
                [source, request_id, digest, *(getattr(answer, f) for f in _ANSWER_COUNTS), *([runs] if runs else [])]
                for (source, request_id), (digest, answer, runs) in head["requests"]
            ]
        head["recent"] = [_POINT_ROW(point) for point in head["recent"]]
        return {
            **head,
            "router": snapshot_state(router),
            "outstanding": [window_to_json(w) for w in outstanding],
            "written_at": self._wall(),
        }

    def recover(self) -> RecoveryReport:
        """Restore the last checkpoint and apply every later journal event (call once, before ingest).

        Raises:
            JournalError: the journal belongs to another artifact, or is unreadable.
        """
        report = RecoveryReport()
        if self.journal is None:
            return report
        state = self.journal.load_checkpoint()
        from_seq = 0
        if state is not None:
            stored_tag = state.get("artifact")
            if stored_tag is not None and self.journal_tag is not None and stored_tag != self.journal_tag:
                raise JournalError(
                    f"the ingest journal in {self.journal.directory} holds the state of another artifact: give this "
                    "service its own --alerts-db (the journal sits beside it), or move the journal away"
                )
            from_seq = int(state["next_seq"])
            report = self._restore(state)
        for event in self.journal.replay(from_seq):
            if isinstance(event, IngestEvent):
                outcome = self._apply_ingest(event.lines, event.source, event.first_line_no, event.first_offset)
                self._remember(event.source, event.request, outcome)  # its client may not have had the answer
                report.requests_replayed += 1
                report.lines_replayed += len(event.lines)
            else:
                self._apply_close(event.keys, event.reason)  # type: ignore[arg-type]
                report.closes_replayed += 1
        return report

    def _restore(self, state: dict[str, Any]) -> RecoveryReport:
        wall = self._wall()
        outstanding = [window_from_json(w) for w in state["outstanding"]]
        with self._lock:
            self._next_offset = int(state["next_offset"])
            self._next_line_no = OrderedDict((str(src), int(n)) for src, n in state["line_nos"])
            self._heads = OrderedDict(
                (str(src), {str(k): str(v) for k, v in raws.items()} if isinstance(raws, dict) else {"": str(raws)})
                for src, raws in state.get("heads", ())
            )
            self._pieces = OrderedDict((str(src), [str(p) for p in pieces]) for src, pieces in state.get("pieces", ()))
            self._calendars = OrderedDict(
                (str(src), SyslogCalendar(int(year), int(month))) for src, year, month in state.get("calendars", ())
            )
            start = state.get("capture_start")
            self._capture_start = None if start is None else float(start)
            self._partial = {str(key): str(why) for key, why in state.get("in_flight", ())}
            self._requests = OrderedDict(
                ((str(source), str(request_id)), (str(digest), *_answer(row)))
                for source, request_id, digest, *row in state.get("requests", ())
            )
            # summaries, counters and score points of checkpoints that hold them (older ones: begun again)
            summaries = (_summary_from_row(row) for row in state.get("summaries", ()))
            self._summaries = {summary.session_id: summary for summary in summaries}
            self._closed = OrderedDict((str(key), None) for key in state.get("closed", ()) if key in self._summaries)
            self._keep_closed()
            self.counters = Counter({str(k): int(v) for k, v in state.get("counters", {}).items()})
            reasons = state.get("closed_by_reason", {})
            self.closed_by_reason = Counter({cast(EmitReason, str(k)): int(v) for k, v in reasons.items()})
            self._recent.extend(_point_from_row(row) for row in state.get("recent", ()))
            self._last_window = OrderedDict(
                (str(source), (str(sid), int(index))) for source, sid, index in state.get("last_window", ())
            )
            keys = self._router.load_state(state["router"], self._clock())
            for key in keys:
                if key in self._summaries:
                    continue
                source = self._router.source_of(key)
                summary = SessionSummary(key, source, "open", first_seen=wall, last_seen=wall)
                summary.n_lines = self._router.pending_keys(key)
                summary.partial = self._partial.get(key)
                self._summaries[key] = summary
        self._submit(outstanding)
        return RecoveryReport(sessions_restored=len(keys), windows_restored=len(outstanding))

    # ------------------------------------------------------------------ scoring (worker thread)
    def _score_batch(self, windows: list[PendingWindow]) -> None:
        seqs = [w.sequence for w in windows]
        scores = self._memo.score(self.detector, seqs, explain=False)
        if len(scores) != len(seqs):
            raise LogBertError(f"score_sequences returned {len(scores)} scores for {len(seqs)} sequences")
        # a window of a session in flight at the stream's start is scored, never alerted (nor explained)
        anomalous = [i for i, (w, s) in enumerate(zip(windows, scores, strict=True)) if s.is_anomaly and not w.partial]
        if anomalous:  # explanations only where they are shown: scoring is deterministic
            explained = self._memo.score(self.detector, [seqs[i] for i in anomalous], explain=True)
            for i, s in zip(anomalous, explained, strict=True):
                scores[i] = s
        wall = self._wall()
        alerts: list[AlertRecord] = []
        not_alerted = 0
        with self._lock:
            for w, s in zip(windows, scores, strict=True):
                if s.is_anomaly and w.partial is None and self._first_alert_of(w):
                    alerts.append(_alert(w, s, wall, None if self.session_mode else self.window_mode))
                elif s.is_anomaly and w.partial is not None:
                    not_alerted += 1
        if alerts and self.alert_sink is not None:
            self.alert_sink.add_alerts(alerts)
        # only now, and together: their alerts are with the sink (stored, or kept to retry), and the summaries and
        # counters a checkpoint holds count a window exactly when it is no longer outstanding (which a restart
        # scores again), so a restart counts each window once
        with self._lock:
            for w, s in zip(windows, scores, strict=True):
                self._record(w, s, wall)
                self._outstanding.pop(id(w), None)
            self.counters["windows_in_flight_not_alerted"] += not_alerted
            self.counters["alerts"] += len(alerts)
            self._changed()

    def _first_alert_of(self, w: PendingWindow) -> bool:
        """Whether no alert was raised yet for the window that starts where ``w`` does (and remembers it); in mode
        "time", for ``w``'s time window (its index per source and stream): a window over ``max_len`` keys is scored
        in pieces and alerts once, at its first flagged piece. Each piece alerted before, and a storm of known lines
        flags every piece past twice the busiest normal window (its volume so far): a flood of 4 minutes raised 107
        alerts. The window's score (``/v1/scores``, its summary) still takes every piece. Not in checkpoints: after a
        restart inside a flagged window, a later piece of it may alert once more (twice, never lost)."""
        seq = w.sequence
        first = seq.line_nos[0] if seq.line_nos else w.first_offset
        if self.window_mode == "time":
            first = -1  # any piece of the time window: the window is the one alert
        if first is None:  # nothing places the window in the stream: no two of them can be told to be one
            return True
        start = (w.source, seq.session_id, seq.window_index, first)
        if start in self._alerted:
            return False
        self._alerted[start] = None
        if len(self._alerted) > ALERTED_WINDOWS_KEPT:
            self._alerted.popitem(last=False)
        return True

    def _record(self, w: PendingWindow, s: SequenceScore, wall: float) -> None:
        sid = w.sequence.session_id
        flagged = s.is_anomaly and w.partial is None  # the decision: never for a session in flight at the start
        self.counters["windows_scored"] += 1
        self.counters["windows_anomalous"] += flagged
        window = (sid, w.sequence.window_index)
        if self._last_window.get(w.source) != window:  # a source's windows are scored in order
            self.counters["windows_distinct"] += 1
            _most_recent(self._last_window, w.source, window, self.limits.max_sources)
        point = ScorePoint(
            wall, sid, w.sequence.window_index, s.anomaly_score, s.threshold, flagged, w.sequence.start_time
        )
        self._recent.append(point)
        summary = self._summaries.get(sid)
        if summary is None and self.parts and "@" in sid:  # a later part of a session: its id's summary
            summary = self._summaries.get(part_session_id(sid))
        if summary is None:  # its summary was already dropped from the bounded closed list
            return
        summary.n_windows_pending = max(0, summary.n_windows_pending - 1)
        summary.n_windows_scored += 1
        summary.n_anomalous_windows += flagged
        summary.last_score = s.anomaly_score
        summary.max_score = s.anomaly_score if summary.max_score is None else max(summary.max_score, s.anomaly_score)
        summary.threshold = s.threshold
        summary.is_anomaly = summary.is_anomaly or flagged

    # ------------------------------------------------------------------ queries
    def session(self, session_id: str) -> SessionSummary | None:
        """A copy of one session's summary (None when unknown or forgotten)."""
        with self._lock:
            summary = self._summaries.get(session_id)
            return None if summary is None else self._snapshot(summary)

    def sessions(self, limit: int = 20, state: SessionState | None = None) -> list[SessionSummary]:
        """Sessions by descending ``max_score`` (unscored last), optionally only open or closed."""
        with self._lock:
            pool = [s for s in self._summaries.values() if state is None or s.state == state]
            top = heapq.nlargest(limit, pool, key=lambda s: (-1.0 if s.max_score is None else s.max_score, s.last_seen))
            return [self._snapshot(s) for s in top]

    def recent_scores(self, limit: int = 500) -> list[ScorePoint]:
        """The latest scored windows, oldest first."""
        with self._lock:
            return list(self._recent)[-limit:] if limit > 0 else []

    def _snapshot(self, summary: SessionSummary) -> SessionSummary:
        return replace(summary, n_pending_keys=self._router.pending_keys(summary.session_id))

    def ingest_rate(self, horizon_s: float = RATE_HORIZON_S) -> float:
        """Lines received per second over the last ``horizon_s`` seconds."""
        now = self._clock()
        with self._lock:
            self._prune_rate(now, horizon_s)
            return sum(n for _, n in self._rate) / horizon_s

    def _prune_rate(self, now: float, horizon_s: float = RATE_HORIZON_S) -> None:
        while self._rate and now - self._rate[0][0] > horizon_s:
            self._rate.popleft()

    def stats(self) -> StreamStats:
        """Counters and gauges, for ``/v1/stats``, the dashboard, Prometheus and ``tail``."""
        rate = self.ingest_rate()
        with self._lock:
            c = self.counters
            closed = self.closed_by_reason
            return StreamStats(
                lines_received=c["lines_received"],
                lines_accepted=c["lines_accepted"],
                lines_rejected=c["lines_rejected"],
                lines_unrouted=c["lines_unrouted"],
                lines_unknown_template=c["lines_unknown_template"],
                lines_binary=c["lines_binary"],
                lines_truncated=c["lines_truncated"],
                rejected_empty=c["rejected_empty"],
                rejected_malformed=c["rejected_malformed"],
                requests_retried=c["requests_retried"],
                windows_queued=c["windows_queued"],
                windows_scored=c["windows_scored"],
                windows_distinct=c["windows_distinct"],
                windows_anomalous=c["windows_anomalous"],
                windows_skipped_short=self._router.n_skipped_short,
                alerts=c["alerts"],
                sessions_opened=c["sessions_opened"],
                sessions_closed_closed=closed["closed"],
                sessions_closed_idle=closed["idle"],
                sessions_closed_evicted=closed["evicted"],
                sessions_closed_shutdown=closed["shutdown"],
                sessions_closed_gap=closed["gap"],
                sessions_split_by_eviction=c["sessions_split_by_eviction"],
                score_batches=self._batcher.n_batches,
                score_errors=self._batcher.n_errors,
                score_busy_seconds=self._batcher.busy_s,
                windows_memo_hits=self._memo.hits,
                sessions_in_flight=c["sessions_in_flight"],
                windows_in_flight_not_alerted=c["windows_in_flight_not_alerted"],
                sessions_open=len(self._router),
                sessions_known=len(self._summaries),
                queue_pending=self._batcher.pending,
                ingest_rate_lps=rate,
                threshold=float(self.detector.threshold),
                max_window_len=self.max_len,
            )


def _alert(w: PendingWindow, s: SequenceScore, wall: float, window_mode: WindowMode | None) -> AlertRecord:
    """``window_mode``: time or sliding, where each window is a unit named as ``score`` names it; None in mode
    session."""
    seq = w.sequence
    misses = []
    for m in s.misses:
        inside = 0 <= m.position < len(w.raws)
        misses.append(
            replace(
                m,
                template=m.template if m.template is not None else (w.templates[m.position] if inside else None),
                line_no=m.line_no if m.line_no is not None else (seq.line_nos[m.position] if inside else None),
                raw=m.raw if m.raw is not None else (w.raws[m.position] if inside else None),
            )
        )
    return AlertRecord(
        session_id=seq.session_id,
        source=w.source,
        window_index=seq.window_index,
        anomaly_score=float(s.anomaly_score),
        threshold=float(s.threshold),
        miss_ratio=float(s.miss_ratio),
        dist_score=float(s.dist_score),
        n_keys=s.n_keys,  # the window's log lines, as offline (its start and end marks not counted)
        n_misses=s.n_misses,
        n_unknown=s.n_unknown,
        n_marks=sum(k in (SESSION_START_KEY, SESSION_END_KEY) for k in seq.key_ids),
        created_at=wall,
        first_line_no=seq.line_nos[0] if seq.line_nos else None,
        last_line_no=seq.line_nos[-1] if seq.line_nos else None,
        reason=w.reason,
        stream_offset=w.first_offset,
        misses=tuple(misses),
        surprises=tuple(s.surprises),
        window=None if window_mode is None else window_name(window_mode, seq.window_index),
    )


_V = TypeVar("_V")


#: The lines an ingest call rejected, as runs of consecutive lines with one reason: ``(first index, number of lines,
#: reason)``. A remembered answer keeps them so, in memory and in checkpoints.
RejectionRuns = tuple[tuple[int, int, LineProblem], ...]


def _rejection_runs(rejections: Sequence[LineRejection]) -> RejectionRuns:
    """The runs of ``rejections`` (in line order); :func:`_rejections` gives them back."""
    runs: list[tuple[int, int, LineProblem]] = []
    for r in rejections:
        if runs and runs[-1][2] == r.reason and runs[-1][0] + runs[-1][1] == r.index:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1, r.reason)
        else:
            runs.append((r.index, 1, r.reason))
    return tuple(runs)


def _rejections(runs: RejectionRuns, first_line_no: int) -> tuple[LineRejection, ...]:
    # a line's number in its source is the call's first plus its index (_apply_ingest)
    return tuple(LineRejection(i, first_line_no + i, why) for start, n, why in runs for i in range(start, start + n))


#: The counts of an ingest answer a checkpoint keeps per remembered request id, in this order; its rejection runs
#: follow when it has any (a checkpoint written before they were kept has none).
_ANSWER_COUNTS = (
    "received",
    "accepted",
    "rejected",
    "unrouted",
    "unknown_templates",
    "binary",
    "truncated",
    "windows_queued",
    "first_line_no",
)


# a summary in a checkpoint: its fields in this order (n_pending_keys is the router's, read when asked)
_SUMMARY_FIELDS = tuple(f.name for f in fields(SessionSummary) if f.name != "n_pending_keys")
_SUMMARY_ROW = attrgetter(*_SUMMARY_FIELDS)
_POINT_ROW = attrgetter(*(f.name for f in fields(ScorePoint)))


def _summary_from_row(row: Sequence[Any]) -> SessionSummary:
    """A summary from its checkpoint row (:data:`_SUMMARY_FIELDS`), each value of its field's type."""
    v = dict(zip(_SUMMARY_FIELDS, row, strict=True))

    def number(name: str) -> float | None:
        return None if v[name] is None else float(v[name])

    return SessionSummary(
        session_id=str(v["session_id"]),
        source=str(v["source"]),
        state=v["state"],
        first_seen=float(v["first_seen"]),
        last_seen=float(v["last_seen"]),
        n_lines=int(v["n_lines"]),
        n_windows_pending=int(v["n_windows_pending"]),
        n_windows_scored=int(v["n_windows_scored"]),
        n_anomalous_windows=int(v["n_anomalous_windows"]),
        n_unknown_templates=int(v["n_unknown_templates"]),
        max_score=number("max_score"),
        last_score=number("last_score"),
        threshold=number("threshold"),
        is_anomaly=bool(v["is_anomaly"]),
        closed_reason=v["closed_reason"],
        partial=None if v["partial"] is None else str(v["partial"]),
    )


def _point_from_row(row: Sequence[Any]) -> ScorePoint:
    time_, session_id, window_index, score, threshold, is_anomaly, log_time = row
    return ScorePoint(
        float(time_), str(session_id), int(window_index), float(score), float(threshold), bool(is_anomaly),
        None if log_time is None else float(log_time),
    )


def _answer(row: Sequence[Any]) -> tuple[IngestOutcome, RejectionRuns]:
    """A remembered first answer from a checkpoint's counts (:data:`_ANSWER_COUNTS`) and rejection runs."""
    counts, rest = row[: len(_ANSWER_COUNTS)], row[len(_ANSWER_COUNTS) :]
    values = {f: int(v) for f, v in zip(_ANSWER_COUNTS, counts, strict=True)}
    runs = tuple((int(start), int(n), cast(LineProblem, str(why))) for start, n, why in (rest[0] if rest else ()))
    return IngestOutcome(**values, rejections=(), duplicate=True), runs


def lines_digest(lines: Sequence[str | bytes]) -> str:
    """A digest of an ingest call's lines, to tell a retry (the same lines) from a reused request id. A line's text and
    its bytes give the same digest (the JSON and the plain-text ingest of one line), and each line is length-prefixed,
    so no other split of the same characters collides."""
    h = hashlib.blake2b(digest_size=16)
    for line in lines:
        data = line if isinstance(line, bytes) else line.encode("utf-8", "surrogateescape")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def _most_recent(entries: OrderedDict[str, _V], key: str, value: _V, limit: int) -> None:
    """Per-source state kept for at most ``limit`` sources: ``key`` set to ``value`` as the most recent, the least
    recent ones dropped beyond the limit."""
    entries.pop(key, None)
    entries[key] = value
    while len(entries) > limit:
        entries.popitem(last=False)
