"""Time windows with the volume surprise in streaming: the engine gives every time window the score ``logbert score``
gives it offline (a piece counts the lines of its window before it, also across a restart from a checkpoint taken
while a long window is being cut), and its score memo keeps equal keys at another place of a window apart."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from logbert.records import KeySequence
from logbert.results import SequenceScore
from logbert.streaming import StreamEngine, StreamLimits
from logbert.streaming.journal import IngestJournal
from logbert.windowing.windows import window_name

from ..conftest import tiny_nova_config

LIMITS = StreamLimits(flush_interval_s=0.0)
MAX_LEN = 8


@dataclass
class Trained:
    log: Path
    detector: Any
    offline: dict[str, Any]  # time window name -> SessionResult of `logbert score`
    notes: list[str]  # what `logbert train` said at its end


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    from logbert.datasets.simulator import write_simulated
    from logbert.pipeline.detector import load_detector, score
    from logbert.pipeline.fit import train

    root = tmp_path_factory.mktemp("volume")
    files = write_simulated(root / "sim", n_instances=40, anomaly_ratio=0.2, seed=5)
    config = tiny_nova_config(MAX_LEN).with_overrides(
        {"window.mode": "time", "window.time_window_s": 20.0, "scoring.calibration": "split"}
    )
    trained = train(files.log, root / "art", config, progress=False)
    detector = load_detector(root / "art", need_parser=True)
    assert detector.model.weighs_volume and detector.model.volumes_ is not None
    # the log scored: the training log with a storm of known lines, one long window's lines logged ten times over
    # (at their own times, so in their own window)
    windows = score(detector, files.log)
    long = min((r for r in windows if r.n_keys > 2 * MAX_LEN), key=lambda r: r.first_line_no)
    lines = files.log.read_text(encoding="utf-8").splitlines()
    burst = lines[long.first_line_no - 1 : long.last_line_no]
    stormy = root / "storm.log"
    stormy.write_text("\n".join([*lines[: long.last_line_no], *burst * 9, *lines[long.last_line_no :]]) + "\n")
    offline = {s.session_id: s for s in score(detector, stormy, explain=True)}
    return Trained(stormy, detector, offline, trained.notes)


class Recorder:
    """The detector, noting every piece it scores (a piece the score memo answers is not among them)."""

    def __init__(self, detector: Any) -> None:
        self.detector = detector
        self.config = detector.config
        self.threshold = detector.threshold
        self.reads_signals = detector.reads_signals
        self.stream_signals = detector.stream_signals
        self.parse_lines = detector.parse_lines
        self.score_sessions = detector.score_sessions
        self.memo_key = detector.memo_key
        self.windows: list[KeySequence] = []

    def score_sequences(self, sequences: Sequence[KeySequence], explain: bool = False) -> list[SequenceScore]:
        if not explain:
            self.windows.extend(sequences)
        out: list[SequenceScore] = self.detector.score_sequences(sequences, explain=explain)
        return out


def _window_scores(engine: StreamEngine, into: dict[str, float] | None = None) -> dict[str, float]:
    """Per time window, the largest score of its pieces as the engine scored them (the memo's answers too)."""
    out = {} if into is None else into
    for point in engine.recent_scores(10_000):
        name = window_name("time", point.window_index)
        out[name] = max(point.anomaly_score, out.get(name, -math.inf))
    return out


def _assert_offline_scores(got: dict[str, float], offline: dict[str, Any]) -> None:
    assert set(got) == set(offline)
    for name, result in offline.items():
        assert got[name] == pytest.approx(result.score, abs=1e-5), name


def test_streamed_time_windows_score_as_offline_with_their_volume_so_far(trained: Trained) -> None:
    lines = trained.log.read_text(encoding="utf-8").splitlines()
    rec = Recorder(trained.detector)
    engine = StreamEngine(rec, LIMITS)  # with the score memo: equal pieces at other offsets must not share a score
    for i in range(0, len(lines), 97):
        engine.ingest(lines[i : i + 97])
    engine.close_all()
    assert engine.drain(30)
    _assert_offline_scores(_window_scores(engine), trained.offline)
    assert engine.stats().windows_memo_hits > 0  # the memo answered some pieces
    assert engine.shutdown(30)
    # the check means something: windows longer than a piece, whose later pieces carry a volume surprise
    assert max(w.unit_offset for w in rec.windows) >= 2 * MAX_LEN
    volumes = trained.detector.model.volumes_
    assert volumes.surprise([w.unit_offset + len(w.key_ids) for w in rec.windows]).max() > 0  # the storm's
    (storm,) = [r for r in trained.offline.values() if r.surprises]
    margin = 2 * max(volumes.volumes)  # train says from how many lines on a window is scored by its volume
    assert any(f"its lines so far: past {margin} (twice the busiest of the" in note for note in trained.notes)
    assert storm.is_anomaly and "lines in this time window so far" in storm.surprises[0]


def test_a_restart_while_a_long_window_is_cut_keeps_its_volume_so_far(trained: Trained, tmp_path: Path) -> None:
    lines = trained.log.read_text(encoding="utf-8").splitlines()
    long = min((r for r in trained.offline.values() if r.n_keys > 2 * MAX_LEN), key=lambda r: r.first_line_no)
    cut = long.first_line_no + MAX_LEN + 2  # its first piece scored, the rest of its lines so far in the buffer
    journal = tmp_path / "journal"
    first = Recorder(trained.detector)
    engine = StreamEngine(first, LIMITS, journal=IngestJournal(journal))
    for i in range(0, cut, 97):
        engine.ingest(lines[i : min(i + 97, cut)])
    assert engine.drain(30) and engine.checkpoint()
    got = _window_scores(engine)
    engine.shutdown(30)
    state = IngestJournal(journal).load_checkpoint()
    assert state is not None
    assert [b.get("unit_offset") for b in state["router"]["buffers"]] == [MAX_LEN]
    second = Recorder(trained.detector)
    again = StreamEngine(second, LIMITS, journal=IngestJournal(journal))
    again.recover()
    for i in range(cut, len(lines), 97):
        again.ingest(lines[i : i + 97])
    again.close_all()
    assert again.drain(30)
    _assert_offline_scores(_window_scores(again, got), trained.offline)
    assert again.shutdown(30)
