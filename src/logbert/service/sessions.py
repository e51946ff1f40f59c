"""The service's session store: the streaming engine plus the alert store, seen from async routes.

Routes call these coroutines and nothing else. Every call that touches the detector (parsing on
ingest) or waits for the scorer runs in a worker thread, so the event loop never blocks on the
model; scoring itself runs micro-batched on the engine's own thread.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, replace
from typing import Literal
from urllib.parse import quote

from anyio import to_thread

from logbert.errors import LogBertError
from logbert.records import KeySequence
from logbert.results import SessionState
from logbert.service.alerts import AlertFilter, AlertStore, IncidentStatus, StoredAlert
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
from logbert.service.webhook import AlertmanagerWebhook
from logbert.streaming import Scorer, StreamEngine
from logbert.streaming.engine import RecoveryReport
from logbert.streaming.journal import IngestJournal, JournalError
from logbert.streaming.oneshot import score_keys, score_lines

logger = logging.getLogger(__name__)


#: What `/v1/incidents/labels` makes of a session whose incident nobody has triaged yet: listed, so that training
#: leaves it out (the default), or normal, as every unlisted session.
UntriagedLabel = Literal["left_out", "normal"]

class SessionStore:
    """Per-session state, scoring and alerts of one running service."""

    def __init__(
        self, detector: Scorer, settings: Settings, alerts: AlertStore, artifact_id: str | None = None
    ) -> None:
        """Raises: JournalError when the journal folder cannot be opened."""
        self.detector = detector
        self.settings = settings
        self.alerts = alerts
        self.webhook = AlertmanagerWebhook(settings.alert_webhook) if settings.alert_webhook else None
        if self.webhook is not None:  # stored first; pushed only when the store did not hold the alert yet
            alerts.on_stored(self.webhook.add_alerts)
        path = settings.journal_path
        self.journal = (
            None
            if path is None
            else IngestJournal(path, fsync=settings.journal_fsync, write_in_child=settings.checkpoint_in_child)
        )
        self.engine = StreamEngine(
            detector, settings.limits, alert_sink=alerts, journal=self.journal, journal_tag=artifact_id
        )
        self._checkpoints_written = self._checkpoint_failures = 0
        self._checkpoint_seconds = 0.0

    def recover(self) -> RecoveryReport:
        """Go on where the last run stopped: restore its checkpoint, replay the journal after it.

        Raises:
            JournalError: another artifact's journal, or an unreadable one.
        """
        report = self.engine.recover()
        if report.sessions_restored or report.windows_restored or report.requests_replayed:
            logger.info(
                "recovered from the ingest journal: %d open sessions and %d unscored windows restored, "
                "%d requests (%d lines) and %d closes replayed",
                report.sessions_restored,
                report.windows_restored,
                report.requests_replayed,
                report.lines_replayed,
                report.closes_replayed,
            )
        return report

    def checkpoint(self, force: bool = False) -> bool:
        """Commit the engine's state to the journal once every alert so far is stored (see
        :meth:`StreamEngine.checkpoint`); False when there is nothing new or alerts are unsaved.

        Raises:
            JournalError: the checkpoint cannot be written (counted in ``checkpoint_failures``).
        """
        started = time.monotonic()
        try:
            written = self.engine.checkpoint(lambda: self.alerts.retry_unsaved() == 0, force=force)
        except JournalError:
            self._checkpoint_failures += 1
            raise
        finally:
            self._checkpoint_seconds += time.monotonic() - started
        if written:
            self._checkpoints_written += 1
        return written

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

    async def ingest(
        self, lines: list[str] | list[bytes], source: str, request_id: str | None = None
    ) -> IngestResponse:
        """``request_id``: the client's ``Idempotency-Key``, so that its retry of a call is not applied twice."""
        self.check_request(len(lines))
        return await to_thread.run_sync(self.engine.ingest, lines, source, request_id)

    async def ingest_text(self, body: bytes, source: str, request_id: str | None = None) -> IngestResponse:
        """Plain-text body: one raw line per ``\\n``, handed on as bytes (the parser decodes them)."""
        lines = body.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()  # the final newline ends the last line, it does not start an empty one
        return await self.ingest([ln.rstrip(b"\r") for ln in lines], source, request_id)

    # ------------------------------------------------------------------ sessions
    def session(self, session_id: str) -> SessionScore:
        summary = self.engine.session(session_id)
        if summary is None:
            raise self.unknown_session(session_id)
        return summary

    def unknown_session(self, session_id: str) -> UnknownSession:
        """The 404 of a session the engine has no summary of (``GET`` and ``close`` alike), saying why that can be.

        The last ``closed_sessions_kept`` closed summaries are kept (in the checkpoints too: a restart keeps them,
        docs/reliability.md); the session's alerts are in the alert store either way.
        """
        kept = self.settings.limits.closed_sessions_kept
        why = (
            f"no session {session_id!r}: never seen, or closed and its summary gone (the summaries of the last {kept} "
            "closed sessions are kept, older ones dropped)"
        )
        try:
            _, n_alerts = self.alerts.list_alerts(AlertFilter(session_id=session_id, limit=1))
        except LogBertError:  # the store unreachable: the 404 still says what it can
            logger.warning("could not count the alerts of session %r for its 404", session_id, exc_info=True)
            n_alerts = 0
        if n_alerts:
            what = "its alert is" if n_alerts == 1 else f"its {n_alerts} alerts are"
            why += f"; {what} stored: /v1/alerts?session_id={quote(session_id, safe='')}"
        return UnknownSession(why)

    def sessions(self, limit: int, state: SessionState | None, offset: int = 0) -> SessionList:
        """One page of the sessions by descending max score, and how many match (``/v1/alerts`` pages alike)."""
        known = self.engine.stats()  # the counts: a session summary is open exactly while its buffer is
        top = self.engine.sessions(offset + limit, state)
        if len(top) < offset + limit:
            total = len(top)  # every match is in hand
        else:
            counts = {None: known.sessions_known, "open": known.sessions_open}
            total = max(len(top), counts.get(state, known.sessions_known - known.sessions_open))
        return SessionList(total=total, sessions=top[offset:])

    async def close_session(self, session_id: str) -> SessionScore:
        """Close one session and wait (up to ``close_wait_s``) for its last window's score."""
        if self.engine.session(session_id) is None:
            raise await to_thread.run_sync(self.unknown_session, session_id)
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
        webhook = self.webhook
        # asdict: the engine's snapshot holds numbers only, so this is a flat copy
        return ServiceStats(
            **asdict(self.engine.stats()),
            alerts_stored=self.alerts.count(),
            alerts_unsaved=self.alerts.n_unsaved,
            alerts_repeated=self.alerts.n_repeated,
            webhook_alerts_sent=0 if webhook is None else webhook.n_sent,
            webhook_alerts_failed=0 if webhook is None else webhook.n_failed,
            webhook_alerts_dropped=0 if webhook is None else webhook.n_dropped,
            checkpoints_written=self._checkpoints_written,
            checkpoint_failures=self._checkpoint_failures,
            checkpoint_seconds=self._checkpoint_seconds,
            checkpoint_age_seconds=self.engine.replay_age(),
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

    def labels_file(self, untriaged: UntriagedLabel = "left_out") -> str:
        """Sessions confirmed anomalous, one id per line, then (``untriaged="left_out"``) the sessions whose incident
        is still open: a labels file `logbert train --labels` reads (listed = anomalous, kept out of training;
        everything else, marked-normal included, normal). An open incident is an alarm nobody has looked at: trained
        on as normal, the model would learn the very failure it raised (a new user's feedback loop learnt 25 of 26
        such sessions); ``"normal"`` lists the acknowledged ones only, the rest normal."""
        acknowledged = self.alerts.acknowledged_ids()
        untriaged_ids = []
        if untriaged == "left_out":
            untriaged_ids = [i.session_id for i in self.alerts.list_incidents("open", 1_000_000, 0)[0]]
        lines = [
            f"# {len(acknowledged)} sessions acknowledged as anomalous in the logbert service"
            + (f", then {len(untriaged_ids)} whose incident is still open (not yet triaged)" if untriaged_ids else "")
            + ": listed, kept out of training; all other sessions are normal",
            *acknowledged,
        ]
        if untriaged_ids:
            lines += [
                "# incidents still open: acknowledge or mark-normal each (POST /v1/incidents/ID/...), or fetch this "
                "file with ?untriaged=normal to train on them as normal",
                *untriaged_ids,
            ]
        return "\n".join(lines) + "\n"

    async def get_alert(self, alert_id: int) -> StoredAlert:
        stored = await to_thread.run_sync(self.alerts.get, alert_id)
        if stored is None:
            raise UnknownAlert(f"no alert with id {alert_id}")
        return stored

    # ------------------------------------------------------------------ lifecycle
    def shutdown(self) -> bool:
        """Graceful stop: score what is queued and store its alerts, within ``shutdown_timeout_s``.

        With the journal, open sessions stay open and whatever is left unscored stays in the
        journal: the next start goes on with both. Without it, every open session is closed and
        scored first, and what could not be finished is lost. Either way the log says which.
        """
        timeout = self.settings.shutdown_timeout_s
        done = self.engine.shutdown(timeout)
        pending = self.engine.stats().queue_pending if not done else 0
        if self.webhook is not None:
            self.webhook.close()
        unsaved = self.alerts.retry_unsaved()
        if self.journal is not None:
            kept = False
            try:
                kept = self.engine.checkpoint(lambda: self.alerts.retry_unsaved() == 0, force=True)
            except LogBertError as exc:
                logger.error("shutdown: %s; the next start replays the journal from the previous checkpoint", exc)
            n_open = self.engine.stats().sessions_open
            if done and not unsaved:
                logger.info(
                    "shutdown: every queued window scored and its alerts stored; %d open sessions kept in the "
                    "ingest journal (%s) for the next start",
                    n_open,
                    self.journal.directory,
                )
            else:
                logger.warning(
                    "shutdown: %d windows not scored after %.0f s and %d alerts not stored: they stay in the ingest "
                    "journal (%s) and are scored on the next start%s",
                    pending,
                    timeout,
                    unsaved,
                    self.journal.directory,
                    "" if kept else " (from the previous checkpoint)",
                )
            self.journal.close()
        else:
            if not done:
                logger.error(
                    "shutdown: %d windows were still waiting for the model after %.0f s and are not scored "
                    "(no ingest journal: they are lost)",
                    pending,
                    timeout,
                )
            if unsaved:
                logger.error("shutdown: %d alerts could not be stored in %s and are lost", unsaved, self.alerts.path)
            if done and not unsaved:
                logger.info("shutdown: every open session closed and scored, its alerts stored (no ingest journal)")
        self.alerts.close()
        return done and not unsaved
