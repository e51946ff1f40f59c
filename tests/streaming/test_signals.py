"""Time- and value-aware artifacts in streaming (issue 13, item 6): ``tail`` and the engine give every
session the score ``logbert score`` gives it offline, also across a restart; key-only artifacts are as before.

Two tiny artifacts are trained once on a simulated nova log with time and value faults (sessions of 13-36
keys, windows of 16: most sessions are cut, so the gaps across a cut and the session's elapsed time
in every window are checked too).
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from logbert.records import SESSION_END_KEY, SESSION_START_KEY, KeySequence, SessionSignals
from logbert.results import ParsedLine, SequenceScore
from logbert.streaming import SessionRouter, StreamEngine, StreamLimits
from logbert.streaming.journal import IngestJournal
from logbert.streaming.tail import TailOptions, run_tail
from logbert.streaming.windows import window_from_json, window_to_json

from ..conftest import tiny_nova_config
from .fakes import FakeDetector, feed_interleaved

LIMITS = StreamLimits(flush_interval_s=0.0)
MAX_LEN = 16


@dataclass
class Trained:
    artifact: Path  # the model.signals="all" artifact
    log: Path
    fault_types: dict[str, str]
    signals: Any  # Detector of a model.signals="all" artifact
    keys_only: Any  # Detector of a key-only artifact, same data
    offline: dict[str, Any]  # session id -> SessionResult of `logbert score` (the signal artifact)
    offline_keys_only: dict[str, Any]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    from logbert.datasets.simulator import write_simulated
    from logbert.pipeline.detector import load_detector, score
    from logbert.pipeline.fit import train

    root = tmp_path_factory.mktemp("signals")
    files = write_simulated(root / "sim", n_instances=60, anomaly_ratio=0.25, seed=3, time_value_faults=True)
    base = tiny_nova_config(MAX_LEN).with_overrides({"scoring.calibration": "split"})
    train(files.log, root / "all", base.with_overrides({"model.signals": "all"}), labels=files.labels, progress=False)
    train(files.log, root / "keys", base, labels=files.labels, progress=False)
    signals = load_detector(root / "all", need_parser=True)  # no longer refused
    keys_only = load_detector(root / "keys", need_parser=True)
    assert signals.reads_signals and not keys_only.reads_signals
    with files.fault_types.open(encoding="utf-8") as f:
        faults = {row["instance_id"]: row["fault_type"] for row in csv.DictReader(f)}
    return Trained(
        root / "all",
        files.log,
        faults,
        signals,
        keys_only,
        {s.session_id: s for s in score(signals, files.log)},
        {s.session_id: s for s in score(keys_only, files.log)},
    )


class Recorder:
    """A detector that notes every plain score it gives (per session: its windows' scores), and the windows.

    ``drop_signals``: it claims a key-only model, so the engine builds no signals (the bug these tests catch).
    """

    def __init__(self, detector: Any, drop_signals: bool = False) -> None:
        self.detector = detector
        self.config = detector.config
        self.threshold = detector.threshold
        self.reads_signals = detector.reads_signals and not drop_signals
        self.stream_signals = detector.stream_signals
        self.parse_lines = detector.parse_lines
        self.score_sessions = detector.score_sessions
        self.scores: dict[str, list[SequenceScore]] = {}
        self.windows: list[KeySequence] = []

    def score_sequences(self, sequences: Sequence[KeySequence], explain: bool = False) -> list[SequenceScore]:
        out: list[SequenceScore] = self.detector.score_sequences(sequences, explain=explain)
        if not explain:
            for seq, s in zip(sequences, out, strict=True):
                self.scores.setdefault(seq.session_id, []).append(s)
                self.windows.append(seq)
        return out

    def session_scores(self) -> dict[str, float]:
        return {sid: max(s.anomaly_score for s in scores) for sid, scores in self.scores.items()}


def _lines(log: Path) -> list[str]:
    return log.read_text(encoding="utf-8").splitlines()


def _stream(rec: Recorder, log: Path, **engine_options: Any) -> None:
    """Every line of ``log`` through a StreamEngine over ``rec``, 97 lines a call, then its shutdown."""
    engine = StreamEngine(rec, LIMITS, **engine_options)
    lines = _lines(log)
    for i in range(0, len(lines), 97):
        engine.ingest(lines[i : i + 97])
    assert engine.shutdown(30)


def _assert_offline_scores(got: dict[str, float], offline: dict[str, Any]) -> None:
    assert set(got) == set(offline)
    for sid, result in offline.items():
        assert got[sid] == pytest.approx(result.score, abs=1e-5), sid


def test_tail_gives_every_session_the_offline_score_and_decision_of_a_time_value_artifact(trained: Trained) -> None:
    rec = Recorder(trained.signals)
    out = io.StringIO()
    run_tail(rec, str(trained.log), LIMITS, TailOptions(follow=False, json_output=True, batch_lines=97), out)
    assert rec.windows and all(w.signals is not None for w in rec.windows)
    assert any(w.window_index > 0 for w in rec.windows)  # sessions longer than a window: cut as offline
    _assert_offline_scores(rec.session_scores(), trained.offline)
    # the decisions: tail's alerts name exactly the sessions `logbert score` flags
    alerted = {json.loads(line)["session_id"] for line in out.getvalue().splitlines()}
    flagged = {sid for sid, s in trained.offline.items() if s.is_anomaly}
    assert alerted == flagged and flagged
    # the time and value faults are among them (a key-only model cannot see these)
    tv_faults = {sid for sid, f in trained.fault_types.items() if f in ("slow_spawn", "slow_network", "oversized_disk")}
    assert tv_faults & alerted
    # and their alerts say which time or value surprised (AlertRecord.surprises, as `score --explain` does)
    alerts = [json.loads(line) for line in out.getvalue().splitlines()]
    assert any(a["surprises"] for a in alerts if a["session_id"] in tv_faults)

    # what this test would miss if the engine dropped the signals: other scores
    dropped = Recorder(trained.signals, drop_signals=True)
    _stream(dropped, trained.log, score_memo_windows=0)  # windows without signals: the memo would answer
    assert all(w.signals is None for w in dropped.windows)
    wrong = dropped.session_scores()
    assert sum(abs(wrong[sid] - s.score) > 1e-3 for sid, s in trained.offline.items()) >= 1


def test_the_service_streams_and_one_shot_scores_a_time_value_artifact_as_offline(
    trained: Trained, tmp_path: Path
) -> None:
    """The HTTP service loads it (its lifespan asks for a parser, no more refusal), and both its
    streaming ingest and ``POST /v1/score`` give every session the offline score and decision."""
    from fastapi.testclient import TestClient

    from logbert.service.app import create_app

    from ..service.conftest import make_settings

    lines = _lines(trained.log)
    with TestClient(create_app(make_settings(tmp_path, artifact=trained.artifact))) as client:
        for i in range(0, len(lines), 500):
            r = client.post("/v1/ingest/text", content="\n".join(lines[i : i + 500]) + "\n")
            assert r.status_code == 200, r.text
        assert client.post("/v1/sessions/close-all").json()["drained"] is True
        body = client.get("/v1/sessions", params={"limit": 1000}).json()
        streamed = {s["session_id"]: s for s in body["sessions"]}
        alerts = client.get("/v1/alerts", params={"limit": 1000}).json()["alerts"]
        one_shot = {s["session_id"]: s for s in client.post("/v1/score", json={"lines": lines}).json()["sessions"]}
    _assert_offline_scores({sid: s["max_score"] for sid, s in streamed.items()}, trained.offline)
    _assert_offline_scores({sid: s["score"] for sid, s in one_shot.items()}, trained.offline)
    flagged = {sid for sid, s in trained.offline.items() if s.is_anomaly}
    assert {sid for sid, s in streamed.items() if s["is_anomaly"]} == flagged
    assert {sid for sid, s in one_shot.items() if s["is_anomaly"]} == flagged
    assert {a["session_id"] for a in alerts} == flagged


@pytest.mark.parametrize("mode", ["time", "values"])
def test_a_time_only_or_values_only_artifact_streams_as_offline(mode: str, tmp_path: Path) -> None:
    """``stream_signals`` parses values only where the model reads them (none for ``time``): the offline scores."""
    from logbert.datasets.simulator import write_simulated
    from logbert.pipeline.detector import load_detector, score
    from logbert.pipeline.fit import train

    files = write_simulated(tmp_path / "sim", n_instances=40, anomaly_ratio=0.25, seed=4, time_value_faults=True)
    config = tiny_nova_config(MAX_LEN).with_overrides({"scoring.calibration": "split", "model.signals": mode})
    train(files.log, tmp_path / "art", config, labels=files.labels, progress=False)
    detector = load_detector(tmp_path / "art", need_parser=True)
    assert detector.config.model.signals == mode
    offline = {s.session_id: s for s in score(detector, files.log)}
    rec = Recorder(detector)
    _stream(rec, files.log)
    assert all(w.signals is not None for w in rec.windows)
    has_values = any(v for w in rec.windows if w.signals is not None for v in w.signals.values)
    assert has_values == (mode == "values")
    _assert_offline_scores(rec.session_scores(), offline)


def test_a_restart_from_a_checkpoint_mid_stream_keeps_the_offline_scores(trained: Trained, tmp_path: Path) -> None:
    lines = _lines(trained.log)
    half = len(lines) // 2
    journal = tmp_path / "journal"

    class Slow(Recorder):  # the windows closed just before the checkpoint are still with the model at it
        def score_sequences(self, sequences: Sequence[KeySequence], explain: bool = False) -> list[SequenceScore]:
            import time

            time.sleep(0.3)
            return super().score_sequences(sequences, explain)

    first = Slow(trained.signals)
    engine = StreamEngine(first, LIMITS, journal=IngestJournal(journal))
    for i in range(0, half, 97):
        engine.ingest(lines[i : min(i + 97, half)])
    assert engine.drain(30)
    # the sessions already complete end here (closing one that is not would cut it unlike offline)
    done = {sid for sid, s in trained.offline.items() if s.last_line_no is not None and s.last_line_no <= half}
    assert done and engine.close_sessions(sorted(done)) == len(done)
    assert engine.checkpoint()  # open sessions (held whole, cut windows' lines) and windows being scored
    engine.ingest(lines[half : half + 50])  # after the checkpoint: replayed from the journal
    engine.shutdown(30)  # the process goes; the journal keeps the open sessions
    state = IngestJournal(journal).load_checkpoint()
    assert state is not None and state["outstanding"], "no window was with the scorer at the checkpoint"
    assert all("signals" in w for w in state["outstanding"])
    before_restart = {sid for sid in first.scores}

    second = Recorder(trained.signals)
    again = StreamEngine(second, LIMITS, journal=IngestJournal(journal))
    report = again.recover()
    assert report.sessions_restored > 0 and report.windows_restored > 0 and report.requests_replayed == 1
    for i in range(half + 50, len(lines), 97):
        again.ingest(lines[i : i + 97])
    again.close_all()
    assert again.drain(30)
    again.shutdown(30)
    got = first.session_scores()
    for sid, score in second.session_scores().items():
        got[sid] = max(score, got.get(sid, -math.inf))
    assert before_restart and set(second.scores) - before_restart
    _assert_offline_scores(got, trained.offline)


def test_a_key_only_artifact_streams_as_before(trained: Trained, tmp_path: Path) -> None:
    rec = Recorder(trained.keys_only)
    engine = StreamEngine(rec, LIMITS, journal=IngestJournal(tmp_path / "j"))
    lines = _lines(trained.log)
    for i in range(0, len(lines), 97):
        engine.ingest(lines[i : i + 97])
        if i == 97 * 10:
            assert engine.drain(30) and engine.checkpoint()
            state = IngestJournal(tmp_path / "j").load_checkpoint()
            assert state is not None and state["router"]["buffers"]
            # the checkpoint's format is the one before times and values: no new field (a session longer than a
            # window holds the keys before its buffer, unit_offset, as any artifact's checkpoint does)
            assert all(set(b) - {"unit_offset"} == {"key", "source", "next_window_index", "n_emitted", "slot", "lines",
                                                     "last"} for b in state["router"]["buffers"])
            assert all("signals" not in w for w in state["outstanding"])
    engine.close_all()
    assert engine.drain(30)
    # windows are cut at max_len as the keys arrive (not held), carry no signals, and the memo answers repeats
    assert all(w.signals is None for w in rec.windows)
    assert engine.stats().windows_memo_hits > 0
    engine.shutdown(30)
    # the memo answered most windows (the recorder did not see them): the sessions' summaries, with offline
    summaries = {sid: engine.session(sid) for sid in trained.offline_keys_only}
    for sid, s in trained.offline_keys_only.items():
        summary = summaries[sid]
        assert summary is not None and summary.max_score == pytest.approx(s.score, abs=1e-5), sid
        assert summary.is_anomaly == s.is_anomaly


def test_queue_partitions_carry_the_signals_too(trained: Trained) -> None:
    """A queue replica's engines see the detector through ``PartitionScorer``: it passes the signals on,
    and two partitions together give every session the offline score."""
    from logbert.queue.partitions import partition_of
    from logbert.queue.replica import PartitionScorer, ScorerLocks

    lines, locks, got = _lines(trained.log), ScorerLocks(), {}
    for part in range(2):
        engine = StreamEngine(PartitionScorer(trained.signals, part, 2, locks), LIMITS)
        for i in range(0, len(lines), 97):
            engine.ingest(lines[i : i + 97])
        engine.close_all()
        assert engine.drain(30)
        for sid in trained.offline:
            summary = engine.session(sid)
            if summary is not None:
                assert partition_of(sid, 2) == part
                got[sid] = summary.max_score
        engine.shutdown(30)
    _assert_offline_scores(got, trained.offline)


def _gaps(sig: SessionSignals) -> list[float | None]:
    return [None if math.isnan(g) else g for g in sig.gaps]


def _builder(keys: Sequence[int], stamps: Sequence[float | None], raws: Sequence[str]) -> SessionSignals:
    """The offline rule (pipeline.signals.line_signals) on the fake detector's lines: time only."""
    from logbert.parsing.params import SlotSchema
    from logbert.pipeline.signals import line_signals

    return line_signals(keys, stamps, [[] for _ in keys], SlotSchema())


def _fake_lines(n: int) -> list[ParsedLine]:
    det = FakeDetector(max_len=4)
    t, raw = 100.0, []
    for i in range(n):
        t += [0.5, 3.0, 0.0, 12.0][i % 4] - (20.0 if i == 7 else 0.0)  # one step back: clipped to 0, as offline
        raw.append(f"INFO {'' if i in (5, 6) else f't={t:.1f} '}[instance: vm-1] k{i % 9} step {i}")
    parsed, _ = det.parse_lines(raw)
    return [p for p in parsed if isinstance(p, ParsedLine)]


@pytest.mark.parametrize("hold_keys", [1024, 4], ids=["held-whole", "scored-early"])
def test_the_router_gives_windows_the_offline_gaps_and_elapsed_time_across_a_restart(hold_keys: int) -> None:
    """Offline: the session's signals (with bounds), cut with the keys. The router, fed line by line and
    restored from its JSON state after every line, gives the same windows and gaps; the elapsed time is
    the session's in every window, except windows scored early (a unit longer than hold_keys): the time so far."""
    from logbert.pipeline.sessions import session_windows

    window = FakeDetector(max_len=4, session_bounds=True).config.window
    parsed = _fake_lines(19)
    keys, stamps = [p.key_id for p in parsed], [p.timestamp for p in parsed]
    session = KeySequence("vm-1", keys, line_nos=[p.line_no for p in parsed], signals=_builder(keys, stamps, []))
    offline, _ = session_windows([session], window)

    router = SessionRouter(window, 4, signals=_builder, hold_keys=hold_keys)
    got = []
    for p in parsed:
        _, windows = router.add("vm-1", (p.line_no, p.raw, p.key_id, p.template, p.timestamp, "src", None), 0.0)
        got.extend(windows)
        restored = SessionRouter(window, 4, signals=_builder, hold_keys=hold_keys)
        restored.load_state(json.loads(json.dumps(router.state())), 0.0)
        router = restored
    got.extend(router.close("vm-1", "closed") or [])
    assert [w.sequence.key_ids for w in got] == [w.key_ids for w in offline]
    assert got[0].sequence.key_ids[0] == SESSION_START_KEY and got[-1].sequence.key_ids[-1] == SESSION_END_KEY
    early = shorter = 0
    for w, o in zip(got, offline, strict=True):
        back = window_from_json(json.loads(json.dumps(window_to_json(w))))  # as a checkpoint keeps it
        for sig in (w.sequence.signals, back.sequence.signals):
            assert sig is not None and o.signals is not None
            assert _gaps(sig) == _gaps(o.signals)
            if w.reason == "full":
                early += 1
                assert sig.elapsed is not None and o.signals.elapsed is not None
                assert sig.elapsed <= o.signals.elapsed
                shorter += sig.elapsed < o.signals.elapsed
            else:
                assert sig.elapsed == o.signals.elapsed
    assert (early > 0) == (shorter > 0) == (hold_keys == 4)


class SignalFake(FakeDetector):
    """The fake detector as a time-aware artifact: its lines' ``t=`` times, by the offline rule."""

    reads_signals = True

    def stream_signals(
        self, keys: Sequence[int], stamps: Sequence[float | None], raws: Sequence[str]
    ) -> SessionSignals:
        return _builder(keys, stamps, raws)


@pytest.mark.parametrize(
    "args",
    [
        {"mode": "session", "max_len": 4, "session_bounds": True},
        {"mode": "session", "max_len": 5, "min_len": 3},
        {"mode": "sliding", "max_len": 8, "window_size": 4, "stride": 2},
        {"mode": "time", "time_window_s": 30.0, "max_len": 4},
    ],
    ids=["session-bounds", "session", "sliding", "time"],
)
def test_every_window_mode_gives_the_offline_gaps_and_elapsed_time(args: dict[str, Any]) -> None:
    """Offline: each unit (session, sliding window, time run) gets its signals from its lines, cut with the
    keys (``session_windows``). Streaming: many sources and sessions interleaved in small calls."""
    from logbert.pipeline.sessions import session_windows
    from logbert.windowing.windows import group_sessions, sliding_windows, time_windows

    from .test_parity import SOURCES, _source_lines

    rng = random.Random(7)
    by_source = {source: _source_lines(rng, i + 1, 300) for i, source in enumerate(SOURCES)}
    det = SignalFake(**args)
    w = det.config.window
    offline: dict[str, list[tuple[list[int], list[float | None], float | None]]] = {}
    for source, lines in by_source.items():
        parsed = [p for p in det.parse_lines(lines)[0] if isinstance(p, ParsedLine)]
        keys, nos, stamps = [p.key_id for p in parsed], [p.line_no for p in parsed], [p.timestamp for p in parsed]
        at = dict(zip(nos, stamps, strict=True))
        if w.mode == "session":
            units = group_sessions([p.session_ids for p in parsed], keys, nos, stamps).sessions
        elif w.mode == "sliding":
            units = sliding_windows(keys, w.window_size, w.stride, line_nos=nos)
        else:
            units = time_windows(keys, stamps, w.time_window_s, line_nos=nos)
        units = [replace(u, signals=_builder(u.key_ids, [at[n] for n in u.line_nos], [])) for u in units]
        kept, _ = session_windows(units, w)
        for k in kept:
            assert k.signals is not None
            offline.setdefault(k.session_id if w.mode == "session" else source, []).append(
                (k.key_ids, _gaps(k.signals), k.signals.elapsed)
            )

    streamed_det = SignalFake(**args)
    engine = StreamEngine(streamed_det, LIMITS)
    feed_interleaved(engine, by_source, rng)
    streamed: dict[str, list[tuple[list[int], list[float | None], float | None]]] = {}
    for s in sorted(streamed_det.scored, key=lambda s: (s.session_id, s.window_index)):
        assert s.signals is not None
        streamed.setdefault(s.session_id, []).append((s.key_ids, _gaps(s.signals), s.signals.elapsed))
    assert streamed == offline
    assert any(len(windows) > 1 for windows in offline.values())
