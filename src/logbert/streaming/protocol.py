"""What the streaming engine needs of a loaded artifact, and where its alerts go.

The engine depends on these protocols only, not on the pipeline's ``Detector`` (which implements
:class:`Scorer`): streaming sits below the facade, and tests give it a small fake.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from logbert.config import LogBertConfig
from logbert.records import KeySequence, LineProblem, ReadReport, SessionSignals, SyslogCalendar
from logbert.results import ParsedLine, SequenceScore, SessionResult

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path
    from typing import Any

    from logbert.streaming.engine import AlertRecord
    from logbert.streaming.journal import JournalEvent


class Scorer(Protocol):
    """A loaded artifact: its config, its threshold, its frozen parser and its model.

    ``parse_lines`` and ``score_sequences`` may run at the same time on different threads; neither
    is called concurrently with itself.
    """

    @property
    def config(self) -> LogBertConfig: ...

    @property
    def threshold(self) -> float:
        """``anomaly_score`` above it = anomalous (higher = more anomalous)."""
        ...

    def parse_lines(
        self, lines: Sequence[str | bytes], start_line_no: int = 1, calendar: SyslogCalendar | None = None
    ) -> tuple[list[ParsedLine | LineProblem], ReadReport]:
        """One entry per input line, in order: the parsed line, or why it gave none; and the counts
        (binary and truncated lines among them) of the project's one line rule. ``calendar``: the year of
        yearless lines of the source so far, updated in place (the engine keeps one per source)."""
        ...

    def score_sequences(self, sequences: Sequence[KeySequence], explain: bool = False) -> list[SequenceScore]:
        """One score per sequence (each at most ``config.window.max_len`` keys), deterministic: a
        function of the sequence's key ids (and signals, if any) whatever shares the call, with
        its session id, and ``line_nos[position]`` as an explanation's line number. The engine
        remembers scores by key ids on that promise (:mod:`logbert.streaming.memo`).

        A scorer whose model reads times and values has ``reads_signals`` (True) and ``stream_signals`` (a
        :data:`SignalBuilder`): the engine then gives every window its ``KeySequence.signals``."""
        ...

    def score_sessions(
        self, sequences: Sequence[KeySequence], *, explain: bool = False, capture_start: float | None = None
    ) -> list[SessionResult]:
        """Whole sessions of any length, each scored by its worst window (one-shot scoring); a session in
        flight at ``capture_start`` (the batch's first timestamp) is not flagged (``SessionResult.partial``)."""
        ...


#: One unit's time and values from its lines (key ids, timestamps, ``ParsedLine.raw`` texts), by the offline
#: rules: what :meth:`logbert.pipeline.detector.Detector.stream_signals` is. A unit is what offline
#: windowing treats as one session: a session (mode "session"), a sliding window, a time run. Negative key
#: ids (session bounds) get no values; their timestamps still count (the router passes an earlier part
#: of a unit that way).
SignalBuilder = Callable[[Sequence[int], Sequence["float | None"], Sequence[str]], SessionSignals]


def signal_builder(scorer: Scorer) -> SignalBuilder | None:
    """The scorer's ``stream_signals`` when its model reads times and values (``reads_signals``), else
    None: a key-only artifact (or a scorer without them, like the tests' fakes) costs nothing per line."""
    build = getattr(scorer, "stream_signals", None)
    if not getattr(scorer, "reads_signals", False) or not callable(build):
        return None
    out: SignalBuilder = build
    return out


#: The pieces (``parser.envelope``; a CSV record's lines while a quoted field is open) at the end of some raw lines
#: whose split line has not ended yet, as read: what :meth:`logbert.pipeline.detector.Detector.open_pieces` is
#: (``logbert.parsing.reader.open_pieces``).
PieceKeeper = Callable[[Sequence["str | bytes"]], list[str]]


def piece_keeper(scorer: Scorer) -> PieceKeeper | None:
    """The scorer's ``open_pieces``, or None when it has none (the tests' fakes) or says no line of its format is
    joined (``joins_lines`` False): no line is then joined across ingest calls, and no request pays for asking."""
    keep = getattr(scorer, "open_pieces", None)
    if not callable(keep) or not getattr(scorer, "joins_lines", True):
        return None
    out: PieceKeeper = keep
    return out


#: Why a session (its key ids, its first line's timestamp) was in flight when the capture began (the capture's
#: first timestamp), or None: what :meth:`logbert.pipeline.detector.Detector.in_flight` is
#: (:mod:`logbert.scoring.capture`, the rule offline scoring uses too).
InFlightRule = Callable[[Sequence[int], "float | None", "float | None"], "str | None"]


def in_flight_rule(scorer: Scorer) -> InFlightRule | None:
    """The scorer's ``in_flight`` rule, or None when it has none (the tests' fakes): the rule is then off."""
    rule = getattr(scorer, "in_flight", None)
    if not callable(rule):
        return None
    out: InFlightRule = rule
    return out


#: What a window's plain scores depend on (windows with equal keys here get equal plain scores): from its key ids and
#: its unit's keys before it (``KeySequence.unit_offset``: a time window's volume), what
#: :meth:`logbert.pipeline.detector.Detector.memo_key` is.
MemoKeyRule = Callable[[KeySequence], "tuple[object, ...]"]


def memo_key_rule(scorer: Scorer) -> MemoKeyRule:
    """The scorer's ``memo_key`` rule, or the window's key ids as they are when it has none (the tests' fakes)."""
    rule = getattr(scorer, "memo_key", None)
    if not callable(rule):
        return lambda seq: tuple(seq.key_ids)

    def out(seq: KeySequence) -> tuple[object, ...]:
        key: tuple[object, ...] = rule(seq.key_ids, seq.unit_offset)
        return key

    return out


class AlertSink(Protocol):
    """Where alerts go (the SQLite store in the service, stdout in ``tail``)."""

    def add_alerts(self, alerts: Sequence[AlertRecord]) -> None: ...


class EventLog(Protocol):
    """A durable, ordered source of the engine's events with committed offsets.

    :class:`~logbert.streaming.journal.IngestJournal` (a local file log) is the one built in. A
    queue with consumer groups (Kafka, Redis streams) implements the same contract: ``replay`` is a
    seek to the committed offset, ``commit`` stores the offset together with the engine's state.
    "Acknowledged" means the same for every source: an event is committed only once the alerts of
    every window it completed are stored (the engine checks before it calls ``commit``).
    """

    @property
    def directory(self) -> Path:
        """Where it lives, for messages."""
        ...

    @property
    def next_seq(self) -> int:
        """Sequence number the next appended event gets."""
        ...

    def append_ingest(
        self,
        source: str,
        lines: Sequence[str] | Sequence[bytes],
        first_line_no: int,
        first_offset: int,
        request: tuple[str, str] | None = None,
    ) -> int:
        """Make one ingest call durable before it is applied and answered; returns its sequence number. ``request``:
        the caller's request id and the digest of the lines, which replay must hand back (``IngestEvent.request``)."""
        ...

    def append_close(self, keys: Sequence[str], reason: str) -> int:
        """Make one close durable before it is applied."""
        ...

    def commit(self, state: dict[str, Any]) -> None:
        """Store the engine's state; ``state["next_seq"]`` is the first event not reflected in it."""
        ...

    def load_checkpoint(self) -> dict[str, Any] | None:
        """The last committed state (None before the first commit)."""
        ...

    def replay(self, from_seq: int) -> Iterator[JournalEvent]:
        """Every event from ``from_seq`` on, in order."""
        ...
