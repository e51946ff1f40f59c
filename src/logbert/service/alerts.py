"""Alert storage in SQLite (stdlib ``sqlite3``, explanations in a JSON column).

Alerts survive a restart: the store reopens the same file. Writes come from the scoring thread,
reads from request handlers, so one connection is shared under a lock.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from logbert.errors import LogBertError
from logbert.results import ExpectedKey, PositionExplanation
from logbert.streaming import AlertRecord

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at REAL NOT NULL,
    session_id TEXT NOT NULL,
    source TEXT NOT NULL,
    window_index INTEGER NOT NULL,
    anomaly_score REAL NOT NULL,
    threshold REAL NOT NULL,
    n_keys INTEGER NOT NULL,
    n_misses INTEGER NOT NULL,
    n_unknown INTEGER NOT NULL,
    first_line_no INTEGER,
    last_line_no INTEGER,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    stream_offset INTEGER
);
CREATE INDEX IF NOT EXISTS alerts_session ON alerts (session_id);
CREATE INDEX IF NOT EXISTS alerts_created ON alerts (created_at);
CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS incident_state (
    session_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    note TEXT,
    updated_at REAL NOT NULL
);
"""
#: What a person decided about an incident: not yet looked at, a real problem, or normal after all.
IncidentStatus = Literal["open", "acknowledged", "normal"]
_COLUMNS = (
    "id, created_at, session_id, source, window_index, anomaly_score, threshold, n_keys, n_misses,"
    " n_unknown, first_line_no, last_line_no, reason, detail, stream_offset"
)
# A window's identity: an alert the journal's replay produces again is stored once (NULL offsets,
# from a service without a journal, never collide).
_DEDUPE_INDEX = "CREATE UNIQUE INDEX IF NOT EXISTS alerts_window ON alerts (session_id, stream_offset)"


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Which alerts to list; every field narrows the result."""

    session_id: str | None = None
    min_score: float | None = None
    since: float | None = None  # epoch seconds, inclusive
    until: float | None = None  # epoch seconds, exclusive
    after_id: int | None = None  # only alerts newer than this id (for polling)
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True, slots=True)
class StoredAlert(AlertRecord):
    """An alert as stored: the engine's record plus its id in the store (the API's ``Alert``)."""

    id: int


@dataclass(frozen=True, slots=True)
class Incident:
    """One session's alerts as one incident (its windows grouped). Higher ``max_score`` = more anomalous."""

    session_id: str
    source: str
    status: IncidentStatus
    n_alerts: int  # anomalous windows of the session
    max_score: float
    first_alert_at: float  # epoch seconds
    last_alert_at: float
    last_alert_id: int
    note: str | None = None


class AlertStoreError(LogBertError):
    """The alerts database cannot be opened or written."""


class SQLiteAlertStore:
    """Alerts in one SQLite file (``":memory:"`` for a throw-away store).

    Raises:
        AlertStoreError: the file cannot be opened (e.g. a directory, or not a database).
    """

    def __init__(self, path: str | Path, artifact_id: str | None = None, busy_timeout_s: float = 30.0) -> None:
        """Open (or create) the store; ``artifact_id`` ties it to one artifact's alerts.

        Raises:
            AlertStoreError: unusable file, or a store tied to another artifact (its alerts would
                mix with this one's: a BGL service listing OpenStack alerts).
        """
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._unsaved: list[tuple[Any, ...]] = []  # rows a failed write kept, oldest first
        try:
            self._conn = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=busy_timeout_s
            )
            if self.path != ":memory:":
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(_SCHEMA)
            columns = {row[1] for row in self._conn.execute("PRAGMA table_info(alerts)")}
            if "stream_offset" not in columns:  # a store written before the journal existed
                self._conn.execute("ALTER TABLE alerts ADD COLUMN stream_offset INTEGER")
            self._conn.execute(_DEDUPE_INDEX)
            if artifact_id is not None:
                self._bind(artifact_id)
        except sqlite3.Error as exc:
            raise AlertStoreError(f"cannot open alerts database {self.path}: {exc}") from None

    def _bind(self, artifact_id: str) -> None:
        row = self._conn.execute("SELECT value FROM store_meta WHERE key = 'artifact_id'").fetchone()
        if row is None:
            self._conn.execute("INSERT INTO store_meta (key, value) VALUES ('artifact_id', ?)", (artifact_id,))
        elif row[0] != artifact_id:
            self._conn.close()
            raise AlertStoreError(
                f"{self.path} holds the alerts of another artifact ({row[0][:12]}…, this one is {artifact_id[:12]}…): "
                "give this service its own --alerts-db (or LOGBERT_ALERTS_DB)"
            )

    def add_alerts(self, alerts: Sequence[AlertRecord]) -> None:
        """Store alerts (one transaction); a failed write keeps them to retry, never drops them.

        SQLite waits up to ``busy_timeout_s`` for another writer's lock. When the write still fails
        (locked for longer, disk full), the alerts wait in memory, in order, and every later call
        (and :meth:`retry_unsaved`) tries them first; :attr:`n_unsaved` tells readiness checks.
        """
        rows = [_to_row(a) for a in alerts]
        with self._lock:
            self._unsaved.extend(rows)
            self._write_unsaved()

    def retry_unsaved(self) -> int:
        """Try the alerts a failed write kept; returns how many are still not stored."""
        with self._lock:
            if self._unsaved:
                self._write_unsaved()
            return len(self._unsaved)

    @property
    def n_unsaved(self) -> int:
        """Alerts produced but not yet stored (a failed write keeps them to retry)."""
        return len(self._unsaved)

    def _write_unsaved(self) -> None:
        try:
            self._conn.execute("BEGIN")
            self._conn.executemany(
                "INSERT OR IGNORE INTO alerts (created_at, session_id, source, window_index, anomaly_score,"
                " threshold, n_keys, n_misses, n_unknown, first_line_no, last_line_no, reason, detail,"
                " stream_offset) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                self._unsaved,
            )
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
            logger.error("%d alerts not stored yet (%s): kept in memory, retried", len(self._unsaved), exc)
            return
        self._unsaved.clear()

    def list_alerts(self, flt: AlertFilter) -> tuple[list[StoredAlert], int]:
        """Matching alerts, newest first, and how many match in all."""
        where, args = _where(flt)
        with self._lock:
            total = int(self._conn.execute(f"SELECT COUNT(*) FROM alerts{where}", args).fetchone()[0])
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM alerts{where} ORDER BY id DESC LIMIT ? OFFSET ?",
                [*args, flt.limit, flt.offset],
            ).fetchall()
        return [_from_row(r) for r in rows], total

    def get(self, alert_id: int) -> StoredAlert | None:
        with self._lock:
            row = self._conn.execute(f"SELECT {_COLUMNS} FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        return None if row is None else _from_row(row)

    def list_incidents(
        self, status: IncidentStatus | None = None, limit: int = 100, offset: int = 0
    ) -> tuple[list[Incident], int]:
        """Sessions with alerts, most recent alert first, and how many match in all."""
        where, args = ("", []) if status is None else (" WHERE COALESCE(s.status, 'open') = ?", [status])
        grouped = (
            "SELECT a.session_id, MIN(a.source), COALESCE(s.status, 'open'), COUNT(*), MAX(a.anomaly_score),"
            " MIN(a.created_at), MAX(a.created_at), MAX(a.id), s.note"
            " FROM alerts a LEFT JOIN incident_state s ON s.session_id = a.session_id"
            f"{where} GROUP BY a.session_id"
        )
        with self._lock:
            total = int(self._conn.execute(f"SELECT COUNT(*) FROM ({grouped})", args).fetchone()[0])
            rows = self._conn.execute(f"{grouped} ORDER BY MAX(a.id) DESC LIMIT ? OFFSET ?", [*args, limit, offset])
            return [Incident(*row) for row in rows.fetchall()], total

    def set_incident_status(self, session_id: str, status: IncidentStatus, note: str | None, now: float) -> bool:
        """Record a person's decision; False when the session has no alert."""
        with self._lock:
            known = self._conn.execute("SELECT 1 FROM alerts WHERE session_id = ? LIMIT 1", (session_id,)).fetchone()
            if known is None:
                return False
            self._conn.execute(
                "INSERT INTO incident_state (session_id, status, note, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(session_id) DO UPDATE SET status = excluded.status, note = excluded.note,"
                " updated_at = excluded.updated_at",
                (session_id, status, note, now),
            )
            return True

    def acknowledged_ids(self) -> list[str]:
        """Sessions a person confirmed as anomalous, oldest decision first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT session_id FROM incident_state WHERE status = 'acknowledged' ORDER BY updated_at"
            ).fetchall()
        return [r[0] for r in rows]

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM alerts").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _where(flt: AlertFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    for sql, value in (
        ("session_id = ?", flt.session_id),
        ("anomaly_score >= ?", flt.min_score),
        ("created_at >= ?", flt.since),
        ("created_at < ?", flt.until),
        ("id > ?", flt.after_id),
    ):
        if value is not None:
            clauses.append(sql)
            args.append(value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args


def _to_row(a: AlertRecord) -> tuple[Any, ...]:
    # The layout of `detail` (expected keys as [template, probability] pairs) is the one existing
    # alert files hold: keep it, or a restart could no longer read them.
    detail = {
        "miss_ratio": a.miss_ratio,
        "dist_score": a.dist_score,
        "misses": [
            {
                "position": m.position,
                "key_id": m.key_id,
                "template": m.template,
                "expected": [[e.template, e.probability] for e in m.expected],
                "line_no": m.line_no,
                "raw": m.raw,
            }
            for m in a.misses
        ],
    }
    return (
        a.created_at,
        a.session_id,
        a.source,
        a.window_index,
        a.anomaly_score,
        a.threshold,
        a.n_keys,
        a.n_misses,
        a.n_unknown,
        a.first_line_no,
        a.last_line_no,
        a.reason,
        json.dumps(detail),
        a.stream_offset,
    )


def _from_row(r: tuple[Any, ...]) -> StoredAlert:
    detail = json.loads(r[13])
    misses = tuple(
        PositionExplanation(
            position=m["position"],
            key_id=m["key_id"],
            template=m["template"],
            expected=tuple(ExpectedKey(str(t), float(p)) for t, p in m["expected"]),
            line_no=m["line_no"],
            raw=m["raw"],
        )
        for m in detail["misses"]
    )
    return StoredAlert(
        session_id=r[2],
        source=r[3],
        window_index=r[4],
        anomaly_score=r[5],
        threshold=r[6],
        miss_ratio=detail["miss_ratio"],
        dist_score=detail["dist_score"],
        n_keys=r[7],
        n_misses=r[8],
        n_unknown=r[9],
        created_at=r[1],
        first_line_no=r[10],
        last_line_no=r[11],
        reason=r[12],
        stream_offset=r[14],
        misses=misses,
        id=int(r[0]),
    )
