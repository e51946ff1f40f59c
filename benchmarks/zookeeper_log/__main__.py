"""A ZooKeeper server's log, as a new user brings one: the client session's hexadecimal id as the session.

    .venv/bin/python -m benchmarks.zookeeper_log [--work DIR] [--out benchmarks/results/zookeeper_log.md] [--set K=V]

No ZooKeeper log is in ``../shared/datasets`` (loghub's has no labels), so this one is generated
(:func:`zookeeper_log`) in ZooKeeper's own log4j layout, ``%d{ISO8601} - %-5p [%t:%C{1}@%L] - %m``:
``2026-11-30 10:00:01,152 - INFO  [CommitProcessor:1:ZooKeeperServer@595] - Established session 0x14ed93111f20027
with negotiated timeout 10000 for client /10.10.34.11:40061``. The settings are those ``logbert parse`` and ``logbert
train`` print for it: the format ``parse`` infers, and the pattern of the hexadecimal session ids that ``train``'s
no-session-id error names (stop 44; before, it named none). A client session: the connection accepted and the session
asked for (lines that carry no session id, so they are counted as lines without one), established, now and then a
``NodeExists`` from a lock taken twice, then the client's close: the termination processed and the socket closed,
5-60 s after it began. The leader snapshots its data every few minutes. About 8 % of the sessions are anomalous, in
four kinds: a session that expires (its client stopped sending heartbeats: ``Expiring session``, no close by the
client), a connection reset (``Exception causing close of session``, no termination processed), a client that keeps
writing where it may not (``NoAuth`` 5-8 times), and a session held open for 10-30 minutes: keys in their normal
order, only its time tells. Two logs with other seeds: 3,000 sessions to train on, 1,500 fresh ones, with labels, to
evaluate on.

One run: ``logbert train`` on the training log with its labels (its anomalous sessions held back), ``logbert
evaluate`` on the fresh log at the stored threshold, and the baselines ``new_event`` and ``count_nearest`` on the
training log's held-back sessions. ``--set model.signals=all`` runs the time- and value-aware model instead.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

from benchmarks._report import draw_sessions, generated_log_benchmark, write_labelled

#: the format ``logbert parse`` infers for these lines (logbert.parsing.headers.infer_log_format)
LOG_FORMAT = r"<Datetime> - <Level> \[<Context>\] - <Content>"
#: the session pattern ``logbert train`` names for them (logbert.pipeline.corpus._content_id_hint)
SESSION_PATTERN = r"\b(0x[0-9a-fA-F]{15})\b"
#: kind -> share of the client sessions (the rest are normal)
ANOMALOUS = {"expired": 0.02, "connection_reset": 0.02, "no_auth": 0.02, "held_open": 0.02}
FACTORY = "NIOServerCxn.Factory:0.0.0.0/0.0.0.0:2181"


def _stamp(t: dt.datetime) -> str:
    return f"{t:%Y-%m-%d %H:%M:%S},{t.microsecond // 1000:03d}"


def _session(
    rng: random.Random, number: int, start: dt.datetime, kind: str
) -> tuple[str, list[tuple[dt.datetime, str]]]:
    sid = f"0x14ed93111f{number:05x}"  # the server's prefix, then a counter: 15 hexadecimal digits
    client = f"/10.10.34.{rng.randint(10, 40)}:{rng.randint(30_000, 60_000)}"
    lines: list[tuple[dt.datetime, str]] = []
    t = start

    def log(context: str, message: str, level: str = "INFO ", gap_ms: tuple[float, float] = (1.0, 20.0)) -> None:
        nonlocal t
        t += dt.timedelta(milliseconds=rng.uniform(*gap_ms))
        lines.append((t, f"{_stamp(t)} - {level} [{context}] - {message}"))

    log(f"{FACTORY}:NIOServerCnxnFactory@197", f"Accepted socket connection from {client}")
    log(f"{FACTORY}:ZooKeeperServer@839", f"Client attempting to establish new session at {client}")
    log("CommitProcessor:1:ZooKeeperServer@595", f"Established session {sid} with negotiated timeout 10000 for client "
        f"{client}")
    def keeper_error(operation: str, code: str, path: str) -> None:
        zxid = 0x100000000 + rng.randint(0, 16**8)  # the transaction id when the error came
        log("ProcessThread(sid:1 cport:-1)::PrepRequestProcessor@645", f"Got user-level KeeperException when "
            f"processing sessionid:{sid} type:{operation} cxid:0x{rng.randint(1, 90):x} zxid:0x{zxid:x} txntype:-1 "
            f"reqpath:n/a Error Path:{path} Error:KeeperErrorCode = {code} for {path}", gap_ms=(200.0, 5_000.0))

    for _ in range(rng.choice((0, 0, 0, 1, 1, 2))):  # lock contention: normal
        keeper_error("create", "NodeExists", f"/locks/job-{rng.randint(1, 40)}")
    if kind == "no_auth":
        for _ in range(rng.randint(5, 8)):
            keeper_error("setData", "NoAuth", "/config/quota")
    if kind == "expired":  # the client stopped sending heartbeats: the leader expires it after the timeout
        log("SessionTracker:ZooKeeperServer@355", f"Expiring session {sid}, timeout of 10000ms exceeded",
            gap_ms=(10_000.0, 12_000.0))
        log("ProcessThread(sid:1 cport:-1)::PrepRequestProcessor@476", f"Processed session termination for "
            f"sessionid: {sid}")
        return sid, lines
    held = (600_000.0, 1_800_000.0) if kind == "held_open" else (5_000.0, 60_000.0)
    t += dt.timedelta(milliseconds=rng.uniform(*held))  # the session's work, which the server does not log
    if kind == "connection_reset":
        log(f"{FACTORY}:NIOServerCnxn@349", f"Exception causing close of session {sid} due to java.io.IOException: "
            "Connection reset by peer", level="WARN ")
    else:
        log("ProcessThread(sid:1 cport:-1)::PrepRequestProcessor@476", f"Processed session termination for "
            f"sessionid: {sid}")
    log(f"{FACTORY}:NIOServerCnxn@1001", f"Closed socket connection for client {client} which had sessionid {sid}")
    return sid, lines


def zookeeper_log(path: Path, seed: int, n_sessions: int) -> tuple[Path, dict[str, str]]:
    """Write the log and ``<path>.labels.csv`` (``session_id,Label``); returns the labels' path and each session's
    kind by id (``normal`` or one of :data:`ANOMALOUS`). The leader snapshots every 5 minutes (no session)."""
    rng = random.Random(seed)
    start = dt.datetime(2026, 11, 30)
    counter = iter(range(1, 10**6))
    lines, kinds = draw_sessions(
        rng, n_sessions, ANOMALOUS,
        lambda kind: _session(rng, next(counter), start + dt.timedelta(seconds=rng.uniform(0, 86_000)), kind),
    )
    for minute in range(0, 24 * 60, 5):
        t = start + dt.timedelta(minutes=minute, milliseconds=rng.uniform(0, 999))
        zxid = f"1{rng.randint(0, 16**8 - 1):08x}"
        lines.append((t, f"{_stamp(t)} - INFO  [SyncThread:1:FileTxnSnapLog@240] - Snapshotting: 0x{zxid} to "
                         f"/var/lib/zookeeper/version-2/snapshot.{zxid}"))
    labels = write_labelled(path, lines, kinds)
    return labels, kinds


def main(argv: list[str] | None = None) -> int:
    return generated_log_benchmark(
        __doc__, "zookeeper-log", "A ZooKeeper log (log4j's layout, the client session's hexadecimal id)", argv,
        lambda path, seed, n: zookeeper_log(path, seed=seed, n_sessions=n),
        {"parser.log_format": LOG_FORMAT, "window.session_pattern": SESSION_PATTERN}, tuple(ANOMALOUS),
    )


if __name__ == "__main__":
    raise SystemExit(main())
