"""``logbert serve --source``: the HTTP service is also one replica of the consumer group.

Lines shipped to the queue are scored by the replica inside ``serve`` and stored in the shared
PostgreSQL store, where the service's own API and ``/metrics`` show them: the same sessions as
offline scoring. Without a PostgreSQL store, ``--source`` is refused with a message.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from ..service.conftest import free_port
from .conftest import NatsServer, logbert_exe, ship_cli
from .drill import _alerts, wait_until
from .test_drill import Case, simulated  # noqa: F401 - the module's trained artifact, a fixture


def test_serve_with_a_source_consumes_the_queue_and_shows_the_alerts(
    simulated: Case,  # noqa: F811 - the fixture imported above
    nats_server: NatsServer,
    pg_url: str,
    tmp_path: Path,
) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    cmd = [
        str(logbert_exe()), "serve", str(simulated.artifact), "--port", str(port), "--alerts-db", pg_url,
        "--source", nats_server.url, "--replica-id", "svc", "--no-journal", "--idle-timeout", "3600",
        "--partitions", "3",
    ]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, log.read_text()
            time.sleep(0.3)
        else:
            pytest.fail(f"serve did not get ready: {log.read_text()}")
        shipped = ship_cli(simulated.log, nats_server.url, ["--artifact", str(simulated.artifact)], "--end")
        assert shipped.returncode == 0, shipped.stderr

        def every_alert_stored() -> bool:
            return {s for s, _, _, _, _ in _alerts(pg_url)} >= simulated.flagged

        wait_until("the service's replica to store every alert", every_alert_stored, 180, [])
        time.sleep(1.0)  # nothing more may come: the flagged sessions must be exactly offline's
        assert {s for s, _, _, _, _ in _alerts(pg_url)} == simulated.flagged
        api_alerts = httpx.get(f"{base}/v1/alerts", params={"limit": 1000}, timeout=10).json()
        assert {a["session_id"] for a in api_alerts["alerts"]} == simulated.flagged  # the service's API sees them
        metrics = httpx.get(f"{base}/metrics", timeout=10).text
        assert 'logbert_queue_partitions_owned{replica="svc"}' in metrics and "logbert_http_request_seconds" in metrics
    finally:
        proc.terminate()
        code = proc.wait(60)
    said = log.read_text()
    assert code in (0, -signal.SIGTERM), said  # uvicorn ends by re-raising the signal it handled
    assert "released partition 0 (shutting down)" in said  # SIGTERM: the partitions are handed over
    assert "service stopped (all windows scored: True)" in said


def test_serve_with_a_source_needs_a_postgresql_store(simulated: Case, tmp_path: Path) -> None:  # noqa: F811
    cmd = [
        str(logbert_exe()), "serve", str(simulated.artifact), "--alerts-db", str(tmp_path / "a.sqlite3"),
        "--source", "nats://127.0.0.1:4222",
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "--source needs a postgresql:// --alerts-db" in done.stderr
