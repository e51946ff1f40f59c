"""The engine's counters and gauges, declared once.

``GET /v1/stats`` returns them (the dashboard reads them), Prometheus exports each field under
``logbert_<name>`` (a counter or a gauge, as the field's annotation says) and ``logbert tail``
prints a summary of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Annotated, Literal, get_type_hints

MetricKind = Literal["counter", "gauge"]


@dataclass(frozen=True, slots=True)
class Metric:
    """How a stats field is exported: a counter only grows, a gauge goes up and down."""

    kind: MetricKind
    doc: str


def counter(doc: str) -> Metric:
    return Metric("counter", doc)


def gauge(doc: str) -> Metric:
    return Metric("gauge", doc)


def metrics(stats: StreamStats) -> Iterator[tuple[str, Metric, float]]:
    """``(name, how it is exported, value)`` of every field of ``stats`` (or a subclass), in field order."""
    hints = get_type_hints(type(stats), include_extras=True)  # once per scrape: cheap
    for f in fields(stats):
        meta = [m for m in getattr(hints[f.name], "__metadata__", ()) if isinstance(m, Metric)]
        yield f.name, meta[0] if meta else gauge(f.name.replace("_", " ")), float(getattr(stats, f.name))


@dataclass(frozen=True, slots=True)
class StreamStats:
    """A snapshot of a :class:`~logbert.streaming.engine.StreamEngine`."""

    lines_received: Annotated[int, counter("lines received")]
    lines_accepted: Annotated[int, counter("lines parsed and routed to a session or window")]
    lines_rejected: Annotated[int, counter("lines that gave no record (empty or malformed)")]
    lines_unrouted: Annotated[int, counter("lines parsed, but naming no session id (session mode)")]
    lines_unknown_template: Annotated[int, counter("lines of a session, of a template the parser never saw")]
    lines_binary: Annotated[int, counter("lines with non-UTF-8 bytes or controls (repaired)")]
    lines_truncated: Annotated[int, counter("lines over parser.max_line_chars (truncated)")]
    rejected_empty: Annotated[int, counter("blank lines")]
    rejected_malformed: Annotated[int, counter("lines whose header does not match the log format")]
    requests_retried: Annotated[
        int, counter("ingest calls answered as the retry of an earlier one (same Idempotency-Key): not applied again")
    ]
    windows_queued: Annotated[int, counter("windows handed to the scorer")]
    windows_scored: Annotated[int, counter("windows scored")]
    windows_distinct: Annotated[
        int,
        counter(
            "windows scored, each once, as score counts them: the pieces of a time window over max_len keys, or a "
            "sliding window scored again complete after an idle close, are one window (modes sliding and time)"
        ),
    ]
    windows_anomalous: Annotated[int, counter("windows scored above the threshold")]
    windows_skipped_short: Annotated[int, counter("windows shorter than window.min_len (not scored)")]
    alerts: Annotated[
        int,
        counter(
            "alerts raised (anomalous windows), again those of windows a journal replay scores again after a crash "
            "(the service's alerts_repeated counts the ones its store held already)"
        ),
    ]
    sessions_opened: Annotated[int, counter("session buffers opened")]
    sessions_closed_closed: Annotated[int, counter("sessions closed by a request")]
    sessions_closed_idle: Annotated[int, counter("sessions closed after idle_timeout_s without a line")]
    sessions_closed_evicted: Annotated[
        int,
        counter(
            "sessions closed to stay within max_open_sessions (the most idle; finished ones too, which is harmless: "
            "sessions_split_by_eviction counts those that were not)"
        ),
    ]
    sessions_closed_shutdown: Annotated[int, counter("sessions closed at shutdown")]
    sessions_closed_gap: Annotated[
        int, counter("sessions ended by a line more than window.session_gap_s after their previous one")
    ]
    sessions_split_by_eviction: Annotated[
        int,
        counter(
            "evicted sessions (max_open_sessions) that received more lines later: scored in two parts, the later one "
            "named <id>@<time> in mode session; raise max_open_sessions when this grows"
        ),
    ]
    score_batches: Annotated[int, counter("model calls")]
    score_errors: Annotated[int, counter("model calls that failed (their windows were dropped)")]
    score_busy_seconds: Annotated[float, counter("seconds spent in model calls")]
    windows_memo_hits: Annotated[int, counter("windows scored from the memo (same keys as a window scored before)")]
    sessions_in_flight: Annotated[
        int, counter("sessions already in flight when the stream began (scored, never alerted: scoring.capture)")
    ]
    windows_in_flight_not_alerted: Annotated[
        int, counter("windows over the threshold of sessions in flight when the stream began: not alerted")
    ]
    sessions_open: Annotated[int, gauge("open session buffers")]
    sessions_known: Annotated[int, gauge("sessions whose summary is kept (open and recently closed)")]
    queue_pending: Annotated[int, gauge("windows queued for the model or being scored")]
    ingest_rate_lps: Annotated[float, gauge("lines received per second over the last 10 s")]
    threshold: Annotated[float, gauge("the artifact's threshold (anomaly_score above it = anomalous)")]
    max_window_len: Annotated[int, gauge("most keys per window (effective)")]
