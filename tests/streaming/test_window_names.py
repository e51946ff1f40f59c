"""A trained time-window model's windows are named by the streaming engine (``tail``, the service's alerts) as
offline ``score`` names them, ``t<i>``: the i-th run of lines in one slot of the grid, an empty slot no window. Before,
the engine numbered the pieces of ``max_len`` keys it scored, so tail's ``window=14`` was score's ``t10``; in requests
of any size, across a restart, and with a time/value model that holds a window whole."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from logbert.windowing.windows import window_name

from .replay import Alerts, replayed, restarted, trained_on


def _log(n_minutes: int, seed: int = 0) -> list[str]:
    """A web host's syslog: some minutes quiet (no window there), some with a few requests, some busy (more lines
    than a window's 8 keys: scored in pieces)."""
    rng = random.Random(seed)
    start = datetime(2025, 12, 1, 10, 0, 0, tzinfo=UTC)
    events: list[tuple[datetime, str]] = []
    for minute in range(n_minutes):
        if rng.random() < 0.3:
            continue
        for second in sorted(rng.sample(range(60), rng.choice([1, 3, 4, 14]))):
            t = start + timedelta(minutes=minute, seconds=second)
            pid = rng.randint(100, 999)
            events.append((t, f"app[{pid}]: request {rng.randint(1, 9999)} started"))
            if rng.random() < 0.8:
                events.append((t, f"app[{pid}]: request done in {rng.randint(2, 90)} ms"))
    return [f"{t:%b} {t.day:2d} {t:%H:%M:%S} web1 {text}" for t, text in events]


@pytest.fixture(scope="module", params=["off", "time"], ids=["key-only", "signals"])
def trained(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path, Any]:
    settings = {
        "parser.format": "syslog",
        "window.mode": "time",
        "window.time_window_s": 60.0,
        "model.signals": request.param,
    }
    detector, log, offline = trained_on(tmp_path_factory.mktemp("time_names"), _log(90), settings)
    assert any(s.n_keys > 8 for s in offline.values())  # windows scored in pieces
    slots = {round(s.start_time // 60) for s in offline.values()}
    assert max(slots) - min(slots) + 1 > len(offline)  # empty slots: a window's index is not its slot
    detector.use_threshold(-1.0)  # every window alerts: each piece says where it is
    return detector, log, offline


def _check(alerts: list[Any], offline: dict[str, Any]) -> None:
    """Every alert's window is score's window of its lines."""
    assert alerts
    for a in alerts:
        assert a.window == window_name("time", a.window_index)  # the engine names it: tail, the store, the webhook
        unit = offline[a.window]
        assert unit.first_line_no <= a.first_line_no <= a.last_line_no <= unit.last_line_no, (a, unit)


@pytest.mark.parametrize("per_request", [1, 7, 1000])
def test_time_windows_are_named_as_score_names_them(trained: Any, per_request: int) -> None:
    detector, log, offline = trained
    sink = Alerts()
    engine = replayed(detector, log.read_text(encoding="utf-8").splitlines(), per_request, sink)
    _check(sink.alerts, offline)
    assert {a.window for a in sink.alerts} == set(offline)
    stats = engine.stats()
    assert stats.windows_distinct == len(offline) < stats.windows_scored  # each counted once, its pieces apart
    engine.shutdown(30)


def test_a_restart_inside_a_window_goes_on_with_its_name(trained: Any, tmp_path: Path) -> None:
    detector, log, offline = trained
    lines = log.read_text(encoding="utf-8").splitlines()
    sink = Alerts()
    again = restarted(detector, lines, len(lines) // 2, 5, tmp_path / "j", sink)
    _check(sink.alerts, offline)
    assert {a.window for a in sink.alerts} == set(offline)
    again.shutdown(30)
