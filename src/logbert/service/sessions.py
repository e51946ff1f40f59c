"""The service's session store: the streaming engine plus the alert store, seen from async routes.

Routes call these coroutines and nothing else. Every call that touches the detector (parsing on
ingest) or waits for the scorer runs in a worker thread, so the event loop never blocks on the
model; scoring itself runs micro-batched on the engine's own thread.
"""

from __future__ import annotations

from anyio import to_thread

from logbert.api import Detector
from logbert.service.alerts import AlertFilter, SQLiteAlertStore, StoredAlert
from logbert.service.errors import LimitExceeded, UnknownAlert, UnknownSession
from logbert.service.schemas import (
    Alert,
    AlertList,
    CloseAllResponse,
    ExpectedTemplate,
    IngestResponse,
    LineRejection,
    Miss,
    ScoreHistory,
    ScorePointOut,
    SessionList,
    SessionScore,
    Stats,
)
from logbert.service.settings import Settings
from logbert.streaming import IngestOutcome, SessionSummary, StreamEngine
from logbert.streaming.engine import SessionState


class SessionStore:
    """Per-session state, scoring and alerts of one running service."""

    def __init__(self, detector: Detector, settings: Settings, alerts: SQLiteAlertStore) -> None:
        self.detector = detector
        self.settings = settings
        self.alerts = alerts
        self.engine = StreamEngine(detector, settings.stream_limits(), alert_sink=alerts)

    # ------------------------------------------------------------------ ingest
    def check_lines(self, lines: list[str]) -> None:
        """Enforce the configured request limits.

        Raises:
            LimitExceeded: too many lines, or one line longer than ``max_line_chars``.
        """
        s = self.settings
        if len(lines) > s.max_lines_per_request:
            raise LimitExceeded(f"request holds {len(lines)} lines; max_lines_per_request is {s.max_lines_per_request}")
        for i, line in enumerate(lines):
            if len(line.rstrip("\r\n")) > s.max_line_chars:
                raise LimitExceeded(f"line {i} is {len(line)} characters long; max_line_chars is {s.max_line_chars}")

    async def ingest(self, lines: list[str], source: str) -> IngestResponse:
        self.check_lines(lines)
        outcome = await to_thread.run_sync(self.engine.ingest, lines, source)
        return _ingest_response(outcome)

    async def ingest_text(self, body: bytes, source: str) -> IngestResponse:
        """Plain-text body: one raw line per ``\\n``; bytes that are not UTF-8 mark their line binary."""
        text = body.decode("utf-8", errors="surrogateescape")
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()  # the final newline ends the last line, it does not start an empty one
        return await self.ingest(lines, source)

    # ------------------------------------------------------------------ sessions
    def session(self, session_id: str) -> SessionScore:
        summary = self.engine.session(session_id)
        if summary is None:
            raise UnknownSession(f"no session {session_id!r} (never seen, or forgotten after closing)")
        return _session_score(summary)

    def sessions(self, limit: int, state: SessionState | None) -> SessionList:
        return SessionList(sessions=[_session_score(s) for s in self.engine.sessions(limit, state)])

    async def close_session(self, session_id: str) -> SessionScore:
        """Close one session and wait (up to ``close_wait_s``) for its last window's score."""
        if self.engine.session(session_id) is None:
            raise UnknownSession(f"no session {session_id!r}")
        await to_thread.run_sync(self.engine.close_session, session_id)
        await to_thread.run_sync(self.engine.drain, self.settings.close_wait_s)
        return self.session(session_id)

    async def close_all(self) -> CloseAllResponse:
        closed = await to_thread.run_sync(self.engine.close_all)
        drained = await to_thread.run_sync(self.engine.drain, self.settings.close_wait_s)
        return CloseAllResponse(closed=closed, drained=drained)

    async def expire_idle(self) -> int:
        return await to_thread.run_sync(self.engine.expire_idle)

    def score_history(self, limit: int) -> ScoreHistory:
        return ScoreHistory(
            points=[
                ScorePointOut(
                    time=p.time,
                    session_id=p.session_id,
                    window_index=p.window_index,
                    anomaly_score=p.anomaly_score,
                    threshold=p.threshold,
                    is_anomaly=p.is_anomaly,
                )
                for p in self.engine.recent_scores(limit)
            ]
        )

    def stats(self) -> Stats:
        values = self.engine.stats()
        values["alerts_stored"] = float(self.alerts.count())
        return Stats(values=values)

    # ------------------------------------------------------------------ alerts
    async def list_alerts(self, flt: AlertFilter) -> AlertList:
        stored, total = await to_thread.run_sync(self.alerts.list_alerts, flt)
        return AlertList(total=total, alerts=[_alert(a) for a in stored])

    async def get_alert(self, alert_id: int) -> Alert:
        stored = await to_thread.run_sync(self.alerts.get, alert_id)
        if stored is None:
            raise UnknownAlert(f"no alert with id {alert_id}")
        return _alert(stored)

    # ------------------------------------------------------------------ lifecycle
    def shutdown(self) -> bool:
        """Graceful stop: close every open session, score what is queued, store its alerts."""
        done = self.engine.shutdown(self.settings.shutdown_timeout_s)
        self.alerts.close()
        return done


def _ingest_response(o: IngestOutcome) -> IngestResponse:
    return IngestResponse(
        received=o.received,
        accepted=o.accepted,
        rejected=len(o.rejections),
        unrouted=o.unrouted,
        unknown_templates=o.unknown_templates,
        windows_queued=o.windows_queued,
        rejections=[LineRejection(index=i, line_no=o.first_line_no + i, reason=r) for i, r in o.rejections],
    )


def _session_score(s: SessionSummary) -> SessionScore:
    return SessionScore(
        session_id=s.session_id,
        source=s.source,
        state=s.state,
        closed_reason=s.closed_reason,
        n_lines=s.n_lines,
        n_pending_keys=s.n_pending_keys,
        n_windows_pending=s.n_windows_pending,
        n_windows_scored=s.n_windows_scored,
        n_anomalous_windows=s.n_anomalous_windows,
        n_unknown=s.n_unknown,
        max_score=s.max_score,
        last_score=s.last_score,
        threshold=s.threshold,
        is_anomaly=s.is_anomaly,
        first_seen=s.first_seen,
        last_seen=s.last_seen,
    )


def _alert(a: StoredAlert) -> Alert:
    r = a.record
    return Alert(
        id=a.id,
        created_at=r.created_at,
        session_id=r.session_id,
        source=r.source,
        window_index=r.window_index,
        anomaly_score=r.anomaly_score,
        threshold=r.threshold,
        miss_ratio=r.miss_ratio,
        dist_score=r.dist_score,
        n_keys=r.n_keys,
        n_misses=r.n_misses,
        n_unknown=r.n_unknown,
        first_line_no=r.first_line_no,
        last_line_no=r.last_line_no,
        reason=r.reason,
        misses=[
            Miss(
                position=m.position,
                key_id=m.key_id,
                template=m.template,
                expected=[ExpectedTemplate(template=t, probability=p) for t, p in m.expected],
                line_no=m.line_no,
                raw=m.raw,
            )
            for m in r.misses
        ],
    )
