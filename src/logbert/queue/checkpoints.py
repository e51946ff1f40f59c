"""Committed positions of the partitions, with the engine state that goes with them, in PostgreSQL.

One row per (stream, consumer group, partition) (:func:`row_key`): the engine's checkpoint (open sessions with their
buffered lines, windows whose alerts were not stored yet, line numbering), the stream sequence ``next_seq``
of the first message *not* reflected in it, and the *epoch* of the replica that wrote it.

The epoch fences stale owners. A replica that takes a partition over gets a lease revision from
the group's KV bucket (strictly larger than any before it) and *claims* the row with it; from
then on a commit from the previous owner (paused, partitioned from NATS, its lease expired
without it noticing) matches no row and raises :class:`Fenced`: it stops working the partition.
Its alerts may still reach the store, which is harmless: they are the same windows with the same
``(session_id, stream_offset)`` keys, stored once.

The table lives in the alerts database (created here if missing: it belongs to the queue, not to
the alert store's schema migrations).
"""

from __future__ import annotations

import json
import threading
import time
import zlib
from typing import Any

from logbert.streaming.journal import JournalError

try:
    import psycopg
except ImportError:  # pragma: no cover - the postgres extra
    psycopg = None  # type: ignore[assignment]

_LOCK = 0x6C6F_6762_6572_7403  # advisory lock key while creating the table
_TABLE = """
CREATE TABLE IF NOT EXISTS queue_checkpoints (
    stream TEXT NOT NULL,
    partition INTEGER NOT NULL,
    epoch BIGINT NOT NULL,
    owner TEXT NOT NULL,
    next_seq BIGINT NOT NULL,
    n_outstanding INTEGER NOT NULL,
    n_open INTEGER NOT NULL,
    state BYTEA,
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (stream, partition)
)
"""


class Fenced(JournalError):
    """A newer owner claimed the partition: this replica must stop working it."""


#: the consumer group whose rows carry the stream's name alone (every row written before groups had rows of their own)
DEFAULT_GROUP = "logbert"


def row_key(stream: str, group: str) -> str:
    """The ``stream`` column of a group's rows: each group has positions of its own, so another group reads the stream
    from its start (docs/scaling.md), where one key per stream made the second group resume at the first one's
    positions and fight its epochs. The default group keeps the bare stream name, so its rows stay where they were."""
    return stream if group == DEFAULT_GROUP else f"{stream}@group:{group}"


class CheckpointStore:
    """Partition checkpoints in PostgreSQL (one connection, used under a lock), of one stream and consumer group."""

    def __init__(self, url: str, stream: str, group: str = DEFAULT_GROUP) -> None:
        if psycopg is None:
            raise JournalError("partition checkpoints need PostgreSQL's driver: pip install 'logbert[postgres]'")
        self.stream = row_key(stream, group)
        self._lock = threading.Lock()
        try:
            self._conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
            with self._conn.transaction():
                self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
                self._conn.execute(_TABLE)
        except psycopg.Error as exc:
            raise JournalError(f"cannot open the partition checkpoints: {exc}") from None

    def claim(self, partition: int, epoch: int, owner: str) -> dict[str, Any] | None:
        """Take ``partition`` over with ``epoch``; returns its last checkpoint (None: never committed).

        Raises:
            Fenced: a replica with a newer epoch holds it.
        """
        sql = (
            "INSERT INTO queue_checkpoints (stream, partition, epoch, owner, next_seq, n_outstanding, n_open,"
            " state, updated_at) VALUES (%s, %s, %s, %s, 0, 0, 0, NULL, %s)"
            " ON CONFLICT (stream, partition) DO UPDATE SET epoch = EXCLUDED.epoch, owner = EXCLUDED.owner"
            " WHERE queue_checkpoints.epoch <= EXCLUDED.epoch RETURNING state"
        )
        with self._lock:
            try:
                row = self._conn.execute(sql, (self.stream, partition, epoch, owner, time.time())).fetchone()
            except psycopg.Error as exc:
                raise JournalError(f"cannot claim partition {partition}: {exc}") from None
        if row is None:
            raise Fenced(f"partition {partition} is held with a newer epoch than {epoch}")
        if row[0] is None:
            return None
        state: dict[str, Any] = json.loads(zlib.decompress(bytes(row[0])))
        return state

    def save(self, partition: int, epoch: int, state: dict[str, Any]) -> None:
        """Commit ``state`` (its ``next_seq`` is the position) if ``epoch`` still holds the partition.

        Raises:
            Fenced: another replica claimed it since.
            JournalError: the database refused the write (the previous checkpoint stays).
        """
        blob = zlib.compress(json.dumps(state, separators=(",", ":")).encode("utf-8"), 1)
        n_open = len(state.get("router", {}).get("buffers", []))
        sql = (
            "UPDATE queue_checkpoints SET next_seq = %s, n_outstanding = %s, n_open = %s, state = %s, updated_at = %s"
            " WHERE stream = %s AND partition = %s AND epoch = %s"
        )
        args = (
            int(state["next_seq"]),
            len(state.get("outstanding", [])),
            n_open,
            blob,
            time.time(),
            self.stream,
            partition,
            epoch,
        )
        with self._lock:
            try:
                cur = self._conn.execute(sql, args)
            except psycopg.Error as exc:
                raise JournalError(f"cannot commit partition {partition}: {exc}") from None
        if cur.rowcount != 1:
            raise Fenced(f"partition {partition} was claimed by a newer owner (epoch > {epoch})")

    def positions(self) -> dict[int, tuple[int, int, int]]:
        """Every partition's ``(next_seq, windows outstanding, open sessions)`` as committed."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT partition, next_seq, n_outstanding, n_open FROM queue_checkpoints WHERE stream = %s",
                (self.stream,),
            ).fetchall()
        return {int(p): (int(s), int(o), int(n)) for p, s, o, n in rows}

    def close(self) -> None:
        with self._lock:
            self._conn.close()
