"""The service's session store: the streaming engine plus the alert store, seen from async routes.

Routes call these coroutines and nothing else. Every call that touches the detector (parsing on
ingest) or waits for the scorer runs in a worker thread, so the event loop never blocks on the
model; scoring itself runs micro-batched on the engine's own thread.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, replace

from anyio import to_thread

from logbert.records import KeySequence
from logbert.results import SessionState
from logbert.service.alerts import AlertFilter, IncidentStatus, SQLiteAlertStore, StoredAlert
from logbert.service.errors import LimitExceeded, UnknownAlert, UnknownSession
from logbert.service.schemas import (
    AlertList,
    CloseAllResponse,
    IncidentList,
    IngestResponse,
    ScoreHistory,
    ScoreRequest,
    ScoreResponse,
    ServiceStats,
    SessionList,
    SessionScore,
)
from logbert.service.settings import Settings
from logbert.service.webhook import AlertFanout, AlertmanagerWebhook
from logbert.streaming import Scorer, StreamEngine
from logbert.streaming.oneshot import score_keys, score_lines

logger = logging.getLogger(__name__)

class SessionStore:
    """Per-session state, scoring and alerts of one running service."""

    def __init__(self, detector: Scorer, settings: Settings, alerts: SQLiteAlertStore) -> None:
        self.detector = detector
        self.settings = settings
        self.alerts = alerts
        self.webhook = AlertmanagerWebhook(settings.alert_webhook) if settings.alert_webhook else None
        sink = alerts if self.webhook is None else AlertFanout(alerts, self.webhook)
        self.engine = StreamEngine(detector, settings.limits, alert_sink=sink)

    # ------------------------------------------------------------------ ingest
    def check_request(self, n_lines: int) -> None:
        """Enforce the configured request bound (lines themselves follow the artifact's line rule).

        Raises:
            LimitExceeded: more than ``max_lines_per_request`` lines.
        """
        limit = self.settings.max_lines_per_request
        if n_lines > limit:
            raise LimitExceeded(f"request holds {n_lines} lines; max_lines_per_request is {limit}")

    async def score_once(self, req: ScoreRequest) -> ScoreResponse:
        """Score a batch as one small log, leaving the streaming state alone."""
        if req.lines is not None:
            self.check_request(len(req.lines))
            result = await to_thread.run_sync(lambda: score_lines(self.detector, req.lines or [], explain=req.explain))
        else:
            sequences = [KeySequence(s.session_id, list(s.keys)) for s in req.sequences or []]
            self.check_request(sum(len(s.key_ids) for s in sequences))
            result = await to_thread.run_sync(lambda: score_keys(self.detector, sequences, explain=req.explain))
        if req.only_anomalies:
            result = replace(result, sessions=[s for s in result.sessions if s.is_anomaly])
        return result

    async def ingest(self, lines: list[str] | list[bytes], source: str) -> IngestResponse:
        self.check_request(len(lines))
        return await to_thread.run_sync(self.engine.ingest, lines, source)

    async def ingest_text(self, body: bytes, source: str) -> IngestResponse:
        """Plain-text body: one raw line per ``\\n``, handed on as bytes (the parser decodes them)."""
        lines = body.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()  # the final newline ends the last line, it does not start an empty one
        return await self.ingest([ln.rstrip(b"\r") for ln in lines], source)

    # ------------------------------------------------------------------ sessions
    def session(self, session_id: str) -> SessionScore:
        summary = self.engine.session(session_id)
        if summary is None:
            raise UnknownSession(f"no session {session_id!r} (never seen, or forgotten after closing)")
        return summary

    def sessions(self, limit: int, state: SessionState | None) -> SessionList:
        return SessionList(sessions=self.engine.sessions(limit, state))

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
        stored = await to_thread.run_sync(self.alerts.retry_unsaved) == 0
        return CloseAllResponse(closed=closed, drained=drained and stored)  # drained = scored *and* stored

    async def expire_idle(self) -> int:
        return await to_thread.run_sync(self.engine.expire_idle)

    def score_history(self, limit: int) -> ScoreHistory:
        return ScoreHistory(points=self.engine.recent_scores(limit))

    def stats(self) -> ServiceStats:
        """The engine's counters and gauges plus the alert store's size (``/v1/stats``, Prometheus)."""
        # asdict: the engine's snapshot holds numbers only, so this is a flat copy
        return ServiceStats(
            **asdict(self.engine.stats()), alerts_stored=self.alerts.count(), alerts_unsaved=self.alerts.n_unsaved
        )

    # ------------------------------------------------------------------ alerts
    async def list_alerts(self, flt: AlertFilter) -> AlertList:
        stored, total = await to_thread.run_sync(self.alerts.list_alerts, flt)
        return AlertList(total=total, alerts=stored)

    async def list_incidents(self, status: IncidentStatus | None, limit: int, offset: int) -> IncidentList:
        incidents, total = await to_thread.run_sync(self.alerts.list_incidents, status, limit, offset)
        return IncidentList(total=total, incidents=incidents)

    async def decide(self, session_id: str, status: IncidentStatus, note: str | None) -> IncidentList:
        """Record a person's decision about a session's incident; returns that incident."""
        done = await to_thread.run_sync(self.alerts.set_incident_status, session_id, status, note, time.time())
        if not done:
            raise UnknownSession(f"session {session_id!r} has no alert")
        incidents, _ = await to_thread.run_sync(self.alerts.list_incidents, None, 1_000_000, 0)
        return IncidentList(total=1, incidents=[i for i in incidents if i.session_id == session_id])

    def labels_file(self) -> str:
        """Sessions confirmed anomalous, one id per line: a labels file `logbert train --labels` reads
        (listed = anomalous, kept out of training; everything else, marked-normal included, normal)."""
        ids = self.alerts.acknowledged_ids()
        header = "# sessions acknowledged as anomalous in the logbert service; all others are normal\n"
        return header + "".join(f"{sid}\n" for sid in ids)

    async def get_alert(self, alert_id: int) -> StoredAlert:
        stored = await to_thread.run_sync(self.alerts.get, alert_id)
        if stored is None:
            raise UnknownAlert(f"no alert with id {alert_id}")
        return stored

    # ------------------------------------------------------------------ lifecycle
    def shutdown(self) -> bool:
        """Graceful stop: close every open session, score what is queued, store its alerts.

        Whatever could not be finished in ``shutdown_timeout_s`` is said in the log, with counts.
        """
        done = self.engine.shutdown(self.settings.shutdown_timeout_s)
        if not done:
            stats = self.engine.stats()
            logger.error(
                "shutdown: %d windows were still waiting for the model after %.0f s and are not scored",
                stats.queue_pending,
                self.settings.shutdown_timeout_s,
            )
        if self.webhook is not None:
            self.webhook.close()
        unsaved = self.alerts.retry_unsaved()
        if unsaved:
            logger.error("shutdown: %d alerts could not be stored in %s and are lost", unsaved, self.alerts.path)
        self.alerts.close()
        return done and not unsaved
