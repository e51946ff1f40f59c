"""``logbert worker`` (a queue-fed scoring replica) and ``logbert ship`` (the queue's producer).

Wired into the main CLI with ``register(app)``. See docs/scaling.md.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import typer

from logbert.cli._common import err_console
from logbert.cli.serve import check_limit
from logbert.errors import LogBertError
from logbert.streaming import StreamLimits

if TYPE_CHECKING:
    from logbert.config import ParserConfig
    from logbert.queue.companion import QueueConsumer
    from logbert.service.settings import Settings

_NATS_HELP = "NATS server URL, e.g. nats://nats:4222"


def _artifact_tag(artifact: Path) -> str | None:
    meta = artifact / "meta.json"
    return hashlib.sha256(meta.read_bytes()).hexdigest() if meta.is_file() else None


def queue_consumer(
    settings: Settings, source: str, replica_id: str | None, group: str, partitions: int | None
) -> QueueConsumer:
    """``serve --source``: a replica of ``group`` inside the service, on its own copy of the artifact
    (the service's engine uses the other: a scorer serves one engine's parse and score calls)."""
    from logbert import api
    from logbert.queue.companion import QueueConsumer
    from logbert.queue.replica import ReplicaOptions

    assert settings.artifact is not None and isinstance(settings.alerts_db, str)
    scorer = api.load_detector(settings.artifact, need_parser=True)
    scorer.use_threshold(settings.threshold, settings.target_fpr)
    options = ReplicaOptions(
        nats_url=source,
        replica_id=replica_id or f"{socket.gethostname()}-{os.getpid()}",
        group=group,
        partitions=partitions,
        idle_timeout_s=settings.limits.idle_timeout_s,
    )
    return QueueConsumer(scorer, settings.alerts_db, options, settings.limits, _artifact_tag(settings.artifact))


def worker(
    artifact: Path = typer.Argument(..., help="trained artifact directory"),
    source: str = typer.Option(..., "--source", envvar="LOGBERT_SOURCE", help=_NATS_HELP),
    alerts_db: str = typer.Option(
        ..., "--alerts-db", envvar="LOGBERT_ALERTS_DB", help="postgresql:// URL: alerts and partition checkpoints"
    ),
    replica_id: str | None = typer.Option(
        None, "--replica-id", envvar="LOGBERT_REPLICA_ID", help="this replica's name (default: host-pid)"
    ),
    group: str = typer.Option("logbert", help="consumer group: replicas with the same group share the partitions"),
    stream: str = typer.Option("LOGBERT", help="JetStream stream"),
    subject_prefix: str = typer.Option("logbert.lines", help="partition p is the subject <prefix>.<p>"),
    partitions: int | None = typer.Option(None, min=1, help="create the stream with this many partitions if missing"),
    lease_ttl: float = typer.Option(10.0, min=1.0, help="seconds before a dead replica's partitions move"),
    checkpoint_interval: float = typer.Option(2.0, min=0.01, help="seconds between commits of a busy partition"),
    fetch_batch: int = typer.Option(32, min=1, help="messages fetched (and applied) at a time per partition"),
    idle_timeout: float = typer.Option(
        300.0,
        callback=lambda v: check_limit("idle_timeout_s", v),
        help="seconds without a line before a session is closed and scored",
    ),
    max_open_sessions: int = typer.Option(
        10_000,
        callback=lambda v: check_limit("max_open_sessions", v),
        help="open sessions per partition before the least recent is scored",
    ),
    metrics_port: int | None = typer.Option(None, help="serve Prometheus /metrics on this port"),
    threshold: float | None = typer.Option(None, "--threshold", help="decide with this instead of the stored one"),
    torch_threads: int | None = typer.Option(None, help="torch threads for scoring (default: torch's)"),
) -> None:
    """Score lines from the queue as one replica of a consumer group; alerts go to PostgreSQL."""
    from logbert import api
    from logbert.queue.checkpoints import CheckpointStore
    from logbert.queue.metrics import ReplicaMetrics
    from logbert.queue.replica import Replica, ReplicaOptions
    from logbert.service.alerts_pg import PostgresAlertStore

    logging.getLogger("logbert").setLevel(logging.INFO)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    rid = replica_id or f"{socket.gethostname()}-{os.getpid()}"
    try:
        if torch_threads is not None:
            import torch

            torch.set_num_threads(torch_threads)
        detector = api.load_detector(artifact, need_parser=True)
        detector.use_threshold(threshold, None)
        tag = _artifact_tag(artifact)
        store = PostgresAlertStore(alerts_db, artifact_id=tag)
        checkpoints = CheckpointStore(alerts_db, stream, group)
        limits = StreamLimits(max_open_sessions=max_open_sessions, idle_timeout_s=idle_timeout)
        options = ReplicaOptions(
            nats_url=source,
            replica_id=rid,
            stream=stream,
            subject_prefix=subject_prefix,
            group=group,
            partitions=partitions,
            lease_ttl_s=lease_ttl,
            checkpoint_interval_s=checkpoint_interval,
            fetch_batch=fetch_batch,
            idle_timeout_s=idle_timeout,
        )
        metrics = ReplicaMetrics(rid)
        if metrics_port is not None:
            from prometheus_client import start_http_server

            start_http_server(metrics_port, registry=metrics.registry)
        replica = Replica(detector, store, checkpoints, limits, options, artifact_tag=tag, metrics=metrics)
        typer.echo(f"worker {rid}: scoring {source} stream {stream} (group {group}) into {store.path}", err=True)
        import asyncio  # here, not at the top: `logbert --help` stays fast

        asyncio.run(_run_until_signal(replica))
    except LogBertError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    store.close()
    checkpoints.close()
    typer.echo(f"worker {rid}: stopped; partitions handed over", err=True)


async def _run_until_signal(replica: object) -> None:
    import asyncio

    from logbert.queue.replica import Replica

    assert isinstance(replica, Replica)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await replica.run(stop)


def _read_lines(f: BinaryIO) -> Iterator[bytes]:
    for raw in f:
        yield raw[:-1] if raw.endswith(b"\n") else raw


def ship(
    file: str = typer.Argument(..., help="log file to ship, or - for stdin"),
    source: str = typer.Option(..., "--source", envvar="LOGBERT_SOURCE", help=_NATS_HELP),
    artifact: Path | None = typer.Option(None, "--artifact", "-a", help="artifact whose session rule partitions"),
    session_pattern: str | None = typer.Option(None, help="session-id regex (instead of --artifact)"),
    stream: str = typer.Option("LOGBERT", help="JetStream stream"),
    subject_prefix: str = typer.Option("logbert.lines", help="partition p is the subject <prefix>.<p>"),
    partitions: int | None = typer.Option(None, min=1, help="create the stream with this many partitions if missing"),
    name: str | None = typer.Option(None, "--name", help="source name of these lines (default: the file name)"),
    batch_lines: int = typer.Option(500, min=1, help="lines per message, at most"),
    end: bool = typer.Option(False, "--end", help="after the last line, close every open session (end of a replay)"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="show a progress bar on stderr"),
) -> None:
    """Put FILE's raw lines on the queue, partitioned by session id (lines of one session stay in order)."""
    import re

    from rich.progress import BarColumn, Progress, TextColumn, TransferSpeedColumn

    from logbert.queue import artifact_attaches_continuations, artifact_parser, artifact_window_pattern
    from logbert.queue.ship import ShipOptions
    from logbert.queue.ship import ship as ship_lines

    if (artifact is None) == (session_pattern is None):
        typer.echo("error: give --artifact or --session-pattern (one of them)", err=True)
        raise typer.Exit(code=1)
    try:
        pattern = re.compile(session_pattern) if session_pattern is not None else None
        follow_previous = False
        parser: ParserConfig | None = None
        if artifact is not None:
            pattern = artifact_window_pattern(artifact)
            follow_previous = artifact_attaches_continuations(artifact)
            parser = artifact_parser(artifact)
        total = None if file == "-" else Path(file).stat().st_size
        f: BinaryIO = sys.stdin.buffer if file == "-" else open(file, "rb")  # noqa: SIM115 - closed below
    except (LogBertError, OSError, re.error) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    options = ShipOptions(
        nats_url=source,
        stream=stream,
        subject_prefix=subject_prefix,
        partitions=partitions,
        source=name or ("stdin" if file == "-" else Path(file).name),
        batch_lines=batch_lines,
        end_sessions=end,
        follow_previous=follow_previous,
        envelope=parser.envelope if parser is not None else "none",
        parser=parser,
    )
    bar = Progress(
        TextColumn("ship"), BarColumn(), TextColumn("{task.fields[lines]:,} lines"), TransferSpeedColumn(),
        console=err_console, disable=not progress, transient=False,
    )  # fmt: skip
    task = bar.add_task("ship", total=total, lines=0)
    import asyncio

    try:
        with bar, f:
            report = asyncio.run(
                ship_lines(_read_lines(f), options, pattern, lambda n, b: bar.update(task, completed=b, lines=n))
            )
    except LogBertError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    rate = report.lines / report.seconds if report.seconds > 0 else 0.0
    typer.echo(
        f"ship: {report.lines} lines read, {report.shipped} put on {report.partitions} partitions in "
        f"{report.messages} messages ({report.seconds:.1f} s, {rate:,.0f} lines/s); without session id "
        f"{report.without_session}, on several partitions {report.multi_partition}, empty {report.empty}, "
        f"not UTF-8 {report.not_utf8}, cut {report.truncated}" + ("; sessions closed at the end" if end else ""),
        err=True,
    )


def register(app: typer.Typer) -> None:
    """Add ``worker`` and ``ship`` to the main ``logbert`` app."""
    app.command("worker")(worker)
    app.command("ship")(ship)
