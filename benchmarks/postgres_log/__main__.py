"""A PostgreSQL server log as Debian and Ubuntu write it, as a new user brings one: the backend's pid as the session.

    .venv/bin/python -m benchmarks.postgres_log [--work DIR] [--out benchmarks/results/postgres_log.md] [--set K=V]

No PostgreSQL log is in ``../shared/datasets``, so this one is generated (:func:`postgres_log`) with Debian's
``log_line_prefix = '%m [%p] %q%u@%d '``, ``log_connections``, ``log_disconnections`` and ``log_min_duration_statement
= 0``: ``2026-11-30 10:00:01.152 UTC [20025] app@shop LOG:  duration: 1.163 ms  statement: SELECT ...``. The
checkpointer writes without ``user@database`` (``%q``), a connection before its user is known with
``[unknown]@[unknown]``. The settings are those ``logbert parse`` and ``logbert train`` print for it: the format
``parse`` infers, and the pid, the field ``train`` names when no line holds a session id of a known kind. A client
session is one backend: connection received, authorized, one to five statements (each with its duration), then a
disconnection with the session's time. About 8 % of them are anomalous, in four kinds: a password that fails
(``FATAL``, no statement), a client that goes away mid-session (``could not receive data from client``, no
disconnection), a deadlock (``ERROR``, ``DETAIL``, ``HINT``, then the session goes on), and a statement that takes
20-60 s where they take a few ms: keys in their normal order, only the duration tells. Two logs with other seeds:
3,000 sessions to train on, 1,500 fresh ones, with labels, to evaluate on.

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
LOG_FORMAT = r"<Datetime> \[<Pid>\] (?:<User>@<Database> )?<Level>: <Content>"
#: kind -> share of the client sessions (the rest are normal)
ANOMALOUS = {"auth_failed": 0.02, "client_gone": 0.02, "deadlock": 0.02, "slow_statement": 0.02}
QUERIES = (
    "SELECT * FROM orders WHERE id = {n}",
    "SELECT count(*) FROM items WHERE order_id = {n}",
    "UPDATE orders SET status = 'paid' WHERE id = {n}",
    "INSERT INTO audit (order_id, at) VALUES ({n}, now())",
)
CLIENTS = (("app", "shop"), ("report", "shop"), ("app", "billing"))


def _stamp(t: dt.datetime) -> str:
    return f"{t:%Y-%m-%d %H:%M:%S}.{t.microsecond // 1000:03d} UTC"


def _session(rng: random.Random, start: dt.datetime, kind: str) -> tuple[str, list[tuple[dt.datetime, str]]]:
    pid = rng.randint(1000, 4_000_000)
    user, database = rng.choice(CLIENTS)
    host, port = f"10.0.{rng.randint(0, 3)}.{rng.randint(2, 250)}", rng.randint(30_000, 60_000)
    lines: list[tuple[dt.datetime, str]] = []
    t = start

    def log(message: str, who: str = f"{user}@{database}", gap_ms: tuple[float, float] = (0.2, 3.0)) -> None:
        nonlocal t
        t += dt.timedelta(milliseconds=rng.uniform(*gap_ms))
        lines.append((t, f"{_stamp(t)} [{pid}] {who} {message}"))

    log(f"LOG:  connection received: host={host} port={port}", "[unknown]@[unknown]")
    if kind == "auth_failed":
        log(f'FATAL:  password authentication failed for user "{user}"')
        log('DETAIL:  Connection matched pg_hba.conf line 99: "host all all 0.0.0.0/0 scram-sha-256"')
        return str(pid), lines
    log(f"LOG:  connection authorized: user={user} database={database} application_name=api")
    for i in range(rng.randint(1, 5)):
        duration = rng.uniform(20_000, 60_000) if kind == "slow_statement" and i == 0 else rng.lognormvariate(1.5, 0.6)
        statement = rng.choice(QUERIES).format(n=rng.randint(1, 99_999))
        log(f"LOG:  duration: {duration:.3f} ms  statement: {statement}", gap_ms=(5.0, 300.0))
        t += dt.timedelta(milliseconds=duration)
        if kind == "deadlock" and i == 0:
            log("ERROR:  deadlock detected")
            log(f"DETAIL:  Process {pid} waits for ShareLock on transaction {rng.randint(10**5, 10**6)}; blocked by "
                f"process {rng.randint(1000, 4_000_000)}.")
            log("HINT:  See server log for query details.")
    if kind == "client_gone":
        log("LOG:  could not receive data from client: Connection reset by peer")
        return str(pid), lines
    elapsed = (t - start).total_seconds() + 0.01
    log(f"LOG:  disconnection: session time: 0:00:{elapsed:06.3f} user={user} database={database} host={host} "
        f"port={port}")
    return str(pid), lines


def postgres_log(path: Path, seed: int, n_sessions: int) -> tuple[Path, dict[str, str]]:
    """Write the log and ``<path>.labels.csv`` (``session_id,Label``); returns the labels' path and each session's
    kind by pid (``normal`` or one of :data:`ANOMALOUS`). The checkpointer (pid 77, no session) writes every 5 min."""
    rng = random.Random(seed)
    start = dt.datetime(2026, 11, 30)
    lines, kinds = draw_sessions(
        rng, n_sessions, ANOMALOUS,
        lambda kind: _session(rng, start + dt.timedelta(seconds=rng.uniform(0, 86_000)), kind),
    )
    for minute in range(0, 24 * 60, 5):
        t = start + dt.timedelta(minutes=minute)
        lines.append((t, f"{_stamp(t)} [77] LOG:  checkpoint starting: time"))
        t += dt.timedelta(seconds=rng.uniform(1, 30))
        lines.append((t, f"{_stamp(t)} [77] LOG:  checkpoint complete: wrote {rng.randint(10, 900)} buffers "
                         f"({rng.uniform(0, 5):.1f}%); 0 WAL file(s) added, 0 removed, 1 recycled"))
    labels = write_labelled(path, lines, kinds)
    return labels, kinds


def main(argv: list[str] | None = None) -> int:
    return generated_log_benchmark(
        __doc__, "postgres-log", "A PostgreSQL log (Debian's prefix, the backend pid as the session)", argv,
        lambda path, seed, n: postgres_log(path, seed=seed, n_sessions=n),
        {"parser.log_format": LOG_FORMAT, "window.session_pattern": r"Pid=(\S+)"}, tuple(ANOMALOUS),
    )


if __name__ == "__main__":
    raise SystemExit(main())
