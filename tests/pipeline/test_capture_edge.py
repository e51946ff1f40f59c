"""Sessions in flight when the log began (logbert.scoring.capture), on a real artifact: ``logbert score`` /
``evaluate``, ``tail`` and the service decide alike, report what they did not alert, and an artifact from
before the rule scores as it always did.

One tiny key-only artifact is trained on a simulated nova log; the log cut at 40 % of its time span is the
capture that begins while VMs are mid-lifecycle.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from logbert.results import exceeds

from ..conftest import tiny_nova_config

_STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}")
_INSTANCE = re.compile(r"\[instance: ([0-9a-f-]{36})\]")


@dataclass
class Edge:
    artifact: Path
    detector: Any
    full: Path  # the simulated log
    cut: Path  # the same log from 40 % of its time span on
    labels: Path


def _time(line: str) -> float:
    m = _STAMP.search(line)
    assert m is not None
    return datetime.strptime(m.group(0), "%Y-%m-%d %H:%M:%S.%f").timestamp()


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Edge:
    from logbert.datasets.simulator import write_simulated
    from logbert.pipeline.detector import load_detector
    from logbert.pipeline.fit import train

    root = tmp_path_factory.mktemp("edge")
    files = write_simulated(root / "sim", n_instances=60, anomaly_ratio=0.25, seed=3)
    config = tiny_nova_config(32).with_overrides({"scoring.calibration": "split"})
    train(files.log, root / "art", config, labels=files.labels, progress=False)
    lines = files.log.read_text(encoding="utf-8").splitlines()
    t0, t1 = _time(lines[0]), _time(lines[-1])
    cut = root / "cut.log"
    cut.write_text("\n".join(ln for ln in lines if _time(ln) >= t0 + 0.4 * (t1 - t0)) + "\n", encoding="utf-8")
    detector = load_detector(root / "art", need_parser=True)
    # a model this small scores the cut lifecycles near its stored threshold: decide at the median score of those
    # in flight (some above it), so that what the rule withholds is visible; the service gets it too (threshold)
    from logbert.pipeline.detector import score_with_report

    partial = sorted(r.score for r in score_with_report(detector, cut)[0] if r.partial is not None)
    assert len(partial) >= 2 and partial[-1] > partial[len(partial) // 2]
    detector.use_threshold(threshold=partial[len(partial) // 2])
    return Edge(root / "art", detector, files.log, cut, files.labels)


def _offline(edge: Edge, path: Path) -> tuple[dict[str, Any], Any]:
    from logbert.pipeline.detector import score_with_report

    results, report = score_with_report(edge.detector, path)
    return {r.session_id: r for r in results}, report


def test_train_stores_the_learned_window_and_first_keys(edge: Edge) -> None:
    meta = json.loads((edge.artifact / "meta.json").read_text(encoding="utf-8"))
    state = meta["capture_edge"]
    ref = edge.detector.model.capture_edge_
    assert ref is not None and ref.to_dict() == state
    assert 0 < ref.window_s < 300  # the largest gap within a simulated lifecycle: seconds, not the log's span
    claim = [k for k, t in enumerate(edge.detector.parser.templates_) if "Attempting claim" in t]
    assert claim and set(claim) <= set(ref.first_keys)  # a lifecycle begins with its claim
    # train's read report says where its capture began, as score's does (it said null)
    report = json.loads((edge.artifact / "train_report.json").read_text(encoding="utf-8"))
    assert isinstance(report["read_report"]["first_time"], float)


def test_sessions_in_flight_at_the_start_are_scored_but_not_flagged(edge: Edge) -> None:
    results, report = _offline(edge, edge.cut)
    partial = {sid: r for sid, r in results.items() if r.partial is not None}
    assert partial, "the cut log begins mid-lifecycle: some sessions were in flight"
    assert report.n_in_flight == len(partial)
    assert report.first_time is not None
    window = edge.detector.model.capture_edge_.window_s
    for r in partial.values():
        assert not r.is_anomaly
        assert r.start_time - report.first_time <= window
        assert r.partial.startswith("partial: began before the first line of the log (first line ")
    # what the rule changes: a session cut by the capture would alert
    assert any(exceeds(r.score, r.threshold) for r in partial.values())
    # every other session is decided as before
    for r in results.values():
        if r.partial is None:
            assert r.is_anomaly == bool(exceeds(r.score, r.threshold))
    # the whole log begins with a claim: nothing in flight there
    whole, whole_report = _offline(edge, edge.full)
    assert whole_report.n_in_flight == 0 and all(r.partial is None for r in whole.values())


def test_an_artifact_without_the_reference_scores_exactly_as_before(edge: Edge, tmp_path: Path) -> None:
    from logbert.pipeline.detector import load_detector
    from logbert.pipeline.estimator import LogBertDetector

    model = LogBertDetector.load(edge.artifact)
    model.capture_edge_ = None
    model.save(tmp_path / "old", parser_state=model.parser_state_)
    assert "capture_edge" not in json.loads((tmp_path / "old" / "meta.json").read_text(encoding="utf-8"))
    old = load_detector(tmp_path / "old")
    old.use_threshold(threshold=edge.detector.threshold)
    assert old.model.capture_edge_ is None
    from logbert.pipeline.detector import score_with_report

    before, report = score_with_report(old, edge.cut)
    after, _ = _offline(edge, edge.cut)
    assert report.n_in_flight == 0
    assert all(r.partial is None and r.is_anomaly == bool(exceeds(r.score, r.threshold)) for r in before)
    assert {r.session_id: r.score for r in before} == {sid: r.score for sid, r in after.items()}
    assert sum(r.is_anomaly for r in before) > sum(r.is_anomaly for r in after.values())


def test_a_malformed_reference_is_refused(edge: Edge, tmp_path: Path) -> None:
    from logbert.errors import UnknownArtifact
    from logbert.pipeline.estimator import _read_capture_edge

    with pytest.raises(UnknownArtifact, match="capture_edge is malformed"):
        _read_capture_edge({"capture_edge": {"window_s": -1, "first_keys": [], "n_sessions": 0}}, tmp_path)
    assert _read_capture_edge({}, tmp_path) is None


def test_tail_and_the_service_decide_as_offline(edge: Edge, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from logbert.service.app import create_app
    from logbert.streaming import StreamLimits
    from logbert.streaming.tail import TailOptions, run_tail

    from ..service.conftest import make_settings

    results, report = _offline(edge, edge.cut)
    flagged = {sid for sid, r in results.items() if r.is_anomaly}
    partial = {sid: r.partial for sid, r in results.items() if r.partial is not None}
    out = io.StringIO()
    limits = StreamLimits(flush_interval_s=0.0)
    stats = run_tail(edge.detector, str(edge.cut), limits, TailOptions(follow=False, json_output=True), out)
    alerted = {json.loads(line)["session_id"] for line in out.getvalue().splitlines()}
    assert alerted == flagged and flagged
    assert stats.sessions_in_flight == len(partial) == report.n_in_flight
    assert stats.windows_in_flight_not_alerted >= 1

    lines = edge.cut.read_text(encoding="utf-8").splitlines()
    settings = make_settings(tmp_path, artifact=edge.artifact, threshold=edge.detector.threshold)
    with TestClient(create_app(settings)) as client:
        for i in range(0, len(lines), 300):
            assert client.post("/v1/ingest/text", content="\n".join(lines[i : i + 300]) + "\n").status_code == 200
        assert client.post("/v1/sessions/close-all").json()["drained"] is True
        sessions = {s["session_id"]: s for s in client.get("/v1/sessions", params={"limit": 1000}).json()["sessions"]}
        alerts = client.get("/v1/alerts", params={"limit": 1000}).json()["alerts"]
        stats_body = client.get("/v1/stats").json()
        one_shot = {s["session_id"]: s for s in client.post("/v1/score", json={"lines": lines}).json()["sessions"]}
    assert {sid: s["partial"] for sid, s in sessions.items() if s["partial"]} == partial
    assert {sid for sid, s in sessions.items() if s["is_anomaly"]} == flagged
    assert {a["session_id"] for a in alerts} == flagged
    assert stats_body["values"]["sessions_in_flight"] == len(partial)
    assert {sid: s["partial"] for sid, s in one_shot.items() if s["partial"]} == partial
    assert {sid for sid, s in one_shot.items() if s["is_anomaly"]} == flagged


def _fragment(edge: Edge, after: float) -> list[str]:
    """A lifecycle's lines without its first three (it looks in flight), under a new id, 1 s after ``after``."""
    lines = edge.full.read_text(encoding="utf-8").splitlines()
    by_id: dict[str, list[str]] = {}
    for ln in lines:
        m = _INSTANCE.search(ln)
        if m:
            by_id.setdefault(m.group(1), []).append(ln)
    old, own = next((i, ls) for i, ls in by_id.items() if len(ls) > 12)
    new, shift = str(uuid.uuid4()), after + 1.0 - _time(own[3])
    out = []
    for ln in own[3:]:
        when = datetime.fromtimestamp(_time(ln) + shift)
        out.append(_STAMP.sub(when.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3], ln.replace(old, new), count=1))
    return out


def test_a_restart_keeps_the_capture_start(edge: Edge, tmp_path: Path) -> None:
    """The stream's first line is kept in the checkpoint: after a restart, a session that looks in flight but
    begins long after the stream's start is judged as offline judges it, not excused."""
    from logbert.streaming import StreamEngine, StreamLimits
    from logbert.streaming.journal import IngestJournal

    window = edge.detector.model.capture_edge_.window_s
    cut = edge.cut.read_text(encoding="utf-8").splitlines()
    t0 = _time(cut[0])
    k = next(i for i, ln in enumerate(cut) if _time(ln) > t0 + window + 5)
    head = cut[:k]
    frag = _fragment(edge, _time(head[-1]))
    log = tmp_path / "restart.log"
    log.write_text("\n".join(head + frag) + "\n", encoding="utf-8")
    offline, _ = _offline(edge, log)
    frag_id = _INSTANCE.search(frag[0]).group(1)  # type: ignore[union-attr]
    assert offline[frag_id].partial is None
    # what a forgotten start would do: with the restart's first line as the capture start, it is excused
    keys = [p.key_id for p in edge.detector.parse_lines(frag)[0] if not isinstance(p, str)]
    assert edge.detector.in_flight(keys, _time(frag[0]), _time(frag[0])) is not None

    limits = StreamLimits(flush_interval_s=0.0)
    journal_dir = tmp_path / "journal"
    first = StreamEngine(edge.detector, limits, journal=IngestJournal(journal_dir))
    first.recover()
    first.ingest(head)
    assert first.drain(30)
    assert first.checkpoint(force=True)
    first.shutdown(30)
    second = StreamEngine(edge.detector, limits, journal=IngestJournal(journal_dir))
    second.recover()
    second.ingest(frag)
    second.close_all()
    assert second.drain(30)
    summary = second.session(frag_id)
    assert summary is not None and summary.partial is None
    restored = {sid: r.partial for sid, r in offline.items() if r.partial is not None}
    assert all(second.session(sid) is None or second.session(sid).partial == why for sid, why in restored.items())
    second.shutdown(30)


def test_evaluate_predicts_them_normal_and_says_how_many(edge: Edge, tmp_path: Path) -> None:
    from logbert.pipeline.evaluate import evaluate

    # new instance ids: no session of the cut log was seen in training, so every one is evaluated (as normal)
    text = edge.cut.read_text(encoding="utf-8")
    for old in dict.fromkeys(_INSTANCE.findall(text)):
        text = text.replace(old, str(uuid.uuid4()))
    fresh = tmp_path / "fresh.log"
    fresh.write_text(text, encoding="utf-8")
    result = evaluate(edge.detector, normal=fresh, baselines=())
    rep = result.report
    n = sum(r.partial is not None for r in result.sessions)
    assert n > 0 and rep["n_in_flight"] == n and rep["n_in_flight_abnormal"] == 0
    assert rep["n_in_flight_over_threshold"] >= 1
    # the false alarms are the flagged sessions, those in flight left out (their scores, and the AUROC, unchanged)
    assert rep["fp"] == sum(r.is_anomaly for r in result.sessions)
    assert rep["fp"] < sum(bool(exceeds(r.score, r.threshold)) for r in result.sessions)


def test_the_cli_shows_them_and_their_count(edge: Edge) -> None:
    from typer.testing import CliRunner

    from logbert.cli import app as cli_app

    results, report = _offline(edge, edge.cut)
    n = report.n_in_flight
    threshold = str(edge.detector.threshold)
    scored = CliRunner().invoke(cli_app, ["score", str(edge.artifact), str(edge.cut), "--threshold", threshold])
    assert scored.exit_code == 0, scored.output
    rows = [json.loads(line) for line in scored.stdout.splitlines() if line.startswith("{")]
    assert {r["session_id"]: r["partial"] for r in rows if "partial" in r} == {
        sid: r.partial for sid, r in results.items() if r.partial is not None
    }
    assert all(not r["is_anomaly"] for r in rows if "partial" in r)
    assert f"{n} sessions in flight at the capture start, not alerted" in " ".join(scored.stderr.split())
    tailed = CliRunner().invoke(
        cli_app, ["tail", str(edge.cut), "-a", str(edge.artifact), "--no-follow", "--threshold", threshold]
    )
    assert tailed.exit_code == 0, tailed.output
    assert f"in_flight_at_start={n} (not alerted; " in " ".join(tailed.stderr.split())
