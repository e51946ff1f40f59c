"""The service, ``logbert tail`` and ``logbert serve`` on a REAL trained artifact.

A module-scoped fixture trains a tiny LogBERT on simulated nova logs (a few seconds on CPU, no
download) with ``window.max_len = 16`` so that most sessions are cut into several windows. The
streaming paths must then agree with offline scoring (``api.score``) session for session.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import torch
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from logbert import api
from logbert.cli import app as cli_app
from logbert.datasets.simulator import write_simulated
from logbert.errors import UnknownArtifact
from logbert.records import UNK_KEY
from logbert.service.app import create_app

from ..conftest import tiny_nova_config
from .conftest import free_port, make_settings

REPO = Path(__file__).resolve().parents[2]
MAX_LEN = 16  # short windows: sessions of ~25 keys become 2 windows, cut as lines arrive


@dataclass(frozen=True)
class Real:
    artifact: Path
    log: Path
    lines: list[str]
    detector: api.Detector
    offline: dict[str, api.SessionResult]  # api.score on the whole log
    by_session: dict[str, list[str]]  # raw lines of each session, in file order


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Real:
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("real")
    files = write_simulated(root / "data", n_instances=60, anomaly_ratio=0.25, seed=5)
    config = tiny_nova_config(max_len=MAX_LEN)
    api.train(files.log, root / "artifact", config, labels=files.labels, progress=False)
    detector = api.load_detector(root / "artifact")
    lines = files.log.read_text(encoding="utf-8").splitlines()
    parsed, _ = detector.parse_lines(lines)
    by_session: dict[str, list[str]] = {}
    for p in parsed:
        if isinstance(p, str):
            continue
        for sid in p.session_ids:
            by_session.setdefault(sid, []).append(p.raw)
    offline = {r.session_id: r for r in api.score(detector, files.log)}
    assert any(r.is_anomaly for r in offline.values()) and not all(r.is_anomaly for r in offline.values())
    return Real(root / "artifact", files.log, lines, detector, offline, by_session)


def _ingest_text(client: TestClient, lines: list[str], chunk: int = 700) -> None:
    for i in range(0, len(lines), chunk):
        body = "\n".join(lines[i : i + chunk]) + "\n"
        r = client.post("/v1/ingest/text", content=body, headers={"content-type": "text/plain"})
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["rejected"] == 0 and out["accepted"] + out["unrouted"] == out["received"]


def _all_alerts(client: TestClient) -> list[dict[str, Any]]:
    r = client.get("/v1/alerts", params={"limit": 1000})
    assert r.status_code == 200
    body: dict[str, Any] = r.json()
    assert body["total"] == len(body["alerts"])
    alerts: list[dict[str, Any]] = body["alerts"]
    return alerts


def _window_scores(client: TestClient) -> dict[tuple[str, int], float]:
    points = client.get("/v1/scores", params={"limit": 10_000}).json()["points"]
    return {(p["session_id"], p["window_index"]): p["anomaly_score"] for p in points}


@dataclass(frozen=True)
class Replay:
    db: Path
    sessions: dict[str, dict[str, Any]]
    alerts: list[dict[str, Any]]
    windows: dict[tuple[str, int], float]
    stats: dict[str, float]


@pytest.fixture(scope="module")
def replay(real: Real, tmp_path_factory: pytest.TempPathFactory) -> Replay:
    """The whole log through the HTTP API (artifact loaded by the lifespan), then close-all."""
    tmp = tmp_path_factory.mktemp("replay")
    settings = make_settings(tmp, artifact=real.artifact, max_open_sessions=10_000)
    with TestClient(create_app(settings)) as client:
        assert client.get("/health/ready").status_code == 200
        info = client.get("/v1/info").json()
        assert info["window_mode"] == "session" and info["max_window_len"] == MAX_LEN
        _ingest_text(client, real.lines)
        assert client.post("/v1/sessions/close-all").json()["drained"] is True
        sessions = {s["session_id"]: s for s in client.get("/v1/sessions", params={"limit": 1000}).json()["sessions"]}
        alerts = _all_alerts(client)
        windows = _window_scores(client)
        stats = client.get("/v1/stats").json()["values"]
    return Replay(settings.alerts_db, sessions, alerts, windows, stats)


def test_service_scores_every_session_like_offline_scoring(real: Real, replay: Replay) -> None:
    assert set(replay.sessions) == set(real.offline)
    for sid, off in real.offline.items():
        s = replay.sessions[sid]
        assert s["state"] == "closed" and s["n_pending_keys"] == 0
        assert s["max_score"] == pytest.approx(off.score, abs=1e-9), sid
        assert s["is_anomaly"] == off.is_anomaly, sid
        assert s["n_lines"] == off.n_keys
        assert s["n_windows_scored"] == -(-(off.n_keys + 2) // MAX_LEN)  # start/end keys, cut at max_len, like offline
    flagged = {sid for sid, r in real.offline.items() if r.is_anomaly}
    assert {a["session_id"] for a in replay.alerts} == flagged
    # an alert's n_keys counts log lines, as offline: a session in one window has its offline n_keys
    whole = [a for a in replay.alerts if real.offline[a["session_id"]].n_keys + 2 <= MAX_LEN]
    assert whole and all(a["n_keys"] == real.offline[a["session_id"]].n_keys for a in whole)
    assert replay.stats["score_errors"] == 0 and replay.stats["lines_received"] == len(real.lines)


def test_alerts_carry_explanations_with_the_raw_lines(real: Real, replay: Replay) -> None:
    top_g = real.detector.config.scoring.top_g
    assert replay.alerts
    for a in replay.alerts:
        assert a["anomaly_score"] > a["threshold"] == pytest.approx(real.detector.threshold)
        assert a["n_misses"] == len(a["misses"]) > 0 and a["n_keys"] <= MAX_LEN
        for m in a["misses"]:
            assert 0 <= m["position"] < MAX_LEN  # a position among the window's keys, its start and end marks too
            assert a["first_line_no"] <= m["line_no"] <= a["last_line_no"]
            assert m["raw"] == real.lines[m["line_no"] - 1] and a["session_id"] in m["raw"]
            if m["key_id"] == UNK_KEY:
                assert m["template"] is None
            else:
                assert m["template"] == real.detector.template(m["key_id"])
            probs = [e["probability"] for e in m["expected"]]
            assert len(probs) == top_g and probs == sorted(probs, reverse=True)
            assert all(0 < p <= 1 for p in probs) and sum(probs) <= 1 + 1e-6
            assert all(isinstance(e["template"], str) and e["template"] for e in m["expected"])
            assert m["template"] not in {e["template"] for e in m["expected"]}  # a miss: not in the top-g


def test_restart_keeps_the_alerts(real: Real, replay: Replay) -> None:
    settings = make_settings(replay.db.parent, alerts_db=replay.db)
    with TestClient(create_app(settings, detector=real.detector)) as client:
        again = _all_alerts(client)
        assert [(a["id"], a["session_id"], a["misses"]) for a in again] == [
            (a["id"], a["session_id"], a["misses"]) for a in replay.alerts
        ]
        first = again[-1]
        assert client.get(f"/v1/alerts/{first['id']}").json() == first


def _pick_two(real: Real) -> tuple[str, str]:
    """An anomalous and a normal session, both long enough for two or more windows."""
    long = [sid for sid, r in real.offline.items() if r.n_keys > MAX_LEN]
    bad = next(sid for sid in long if real.offline[sid].is_anomaly)
    good = next(sid for sid in long if not real.offline[sid].is_anomaly)
    return bad, good


def test_interleaved_sessions_score_as_each_alone(real: Real, tmp_path: Path) -> None:
    bad, good = _pick_two(real)
    a, b = real.by_session[bad], real.by_session[good]
    mixed = [ln for pair in zip(a, b, strict=False) for ln in pair] + a[len(b) :] + b[len(a) :]

    def run(lines: list[str], name: str) -> tuple[dict[tuple[str, int], float], list[dict[str, Any]]]:
        settings = make_settings(tmp_path, alerts_db=tmp_path / f"{name}.sqlite3")
        with TestClient(create_app(settings, detector=real.detector)) as client:
            for i in range(0, len(lines), 5):  # small requests: windows fill across requests
                r = client.post("/v1/ingest", json={"lines": lines[i : i + 5]})
                assert r.status_code == 200 and r.json()["accepted"] == len(lines[i : i + 5])
            client.post("/v1/sessions/close-all")
            return _window_scores(client), _all_alerts(client)

    alone_a, alerts_a = run(a, "a")
    alone_b, alerts_b = run(b, "b")
    together, alerts_mixed = run(mixed, "mixed")
    assert together == {**alone_a, **alone_b}
    assert len(alone_a) >= 2 and len(alone_b) >= 2
    assert max(v for (sid, _), v in together.items() if sid == bad) == pytest.approx(real.offline[bad].score)
    assert max(v for (sid, _), v in together.items() if sid == good) == pytest.approx(real.offline[good].score)

    def key(alerts: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
        """Alerts without line numbers (those count lines of the whole stream, so mixing shifts them)."""
        return {
            (
                x["session_id"],
                x["window_index"],
                x["anomaly_score"],
                m["position"],
                m["key_id"],
                m["raw"],
                tuple((e["template"], round(e["probability"], 4)) for e in m["expected"]),
            )
            for x in alerts
            for m in x["misses"]
        }

    assert alerts_a and not alerts_b and key(alerts_mixed) == key(alerts_a)


def test_concurrent_ingest_with_the_real_parser_and_model(real: Real, tmp_path: Path) -> None:
    """Four threads ingest disjoint sessions while the worker scores: same scores as offline."""
    sids = sorted(real.by_session)
    groups = [[ln for sid in sids[k::4] for ln in real.by_session[sid]] for k in range(4)]
    settings = make_settings(tmp_path, flush_interval_s=0.01, batch_size=8)
    with TestClient(create_app(settings, detector=real.detector)) as client:
        errors: list[BaseException] = []

        def worker(lines: list[str]) -> None:
            try:
                for i in range(0, len(lines), 40):
                    r = client.post("/v1/ingest", json={"lines": lines[i : i + 40]})
                    assert r.status_code == 200, r.text
            except BaseException as exc:  # reported on the main thread
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(g,)) for g in groups]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors
        client.post("/v1/sessions/close-all")
        sessions = client.get("/v1/sessions", params={"limit": 1000}).json()["sessions"]
        assert client.get("/v1/stats").json()["values"]["score_errors"] == 0
    got = {s["session_id"]: s["max_score"] for s in sessions}
    # the service's micro-batches hold other rows than offline scoring's batches, and the matrix products round
    # by batch shape in the last float32 digits (5.7e-7 on a score of 7.78 here); the decision rule's tie band
    # (results.tie_band, 1e-5 relative) is wider, so no decision can turn on it
    assert got == pytest.approx({sid: r.score for sid, r in real.offline.items()}, rel=1e-6, abs=1e-9)


def test_tail_prints_the_same_alerts_as_the_service(real: Real, replay: Replay) -> None:
    runner = CliRunner()
    result = runner.invoke(cli_app, ["tail", str(real.log), "--artifact", str(real.artifact), "--no-follow", "--json"])
    assert result.exit_code == 0, result.output
    printed = [json.loads(ln) for ln in result.stdout.splitlines() if ln.strip()]
    assert {(p["session_id"], p["window_index"], p["anomaly_score"]) for p in printed} == {
        (a["session_id"], a["window_index"], a["anomaly_score"]) for a in replay.alerts
    }
    assert f"alerts={len(replay.alerts)}" in result.stderr
    text = runner.invoke(cli_app, ["tail", str(real.log), "-a", str(real.artifact), "--no-follow"])
    assert text.exit_code == 0, text.output
    first = replay.alerts[-1]  # the oldest alert
    assert f"ALERT session={first['session_id']} window={first['window_index']}" in text.stdout
    assert "expected: " in text.stdout and "raw: " in text.stdout


def test_tail_stopped_by_sigterm_scores_what_it_read_and_says_so(real: Real, replay: Replay) -> None:
    """SIGTERM (systemctl stop, docker stop, Kubernetes) ends a following tail as Ctrl-C does: the open sessions,
    partial windows included, are scored, the counts printed, exit 0. It killed tail (rc -15): no summary, and the
    alerts of every session still open were never raised."""
    exe = Path(sys.executable).with_name("logbert")
    if not exe.exists():
        pytest.skip("the logbert console script is not installed next to this Python")
    proc = subprocess.Popen(
        [str(exe), "tail", str(real.artifact), str(real.log), "--json", "--device", "cpu"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        banner = proc.stderr.readline()  # printed once the artifact is loaded, just before the file is read
        assert banner.startswith("tail: scoring"), banner
        time.sleep(1.0)  # a few hundred lines: read long before this (the idle timeout, 300 s, closes nothing)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, (proc.returncode, err)
    summary = err.strip().splitlines()[-1]
    assert summary.startswith(f"tail: lines={len(real.lines)} ") and f"alerts={len(replay.alerts)}" in summary, err
    printed = [json.loads(ln) for ln in out.splitlines() if ln.strip()]
    assert {(p["session_id"], p["window_index"]) for p in printed} == {
        (a["session_id"], a["window_index"]) for a in replay.alerts
    }


def _dockerfile_argv(artifact: Path, port: int) -> list[str]:
    """ENTRYPOINT + CMD of the Dockerfile, on this artifact and a loopback port."""
    lines = (REPO / "Dockerfile").read_text().splitlines()
    entry = json.loads(next(ln for ln in lines if ln.startswith("ENTRYPOINT")).split(None, 1)[1])
    cmd = json.loads(next(ln for ln in lines if ln.startswith("CMD")).split(None, 1)[1])
    swap = {"/artifact": str(artifact), "0.0.0.0": "127.0.0.1", "8000": str(port)}
    return [swap.get(a, a) for a in entry + cmd]


@dataclass
class Served:
    base: str
    db: Path
    start: Any  # () -> Popen: one more `logbert serve` with the Dockerfile's argv and environment
    procs: list[subprocess.Popen[bytes]]


@pytest.fixture
def served(real: Real, tmp_path: Path) -> Iterator[Served]:
    exe = Path(sys.executable).with_name("logbert")
    if not exe.exists():
        pytest.skip("the logbert console script is not installed next to this Python")
    port = free_port()
    argv = _dockerfile_argv(real.artifact, port)
    assert argv[:2] == ["logbert", "serve"]
    db = tmp_path / "data" / "alerts.sqlite3"
    env = dict(os.environ, LOGBERT_ALERTS_DB=str(db))  # as the Dockerfile's ENV
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([str(exe), *argv[1:]], env=env, cwd=tmp_path)
        procs.append(proc)
        return proc

    try:
        yield Served(f"http://127.0.0.1:{port}", db, start, procs)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


def _ready(http: httpx.Client, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:  # start-up: import, load the artifact, recover from the journal
        try:
            if http.get("/health/ready").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert proc.poll() is None, "logbert serve exited during start-up"
        assert time.monotonic() < deadline, "logbert serve did not become ready"
        time.sleep(0.2)


def test_logbert_serve_from_the_dockerfile_entrypoint(real: Real, served: Served) -> None:
    bad, good = _pick_two(real)
    proc = served.start()
    with httpx.Client(base_url=served.base, timeout=30) as http:
        _ready(http, proc)
        lines = real.by_session[bad] + real.by_session[good]
        r = http.post("/v1/ingest/text", content="\n".join(lines) + "\n")
        assert r.status_code == 200 and r.json()["accepted"] == len(lines)
        metrics = http.get("/metrics").text
        assert f"logbert_lines_received_total {float(len(lines))}" in metrics
        assert "logbert_sessions_open 2.0" in metrics and "logbert_http_request_seconds_bucket" in metrics
    # SIGTERM (what `docker stop` sends): the open sessions stay in the journal on the data volume ...
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once shut down
    # ... and the next container goes on with them
    proc = served.start()
    with httpx.Client(base_url=served.base, timeout=30) as http:
        _ready(http, proc)
        assert "logbert_sessions_open 2.0" in http.get("/metrics").text
        assert http.post("/v1/sessions/close-all").json()["drained"] is True
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) in (0, -signal.SIGTERM)
    with sqlite3.connect(served.db) as conn:
        stored = {row[0] for row in conn.execute("SELECT DISTINCT session_id FROM alerts")}
    assert stored == {bad}


def test_an_artifact_without_a_parser_is_refused_at_start_up(real: Real, tmp_path: Path) -> None:
    keys_only = real.detector.model.save(tmp_path / "keys_only")  # as trained on key-sequence files: no parser
    settings = make_settings(tmp_path, artifact=keys_only)
    with pytest.raises(UnknownArtifact, match="no log parser"), TestClient(create_app(settings)):
        pass
    result = CliRunner().invoke(cli_app, ["tail", str(real.log), "-a", str(keys_only), "--no-follow"])
    assert result.exit_code == 1 and "no log parser" in result.output


def test_the_service_decides_at_the_threshold_it_is_given(real: Real, tmp_path: Path) -> None:
    calibration = real.detector.calibration
    assert calibration is not None
    for extra, expected in (
        ({"threshold": 0.75}, 0.75),
        ({"target_fpr": 0.5}, calibration.threshold_for(0.5)),
        ({}, real.detector.threshold),
    ):
        settings = make_settings(tmp_path / str(len(extra)), artifact=real.artifact, **extra)
        with TestClient(create_app(settings)) as client:
            assert client.get("/v1/info").json()["threshold"] == pytest.approx(expected)


def test_one_shot_scoring_equals_offline_scoring(real: Real, tmp_path: Path) -> None:
    """POST /v1/score on the whole log gives `logbert score`'s sessions, scores and decisions, and with explain its
    misses quote the raw lines `logbert score --explain` quotes (they were all null)."""
    settings = make_settings(tmp_path, artifact=real.artifact)
    with TestClient(create_app(settings)) as client:
        body = client.post("/v1/score", json={"lines": real.lines, "explain": True}).json()
    online = {s["session_id"]: s for s in body["sessions"]}
    assert set(online) == set(real.offline)
    for sid, offline in real.offline.items():
        assert online[sid]["score"] == pytest.approx(offline.score, abs=1e-12)
        assert online[sid]["is_anomaly"] == offline.is_anomaly
        where = (online[sid]["first_line_no"], online[sid]["last_line_no"])
        assert where == (offline.first_line_no, offline.last_line_no)
        assert bool(online[sid]["misses"]) == offline.is_anomaly
    explained = {r.session_id: r for r in api.score(real.detector, real.log, explain=True) if r.is_anomaly}
    quoted = {sid: [(m.line_no, m.raw) for m in r.misses] for sid, r in explained.items()}
    assert quoted == {sid: [(m["line_no"], m["raw"]) for m in online[sid]["misses"]] for sid in explained}
    assert all(raw is not None for misses in quoted.values() for _, raw in misses)
