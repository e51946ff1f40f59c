"""Alert storage: the :class:`AlertStore` contract, the rules every SQL store shares, and SQLite.

Two stores implement the contract: :class:`SQLiteAlertStore` (stdlib ``sqlite3``, one file, the
default) and ``alerts_pg.PostgresAlertStore`` (psycopg 3, one database shared by several scoring
replicas; the ``postgres`` extra). Both are a :class:`SQLAlertStore`: the row layout (``detail``
JSON), the statements (written once with ``?`` placeholders, see :func:`placeholders`), the
filters, the dedupe rule and the kept-and-retried writes live here once; a subclass only gives
the connection and the transaction.

Alerts survive a restart: the store reopens the same file (or database). Writes come from the
scoring thread, reads from request handlers.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import re
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from logbert.errors import LogBertError
from logbert.results import ExpectedKey, PositionExplanation
from logbert.streaming import AlertRecord

logger = logging.getLogger(__name__)

# SQLite's schema. PostgreSQL's is the same tables and columns, as versioned migrations
# (migrations/postgres/*.sql); SQLite keeps CREATE IF NOT EXISTS plus the column check below.
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
#: The dedupe rule: a window's identity. An alert the journal's replay produces again is stored
#: once; NULL offsets (a service without a journal) never collide. Both stores have a UNIQUE
#: index on it (named ``alerts_window``) and insert with ``ON CONFLICT (...) DO NOTHING``.
DEDUPE_KEY = "session_id, stream_offset"
_DEDUPE_INDEX = f"CREATE UNIQUE INDEX IF NOT EXISTS alerts_window ON alerts ({DEDUPE_KEY})"
#: The one INSERT of an alert row (the order of :func:`_to_row`), in both stores.
INSERT_ALERT = (
    "INSERT INTO alerts (created_at, session_id, source, window_index, anomaly_score, threshold, n_keys,"
    " n_misses, n_unknown, first_line_no, last_line_no, reason, detail, stream_offset)"
    f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT ({DEDUPE_KEY}) DO NOTHING"
)
#: Told the alerts a write stored that the store did not hold yet (see :meth:`SQLAlertStore.on_stored`).
StoredListener = Callable[[Sequence[AlertRecord]], None]
_POSTGRES_SCHEME = re.compile(r"^postgres(?:ql)?:", re.IGNORECASE)
# user:PASSWORD@ in the authority, and password= / sslpassword= in the query string
_URL_PASSWORD = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.-]*:/{0,2}[^:/@?#]*):[^/?#]*@")
_QUERY_SECRET = re.compile(r"(?i)([?&](?:ssl)?password=)[^&#]*")


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

    id: int = field(kw_only=True)


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


class AlertStore(Protocol):
    """What the service needs of an alert store (SQLite file or PostgreSQL database).

    Rules every implementation keeps:

    - ``add_alerts`` never drops an alert: a failed write keeps the alerts in memory, in order,
      and every later ``add_alerts`` (and ``retry_unsaved``) writes them first; ``n_unsaved``
      tells readiness checks how many wait.
    - An alert with the same ``(session_id, stream_offset)`` as a stored one is stored once, and
      only the alerts a write stored anew reach the listeners of ``on_stored`` (the webhook): an
      alert a journal replay produces again is neither stored nor pushed again, and counted in
      ``n_repeated``.
    - Opened with an ``artifact_id``, the store is tied to that artifact and refuses another's
      (``AlertStoreError``).
    """

    #: where the alerts are, safe to print (a URL's password is masked)
    path: str

    @property
    def n_unsaved(self) -> int: ...

    @property
    def n_repeated(self) -> int: ...

    def add_alerts(self, alerts: Sequence[AlertRecord]) -> None: ...

    def on_stored(self, listener: StoredListener) -> None: ...

    def retry_unsaved(self) -> int: ...

    def list_alerts(self, flt: AlertFilter) -> tuple[list[StoredAlert], int]: ...

    def get(self, alert_id: int) -> StoredAlert | None: ...

    def list_incidents(
        self, status: IncidentStatus | None = None, limit: int = 100, offset: int = 0
    ) -> tuple[list[Incident], int]: ...

    def set_incident_status(self, session_id: str, status: IncidentStatus, note: str | None, now: float) -> bool: ...

    def acknowledged_ids(self) -> list[str]: ...

    def count(self) -> int: ...

    def close(self) -> None: ...


def is_postgres_url(location: str) -> bool:
    """True for ``postgresql://...`` (or ``postgres://``): an alerts database that is not a file."""
    return _POSTGRES_SCHEME.match(location) is not None


def mask_url(url: str) -> str:
    """``url`` with its password (``user:PASSWORD@``, ``?password=``) replaced by ``***``: safe to log."""
    return _QUERY_SECRET.sub(r"\1***", _URL_PASSWORD.sub(r"\g<head>:***@", url, count=1))


@functools.lru_cache(maxsize=256)
def placeholders(sql: str, style: Literal["qmark", "format"]) -> str:
    """A shared statement (written with ``?``, sqlite3's style) in a driver's style (psycopg: ``%s``).

    The statements hold no ``?`` or ``%`` of their own (no such literal), so the swap is exact.
    """
    if style == "qmark":
        return sql
    if "%" in sql:
        raise ValueError(f"a shared statement must not contain '%': {sql}")
    return sql.replace("?", "%s")


class SQLAlertStore:
    """The rules of an :class:`AlertStore` on a SQL database; a subclass gives the connection.

    A subclass sets :attr:`path` and :attr:`_write_errors` and implements :meth:`_read`,
    :meth:`_write`, :meth:`_insert_alerts` and :meth:`close`, running the statements of this
    class (``?`` placeholders: see :func:`placeholders`).
    """

    path: str
    #: what a failed write raises (the alerts are then kept in memory and retried)
    _write_errors: tuple[type[Exception], ...] = ()

    def __init__(self) -> None:
        self._write_lock = threading.Lock()
        # alerts a failed write kept, with their rows, oldest first
        self._unsaved: list[tuple[AlertRecord, tuple[Any, ...]]] = []
        self._listeners: list[StoredListener] = []
        self._n_repeated = 0

    # -- what a subclass gives ---------------------------------------------------------------
    def _read(self, *queries: tuple[str, Sequence[Any]]) -> list[list[tuple[Any, ...]]]:
        """The rows of each query, run together on one connection."""
        raise NotImplementedError

    def _write(self, sql: str, args: Sequence[Any]) -> None:
        """Run one statement that changes the database (committed when it returns)."""
        raise NotImplementedError

    def _insert_alerts(self, rows: Sequence[tuple[Any, ...]]) -> list[bool]:
        """:data:`INSERT_ALERT` every row in one transaction; per row, whether it was stored (False: the
        dedupe rule found the window stored already). Raises one of :attr:`_write_errors`."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _describe(self, exc: BaseException) -> str:
        """An error's text for a log line or a message (PostgreSQL: without the URL's password)."""
        return str(exc)

    # -- the shared rules ----------------------------------------------------------------------
    def _bind(self, artifact_id: str) -> None:
        """Tie the store to one artifact; refuse a store already tied to another.

        Raises:
            AlertStoreError: alerts of another artifact (they would mix with this one's: a BGL
                service listing OpenStack alerts).
        """
        self._write(
            "INSERT INTO store_meta (key, value) VALUES ('artifact_id', ?) ON CONFLICT (key) DO NOTHING",
            (artifact_id,),
        )
        [rows] = self._read(("SELECT value FROM store_meta WHERE key = 'artifact_id'", ()))
        bound = str(rows[0][0])
        if bound != artifact_id:
            self.close()
            raise AlertStoreError(
                f"{self.path} holds the alerts of another artifact ({bound[:12]}…, this one is {artifact_id[:12]}…): "
                "give this service its own --alerts-db (or LOGBERT_ALERTS_DB)"
            )

    def add_alerts(self, alerts: Sequence[AlertRecord]) -> None:
        """Store alerts (one transaction); a failed write keeps them to retry, never drops them.

        The database waits a while for another writer's lock (``busy_timeout_s``). When the write
        still fails (locked for longer, disk full, the server away), the alerts wait in memory, in
        order, and every later call (and :meth:`retry_unsaved`) tries them first; :attr:`n_unsaved`
        tells readiness checks.
        """
        kept = [(a, _to_row(a)) for a in alerts]
        with self._write_lock:
            self._unsaved.extend(kept)
            self._write_unsaved()

    def on_stored(self, listener: StoredListener) -> None:
        """Tell ``listener`` the alerts each write stores that the store did not hold yet, in order, once committed.

        Not those the dedupe rule finds stored already (a journal replay produces again the alerts of
        the windows after the last checkpoint; another replica may have stored an alert first): so a
        webhook listening here pushes an alert once, as the store keeps it once. Alerts a failed write
        kept are told when a later write (or :meth:`retry_unsaved`) stores them. It runs on the writing
        thread under the store's write lock (so in the order stored) and must not block: the webhook
        only queues them. An exception it raises is logged; the alerts stay stored.
        """
        self._listeners.append(listener)

    @property
    def n_repeated(self) -> int:
        """Alerts written again that the store held already (a journal replay's, another replica's): not stored
        again, and not told to the listeners of :meth:`on_stored`."""
        return self._n_repeated

    def retry_unsaved(self) -> int:
        """Try the alerts a failed write kept; returns how many are still not stored."""
        with self._write_lock:
            if self._unsaved:
                self._write_unsaved()
            return len(self._unsaved)

    @property
    def n_unsaved(self) -> int:
        """Alerts produced but not yet stored (a failed write keeps them to retry)."""
        return len(self._unsaved)

    def _write_unsaved(self) -> None:
        try:
            stored = self._insert_alerts([row for _, row in self._unsaved])
        except self._write_errors as exc:
            logger.error(
                "%d alerts not stored yet (%s): kept in memory, retried", len(self._unsaved), self._describe(exc)
            )
            return
        new = [alert for (alert, _), is_new in zip(self._unsaved, stored, strict=True) if is_new]
        self._n_repeated += len(self._unsaved) - len(new)
        self._unsaved.clear()
        if not new:
            return
        for listener in self._listeners:
            try:
                listener(new)
            except Exception:  # the alerts are stored: a listener's failure must not look like the store's
                logger.exception("a listener of the alert store failed on %d new alerts", len(new))

    def list_alerts(self, flt: AlertFilter) -> tuple[list[StoredAlert], int]:
        """Matching alerts, newest first, and how many match in all."""
        where, args = _where(flt)
        totals, rows = self._read(
            (f"SELECT COUNT(*) FROM alerts{where}", args),
            (f"SELECT {_COLUMNS} FROM alerts{where} ORDER BY id DESC LIMIT ? OFFSET ?", [*args, flt.limit, flt.offset]),
        )
        return [_from_row(r) for r in rows], int(totals[0][0])

    def get(self, alert_id: int) -> StoredAlert | None:
        [rows] = self._read((f"SELECT {_COLUMNS} FROM alerts WHERE id = ?", (alert_id,)))
        return _from_row(rows[0]) if rows else None

    def list_incidents(
        self, status: IncidentStatus | None = None, limit: int = 100, offset: int = 0
    ) -> tuple[list[Incident], int]:
        """Sessions with alerts, most recent alert first, and how many match in all."""
        where, args = ("", []) if status is None else (" WHERE COALESCE(s.status, 'open') = ?", [status])
        # s.status and s.note in GROUP BY: one incident_state row per session at most, and
        # PostgreSQL wants every selected column grouped or aggregated
        grouped = (
            "SELECT a.session_id, MIN(a.source), COALESCE(s.status, 'open'), COUNT(*), MAX(a.anomaly_score),"
            " MIN(a.created_at), MAX(a.created_at), MAX(a.id), s.note"
            " FROM alerts a LEFT JOIN incident_state s ON s.session_id = a.session_id"
            f"{where} GROUP BY a.session_id, s.status, s.note"
        )
        totals, rows = self._read(
            (f"SELECT COUNT(*) FROM ({grouped}) AS g", args),
            (f"{grouped} ORDER BY MAX(a.id) DESC LIMIT ? OFFSET ?", [*args, limit, offset]),
        )
        return [Incident(*row) for row in rows], int(totals[0][0])

    def set_incident_status(self, session_id: str, status: IncidentStatus, note: str | None, now: float) -> bool:
        """Record a person's decision; False when the session has no alert."""
        [known] = self._read(("SELECT 1 FROM alerts WHERE session_id = ? LIMIT 1", (session_id,)))
        if not known:
            return False
        self._write(
            "INSERT INTO incident_state (session_id, status, note, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (session_id) DO UPDATE SET status = excluded.status, note = excluded.note,"
            " updated_at = excluded.updated_at",
            (session_id, status, note, now),
        )
        return True

    def acknowledged_ids(self) -> list[str]:
        """Sessions a person confirmed as anomalous, oldest decision first."""
        [rows] = self._read(
            ("SELECT session_id FROM incident_state WHERE status = 'acknowledged' ORDER BY updated_at", ())
        )
        return [r[0] for r in rows]

    def count(self) -> int:
        [rows] = self._read(("SELECT COUNT(*) FROM alerts", ()))
        return int(rows[0][0])


class SQLiteAlertStore(SQLAlertStore):
    """Alerts in one SQLite file (``":memory:"`` for a throw-away store).

    One connection, shared by the scoring thread and the request handlers under a lock.

    Raises:
        AlertStoreError: the file cannot be opened (e.g. a directory, or not a database).
    """

    _write_errors = (sqlite3.Error,)

    def __init__(self, path: str | Path, artifact_id: str | None = None, busy_timeout_s: float = 30.0) -> None:
        """Open (or create) the store; ``artifact_id`` ties it to one artifact's alerts.

        Raises:
            AlertStoreError: unusable file, or a store tied to another artifact (its alerts would
                mix with this one's: a BGL service listing OpenStack alerts).
        """
        super().__init__()
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
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

    def _read(self, *queries: tuple[str, Sequence[Any]]) -> list[list[tuple[Any, ...]]]:
        with self._lock:
            return [self._conn.execute(sql, args).fetchall() for sql, args in queries]

    def _write(self, sql: str, args: Sequence[Any]) -> None:
        with self._lock:
            self._conn.execute(sql, args)

    def _insert_alerts(self, rows: Sequence[tuple[Any, ...]]) -> list[bool]:
        with self._lock:
            try:
                self._conn.execute("BEGIN")
                # one statement per row: its rowcount says whether the dedupe rule kept it out (0)
                stored = [self._conn.execute(INSERT_ALERT, row).rowcount == 1 for row in rows]
                self._conn.execute("COMMIT")
                return stored
            except sqlite3.Error:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise

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
        "n_marks": a.n_marks,
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
        "surprises": list(a.surprises),
        "window": a.window,
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
    surprises = tuple(str(x) for x in detail.get("surprises", ()))  # alerts stored before they were kept: none
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
        n_marks=int(detail.get("n_marks", 0)),  # alerts stored before it was kept: none counted
        created_at=r[1],
        first_line_no=r[10],
        last_line_no=r[11],
        reason=r[12],
        stream_offset=r[14],
        misses=misses,
        surprises=surprises,
        window=detail.get("window"),  # alerts stored before it was kept: unnamed
        id=int(r[0]),
    )
