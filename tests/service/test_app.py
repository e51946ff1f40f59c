"""Every endpoint through TestClient with a fake detector given to ``create_app``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from logbert.service.alerts import AlertFilter, SQLiteAlertStore
from logbert.streaming.journal import JournalError

from ..streaming.fakes import FakeDetector, vm_lines
from .conftest import ClientFactory, live_server, make_settings

NORMAL = [0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2]  # two windows (max_len 8), both normal
ANOMALOUS = [0, 1, 42, 3]  # 42 is an unseen template


def _close_all(client: TestClient) -> None:
    r = client.post("/v1/sessions/close-all")
    assert r.status_code == 200 and r.json()["drained"] is True


def test_ingest_json_many_lines_and_one_line(client: TestClient) -> None:
    r = client.post("/v1/ingest", json={"lines": vm_lines("vm-1", [0, 1, 2])})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["received"], body["accepted"], body["rejected"], body["windows_queued"]) == (3, 3, 0, 0)
    r = client.post("/v1/ingest", json={"line": "vm-1 k3"})
    assert r.status_code == 200 and r.json()["accepted"] == 1
    s = client.get("/v1/sessions/vm-1").json()
    assert s["n_lines"] == 4 and s["n_pending_keys"] == 4 and s["state"] == "open"


def test_a_retry_with_the_same_idempotency_key_is_answered_and_not_applied_twice(client: TestClient) -> None:
    key = {"Idempotency-Key": "fluent-7f3a:000123"}
    first = client.post("/v1/ingest", json={"lines": vm_lines("vm-1", [0, 1])}, headers=key)
    assert first.status_code == 200 and first.json()["duplicate"] is False
    retry = client.post("/v1/ingest", json={"lines": vm_lines("vm-1", [0, 1])}, headers=key)
    assert retry.status_code == 200, retry.text
    assert retry.json()["duplicate"] is True and retry.json()["first_line_no"] == first.json()["first_line_no"] == 1
    assert client.get("/v1/sessions/vm-1").json()["n_lines"] == 2
    # the same lines as plain text are the same call; other lines under the key are a client bug, refused
    text = ("\n".join(vm_lines("vm-1", [0, 1])) + "\n").encode()
    r = client.post("/v1/ingest/text", content=text, headers={**key, "content-type": "text/plain"})
    assert r.status_code == 200 and r.json()["duplicate"] is True
    r = client.post("/v1/ingest", json={"lines": vm_lines("vm-1", [2])}, headers=key)
    assert r.status_code == 422 and r.json()["error"] == "RequestConflict"
    assert client.get("/v1/sessions/vm-1").json()["n_lines"] == 2
    for bad in ("has space", "x" * 201, "caf\u00e9".encode("latin-1")):
        r = client.post("/v1/ingest", json={"line": "vm-1 k2"}, headers={"Idempotency-Key": bad})
        assert r.status_code == 422, bad
    assert client.post("/v1/ingest", json={"line": "vm-1 k2"}).json()["duplicate"] is False  # no key: as before
    assert client.get("/v1/stats").json()["values"]["requests_retried"] == 2


@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("host7 000123", "character 6 of this one is a space"),
        ("caf\u00e9".encode().decode("latin-1"), "character 4 of this one is the byte 0xc3, not printable ASCII"),
        ("tab\there", "character 4 of this one is the byte 0x09, not printable ASCII"),
        ("x" * 201, "this one has 201 characters"),
        ("", "this one has 0 characters"),
    ],
)
def test_a_bad_idempotency_key_is_refused_with_the_rule_in_words(client: TestClient, key: str, says: str) -> None:
    """A key with a space got a 422 quoting the regex '^[\\x21-\\x7e]+$' beside a README saying 'printable ASCII'."""
    from logbert.service.routes.ingest import IDEMPOTENCY_KEY_RULE

    r = client.post("/v1/ingest", json={"line": "vm-1 k0"}, headers={"Idempotency-Key": key.encode("latin-1")})
    assert r.status_code == 422 and r.json()["error"] == "RequestValidationError"
    (err,) = r.json()["detail"]
    assert err["loc"] == ["header", "Idempotency-Key"] and "x21" not in err["msg"]
    assert err["msg"] == f"an Idempotency-Key is {IDEMPOTENCY_KEY_RULE}; {says}"
    assert IDEMPOTENCY_KEY_RULE.startswith("1 to 200 printable ASCII characters without spaces")
    readme = " ".join((Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8").split())
    assert "`Idempotency-Key` header (1 to 200 printable ASCII characters without spaces" in readme
    assert client.get("/v1/stats").json()["values"]["lines_received"] == 0


def test_a_retry_is_answered_with_the_rejections_of_the_first_call(client: TestClient) -> None:
    key = {"Idempotency-Key": "abc"}
    lines = ["a b c", "vm-1 k0", "", "no key", "nor here"]
    first = client.post("/v1/ingest", json={"lines": lines, "source": "s1"}, headers=key).json()
    retry = client.post("/v1/ingest", json={"lines": lines, "source": "s1"}, headers=key).json()
    assert first["rejections"] == [
        {"index": 0, "line_no": 1, "reason": "malformed"},
        {"index": 2, "line_no": 3, "reason": "empty"},
        {"index": 3, "line_no": 4, "reason": "malformed"},
        {"index": 4, "line_no": 5, "reason": "malformed"},
    ]
    assert retry == {**first, "duplicate": True}


def test_blank_and_malformed_lines_are_rejected_per_line_binary_ones_repaired_and_counted(client: TestClient) -> None:
    lines = ["vm-1 k0", "\x00\x01garbage", "no key at all", "", "vm-1 k1", "vm-1 k7 \ufffd\ufffd", "vm-1 \x07 k2"]
    body = client.post("/v1/ingest", json={"lines": lines}).json()
    assert (body["accepted"], body["rejected"], body["binary"], body["truncated"]) == (4, 3, 2, 0)
    assert [(x["index"], x["line_no"], x["reason"]) for x in body["rejections"]] == [
        (1, 2, "malformed"),  # binary (counted), then no key: malformed
        (2, 3, "malformed"),
        (3, 4, "empty"),
    ]
    raw = b"vm-2 k0\nvm-2 \xff\xfe k1\r\nvm-2 k1\r\n"
    r = client.post("/v1/ingest/text", content=raw, headers={"content-type": "text/plain"})
    body = r.json()
    assert r.status_code == 200 and body["received"] == 3 and body["accepted"] == 3 and body["binary"] == 1
    assert body["rejections"] == [] and body["first_line_no"] == 8
    stats = client.get("/v1/stats").json()["values"]
    assert stats["lines_binary"] == 3 and stats["rejected_malformed"] == 2 and stats["rejected_empty"] == 1
    assert stats["lines_received"] == 10 and stats["lines_accepted"] == 7
    _close_all(client)
    a = client.get("/v1/alerts", params={"session_id": "vm-2"}).json()["alerts"]
    assert a == []  # k0 k1 k1: normal; its repaired line is scored like any other
    s = client.get("/v1/sessions/vm-2").json()
    assert s["n_lines"] == 3 and s["n_windows_scored"] == 1


def test_lines_longer_than_the_artifacts_max_line_chars_are_truncated_and_counted(
    client_factory: ClientFactory,
) -> None:
    with client_factory(detector=FakeDetector(max_line_chars=100)) as client:
        body = client.post("/v1/ingest", json={"lines": ["vm-1 k0 " + "x" * 300, "vm-1 k1"]}).json()
        assert (body["accepted"], body["rejected"], body["truncated"]) == (2, 0, 1)
        assert client.get("/v1/stats").json()["values"]["lines_truncated"] == 1


def test_an_over_long_line_is_truncated_and_counted_alike_on_every_endpoint(client_factory: ClientFactory) -> None:
    """One rule for a line longer than parser.max_line_chars: /v1/ingest/text truncated and counted a 1.2-million
    character line, /v1/ingest and /v1/score refused the whole batch (a 1,000,000-character schema cap). The body
    limit is the one bound of a request's size, on every endpoint."""
    long_line = "vm-1 k0 " + "x" * 1_200_000
    with client_factory(detector=FakeDetector(max_line_chars=100), max_body_bytes=4 * 1024 * 1024) as client:
        text = client.post("/v1/ingest/text", content=(long_line + "\nvm-1 k1\n").encode())
        as_json = client.post("/v1/ingest", json={"lines": [long_line, "vm-1 k1"]})
        for r in (text, as_json):
            assert r.status_code == 200, r.text[:300]
            assert (r.json()["accepted"], r.json()["rejected"], r.json()["truncated"]) == (2, 0, 1)
        one = client.post("/v1/ingest", json={"line": long_line})
        assert one.status_code == 200 and one.json()["truncated"] == 1
        scored = client.post("/v1/score", json={"lines": [long_line, "vm-1 k1"]})
        assert scored.status_code == 200, scored.text[:300]
        assert scored.json()["truncated"] == 1 and scored.json()["binary"] == 0
        assert [s["n_keys"] for s in scored.json()["sessions"]] == [2]
        assert client.get("/v1/stats").json()["values"]["lines_truncated"] == 3
        too_big = "vm-1 k0 " + "x" * (4 * 1024 * 1024)  # past the body limit: 413 on both, as before
        assert client.post("/v1/ingest", json={"line": too_big}).status_code == 413
        assert client.post("/v1/ingest/text", content=too_big.encode()).status_code == 413


def test_one_shot_scoring_counts_repaired_lines_as_ingest_does(client: TestClient) -> None:
    body = client.post("/v1/score", json={"lines": ["vm-1 k0", "vm-1 \x07 k1"]}).json()
    assert (body["binary"], body["truncated"], body["received"]) == (1, 0, 2)


def test_a_session_is_scored_when_its_window_fills_and_when_closed(client: TestClient) -> None:
    body = client.post("/v1/ingest", json={"lines": vm_lines("vm-1", NORMAL)}).json()
    assert body["windows_queued"] == 1
    r = client.post("/v1/sessions/vm-1/close")
    s = r.json()
    assert r.status_code == 200 and s["state"] == "closed" and s["closed_reason"] == "closed"
    assert s["n_windows_scored"] == 2 and s["max_score"] == 0.0 and s["is_anomaly"] is False
    assert client.post("/v1/sessions/nope/close").status_code == 404
    r = client.get("/v1/sessions/nope")
    assert r.status_code == 404 and "nope" in r.json()["detail"]


def test_alerts_carry_explanations_and_can_be_filtered(client: TestClient) -> None:
    client.post("/v1/ingest", json={"lines": vm_lines("vm-1", NORMAL) + vm_lines("vm-2", ANOMALOUS)})
    client.post("/v1/ingest", json={"lines": vm_lines("vm-3", [5, 4])})
    _close_all(client)
    alerts = client.get("/v1/alerts").json()
    assert alerts["total"] == 2
    assert [a["session_id"] for a in alerts["alerts"]] == ["vm-3", "vm-2"]  # newest first
    a = client.get("/v1/alerts", params={"session_id": "vm-2"}).json()["alerts"][0]
    assert a["anomaly_score"] == 0.25 and a["threshold"] == 0.0 and a["n_unknown"] == 1
    (miss,) = a["misses"]
    assert miss["position"] == 2 and miss["template"] is None
    assert miss["raw"] == vm_lines("vm-2", ANOMALOUS)[2] and miss["line_no"] == len(NORMAL) + 3
    assert miss["expected"] == [{"template": "T0", "probability": 0.75}, {"template": "T1", "probability": 0.25}]
    assert client.get("/v1/alerts", params={"min_score": 0.4}).json()["total"] == 1
    assert client.get("/v1/alerts", params={"after_id": a["id"]}).json()["total"] == 1
    assert client.get(f"/v1/alerts/{a['id']}").json() == a
    assert client.get("/v1/alerts/9999").status_code == 404
    top = client.get("/v1/sessions", params={"limit": 2}).json()["sessions"]
    assert [s["session_id"] for s in top] == ["vm-3", "vm-2"]
    assert client.get("/v1/sessions", params={"state": "open"}).json()["sessions"] == []
    points = client.get("/v1/scores").json()["points"]
    assert len(points) == 4 and sum(p["is_anomaly"] for p in points) == 2


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"lines": ["vm-1 k0"] * 6}, "max_lines_per_request is 5"),
        ({"lines": ["a"], "line": "b"}, "exactly one"),
        ({"lines": "not a list"}, "list"),
    ],
)
def test_request_limits_answer_422_with_a_clear_message(
    client_factory: ClientFactory, payload: dict[str, object], fragment: str
) -> None:
    with client_factory(max_lines_per_request=5, max_body_bytes=4 * 1024 * 1024) as client:
        r = client.post("/v1/ingest", json=payload)
        assert r.status_code == 422 and fragment in r.text
        assert client.get("/v1/stats").json()["values"]["lines_received"] == 0


def test_oversized_bodies_answer_413(client_factory: ClientFactory) -> None:
    with client_factory(max_body_bytes=2048) as client:
        r = client.post("/v1/ingest", json={"lines": ["vm-1 k0 " + "x" * 3000]})
        assert r.status_code == 413 and "max_body_bytes is 2048" in r.json()["detail"]

        def chunks() -> Iterator[bytes]:  # no content-length: counted while streaming
            for _ in range(5):
                yield b"vm-1 k0 " + b"y" * 600 + b"\n"

        r = client.post("/v1/ingest/text", content=chunks(), headers={"content-type": "text/plain"})
        assert r.status_code == 413
        assert client.post("/v1/ingest/text", content=b"vm-1 k0\n").status_code == 200


def test_text_lines_over_the_limit_answer_422(client_factory: ClientFactory) -> None:
    with client_factory(max_lines_per_request=2) as client:
        r = client.post("/v1/ingest/text", content=b"vm-1 k0\nvm-1 k1\nvm-1 k2\n")
        assert r.status_code == 422 and "max_lines_per_request is 2" in r.text


def test_api_key_guards_every_endpoint_but_health(client_factory: ClientFactory) -> None:
    with client_factory(api_key="s3cret") as client:
        guarded = [
            ("POST", "/v1/ingest", {"json": {"line": "vm-1 k0"}}),
            ("POST", "/v1/ingest/text", {"content": b"vm-1 k0\n"}),
            ("GET", "/v1/sessions", {}),
            ("GET", "/v1/sessions/vm-1", {}),
            ("POST", "/v1/sessions/vm-1/close", {}),
            ("POST", "/v1/sessions/close-all", {}),
            ("GET", "/v1/alerts", {}),
            ("GET", "/v1/alerts/1", {}),
            ("GET", "/v1/scores", {}),
            ("GET", "/v1/stats", {}),
            ("GET", "/v1/info", {}),
            ("GET", "/metrics", {}),
        ]
        for method, path, kw in guarded:
            r = client.request(method, path, **kw)  # type: ignore[arg-type]
            assert r.status_code == 401, (method, path, r.status_code)
            assert "API key" in r.json()["detail"]
            assert client.request(method, path, headers={"X-API-Key": "wrong"}, **kw).status_code == 401  # type: ignore[arg-type]
        assert client.get("/health/live").status_code == 200
        assert client.get("/health/ready").status_code == 200
        assert client.post("/v1/ingest", json={"line": "vm-1 k0"}, headers={"X-API-Key": "s3cret"}).status_code == 200
        assert client.get("/v1/sessions/vm-1", headers={"Authorization": "Bearer s3cret"}).status_code == 200


@pytest.mark.parametrize(
    ("detector", "fields"),
    [
        (
            FakeDetector(mode="sliding", max_len=32, window_size=20, stride=10),
            {"window_size": 20, "stride": 10, "time_window_s": None},
        ),
        (
            FakeDetector(mode="time", max_len=16, time_window_s=30.0),
            {"window_size": None, "stride": None, "time_window_s": 30.0},
        ),
    ],
)
def test_info_gives_the_widths_the_window_mode_uses(
    client_factory: ClientFactory, detector: FakeDetector, fields: dict[str, object]
) -> None:
    """/v1/info gave the mode and max_window_len only: a sliding artifact's 20-key windows every 10 keys, or a time
    artifact's 30 s, could not be read from it."""
    with client_factory(detector=detector) as client:
        info = client.get("/v1/info").json()
    assert {k: info[k] for k in fields} == fields
    assert info["max_window_len"] == detector.config.window.max_len and info["windows"] == detector.config.window.rule()


def test_health_info_metrics_and_docs(client: TestClient) -> None:
    assert client.get("/health/live").json() == {"status": "ok", "ready": True, "detail": None}
    assert client.get("/health/ready").json()["ready"] is True
    assert client.get("/v1/info").json() == {
        "window_mode": "session",
        "max_window_len": 8,
        "window_size": None,
        "stride": None,
        "time_window_s": None,
        "windows": "sessions, in windows of at most 8 keys",
        "threshold": 0.0,
        "score": "miss_ratio",
    }
    client.post("/v1/ingest", json={"lines": vm_lines("vm-1", [0, 42])})
    text = client.get("/metrics").text
    assert "logbert_lines_received_total 2.0" in text and "logbert_sessions_open 1.0" in text
    assert 'logbert_http_request_seconds_count{method="POST",route="/v1/ingest",status="200"} 1.0' in text
    paths = client.get("/openapi.json").json()["paths"]
    expected = ("/v1/ingest", "/v1/ingest/text", "/v1/sessions/{session_id}", "/v1/alerts", "/health/ready", "/metrics")
    assert set(expected) <= set(paths)
    assert client.get("/docs").status_code == 200
    assert client.get("/", follow_redirects=False).headers["location"] == "/dashboard/"
    page = client.get("/dashboard/")
    assert page.status_code == 200 and "Top anomalous sessions" in page.text
    assert client.get("/dashboard/app.js").status_code == 200


def test_without_a_journal_shutdown_flushes_open_sessions_and_a_restart_keeps_alerts(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient as TC

    from logbert.service.app import create_app

    settings = make_settings(tmp_path, journal=False)
    with TC(create_app(settings, detector=FakeDetector())) as client:
        client.post("/v1/ingest", json={"lines": vm_lines("vm-9", ANOMALOUS)})
        # no close: with nothing to keep its lines, shutdown must score the open session and store its alert
    assert not (tmp_path / "alerts.sqlite3.journal").exists()
    with TC(create_app(settings, detector=FakeDetector())) as client:
        alerts = client.get("/v1/alerts").json()
        assert alerts["total"] == 1 and alerts["alerts"][0]["session_id"] == "vm-9"
        assert alerts["alerts"][0]["reason"] == "shutdown"
    store = SQLiteAlertStore(settings.alerts_db)
    assert store.list_alerts(AlertFilter(session_id="vm-9"))[1] == 1
    store.close()


def test_with_the_journal_a_restart_goes_on_with_open_sessions(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient as TC

    from logbert.service.app import create_app

    settings = make_settings(tmp_path)
    half = len(ANOMALOUS) // 2
    with TC(create_app(settings, detector=FakeDetector())) as client:
        first = vm_lines("vm-9", ANOMALOUS)
        client.post("/v1/ingest", json={"lines": first[:half]})
    with TC(create_app(settings, detector=FakeDetector())) as client:
        session = client.get("/v1/sessions/vm-9").json()
        assert session["state"] == "open" and session["n_pending_keys"] == half  # not split in two
        client.post("/v1/ingest", json={"lines": first[half:]})
        assert client.post("/v1/sessions/close-all").json() == {"closed": 1, "drained": True}
        alerts = client.get("/v1/alerts").json()
        assert alerts["total"] == 1 and alerts["alerts"][0]["n_keys"] == len(ANOMALOUS)
        assert alerts["alerts"][0]["first_line_no"] == 1  # the numbering went on across the restart
        store = client.app.state.store  # type: ignore[attr-defined]
        before = client.get("/v1/stats").json()["values"]
        assert before["checkpoints_written"] == 0 and before["checkpoint_age_seconds"] >= 0
        assert store.checkpoint(force=True) is True  # what the reaper does every checkpoint_interval_s
        after = client.get("/v1/stats").json()["values"]
        assert after["checkpoints_written"] == 1 and after["checkpoint_failures"] == 0
        assert before["checkpoint_age_seconds"] > 0  # the lines and closes since the start
        time.sleep(0.05)  # idle after the checkpoint: nothing a restart would replay, at any age of the checkpoint
        assert client.get("/v1/stats").json()["values"]["checkpoint_age_seconds"] == 0
        assert "logbert_checkpoint_age_seconds 0.0" in client.get("/metrics").text
        assert after["checkpoint_seconds"] > 0
        assert "logbert_checkpoints_written_total 1.0" in client.get("/metrics").text

        def full_disk(*args: object) -> None:
            raise JournalError("no space left on device")

        store.journal.fork_checkpoint = store.journal.commit = full_disk
        client.post("/v1/ingest", json={"lines": vm_lines("vm-10", [0])})  # something new to commit
        with pytest.raises(JournalError):
            store.checkpoint()
        failed = client.get("/v1/stats").json()["values"]
        assert (failed["checkpoints_written"], failed["checkpoint_failures"]) == (1, 1)


def test_a_restart_keeps_the_sessions_closed_before_it_their_scores_and_the_counts(tmp_path: Path) -> None:
    """Summaries were not in the checkpoint: after a clean restart (a deployment) /v1/sessions listed the open
    sessions only, their counts begun again, a closed session was a 404 while /v1/incidents still listed it, and
    /v1/stats and the score chart started from nothing. Now the checkpoint holds them (docs/reliability.md)."""
    from fastapi.testclient import TestClient as TC

    from logbert.service.app import create_app

    settings = make_settings(tmp_path)
    with TC(create_app(settings, detector=FakeDetector())) as client:
        client.post("/v1/ingest", json={"lines": vm_lines("vm-1", ANOMALOUS) + vm_lines("vm-2", [0, 1, 2])})
        closed = client.post("/v1/sessions/vm-1/close").json()
        assert closed["is_anomaly"] is True
        before = client.get("/v1/sessions").json(), client.get("/v1/stats").json()["values"], _scores(client)
    with TC(create_app(settings, detector=FakeDetector())) as client:
        listed = client.get("/v1/sessions").json()
        assert listed == before[0] and listed["total"] == 2
        assert [(s["session_id"], s["state"]) for s in listed["sessions"]] == [("vm-1", "closed"), ("vm-2", "open")]
        assert client.get("/v1/sessions/vm-1").json() == closed
        values = client.get("/v1/stats").json()["values"]
        counts = ("lines_received", "lines_accepted", "windows_scored", "alerts", "sessions_opened")
        assert [values[c] for c in counts] == [before[1][c] for c in counts] and values["alerts"] == 1
        assert _scores(client) == before[2] and before[2]
        assert [i["session_id"] for i in client.get("/v1/incidents").json()["incidents"]] == ["vm-1"]


def test_a_session_whose_summary_was_dropped_is_a_404_that_says_why(tmp_path: Path) -> None:
    """Only the last closed_sessions_kept closed summaries are kept, across restarts too: a dropped one's 404 says
    so and where its alerts are (it said "forgotten after closing" while /v1/incidents still listed it)."""
    from fastapi.testclient import TestClient as TC

    from logbert.service.app import create_app

    settings = make_settings(tmp_path, closed_sessions_kept=1)
    with TC(create_app(settings, detector=FakeDetector())) as client:
        client.post("/v1/ingest", json={"lines": vm_lines("vm-1", ANOMALOUS) + vm_lines("vm-2", [0, 1, 2])})
        assert client.post("/v1/sessions/vm-1/close").json()["is_anomaly"] is True
        client.post("/v1/sessions/vm-2/close")  # the one kept: vm-1's summary is dropped
    with TC(create_app(settings, detector=FakeDetector())) as client:
        listed = client.get("/v1/sessions").json()
        assert [(s["session_id"], s["state"]) for s in listed["sessions"]] == [("vm-2", "closed")]
        for r in (client.get("/v1/sessions/vm-1"), client.post("/v1/sessions/vm-1/close")):
            assert r.status_code == 404 and r.json()["error"] == "UnknownSession"
            detail = r.json()["detail"]
            assert "the summaries of the last 1 closed sessions are kept" in detail, detail
            assert detail.endswith("its alert is stored: /v1/alerts?session_id=vm-1")
        never = client.get("/v1/sessions/vm 7").json()["detail"]
        assert "never seen" in never and "alert" not in never.split(")")[-1]


def _scores(client: TestClient) -> dict[tuple[str, int], float]:
    return {(p["session_id"], p["window_index"]): p["anomaly_score"] for p in client.get("/v1/scores").json()["points"]}


def test_sessions_are_paged_with_offset_and_total_as_alerts_are(client_factory: ClientFactory) -> None:
    """/v1/sessions had no offset (an unknown ?offset= was ignored) and no total: only the top 1,000 of 2,500
    sessions were reachable, and a pager asking for the next page got the first one again, forever."""
    with client_factory(max_open_sessions=1000) as client:
        lines = [line for i in range(2500) for line in vm_lines(f"vm-{i}", [i % 10])]
        assert client.post("/v1/ingest", json={"lines": lines}).json()["accepted"] == 2500
        assert client.app.state.store.engine.drain(30)  # type: ignore[attr-defined]  # scores stop moving
        for state, total in ((None, 2500), ("open", 1000), ("closed", 1500)):
            seen: list[str] = []
            offset = 0
            while True:
                params: dict[str, str | int] = {"limit": 1000, "offset": offset, **({"state": state} if state else {})}
                page = client.get("/v1/sessions", params=params).json()
                assert page["total"] == total
                if not page["sessions"]:
                    break
                seen += [s["session_id"] for s in page["sessions"]]
                offset += len(page["sessions"])
            assert len(seen) == len(set(seen)) == total, state
        everything = client.get("/v1/sessions", params={"limit": 1000}).json()["sessions"]
        scores = [-1.0 if s["max_score"] is None else s["max_score"] for s in everything]
        assert scores == sorted(scores, reverse=True)  # the most anomalous first, across pages alike
        assert client.get("/v1/sessions", params={"offset": -1}).status_code == 422


def test_interleaved_sessions_are_scored_independently(client_factory: ClientFactory) -> None:
    vm_a = vm_lines("vm-1", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 42, 2, 3, 4])
    vm_b = vm_lines("vm-2", [0, 2, 1, 3, 3, 5, 9, 8, 0, 1])
    alone: dict[tuple[str, int], float] = {}
    for lines in (vm_a, vm_b):
        with client_factory() as client:
            for i in range(0, len(lines), 3):
                client.post("/v1/ingest", json={"lines": lines[i : i + 3]})
            _close_all(client)
            alone.update(_scores(client))
    mixed = [ln for pair in zip(vm_a, vm_b, strict=False) for ln in pair] + vm_a[len(vm_b) :]
    with client_factory(detector=FakeDetector()) as client:
        for i in range(0, len(mixed), 5):
            client.post("/v1/ingest", json={"lines": mixed[i : i + 5]})
        _close_all(client)
        together = _scores(client)
        sessions = {s["session_id"]: s for s in client.get("/v1/sessions").json()["sessions"]}
    assert together == alone and len(together) == 4
    assert sessions["vm-1"]["max_score"] == max(v for (sid, _), v in alone.items() if sid == "vm-1")


def test_a_session_split_by_eviction_is_in_the_ingest_answer_the_stats_and_the_metrics(
    client_factory: ClientFactory,
) -> None:
    with client_factory(max_open_sessions=2) as client:
        for vm in ("vm-1", "vm-2", "vm-3"):  # vm-3 evicts vm-1
            client.post("/v1/ingest", json={"lines": vm_lines(vm, [0, 1])})
        back = client.post("/v1/ingest", json={"lines": vm_lines("vm-1", [2])}).json()  # vm-1 was not finished
        assert (back["sessions_evicted"], back["sessions_split"]) == (1, 1)
        values = client.get("/v1/stats").json()["values"]
        assert (values["sessions_split_by_eviction"], values["sessions_closed_evicted"]) == (1, 2)
        assert "logbert_sessions_split_by_eviction_total 1.0" in client.get("/metrics").text


def test_idle_sessions_are_closed_and_open_sessions_are_bounded(client_factory: ClientFactory) -> None:
    with client_factory(idle_timeout_s=0.3, idle_check_interval_s=0.05, max_open_sessions=2) as client:
        for vm in ("vm-1", "vm-2", "vm-3"):
            client.post("/v1/ingest", json={"lines": vm_lines(vm, [0, 1])})
        assert client.get("/v1/sessions/vm-1").json()["closed_reason"] == "evicted"
        assert client.get("/v1/stats").json()["values"]["sessions_open"] == 2
        deadline = time.monotonic() + 5
        while client.get("/v1/stats").json()["values"]["sessions_open"] and time.monotonic() < deadline:
            time.sleep(0.05)
        s = client.get("/v1/sessions/vm-3").json()
        assert s["state"] == "closed" and s["closed_reason"] == "idle"


def test_ingest_does_not_wait_for_the_model_and_windows_are_micro_batched(client_factory: ClientFactory) -> None:
    slow = FakeDetector(max_len=2, score_delay_s=0.4)
    with client_factory(detector=slow, batch_size=64, flush_interval_s=0.05) as client:
        t0 = time.perf_counter()
        for vm in range(6):  # each request completes two windows of two sessions, none seen before
            r = client.post("/v1/ingest", json={"lines": vm_lines(f"vm-{vm}", [0, vm + 1, vm + 1, 9])})
            assert r.json()["windows_queued"] == 2
        assert time.perf_counter() - t0 < 0.4 * 6 / 2  # far less than scoring them one call at a time
        _close_all(client)
    assert sum(slow.batches) == 12 and max(slow.batches) > 2 and len(slow.batches) < 12


def test_a_full_scoring_queue_answers_503(client_factory: ClientFactory) -> None:
    slow = FakeDetector(max_len=2, score_delay_s=0.3)
    with client_factory(detector=slow, max_pending_windows=1) as client:
        assert client.post("/v1/ingest", json={"lines": vm_lines("vm-1", [0, 1])}).status_code == 200
        r = client.post("/v1/ingest", json={"lines": vm_lines("vm-2", [0, 1])})
        assert r.status_code == 503 and "retry" in r.json()["detail"] and r.headers["retry-after"] == "1"


def test_sliding_mode_keeps_one_window_per_source(client_factory: ClientFactory) -> None:
    det = FakeDetector(mode="sliding", window_size=4, stride=4)
    with client_factory(detector=det) as client:
        for src in ("web", "db"):
            r = client.post("/v1/ingest", json={"lines": ["k0", "k1", "k2"], "source": src})
            assert r.json()["windows_queued"] == 0
        r = client.post("/v1/ingest/text", params={"source": "web"}, content=b"k3\n")
        assert r.json()["windows_queued"] == 1
        _close_all(client)
        assert set(_scores(client)) == {("web", 0), ("db", 0)}


def test_real_uvicorn_on_loopback_serves_and_flushes_on_shutdown(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, api_key="k", journal=False)  # with the journal, see tests/faults
    with live_server(settings, FakeDetector()) as base:
        with httpx.Client(base_url=base, headers={"X-API-Key": "k"}, timeout=10) as http:
            assert http.get("/health/ready").json()["ready"] is True
            r = http.post("/v1/ingest/text", content="\n".join(vm_lines("vm-5", ANOMALOUS)).encode())
            assert r.status_code == 200 and r.json()["accepted"] == 4
            assert http.get("/v1/sessions/vm-5").json()["n_pending_keys"] == 4
            assert http.get("/metrics").status_code == 200
            assert http.get("/v1/alerts").json()["total"] == 0
    store = SQLiteAlertStore(settings.alerts_db)  # uvicorn's graceful shutdown scored vm-5
    alerts, total = store.list_alerts(AlertFilter())
    store.close()
    assert total == 1 and alerts[0].session_id == "vm-5"


def test_an_alert_store_belongs_to_one_artifact(tmp_path: Path) -> None:
    from logbert.service.alerts import AlertStoreError

    db = tmp_path / "alerts.sqlite3"
    SQLiteAlertStore(db, artifact_id="a" * 64).close()
    SQLiteAlertStore(db, artifact_id="a" * 64).close()  # the same artifact: reopens
    SQLiteAlertStore(db).close()  # no identity to check (an injected detector)
    with pytest.raises(AlertStoreError, match="alerts of another artifact"):
        SQLiteAlertStore(db, artifact_id="b" * 64)


def test_one_shot_scoring_answers_per_session_and_leaves_the_stream_alone(client: TestClient) -> None:
    lines = vm_lines("vm-1", [0, 1, 2, 3]) + vm_lines("vm-2", [0, 42, 2, 3]) + ["", "no key here"]
    r = client.post("/v1/score", json={"lines": lines})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["received"] == 10 and body["threshold"] == 0.0
    assert [(x["reason"], x["line_no"]) for x in body["rejections"]] == [("empty", 9), ("malformed", 10)]
    by_id = {s["session_id"]: s for s in body["sessions"]}
    assert set(by_id) == {"vm-1", "vm-2"}
    assert not by_id["vm-1"]["is_anomaly"] and by_id["vm-2"]["is_anomaly"]
    assert by_id["vm-2"]["first_line_no"] == 5 and by_id["vm-2"]["last_line_no"] == 8
    assert by_id["vm-2"]["misses"][0]["template"] is None  # k42: never seen
    stats = client.get("/v1/stats").json()["values"]
    assert stats["lines_received"] == 0 and client.get("/v1/sessions").json()["sessions"] == []
    keys = client.post("/v1/score", json={"sequences": [{"session_id": "a", "keys": [1, 2, 3]},
                                                        {"session_id": "b", "keys": [3, 2, 1]}],
                                          "only_anomalies": True}).json()
    assert [s["session_id"] for s in keys["sessions"]] == ["b"]
    assert client.post("/v1/score", json={"lines": ["x"], "sequences": []}).status_code == 422


def test_one_shot_misses_quote_their_raw_lines_as_alerts_and_offline_scoring_do(client: TestClient) -> None:
    """/v1/score with explain gave raw: null for every miss; /v1/alerts and `logbert score --explain` quote the line
    (results.with_raw_lines, the one place that attaches them), repaired and truncated by the line rule."""
    lines = vm_lines("vm-1", [0, 1, 2]) + vm_lines("vm-2", [0, 42, 2]) + ["vm-2 k1 \x07 bell"]
    body = client.post("/v1/score", json={"lines": lines, "explain": True}).json()
    (vm2,) = [s for s in body["sessions"] if s["is_anomaly"]]
    assert [(m["line_no"], m["raw"]) for m in vm2["misses"]] == [(5, lines[4]), (7, "vm-2 k1 \ufffd bell")]
    keys = client.post("/v1/score", json={"sequences": [{"session_id": "b", "keys": [3, 2]}], "explain": True}).json()
    assert [m["raw"] for m in keys["sessions"][0]["misses"]] == [None]  # key sequences have no lines to quote
    assert client.post("/v1/score", json={"lines": lines, "explain": False}).json()["sessions"][1]["misses"] == []


def test_an_empty_api_key_is_refused_and_made_up_methods_do_not_grow_the_metrics(
    tmp_path: Path, client_factory: ClientFactory
) -> None:
    from pydantic import ValidationError

    for blank in ("", "   "):
        with pytest.raises(ValidationError, match="api_key is empty"):
            make_settings(tmp_path, api_key=blank)
    assert make_settings(tmp_path, host="0.0.0.0").exposed_without_key
    assert not make_settings(tmp_path, host="0.0.0.0", api_key="k").exposed_without_key
    with client_factory() as client:
        for i in range(20):
            client.request(f"MADEUP{i}", "/v1/stats")
        metrics = client.get("/metrics").text
    assert "MADEUP" not in metrics and 'method="other"' in metrics


def test_a_locked_database_keeps_the_alerts_and_readiness_says_so(client_factory: ClientFactory) -> None:
    """Another process holds the SQLite write lock: no alert is lost, readiness and close-all tell the truth."""
    import sqlite3

    with client_factory(alerts_busy_timeout_s=0.05) as client:
        db = client.app.state.settings.alerts_db  # type: ignore[attr-defined]
        blocker = sqlite3.connect(db, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # holds the write lock
        try:
            lines = [*vm_lines("vm-1", [0, 42, 2, 3]), *vm_lines("vm-2", [3, 2, 1, 0])]
            assert client.post("/v1/ingest", json={"lines": lines}).status_code == 200
            closed = client.post("/v1/sessions/close-all").json()
            assert closed["drained"] is False  # scored, but the alerts are not stored yet
            ready = client.get("/health/ready")
            assert ready.status_code == 503 and "could not be stored yet" in ready.json()["detail"]
            assert client.get("/v1/stats").json()["values"]["alerts_unsaved"] == 2
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert client.post("/v1/sessions/close-all").json()["drained"] is True  # retried and stored
        assert client.get("/health/ready").status_code == 200
        stored = client.get("/v1/alerts").json()
        assert stored["total"] == 2 and {a["session_id"] for a in stored["alerts"]} == {"vm-1", "vm-2"}


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("POST", "/v1/ingest", '{"lines": ["\\ud800 x"]}'),  # a lone surrogate escape
        ("POST", "/v1/score", '{"lines": ["\\udcff vm-1 k0"]}'),  # no schema length cap now: still refused
        ("POST", "/v1/ingest", '{"lines": [NaN]}'),  # NaN / Infinity literals
        ("POST", "/v1/ingest", '{"line": Infinity}'),
        ("POST", "/v1/ingest", '{"lines": ["a"], "source": "\\udc80"}'),
        ("POST", "/v1/score", '{"sequences": [{"session_id": "a", "keys": [99999999999999999999999]}]}'),
        ("GET", "/v1/alerts?offset=9223372036854775808", None),  # integers past SQLite's 64 bits
        ("GET", "/v1/alerts?after_id=99999999999999999999", None),
        ("GET", "/v1/alerts/9223372036854775808", None),
        ("GET", "/v1/alerts?min_score=nan", None),  # a filter no score or time passes: an empty list said nothing
        ("GET", "/v1/alerts?since=nan", None),
        ("GET", "/v1/alerts?until=-Infinity", None),
        ("GET", "/v1/alerts?min_score=1e999", None),  # inf once read
    ],
)
def test_odd_requests_get_a_clear_4xx_never_a_500(client: TestClient, method: str, url: str, body: str | None) -> None:
    r = client.request(method, url, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "RequestValidationError" and "input" not in r.json()["detail"][0]


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/v1/ingest", b'{"lines": ["vm-1 k0 caf\xe9"], "source": "s"}'),
        ("/v1/score", b'{"lines": ["vm-1 k0 caf\xe9"]}'),
        ("/v1/incidents/vm-1/acknowledge", b'{"note": "caf\xe9"}'),
    ],
)
def test_a_json_body_that_is_not_utf8_is_answered_as_broken_json_and_says_why(
    client: TestClient, url: str, body: bytes
) -> None:
    """Invalid UTF-8 answered a bare 400 {"detail": "There was an error parsing the body"}, broken syntax a 422 with
    the error named: one status and one shape for a body that is not JSON, saying that JSON must be UTF-8."""
    json_ct = {"content-type": "application/json"}
    r = client.post(url, content=body, headers=json_ct)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "RequestValidationError"
    (err,) = r.json()["detail"]
    assert err["type"] == "json_invalid" and err["loc"] == ["body", str(body.index(b"\xe9"))]
    assert "not UTF-8" in err["msg"] and "0xe9" in err["msg"] and "JSON must be UTF-8" in err["msg"]
    broken = client.post(url, content=body[:-3].replace(b"\xe9", b"e"), headers=json_ct)
    assert broken.status_code == 422 and broken.json()["error"] == "RequestValidationError"
    assert broken.json()["detail"][0]["type"] == "json_invalid"
    deep = client.post(url, content=b"[" * 100_000 + b"]" * 100_000, headers=json_ct)
    assert deep.status_code == 422 and "nested too deeply" in deep.json()["detail"][0]["msg"]


def test_routing_errors_name_their_kind_as_every_other_error(client: TestClient) -> None:
    r = client.get("/v1/nowhere")
    assert r.status_code == 404 and r.json() == {"detail": "Not Found", "error": "NotFound"}
    r = client.get("/v1/ingest")
    assert r.status_code == 405 and r.json()["error"] == "MethodNotAllowed" and r.headers["allow"] == "POST"


def test_a_json_body_sent_as_a_form_says_which_content_type_to_send(client: TestClient) -> None:
    """curl -d without -H content-type sends a form: the 422 said only "Input should be a valid dictionary"."""
    body = '{"lines": ["vm-1 k0"]}'
    r = client.post("/v1/ingest", content=body, headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 422 and "application/json" in r.json()["hint"] and "/v1/ingest/text" in r.json()["hint"]
    assert "hint" not in client.post("/v1/ingest", json={"lines": 5}).json()  # JSON that does not fit: no hint


def test_every_number_in_a_query_refuses_nan_and_infinity(client: TestClient) -> None:
    """One rule for every float query parameter (schemas.ClientFloat), the ones added later included."""
    paths = client.get("/openapi.json").json()["paths"]
    numbers = [
        (method, path, p["name"])
        for path, ops in paths.items()
        for method, op in ops.items()
        for p in op.get("parameters", [])
        if p["in"] == "query" and "number" in {s.get("type") for s in [p["schema"], *p["schema"].get("anyOf", [])]}
    ]
    assert ("get", "/v1/alerts", "min_score") in numbers and len(numbers) >= 3
    for method, path, name in numbers:
        for bad in ("nan", "NaN", "inf", "-Infinity"):
            r = client.request(method, path, params={name: bad})
            assert r.status_code == 422, (path, name, bad, r.status_code)


def test_the_auth_matrix_every_endpoint_and_every_kind_of_key(client_factory: ClientFactory) -> None:
    """Every API endpoint x (no key, empty key, wrong key, right key); only health is public."""
    public = {"/health/live", "/health/ready"}
    with client_factory(api_key="the-right-key") as client:
        paths = client.get("/openapi.json", headers={"X-API-Key": "the-right-key"}).json()["paths"]
        routes = [(m.upper(), p.replace("{session_id}", "vm-1").replace("{alert_id}", "1"))
                  for p, ops in paths.items() for m in ops]
        routes += [("GET", "/metrics"), ("GET", "/docs"), ("GET", "/redoc"), ("GET", "/openapi.json")]
        assert len(routes) >= 15
        for method, path in routes:
            answers = {
                name: client.request(method, path, headers=headers, json={} if method == "POST" else None).status_code
                for name, headers in (
                    ("none", {}),
                    ("empty", {"X-API-Key": ""}),
                    ("empty bearer", {"Authorization": "Bearer "}),
                    ("wrong", {"X-API-Key": "nope"}),
                    ("right", {"X-API-Key": "the-right-key"}),
                    ("right bearer", {"Authorization": "Bearer the-right-key"}),
                )
            }
            if path in public:
                assert set(answers.values()) <= {200, 503}, (method, path, answers)
                continue
            refused = {k: v for k, v in answers.items() if not k.startswith("right")}
            assert set(refused.values()) == {401}, (method, path, answers)
            assert answers["right"] != 401 and answers["right bearer"] != 401, (method, path, answers)
            assert max(answers.values()) < 500, (method, path, answers)


def test_the_api_docs_are_behind_the_key_unless_opened_on_purpose(client_factory: ClientFactory) -> None:
    with client_factory(api_key="k") as client:
        assert client.get("/openapi.json").status_code == 401 and client.get("/docs").status_code == 401
        assert client.get("/docs", headers={"Authorization": "Bearer k"}).status_code == 200
    with client_factory(api_key="k", public_docs=True) as client:
        assert client.get("/openapi.json").status_code == 200 and client.get("/docs").status_code == 200
        assert client.get("/v1/stats").status_code == 401  # the docs only
    with client_factory() as client:  # no key: nothing to guard (a loopback service)
        assert client.get("/docs").status_code == 200


def test_incidents_group_a_sessions_alerts_and_feed_labels_back(client_factory: ClientFactory, tmp_path: Path) -> None:
    from logbert.datasets.labels import read_labels

    uuid = "11760334-ac63-4cc8-9086-{:012d}"
    a, b, c = (uuid.format(i) for i in (1, 2, 3))
    fake = FakeDetector(max_len=4, session_pattern=r"\[instance: ([0-9a-f-]{36})\]")
    with client_factory(detector=fake) as client:
        lines = vm_lines(a, [3, 2, 1, 0, 3, 2, 1, 0]) + vm_lines(b, [0, 42, 2, 3]) + vm_lines(c, [0, 1, 2, 3])
        assert client.post("/v1/ingest", json={"lines": lines}).status_code == 200
        client.post("/v1/sessions/close-all")
        listed = client.get("/v1/incidents").json()
        by_id = {i["session_id"]: i for i in listed["incidents"]}
        assert listed["total"] == 2 and set(by_id) == {a, b}  # c raised no alert
        assert by_id[a]["n_alerts"] == 2 and by_id[a]["status"] == "open"  # two windows, one incident
        assert client.get("/v1/alerts").json()["total"] == 3
        ack = client.post(f"/v1/incidents/{b}/acknowledge", json={"note": "disk full on cp-1"}).json()
        assert ack["incidents"][0]["status"] == "acknowledged" and ack["incidents"][0]["note"] == "disk full on cp-1"
        assert client.post(f"/v1/incidents/{a}/mark-normal").json()["incidents"][0]["status"] == "normal"
        assert client.post(f"/v1/incidents/{c}/acknowledge").status_code == 404
        assert [i["session_id"] for i in client.get("/v1/incidents?status=normal").json()["incidents"]] == [a]
        text = client.get("/v1/incidents/labels").text
        # an incident nobody has triaged is listed too (kept out of training), unless asked otherwise: a new user's
        # feedback loop trained 25 untriaged alarms of 26 as normal sessions
        client.post("/v1/ingest", json={"lines": vm_lines(d := uuid.format(4), [0, 42, 2, 3])})
        client.post("/v1/sessions/close-all")
        assert client.get("/v1/incidents?status=open").json()["total"] == 1
        untriaged = client.get("/v1/incidents/labels").text
        as_normal = client.get("/v1/incidents/labels", params={"untriaged": "normal"}).text
    path = tmp_path / "feedback.txt"
    path.write_text(text)
    labels = read_labels(path)  # what `logbert train --labels` reads
    assert labels.by_id == {b: 1} and labels.get(a) == 0 and labels.get(c) == 0
    path.write_text(untriaged)
    assert read_labels(path).by_id == {b: 1, d: 1} and "1 whose incident is still open" in untriaged
    path.write_text(as_normal)
    assert read_labels(path).by_id == {b: 1} and read_labels(path).get(d) == 0


@contextmanager
def _alert_receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An Alertmanager-compatible receiver on a loopback port: its URL, and every alert posted to it."""
    import json as jsonlib
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received: list[dict[str, Any]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            received.extend(jsonlib.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/api/v2/alerts", received
    finally:
        server.shutdown()
        server.server_close()


def test_alerts_are_pushed_to_an_alertmanager_compatible_receiver(client_factory: ClientFactory) -> None:
    with _alert_receiver() as (url, alerts):
        with client_factory(alert_webhook=url) as client:
            lines = vm_lines("vm-1", [0, 42, 2, 3]) + vm_lines("vm-2", [3, 2, 1, 0])
            client.post("/v1/ingest", json={"lines": lines})
            client.post("/v1/sessions/close-all")
            assert client.get("/v1/alerts").json()["total"] == 2  # stored first, whatever the receiver does
            delivered = _wait_for_stats(client, lambda v: v["webhook_alerts_sent"] == 2)
            assert (delivered["webhook_alerts_failed"], delivered["webhook_alerts_dropped"]) == (0, 0)
            assert "logbert_webhook_alerts_sent_total 2.0" in client.get("/metrics").text
        # the app's shutdown delivered what was queued
        assert {a["labels"]["session_id"] for a in alerts} == {"vm-1", "vm-2"}
        first = alerts[0]
        assert first["labels"]["alertname"] == "LogAnomaly" and first["startsAt"].endswith("+00:00")
        assert "looks anomalous" in first["annotations"]["summary"]
    with client_factory(alert_webhook="http://127.0.0.1:9/api/v2/alerts") as client:  # nobody listens
        client.app.state.store.webhook.backoff_s = 0.0  # type: ignore[attr-defined]  # its 3 attempts without waits
        client.post("/v1/ingest", json={"lines": vm_lines("vm-3", [0, 42])})
        client.post("/v1/sessions/close-all")
        stored = client.get("/v1/alerts", params={"session_id": "vm-3"}).json()
        assert stored["total"] == 1  # an absent receiver loses no stored alert
        failed = _wait_for_stats(client, lambda v: v["webhook_alerts_failed"] == 1)  # but it says it was not sent
        assert failed["webhook_alerts_sent"] == 0
        assert "logbert_webhook_alerts_failed_total 1.0" in client.get("/metrics").text


def test_alerts_a_replay_produces_again_after_a_crash_are_pushed_once(tmp_path: Path) -> None:
    """Stored and pushed, then a crash before the next checkpoint: the restart's replay raises the same alerts
    again; the store keeps one of each, and the webhook gets none of them again (it got 52 for 26 before)."""
    from datetime import UTC, datetime

    from logbert.service.app import open_alert_store
    from logbert.service.sessions import SessionStore

    with _alert_receiver() as (url, pushed):
        settings = make_settings(tmp_path, alert_webhook=url, checkpoint_in_child=False)
        first = SessionStore(FakeDetector(), settings, open_alert_store(settings))
        lines = [*vm_lines("vm-1", ANOMALOUS), *vm_lines("vm-2", [3, 2, 1, 0]), *vm_lines("vm-3", [0, 1, 2, 3])]
        first.engine.ingest(lines, "src")
        assert first.checkpoint(force=True)  # the three sessions open in it
        assert first.engine.close_all() == 3 and first.engine.drain(5)
        assert first.webhook is not None
        first.webhook.close()  # delivered; then the process dies before the next checkpoint
        assert first.journal is not None
        first.journal.close()
        first.alerts.close()
        assert sorted(a["labels"]["session_id"] for a in pushed) == ["vm-1", "vm-2"]
        before = [dict(a) for a in pushed]

        again = SessionStore(FakeDetector(), settings, open_alert_store(settings))
        assert again.recover().closes_replayed == 1  # the close after the checkpoint: both alerts raised again
        assert again.engine.drain(5)
        again.engine.ingest(vm_lines("vm-4", ANOMALOUS), "src")  # and a new alert after the restart
        again.engine.close_all()
        assert again.engine.drain(5)
        stats = again.stats()
        assert again.shutdown()  # delivers whatever was queued for the webhook
    assert [a["labels"]["session_id"] for a in pushed] == ["vm-1", "vm-2", "vm-4"]  # each alert once
    assert pushed[:2] == before  # startsAt and all as first pushed
    assert (stats.alerts, stats.alerts_repeated, stats.alerts_stored) == (3, 2, 3)  # raised, of them not new, stored
    store = SQLiteAlertStore(settings.alerts_db)
    listed, _ = store.list_alerts(AlertFilter())
    stored = {a.session_id: datetime.fromtimestamp(a.created_at, UTC).isoformat() for a in listed}
    store.close()
    assert {a["labels"]["session_id"]: a["startsAt"] for a in pushed} == stored  # startsAt: when it was stored


def _wait_for_stats(
    client: TestClient, done: Callable[[dict[str, float]], bool], timeout_s: float = 10
) -> dict[str, float]:
    """``/v1/stats``' values once ``done`` holds (the webhook delivers on its own thread)."""
    deadline = time.monotonic() + timeout_s
    values: dict[str, float] = client.get("/v1/stats").json()["values"]
    while not done(values) and time.monotonic() < deadline:
        time.sleep(0.02)
        values = client.get("/v1/stats").json()["values"]
    return values


def test_score_points_carry_the_log_time_of_their_window(client: TestClient) -> None:
    lines = [f"INFO nova [instance: vm-1] k{k} step {j} t={1000 + 60 * j}" for j, k in enumerate([0, 1, 2, 3])]
    client.post("/v1/ingest", json={"lines": lines})
    client.post("/v1/sessions/close-all")
    (point,) = client.get("/v1/scores").json()["points"]
    assert point["log_time"] == 1000.0 and point["time"] > 1e9  # when it happened vs when it was scored


@pytest.mark.parametrize("source", ["a b", "", "s" * 201, "<script>"])
def test_a_source_name_is_checked_alike_on_both_ingest_endpoints(client: TestClient, source: str) -> None:
    as_json = client.post("/v1/ingest", json={"lines": ["vm-1 k0"], "source": source})
    as_text = client.post("/v1/ingest/text", params={"source": source}, content=b"vm-1 k0\n")
    assert as_json.status_code == as_text.status_code == 422, (as_json.text, as_text.text)
    assert "source" in as_text.text
