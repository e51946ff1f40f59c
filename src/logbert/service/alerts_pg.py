"""Alerts in PostgreSQL (psycopg 3 and a connection pool): one store for several scoring replicas.

The same tables, statements and rules as the SQLite store (:class:`~logbert.service.alerts.SQLAlertStore`
holds them once); this module gives the connection, the transaction and the schema's versioned
migrations (``migrations/postgres/NNNN_name.sql``, applied in order at start). It needs the
``postgres`` extra (``pip install 'logbert[postgres]'``); without it the module still imports and
the store says what to install.

Several writers, one database:

- The dedupe rule is the database's: a UNIQUE index on ``(session_id, stream_offset)`` and
  ``INSERT ... ON CONFLICT DO NOTHING``, so two replicas (or one replaying its journal) store an
  alert once, and a concurrent duplicate waits for the first insert instead of failing. ``RETURNING
  id`` tells which rows were stored anew: only those reach the store's listeners (the webhook), so
  the replica that stored an alert pushes it, once.
- Every write transaction takes one advisory lock first. Writes are small and rare (alerts, not
  lines), and in exchange ids grow in commit order: a client polling ``after_id`` never misses an
  alert that was given a smaller id by a transaction that committed later. No deadlock between
  two batches that overlap in a different order, either.
- Migrations run under another advisory lock, in one transaction: two replicas starting together
  apply them once.

The URL's password never reaches a log line or a message: :attr:`PostgresAlertStore.path` is the
URL with the password masked, and errors are scrubbed of it. Better still, leave it out of the
URL: libpq reads ``PGPASSWORD`` and ``~/.pgpass``.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from logbert.service.alerts import (
    INSERT_ALERT,
    AlertStoreError,
    SQLAlertStore,
    is_postgres_url,
    mask_url,
    placeholders,
)

try:  # the `postgres` extra
    import psycopg
    from psycopg_pool import ConnectionPool
except ImportError as exc:  # pragma: no cover - exercised by a test that hides psycopg
    _MISSING: ImportError | None = exc
else:
    _MISSING = None

logger = logging.getLogger(__name__)

#: advisory lock keys (per database): applying migrations, and writing alerts
MIGRATION_LOCK = 0x6C6F_6762_6572_7401  # "logbert" + 1
WRITE_LOCK = 0x6C6F_6762_6572_7402
_MIGRATION_FILE = re.compile(r"(\d{4})_\w+\.sql")
_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
    " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
)


def migrations() -> list[tuple[int, str, str]]:
    """The shipped migrations as ``(version, file name, SQL)``, in order (versions 1, 2, ... with no gap)."""
    folder = resources.files("logbert.service").joinpath("migrations").joinpath("postgres")
    found = []
    for item in folder.iterdir():
        match = _MIGRATION_FILE.fullmatch(item.name)
        if match is not None:
            found.append((int(match[1]), item.name, item.read_text(encoding="utf-8")))
    found.sort()
    if [v for v, _, _ in found] != list(range(1, len(found) + 1)):
        raise AlertStoreError(f"the PostgreSQL migrations are not numbered 1..n: {[name for _, name, _ in found]}")
    return found


def migrate(conn: psycopg.Connection[Any]) -> int:
    """Apply the migrations the database lacks, in order, in one transaction; returns its schema version.

    ``conn`` must be in autocommit mode (the transaction is this function's). An advisory lock
    makes replicas that start together wait for each other: the first applies, the others see
    the versions recorded.

    Raises:
        AlertStoreError: the database is at a version this logbert does not know (a newer one
            migrated it).
        psycopg.Error: a migration failed (nothing of it is kept).
    """
    known = migrations()
    newest = known[-1][0]
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(_VERSION_TABLE)
        applied = {int(row[0]) for row in conn.execute("SELECT version FROM schema_version").fetchall()}
        if applied and max(applied) > newest:
            raise AlertStoreError(
                f"the alerts database is at schema version {max(applied)}, this logbert knows up to {newest}: "
                "upgrade logbert (a newer version migrated this database)"
            )
        for version, name, sql in known:
            if version in applied:
                continue
            conn.execute(sql)  # no parameters: the file's statements run as one script
            conn.execute("INSERT INTO schema_version (version, name) VALUES (%s, %s)", (version, name))
            logger.info("alerts database: applied migration %s", name)
    return newest


class PostgresAlertStore(SQLAlertStore):
    """Alerts in a PostgreSQL database, shared by every replica given the same URL.

    A pool of connections (``max_connections``): reads from request handlers run side by side;
    writes take the database's write lock (see the module doc).
    """

    def __init__(
        self, url: str, artifact_id: str | None = None, busy_timeout_s: float = 30.0, max_connections: int = 4
    ) -> None:
        """Connect, apply the migrations the database lacks, and tie it to ``artifact_id``.

        Args:
            url: ``postgresql://user@host:port/dbname`` (libpq's URI; its query may hold any libpq
                parameter, e.g. ``?sslmode=require``).
            artifact_id: ties the store to one artifact's alerts (None: no check).
            busy_timeout_s: how long a write waits for a connection or a lock before its alerts are
                kept in memory to retry (and how long a connection attempt may take, 2 s at least).
            max_connections: the pool's size.

        Raises:
            AlertStoreError: psycopg not installed, an unusable URL, the server unreachable or
                refusing, a database tied to another artifact, or at an unknown schema version.
        """
        super().__init__()
        self.path = mask_url(url)
        self._secrets = _secrets(url)
        self._url = url
        if _MISSING is not None:
            raise AlertStoreError(
                f"the alerts database {self.path} is PostgreSQL, which needs psycopg: "
                "pip install 'logbert[postgres]' (or psycopg[binary] and psycopg-pool)"
            )
        if not is_postgres_url(url) or not url.partition(":")[2].startswith("//"):
            raise AlertStoreError(
                f"{self.path} is not a PostgreSQL URL: write postgresql://user@host:port/dbname "
                "(an option read as a file path turns '//' into '/')"
            )
        self._write_errors = (psycopg.Error,)  # PoolTimeout is a psycopg.OperationalError
        self._lock_timeout = f"{max(1, round(busy_timeout_s * 1000))}ms"
        # RETURNING: a row comes back only for an alert stored anew (ON CONFLICT DO NOTHING returns none)
        self._insert_sql = placeholders(INSERT_ALERT, "format") + " RETURNING id"
        try:
            kwargs: dict[str, Any] = {"autocommit": True}
            if "connect_timeout" not in psycopg.conninfo.conninfo_to_dict(url):
                kwargs["connect_timeout"] = max(2, math.ceil(busy_timeout_s))
            # one connection first: its error says why (refused, bad password, no such database),
            # where a pool would only say it timed out
            with psycopg.connect(url, **kwargs) as conn:
                self.schema_version = migrate(conn)
            self._pool: ConnectionPool[psycopg.Connection[tuple[Any, ...]]] = ConnectionPool(
                url,
                kwargs=kwargs,
                min_size=1,
                max_size=max_connections,
                timeout=max(busy_timeout_s, 0.1),
                check=ConnectionPool.check_connection,  # a connection the server dropped is replaced, not used
                name="logbert-alerts",
                open=False,
            )
            self._pool.open(wait=True, timeout=max(busy_timeout_s, 2.0))
        except psycopg.Error as exc:
            if hasattr(self, "_pool"):
                self._pool.close()
            raise AlertStoreError(f"cannot open alerts database {self.path}: {self._describe(exc)}") from None
        if artifact_id is not None:
            try:
                self._bind(artifact_id)
            except psycopg.Error as exc:
                self._pool.close()
                raise AlertStoreError(f"cannot open alerts database {self.path}: {self._describe(exc)}") from None

    def _read(self, *queries: tuple[str, Sequence[Any]]) -> list[list[tuple[Any, ...]]]:
        with self._pool.connection() as conn:
            if len(queries) == 1:
                sql, args = queries[0]
                return [conn.execute(placeholders(sql, "format"), args).fetchall()]
            with conn.transaction():  # one snapshot: a total and its page agree
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                return [conn.execute(placeholders(sql, "format"), args).fetchall() for sql, args in queries]

    def _write(self, sql: str, args: Sequence[Any]) -> None:
        with self._pool.connection() as conn:
            conn.execute(placeholders(sql, "format"), args)

    def _insert_alerts(self, rows: Sequence[tuple[Any, ...]]) -> list[bool]:
        if not rows:
            return []
        stored: list[bool] = []
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (self._lock_timeout,))
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            with conn.cursor() as cur:
                cur.executemany(self._insert_sql, rows, returning=True)
                while True:  # one result per row: its id, or nothing when the window was stored already
                    stored.append(cur.fetchone() is not None)
                    if not cur.nextset():
                        break
        return stored

    def _describe(self, exc: BaseException) -> str:
        text = str(exc).replace(self._url, self.path)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def close(self) -> None:
        if hasattr(self, "_pool"):
            self._pool.close()


def _secrets(url: str) -> list[str]:
    """The passwords in ``url`` (as written and decoded), longest first: what a message must not show."""
    found: set[str] = set()
    try:
        parts = urlsplit(url)
        if parts.password:
            found.update((parts.password, unquote(parts.password)))
        for key, value in parse_qsl(parts.query, keep_blank_values=False):
            if key.lower() in ("password", "sslpassword"):
                found.add(value)
    except ValueError:
        pass
    return sorted((s for s in found if s), key=len, reverse=True)
