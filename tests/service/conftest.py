from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from logbert.service.app import create_app
from logbert.service.settings import Settings
from logbert.streaming import StreamLimits

from ..streaming.fakes import FakeDetector

ClientFactory = Callable[..., AbstractContextManager[TestClient]]


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Test settings; an override named like a ``StreamLimits`` field goes into ``Settings.limits``."""
    limits: dict[str, Any] = {"flush_interval_s": 0.0}
    limits.update({k: overrides.pop(k) for k in list(overrides) if k in StreamLimits.model_fields})
    base: dict[str, Any] = {"alerts_db": tmp_path / "alerts.sqlite3", "limits": StreamLimits(**limits)}
    base.update(overrides)
    return Settings(**base)


@pytest.fixture
def client_factory(tmp_path: Path) -> ClientFactory:
    """``with client_factory(detector=..., **settings) as client:`` — the fake detector given to create_app."""

    @contextmanager
    def factory(detector: FakeDetector | None = None, **overrides: Any) -> Iterator[TestClient]:
        app = create_app(make_settings(tmp_path, **overrides), detector=detector or FakeDetector())
        with TestClient(app) as client:
            yield client

    return factory


@pytest.fixture
def client(client_factory: ClientFactory) -> Iterator[TestClient]:
    with client_factory() as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def live_server(settings: Settings, detector: FakeDetector) -> Iterator[str]:
    """A real uvicorn on a loopback port, in a thread; stopped gracefully on exit."""
    app = create_app(settings, detector=detector)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
