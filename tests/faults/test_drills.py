"""The drills: kill -9 during ingest, SIGTERM with a backlog, a locked alert store, a full disk."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from .conftest import Drill, Service


def test_kill_9_during_ingest_loses_no_accepted_line_and_no_detection(
    drill: Drill, calm_alerts: list[tuple[object, ...]], service_factory: type[Service], tmp_path: Path
) -> None:
    db = tmp_path / "alerts.sqlite3"
    half = len(drill.requests) // 2
    service = service_factory(drill.artifact, db)
    for request in drill.requests[:half]:
        service.send(request)  # answered 200: a promise
    open_before = service.http.get("/v1/stats").json()["values"]["sessions_open"]
    assert open_before > 0, "the kill must catch sessions with buffered lines, or it proves nothing"
    service.kill()

    again = service_factory(drill.artifact, db)
    assert "recovered from the ingest journal" in again.output()
    assert again.http.get("/v1/stats").json()["values"]["sessions_open"] == open_before  # not one session split
    for request in drill.requests[half:]:
        again.send(request)
    assert again.close_all()["drained"] is True
    assert again.alerts() == calm_alerts
    again.stop()


def test_kill_9_of_a_time_value_artifact_loses_no_accepted_line_and_no_detection(
    signal_drill: Drill, service_factory: type[Service], tmp_path: Path
) -> None:
    calm = service_factory(signal_drill.artifact, tmp_path / "calm.sqlite3")
    for request in signal_drill.requests:
        calm.send(request)
    assert calm.close_all()["drained"] is True
    calm_alerts = calm.alerts()
    calm.stop()
    assert calm_alerts, "the drill log must give alerts, or the comparison proves nothing"
    db = tmp_path / "alerts.sqlite3"
    half = len(signal_drill.requests) // 2
    service = service_factory(signal_drill.artifact, db)
    for request in signal_drill.requests[:half]:
        service.send(request)
    assert service.http.get("/v1/stats").json()["values"]["sessions_open"] > 0
    service.kill()
    again = service_factory(signal_drill.artifact, db)
    assert "recovered from the ingest journal" in again.output()
    for request in signal_drill.requests[half:]:
        again.send(request)
    assert again.close_all()["drained"] is True
    assert again.alerts() == calm_alerts  # the same windows, signals and scores as the uninterrupted run
    again.stop()


def test_two_kills_in_a_row_and_one_during_recovery_change_nothing(
    drill: Drill, calm_alerts: list[tuple[object, ...]], service_factory: type[Service], tmp_path: Path
) -> None:
    db = tmp_path / "alerts.sqlite3"
    third = len(drill.requests) // 3
    service = service_factory(drill.artifact, db)
    for request in drill.requests[:third]:
        service.send(request)
    service.kill()
    service = service_factory(drill.artifact, db)
    for request in drill.requests[third : 2 * third]:
        service.send(request)
    service.kill()
    service_factory(drill.artifact, db).kill()  # dies right after recovering, before any checkpoint
    service = service_factory(drill.artifact, db)
    for request in drill.requests[2 * third :]:
        service.send(request)
    assert service.close_all()["drained"] is True
    assert service.alerts() == calm_alerts
    service.stop()


def test_sigterm_with_a_backlog_leaves_it_in_the_journal_and_says_so(
    drill: Drill, calm_alerts: list[tuple[object, ...]], service_factory: type[Service], tmp_path: Path
) -> None:
    db = tmp_path / "alerts.sqlite3"
    # a scorer that cannot keep up: one window per batch, and SIGTERM gives it almost no time
    slow = {"LOGBERT_LIMITS__BATCH_SIZE": "1", "LOGBERT_SHUTDOWN_TIMEOUT_S": "1"}
    service = service_factory(drill.artifact, db, env=slow)
    for request in drill.requests:
        service.send(request)
    r = service.http.post("/v1/sessions/close-all")
    assert r.status_code == 200
    log = service.stop()
    # whichever happened is said at the default log level
    assert ("stay in the ingest journal" in log) or ("every queued window scored" in log), log

    again = service_factory(drill.artifact, db)
    assert again.close_all()["drained"] is True
    assert again.alerts() == calm_alerts
    again.stop()


def test_a_lock_longer_than_the_busy_timeout_then_a_crash_loses_no_alert(
    drill: Drill, calm_alerts: list[tuple[object, ...]], service_factory: type[Service], tmp_path: Path
) -> None:
    db = tmp_path / "alerts.sqlite3"
    service = service_factory(drill.artifact, db, env={"LOGBERT_ALERTS_BUSY_TIMEOUT_S": "0.2"})
    for request in drill.requests:
        service.send(request)
    blocker = sqlite3.connect(db, timeout=0)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock, for longer than 0.2 s
    try:
        assert service.close_all()["drained"] is False  # scored, but not stored: said, not hidden
        assert service.http.get("/health/ready").status_code == 503
        service.kill()  # and then the service dies with the alerts in memory only
    finally:
        blocker.rollback()
        blocker.close()
    again = service_factory(drill.artifact, db)
    assert again.close_all()["drained"] is True
    assert again.alerts() == calm_alerts
    again.stop()


def _tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    return done.returncode == 0


def test_a_full_disk_refuses_new_lines_keeps_accepted_ones_and_recovers(
    drill: Drill, calm_alerts: list[tuple[object, ...]], service_factory: type[Service], tmp_path: Path
) -> None:
    disk = tmp_path / "small-disk"
    if not _tmpfs(disk, "4m"):
        pytest.skip("mounting a small tmpfs needs root (CAP_SYS_ADMIN); the full-disk drill runs in CI as root")
    try:
        db = disk / "alerts.sqlite3"
        service = service_factory(drill.artifact, db)
        filler = disk / "filler"
        accepted: list[int] = []
        with open(filler, "wb") as f:  # fill the disk to the last block
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        refused = 0
        for i, request in enumerate(drill.requests):
            r = service.http.post("/v1/ingest", json={"lines": request})
            if r.status_code == 200:
                accepted.append(i)
            else:
                assert r.status_code == 503 and "journal" in r.json()["detail"], r.text  # said, retryable
                refused += 1
                break
        assert refused, "the disk never filled up: the drill proves nothing"
        filler.unlink()  # the operator frees space; the client retries what was refused
        for request in drill.requests[len(accepted) :]:
            service.send(request)
        assert service.close_all()["drained"] is True
        assert service.alerts() == calm_alerts
        service.kill()  # and what was accepted survives a crash too
        again = service_factory(drill.artifact, db)
        assert again.close_all()["drained"] is True
        assert again.alerts() == calm_alerts
        again.stop()
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
