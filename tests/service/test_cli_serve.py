"""`logbert serve` / `logbert tail` through CliRunner, and the Dockerfile's entrypoint command."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from logbert import api
from logbert.cli import app as cli_app
from logbert.streaming import StreamLimits, StreamStats
from logbert.streaming.engine import AlertRecord
from logbert.streaming.tail import TailOptions, run_tail

from ..streaming.fakes import FakeDetector, vm_lines

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, dict[str, Any]]]:
    import uvicorn

    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    monkeypatch.setattr("logbert.service.app.load_artifact", lambda settings: FakeDetector())  # loaded before uvicorn
    return calls


def test_serve_refuses_a_broken_artifact_in_one_line_before_starting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    started: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.append(kw))
    (tmp_path / "art").mkdir()
    result = runner.invoke(cli_app, ["serve", str(tmp_path / "art"), "--alerts-db", str(tmp_path / "a.db")])
    assert result.exit_code == 1 and not started
    assert "meta.json is missing" in result.output and "Traceback" not in result.output


def test_serve_builds_the_app_and_runs_uvicorn(
    tmp_path: Path, uvicorn_calls: list[tuple[Any, dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOGBERT_LIMITS__MAX_OPEN_SESSIONS", "77")
    monkeypatch.setenv("LOGBERT_LIMITS__IDLE_TIMEOUT_S", "5")
    args = ["serve", str(tmp_path), "--port", "9123", "--api-key", "k", "--alerts-db", str(tmp_path / "a.db")]
    result = runner.invoke(cli_app, [*args, "--idle-timeout", "9", "--max-window-len", "64"])
    assert result.exit_code == 0, result.output
    ((app, kw),) = uvicorn_calls
    assert kw["host"] == "127.0.0.1" and kw["port"] == 9123 and kw["timeout_graceful_shutdown"] == 30
    settings = app.state.settings
    assert settings.artifact == tmp_path and settings.api_key.get_secret_value() == "k"
    assert settings.alerts_db == tmp_path / "a.db"
    # options and LOGBERT_LIMITS__* fill the one limits object; an option wins over its variable
    assert settings.limits == StreamLimits(max_open_sessions=77, idle_timeout_s=9, max_window_len=64)
    # the banner says what is scored, in the words tail and /v1/info use (the fake: sessions of 8 keys at most)
    assert "logbert: scoring sessions, in windows of at most 8 keys" in result.output


def test_limit_options_of_serve_and_tail_share_names_and_defaults() -> None:
    for command in ("serve", "tail"):
        help_text = runner.invoke(cli_app, [command, "--help"], env={"COLUMNS": "200"}).output
        for option, default in (("--max-open-sessions", 10000), ("--idle-timeout", 300.0), ("--max-window-len", 512)):
            assert option in help_text and f"default {default}" in help_text, (command, option)


def test_flat_limit_variables_are_refused_not_ignored(
    tmp_path: Path, uvicorn_calls: list[tuple[Any, dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOGBERT_MAX_OPEN_SESSIONS", "77")  # the name before the limits were nested
    result = runner.invoke(cli_app, ["serve", str(tmp_path)])
    assert result.exit_code == 1 and "LOGBERT_LIMITS__" in result.output and uvicorn_calls == []


def test_serve_rejects_a_missing_artifact_and_bad_settings(
    tmp_path: Path, uvicorn_calls: list[tuple[Any, dict[str, Any]]]
) -> None:
    result = runner.invoke(cli_app, ["serve", str(tmp_path / "nope")])
    assert result.exit_code == 1 and "artifact directory not found" in result.output
    result = runner.invoke(cli_app, ["serve", str(tmp_path), "--port", "70000"])
    assert result.exit_code == 1 and "invalid settings" in result.output
    assert uvicorn_calls == []


def test_the_dockerfile_entrypoint_command_runs(
    tmp_path: Path, uvicorn_calls: list[tuple[Any, dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = (REPO / "Dockerfile").read_text().splitlines()
    entry = json.loads(next(ln for ln in lines if ln.startswith("ENTRYPOINT")).split(None, 1)[1])
    cmd = json.loads(next(ln for ln in lines if ln.startswith("CMD")).split(None, 1)[1])
    assert entry[0] == "logbert"
    argv = [tmp_path if a == "/artifact" else a for a in entry[1:] + cmd]
    monkeypatch.setenv("LOGBERT_ALERTS_DB", str(tmp_path / "data" / "alerts.sqlite3"))
    result = runner.invoke(cli_app, [str(a) for a in argv])
    assert result.exit_code == 0, result.output
    ((_, kw),) = uvicorn_calls
    assert (kw["host"], kw["port"]) == ("0.0.0.0", 8000)


def test_tail_prints_alerts_for_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "nova.log"
    body = "\n".join(vm_lines("vm-1", [0, 1, 2]) + vm_lines("vm-2", [0, 42, 1]) + ["garbage"]) + "\n"
    log.write_bytes(body.encode() + b"INFO [instance: vm-3] \xff k1 step 0\r\n")  # not UTF-8, CRLF
    seen: list[tuple[Path, bool]] = []

    def fake_load(path: Path, *, need_parser: bool = False, device: str = "cpu") -> FakeDetector:
        seen.append((path, need_parser))
        return FakeDetector()

    monkeypatch.setattr(api, "load_detector", fake_load)
    result = runner.invoke(cli_app, ["tail", str(log), "--artifact", str(tmp_path), "--no-follow"])
    assert result.exit_code == 0, result.output
    assert seen == [(tmp_path, True)]
    assert "ALERT session=vm-2 window=0 score=0.3333" in result.stdout
    assert "seen <unseen template>" in result.stdout and "raw: " + vm_lines("vm-2", [0, 42, 1])[1] in result.stdout
    assert "expected: T0 (75.0%), T1 (25.0%)" in result.stdout
    assert "vm-1" not in result.stdout and "vm-3" not in result.stdout
    assert "lines=8 accepted=7 malformed=1 empty=0 binary=1 truncated=0 unseen_template=1 windows=3 alerts=1" in (
        result.stderr
    )
    # a line that parses but names no session is counted too (lines = accepted + malformed + empty + without_session)
    log.write_bytes(log.read_bytes() + b"INFO nova k1 step 9\n")
    result = runner.invoke(cli_app, ["tail", str(log), "--artifact", str(tmp_path), "--no-follow"])
    counts = (
        "lines=9 accepted=7 malformed=1 empty=0 without_session=1 binary=1 truncated=0 unseen_template=1 windows=3 "
        "alerts=1"
    )
    assert counts in result.stderr
    result = runner.invoke(cli_app, ["tail", "-", "-a", str(tmp_path), "--json"], input=log.read_bytes())
    alert = json.loads(result.stdout.splitlines()[0])
    assert alert["session_id"] == "vm-2" and alert["misses"][0]["line_no"] == 5 and alert["n_unknown"] == 1
    assert alert["misses"][0]["expected"][0] == {"template": "T0", "probability": 0.75}
    assert "binary=1" in result.stderr
    result = runner.invoke(cli_app, ["tail", str(tmp_path / "missing.log"), "-a", str(tmp_path)])
    assert result.exit_code == 1 and "log file not found" in result.output  # said before the banner


def test_tail_takes_the_artifact_first_as_score_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``logbert tail ARTIFACT FILE``, the order of ``score``; ``FILE`` alone with ``-a`` or ``LOGBERT_ARTIFACT``;
    a clear error for no artifact, two different ones, or too many arguments (a new user typed the first form and
    got "Missing option '--artifact'")."""
    from logbert.cli.serve import tail_paths

    log = tmp_path / "nova.log"
    log.write_text("\n".join(vm_lines("vm-2", [0, 42, 1])) + "\n")
    seen: list[Path] = []

    def fake_load(path: Path, *, need_parser: bool = False, device: str = "cpu") -> FakeDetector:
        seen.append(path)
        return FakeDetector()

    monkeypatch.setattr(api, "load_detector", fake_load)
    monkeypatch.delenv("LOGBERT_ARTIFACT", raising=False)
    first = runner.invoke(cli_app, ["tail", str(tmp_path), str(log), "--no-follow"])
    assert first.exit_code == 0, first.output
    assert seen == [tmp_path] and "ALERT session=vm-2" in first.stdout
    alone = runner.invoke(cli_app, ["tail", str(log), "--no-follow"])
    assert alone.exit_code == 1 and "no artifact: logbert tail ARTIFACT FILE" in alone.output
    other = tmp_path / "other"
    two = runner.invoke(cli_app, ["tail", str(tmp_path), str(log), "-a", str(other), "--no-follow"])
    assert two.exit_code == 1 and "two artifacts" in two.output and "Traceback" not in two.output
    monkeypatch.setenv("LOGBERT_ARTIFACT", str(tmp_path))
    from_env = runner.invoke(cli_app, ["tail", str(log), "--no-follow"])
    assert from_env.exit_code == 0 and seen[-1] == tmp_path
    assert tail_paths([str(tmp_path), "-"], tmp_path / ".") == (tmp_path, "-")  # the same artifact twice is one
    with pytest.raises(ValueError, match="3 arguments"):
        tail_paths(["a", "b", "c"], None)


def test_tail_follows_a_growing_rotated_file(tmp_path: Path) -> None:
    log = tmp_path / "live.log"
    log.write_text("\n".join(vm_lines("vm-1", [0, 1])) + "\n")
    out = StringIO()
    stop = threading.Event()
    limits = StreamLimits(idle_timeout_s=0.3, flush_interval_s=0.0)
    opts = TailOptions(follow=True, poll_interval_s=0.02, batch_wait_s=0.02)
    result: list[StreamStats] = []
    thread = threading.Thread(
        target=lambda: result.append(run_tail(FakeDetector(), str(log), limits, opts, out, stop)), daemon=True
    )
    thread.start()
    time.sleep(0.2)
    with log.open("a") as f:  # grows, with a line written in two parts
        f.write(vm_lines("vm-1", [42])[0][:10])
        f.flush()
        time.sleep(0.1)
        f.write(vm_lines("vm-1", [42])[0][10:] + "\n")
    deadline = time.monotonic() + 5
    while "ALERT session=vm-1" not in out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.05)  # vm-1 goes idle, is closed and scored
    assert "ALERT session=vm-1 window=0" in out.getvalue()
    log.rename(tmp_path / "live.log.1")  # rotation: a new file appears under the same name
    log.write_text(vm_lines("vm-2", [3, 42])[0] + "\n" + vm_lines("vm-2", [3, 42])[1] + "\n")
    while "ALERT session=vm-2" not in out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(10)
    assert "ALERT session=vm-2" in out.getvalue()
    (stats,) = result
    assert stats.lines_received == 5 and stats.lines_rejected == 0


def test_tail_waits_for_a_full_scoring_queue_and_loses_nothing(tmp_path: Path) -> None:
    """Back-pressure: a busy log and a slow model make tail wait, not fail (it used to abort)."""
    log = tmp_path / "busy.log"
    lines = [line for vm in range(60) for line in vm_lines(f"vm-{vm}", [0, 1, 2, 3, 4, 5, 6, 7, 42])]
    log.write_text("\n".join(lines) + "\n")
    limits = StreamLimits(max_pending_windows=1, batch_size=1, flush_interval_s=0.0)
    opts = TailOptions(follow=False, batch_lines=50, status_interval_s=0.0)
    statuses: list[StreamStats] = []
    out = StringIO()
    stats = run_tail(FakeDetector(score_delay_s=0.002), str(log), limits, opts, out, on_status=statuses.append)
    assert stats.lines_received == len(lines) and stats.windows_scored == stats.windows_queued
    assert stats.windows_scored >= 60 and out.getvalue().count("ALERT ") == stats.alerts
    assert statuses and statuses[-1].lines_received <= len(lines)  # progress was reported as it went


def test_a_text_alert_is_a_summary_and_the_first_misses() -> None:
    from logbert.results import ExpectedKey, PositionExplanation
    from logbert.streaming.tail import format_alert

    misses = tuple(
        PositionExplanation(i, 5, f"T{i}", (ExpectedKey("T0", 0.9),), line_no=10 + i, raw=f"raw {i}") for i in range(14)
    )
    alert = AlertRecord("vm-1", "src", 0, 0.9, 0.1, 0.9, 0.0, 16, 14, 0, 0, 0.0, 10, 25, "closed", None, misses, ())
    text = format_alert(alert, misses_shown=3)
    assert text.startswith("ALERT session=vm-1") and "missed=14/16" in text
    assert text.count("position ") == 3 and "11 more missed positions" in text
    assert format_alert(alert).count("position ") == 14 and "less than even odds" not in text
    # templates never seen in training first (an ANR's three unseen lines were behind "... 3 more"), then by position
    unseen = replace(alert, misses=(*misses[:12], *(replace(m, key_id=-1, template=None) for m in misses[12:])))
    shown = format_alert(unseen, misses_shown=3)
    assert [ln.split(": seen ")[1] for ln in shown.splitlines() if ": seen " in ln] == [
        "<unseen template>", "<unseen template>", "T0"
    ]
    assert "(line 22)" in shown and "(line 23)" in shown and "11 more missed positions" in shown
    # a model of a few keys: no key outside its top-g, the positions named are the unlikely ones, and it says so
    unlikely = replace(alert, n_misses=0, misses=misses[:2])
    text = format_alert(unlikely, misses_shown=1)
    assert "missed=0/16" in text and "no key outside the top-g; the keys the model gave less than even odds:" in text
    assert "1 more unlikely positions" in text
    # a window with the session's end mark, missed too: "missed=17/16" read as more misses than positions
    ended = replace(alert, n_misses=17, n_marks=1)
    assert "missed=17/17 marks=1 " in format_alert(ended) and ended.missed() == "17 of 17 (16 keys, 1 session marks)"
    from logbert.service.webhook import alertmanager_payload

    said = alertmanager_payload([ended])[0]["annotations"]["description"]
    assert said.startswith("17 of 17 (16 keys, 1 session marks) missed")
    # a time window: the name score gives it, in tail's text and JSON and the webhook (the index alone was t10's 14)
    timed = replace(alert, window_index=14, window="t10")
    assert "ALERT session=vm-1 window=t10 " in format_alert(timed) and "window=0 " in format_alert(alert)
    assert json.loads(format_alert(timed, json_output=True))["window"] == "t10"
    assert "window" not in json.loads(format_alert(alert, json_output=True))  # mode session: its place, unnamed
    assert alertmanager_payload([timed])[0]["annotations"]["window"] == "t10"
    assert "window" not in alertmanager_payload([alert])[0]["annotations"]


def test_serve_refuses_the_alert_store_of_another_artifact(
    tmp_path: Path, uvicorn_calls: list[tuple[Any, dict[str, Any]]]
) -> None:
    from logbert.service.app import check_alert_store
    from logbert.service.settings import Settings

    db = tmp_path / "alerts.sqlite3"
    for name in ("nova", "bgl"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "meta.json").write_text(f'{{"artifact": "{name}"}}')
    check_alert_store(Settings(artifact=tmp_path / "nova", alerts_db=db))
    result = runner.invoke(cli_app, ["serve", str(tmp_path / "bgl"), "--alerts-db", str(db)])
    assert result.exit_code == 1 and "alerts of another artifact" in result.output and not uvicorn_calls


def test_serve_binds_the_alert_store_only_to_an_artifact_that_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken meta.json bound alerts.db to the hash of the broken file before the artifact was refused; once
    meta.json was repaired, serve refused the store as "the alerts of another artifact (e3b0c442…)"."""
    import uvicorn

    started: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.append(kw))
    art, db = tmp_path / "art", tmp_path / "alerts.db"
    art.mkdir()
    (art / "meta.json").write_text("")  # broken: the real loader refuses it
    broken = runner.invoke(cli_app, ["serve", str(art), "--alerts-db", str(db)])
    assert broken.exit_code == 1 and "meta.json" in broken.output and not started
    (art / "meta.json").write_text('{"repaired": true}')
    monkeypatch.setattr("logbert.service.app.load_artifact", lambda settings: FakeDetector())  # now it loads
    repaired = runner.invoke(cli_app, ["serve", str(art), "--alerts-db", str(db)])
    assert repaired.exit_code == 0, repaired.output
    assert len(started) == 1


def test_serve_reads_the_key_from_a_file_and_warns_when_exposed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    started: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.append(kw))
    monkeypatch.setattr("logbert.service.app.load_artifact", lambda settings: FakeDetector())
    (tmp_path / "art").mkdir()
    key = tmp_path / "key.txt"
    key.write_text("a-long-secret\n")
    db = str(tmp_path / "a.db")
    ok = runner.invoke(cli_app, ["serve", str(tmp_path / "art"), "--api-key-file", str(key), "--alerts-db", db])
    assert ok.exit_code == 0, ok.output
    assert "WARNING" not in ok.output
    exposed = runner.invoke(cli_app, ["serve", str(tmp_path / "art"), "--host", "0.0.0.0", "--alerts-db", db])
    assert exposed.exit_code == 0 and "without an API key" in exposed.output
    both = runner.invoke(cli_app, ["serve", str(tmp_path / "art"), "--api-key", "x", "--api-key-file", str(key)])
    assert both.exit_code == 1


def test_a_threshold_that_is_not_a_number_is_refused_by_the_settings() -> None:
    from pydantic import ValidationError

    from logbert.service.settings import Settings

    for bad in ("nan", "inf"):
        with pytest.raises(ValidationError):
            Settings(threshold=float(bad))


def test_serve_takes_the_artifact_from_logbert_artifact(
    tmp_path: Path, uvicorn_calls: list[tuple[Any, dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README lists LOGBERT_ARTIFACT among serve's variables; serve said "Missing argument 'artifact'"."""
    monkeypatch.setenv("LOGBERT_ARTIFACT", str(tmp_path))
    result = runner.invoke(cli_app, ["serve", "--alerts-db", str(tmp_path / "a.db")])
    assert result.exit_code == 0, result.output
    ((app, _),) = uvicorn_calls
    assert app.state.settings.artifact == tmp_path


def test_the_image_and_the_compose_file_hold_what_they_need() -> None:
    """The Dockerfile copied no LICENSE, which pyproject's license-files names (the wheel lost the MIT notice, and
    setuptools will refuse the build); compose's api service inherited the workers' LOGBERT_SOURCE, which serve reads
    as --source: it joined the consumer group as a fourth replica."""
    import tomllib

    import yaml

    license_files = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["license-files"]
    for dockerfile in (REPO / "Dockerfile", REPO / "deploy" / "worker.Dockerfile"):
        copied = [ln.split()[1:-1] for ln in dockerfile.read_text().splitlines() if ln.startswith("COPY ")]
        assert all(any(name in c for c in copied) for name in license_files), (dockerfile, copied)
    services = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text())["services"]
    api_env, worker_env = services["api"]["environment"], services["worker-1"]["environment"]
    assert "LOGBERT_SOURCE" not in api_env and api_env["LOGBERT_ALERTS_DB"] == worker_env["LOGBERT_ALERTS_DB"]
    assert all(services[f"worker-{i}"]["environment"]["LOGBERT_SOURCE"] for i in (1, 2, 3))
