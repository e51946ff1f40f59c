"""Fault drills: a real ``logbert serve`` process on a real (tiny) artifact, killed, locked and
starved, then compared with an uninterrupted run of the same requests.

Every drill asserts the promise of docs/reliability.md: no line answered 200 is lost, no alert
is lost, and the detections equal those of a run without the fault.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import torch

from logbert import api
from logbert.datasets.simulator import write_simulated

from ..conftest import tiny_nova_config
from ..service.conftest import free_port


@dataclass(frozen=True)
class Drill:
    artifact: Path
    requests: list[list[str]]  # the simulated log, cut into requests in file order


@pytest.fixture(scope="package")
def drill(tmp_path_factory: pytest.TempPathFactory) -> Drill:
    """A tiny LogBERT trained on simulated nova logs (seconds on CPU) and a log to send it."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("drill")
    files = write_simulated(root / "data", n_instances=80, anomaly_ratio=0.25, seed=11)
    config = tiny_nova_config(max_len=16)
    api.train(files.log, root / "artifact", config, labels=files.labels, progress=False)
    lines = files.log.read_text(encoding="utf-8").splitlines()
    requests = [lines[i : i + 40] for i in range(0, len(lines), 40)]
    return Drill(root / "artifact", requests)


@pytest.fixture(scope="package")
def signal_drill(tmp_path_factory: pytest.TempPathFactory) -> Drill:
    """The same for a time- and value-aware artifact (``model.signals=all``), on a log with timing and value
    faults: its sessions are held until they end, so a kill catches whole sessions in the buffers."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("signal-drill")
    files = write_simulated(root / "data", n_instances=80, anomaly_ratio=0.25, seed=11, time_value_faults=True)
    config = tiny_nova_config(max_len=16).with_overrides({"model.signals": "all"})
    api.train(files.log, root / "artifact", config, labels=files.labels, progress=False)
    lines = files.log.read_text(encoding="utf-8").splitlines()
    return Drill(root / "artifact", [lines[i : i + 40] for i in range(0, len(lines), 40)])


class Service:
    """One ``logbert serve`` process; ``kill()`` is ``kill -9``, ``stop()`` is SIGTERM."""

    def __init__(self, artifact: Path, db: Path, env: dict[str, str] | None = None) -> None:
        exe = Path(sys.executable).with_name("logbert")
        if not exe.exists():
            pytest.skip("the logbert console script is not installed next to this Python")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        full_env = {
            **os.environ,
            "LOGBERT_LIMITS__IDLE_TIMEOUT_S": "3600",  # no idle closes: the runs must not depend on timing
            **(env or {}),
        }
        self.log = db.with_suffix(f".{self.port}.log")
        self._log_file = open(self.log, "wb")  # noqa: SIM115 - closed in wait()
        self.proc = subprocess.Popen(
            [str(exe), "serve", str(artifact), "--port", str(self.port), "--alerts-db", str(db)],
            env=full_env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        self.http = httpx.Client(base_url=self.base, timeout=60)
        deadline = time.monotonic() + 90
        while True:  # start-up: import, load the artifact, recover from the journal
            try:
                if self.http.get("/health/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"logbert serve did not become ready:\n{self.output()}")
            time.sleep(0.1)

    def output(self) -> str:
        if not self._log_file.closed:
            self._log_file.flush()
        return self.log.read_text(encoding="utf-8", errors="replace")

    def send(self, request: list[str]) -> None:
        r = self.http.post("/v1/ingest", json={"lines": request})
        assert r.status_code == 200, r.text

    def close_all(self) -> dict[str, object]:
        r = self.http.post("/v1/sessions/close-all")
        assert r.status_code == 200, r.text
        result: dict[str, object] = r.json()
        return result

    def alerts(self) -> list[tuple[object, ...]]:
        """Every stored alert as (session, window, first line, last line, misses): the detections."""
        out, offset = [], 0
        while True:
            page = self.http.get("/v1/alerts", params={"limit": 500, "offset": offset}).json()
            out += [
                (a["session_id"], a["window_index"], a["first_line_no"], a["last_line_no"], a["n_misses"])
                for a in page["alerts"]
            ]
            offset += len(page["alerts"])
            if not page["alerts"]:
                return sorted(out)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.wait()

    def stop(self, timeout: float = 60) -> str:
        """SIGTERM, then the graceful shutdown's log (uvicorn re-raises the signal once it is done)."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.wait(timeout)
        assert code in (0, -signal.SIGTERM), self.output()
        out = self.output()
        assert "shutdown:" in out, out  # what shutdown did is in the default log
        return out

    def wait(self, timeout: float = 60) -> int:
        code = self.proc.wait(timeout)
        self.http.close()
        self._log_file.close()
        return code


@pytest.fixture
def service_factory() -> Iterator[type[Service]]:
    started: list[Service] = []

    class Tracked(Service):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            started.append(self)

    yield Tracked
    for s in started:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait(10)


@pytest.fixture(scope="package")
def calm_alerts(drill: Drill, tmp_path_factory: pytest.TempPathFactory) -> list[tuple[object, ...]]:
    """The detections of an uninterrupted run: every request, then close-all."""
    db = tmp_path_factory.mktemp("calm") / "alerts.sqlite3"
    service = Service(drill.artifact, db)
    try:
        for request in drill.requests:
            service.send(request)
        assert service.close_all()["drained"] is True
        alerts = service.alerts()
    finally:
        service.stop()
    assert alerts, "the drill log must give alerts, or the comparisons prove nothing"
    return alerts
