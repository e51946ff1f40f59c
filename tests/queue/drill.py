"""The failover drill, shared by the simulator and the HDFS variants (and the benchmark's checks).

Three ``logbert worker`` processes share a stream's partitions; ``logbert ship`` puts a log on
the queue (``--end``: close every session after the last line); one replica is killed with SIGKILL
while it still has partitions to work; the others take its partitions over from its last commit.
Then every stored alert is read back from PostgreSQL.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx

from logbert.queue.broker import connect, last_sequences
from logbert.queue.checkpoints import CheckpointStore

from ..service.conftest import free_port
from .conftest import Worker, ship_cli, ship_cli_background, unique


@dataclass
class DrillRun:
    alerts: list[tuple[str, int, int, float, int]]  # (session, window, stream_offset, score, n_misses)
    killed: str | None
    positions_at_kill: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    last_seqs: dict[int, int] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    ship_output: str = ""
    metrics: dict[str, str] = field(default_factory=dict)  # /metrics of each replica alive at the end


def _owners(pg_url: str) -> dict[int, str]:
    import psycopg

    with psycopg.connect(pg_url) as conn:
        return {int(p): str(o) for p, o in conn.execute("SELECT partition, owner FROM queue_checkpoints")}


def _alerts(pg_url: str) -> list[tuple[str, int, int, float, int]]:
    import psycopg

    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            "SELECT session_id, window_index, stream_offset, anomaly_score, n_misses FROM alerts ORDER BY 1, 2, 3"
        ).fetchall()
    return [(str(s), int(w), int(o), float(a), int(m)) for s, w, o, a, m in rows]


def wait_until(what: str, check: object, timeout: float, workers: list[Worker]) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {w.replica_id}\n{w.output()[-3000:]}" for w in workers)
            raise AssertionError(f"timed out waiting for {what}\n{logs}")
        time.sleep(0.1)


def run_drill(
    artifact: Path,
    log: Path,
    nats_url: str,
    pg_url: str,
    workers: list[Worker],
    log_dir: Path,
    *,
    n_replicas: int = 3,
    partitions: int = 6,
    kill: bool = True,
    timeout: float = 240,
    fault: str | None = None,
    kill_at: Literal["between", "during", "store-locked", "sigterm"] = "during",
) -> DrillRun:
    stream, prefix, group = unique("S"), unique("t") + ".lines", unique("g")
    names = ["--stream", stream, "--subject-prefix", prefix]
    t0 = time.monotonic()
    store = CheckpointStore(pg_url, stream, group)  # creates the table the waits below read: the group's rows
    ports: list[int] = []
    for i in range(n_replicas):
        port = free_port()
        ports.append(port)
        extra = [*names, "--group", group, "--partitions", str(partitions), "--metrics-port", str(port)]
        extra += ["--fetch-batch", "4"]
        env = None if fault is None else {"LOGBERT_QUEUE_FAULT": fault}
        workers.append(Worker(artifact, nats_url, pg_url, f"r{i + 1}", log_dir, *extra, env=env))
    wait_until(
        f"{n_replicas} replicas owning all {partitions} partitions",
        lambda: len(o := _owners(pg_url)) == partitions and len(set(o.values())) == n_replicas,
        120,
        workers,
    )
    # two halves: the kill comes after the first is committed (open sessions in the state) and while
    # the second is being worked (applied but not yet committed: replayed by the next owner)
    raw = log.read_bytes().splitlines(keepends=True)
    half = len(raw) // 2 if kill else len(raw)
    parts = [log_dir / "part1.log", log_dir / "part2.log"]
    parts[0].write_bytes(b"".join(raw[:half]))
    parts[1].write_bytes(b"".join(raw[half:]))
    ship_args = ["--artifact", str(artifact), *names, "--name", "drill"]

    async def lasts() -> dict[int, int]:
        nc = await connect(nats_url)
        try:
            return await last_sequences(nc.jetstream(), stream, prefix, partitions)
        finally:
            await nc.close()

    run = DrillRun([], None)
    if kill:
        shipped = ship_cli(parts[0], nats_url, ship_args)
        assert shipped.returncode == 0, shipped.stderr
        first = asyncio.run(lasts())
        victim = workers[0]
        mine = [p for p, o in _owners(pg_url).items() if o == victim.replica_id]
        assert mine

        def first_half_committed() -> bool:
            pos = store.positions()
            return all(first[p] == 0 or pos[p][0] > first[p] for p in mine)

        wait_until("the victim to commit the first half", first_half_committed, timeout, workers)
        run.positions_at_kill = store.positions()
        assert sum(run.positions_at_kill[p][2] for p in mine) > 0, "the kill must catch open sessions"
        if kill_at == "store-locked":
            # the alert store is locked (another transaction holds the table) while the victim works the
            # second half and its close-all: a replica that commits only once its alerts are stored cannot
            # commit past them, so this mode is for the self-test of a replica that does not wait
            import psycopg

            locker = psycopg.connect(pg_url)
            locker.execute("LOCK TABLE alerts IN EXCLUSIVE MODE")  # inserts wait; reads go on
            try:
                shipped = ship_cli(parts[1], nats_url, ship_args, "--end")
                end = asyncio.run(lasts())

                def past_end() -> bool:
                    pos = store.positions()
                    return any(pos[p][0] > end[p] for p in mine)

                wait_until("the victim to commit its close-all", past_end, timeout, workers)
                victim.kill()
            finally:
                locker.rollback()
                locker.close()
        elif kill_at == "between":  # a committed state with open sessions; the next owner gets the rest
            victim.kill()
            shipped = ship_cli(parts[1], nats_url, ship_args, "--end")
        elif kill_at == "sigterm":  # a replica leaves: it commits and hands its partitions over at once
            shipper = ship_cli_background(parts[1], nats_url, ship_args, "--end", "--batch-lines", "20")
            assert victim.stop() == 0, victim.output()
            assert "released partition" in victim.output() and "(shutting down)" in victim.output()
            out, err = shipper.communicate(timeout=300)
            shipped = subprocess.CompletedProcess(shipper.args, shipper.returncode, out, err)
        else:  # while the victim works the second half: applied but uncommitted events are replayed
            # small messages, fetched a few at a time (--fetch-batch 4): the victim commits many times
            # along the second half, and the kill lands between two commits
            shipper = ship_cli_background(parts[1], nats_url, ship_args, "--end", "--batch-lines", "20")

            def into_second_half() -> bool:
                pos = store.positions()
                return any(pos[p][0] > first[p] for p in mine)

            wait_until("the victim to start on the second half", into_second_half, timeout, workers)
            victim.kill()
            at_kill = store.positions()
            out, err = shipper.communicate(timeout=300)
            shipped = subprocess.CompletedProcess(shipper.args, shipper.returncode, out, err)
            end = asyncio.run(lasts())
            assert any(at_kill[p][0] <= end[p] for p in mine), "the victim had finished: the kill proves nothing"
        assert shipped.returncode == 0, shipped.stderr
        run.killed = victim.replica_id
    else:
        shipped = ship_cli(parts[0], nats_url, ship_args, "--end")
        assert shipped.returncode == 0, shipped.stderr
    run.ship_output = shipped.stderr
    last = run.last_seqs = asyncio.run(lasts())

    def done() -> bool:
        pos = store.positions()
        return all(
            last[p] == 0 or (p in pos and pos[p][0] > last[p] and pos[p][1] == 0 and pos[p][2] == 0)
            for p in range(partitions)
        )

    wait_until("every partition committed to its end", done, timeout, workers)
    run.seconds = time.monotonic() - t0
    run.alerts = _alerts(pg_url)
    store.close()
    alive = [w for w in workers if w.proc.poll() is None]
    for w, port in zip(workers, ports, strict=True):
        if w.proc.poll() is None:
            run.metrics[w.replica_id] = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    for w in alive:  # all at once: no hand-overs between replicas that are all leaving
        w.proc.send_signal(signal.SIGTERM)
    for w in alive:
        assert w.wait() == 0, w.output()
    run.outputs = {w.replica_id: w.output() for w in workers}
    return run
