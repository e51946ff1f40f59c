"""Yearless lines (syslog's ``Dec 31 23:59:59``) across New Year in streaming: a request, or a restart, after midnight
reads its lines in the next year, as offline ``score`` does (``records.SyslogCalendar``), so a session across midnight
lasts minutes, not a year, in both."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from .replay import offline_summaries, replayed, restarted, summaries, trained_on


def _log(n: int, seed: int = 0) -> list[str]:
    """``n`` ssh logins of about 2-3 minutes, one every 30 s, the last ones across midnight of Dec 31."""
    rng = random.Random(seed)
    start = datetime(2025, 12, 31, 23, 59, 0, tzinfo=UTC) - timedelta(seconds=30 * (n - 8))
    events: list[tuple[datetime, str]] = []
    for i in range(n):
        t = start + timedelta(seconds=30 * i)
        pid = 1000 + i
        events.append((t, f"sshd[{pid}]: Accepted publickey for u{i % 7} from 10.0.0.{i % 50} port 5{i:04d} ssh2"))
        events.append((t + timedelta(seconds=1), f"sshd[{pid}]: pam_unix(sshd:session): session opened for user u"))
        end = t + timedelta(seconds=120 + rng.randint(0, 60))
        events.append((end, f"sshd[{pid}]: pam_unix(sshd:session): session closed for user u{i % 7}"))
    events.sort(key=lambda e: e[0])
    return [f"{t:%b} {t.day:2d} {t:%H:%M:%S} web1 {text}" for t, text in events]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path, dict[str, Any]]:
    settings = {"parser.format": "syslog", "window.session_pattern": r"PID=(\d+)", "model.signals": "time"}
    detector, log, offline = trained_on(tmp_path_factory.mktemp("year_turn"), _log(60), settings)
    midnight = datetime(2001, 1, 1, tzinfo=UTC).timestamp()  # syslog's years: 2000, then 2001
    assert any(midnight - 180 < (s.start_time or 0.0) < midnight for s in offline.values())  # a session across it
    return detector, log, offline


def test_the_offline_session_across_midnight_lasts_minutes(trained: Any) -> None:
    detector, log, offline = trained
    sequences, _ = detector.read(log)
    elapsed = {s.session_id: s.signals.elapsed for s in sequences if s.signals is not None}
    assert max(elapsed.values()) < 300  # not a year


@pytest.mark.parametrize("per_request", [1, 7, 1000])
def test_requests_across_new_year_give_the_offline_sessions(trained: Any, per_request: int) -> None:
    detector, log, offline = trained
    engine = replayed(detector, log.read_text(encoding="utf-8").splitlines(), per_request)
    assert summaries(engine, offline) == offline_summaries(offline)
    engine.shutdown(30)


def test_a_restart_after_midnight_keeps_the_new_year(trained: Any, tmp_path: Path) -> None:
    detector, log, offline = trained
    lines = log.read_text(encoding="utf-8").splitlines()
    cut = next(i for i, line in enumerate(lines) if line.startswith("Jan")) + 2  # the year turned before the checkpoint
    again = restarted(detector, lines, cut, 3, tmp_path / "j")
    assert summaries(again, offline) == offline_summaries(offline)
    again.shutdown(30)
