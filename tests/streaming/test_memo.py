"""The score memo: windows with the same keys are scored once, and nothing a caller sees changes."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from logbert.records import KeySequence, SessionSignals
from logbert.results import SequenceScore
from logbert.streaming import AlertRecord, StreamEngine, StreamLimits
from logbert.streaming.memo import ScoreMemo

from .fakes import FakeDetector, vm_lines


def _seq(sid: str, keys: list[int], first_line: int = 1) -> KeySequence:
    return KeySequence(sid, keys, line_nos=list(range(first_line, first_line + len(keys))))


def test_the_memo_gives_what_the_scorer_gives_and_scores_each_distinct_window_once() -> None:
    rng = random.Random(3)
    shapes = [[0, 1, 2], [2, 1, 0], [5, 3, 4, 4], [-1, 2]]  # -1 is UNK_KEY: the fake misses it
    seqs = [_seq(f"s{i}", rng.choice(shapes), first_line=rng.randint(1, 900)) for i in range(40)]
    det, memo = FakeDetector(max_len=8), ScoreMemo(100)
    for explain in (False, True):
        assert memo.score(det, seqs, explain=explain) == FakeDetector(max_len=8).score_sequences(seqs, explain=explain)
    assert det.batches == [len(shapes), len(shapes)]  # one call each, every distinct window once
    assert (memo.hits, memo.misses) == (40 - len(shapes), len(shapes))
    # a second batch: nothing left to score, explanations carry each window's own line numbers
    again = [_seq("t", [2, 1, 0], first_line=500), _seq("u", [0, 1, 2], first_line=7)]
    assert memo.score(det, again, explain=True) == FakeDetector(max_len=8).score_sequences(again, explain=True)
    assert memo.score(det, again) == FakeDetector(max_len=8).score_sequences(again)
    assert det.batches == [len(shapes), len(shapes)]
    missed = memo.score(det, again, explain=True)[0].misses
    assert [m.line_no for m in missed] == [501, 502]


def test_the_memo_is_bounded_least_recently_used_first() -> None:
    det, memo = FakeDetector(max_len=8), ScoreMemo(20)
    memo.score(det, [_seq(f"s{k}", [k, k]) for k in range(30)])
    assert len(memo) == 20
    memo.score(det, [_seq("new", [29, 29]), _seq("old", [0, 0])])  # 29 is remembered, 0 was dropped
    assert det.batches == [30, 1]


def test_a_new_threshold_empties_the_memo() -> None:
    det, memo = FakeDetector(max_len=8), ScoreMemo(100)
    seqs = [_seq("a", [3, 1])]  # score 0.5
    assert memo.score(det, seqs)[0].is_anomaly
    det.threshold = 0.9
    assert not memo.score(det, seqs)[0].is_anomaly
    assert det.batches == [1, 1]


def test_windows_with_signals_and_a_memo_of_zero_always_go_to_the_scorer() -> None:
    det = FakeDetector(max_len=8)
    signals = SessionSignals(gaps=(0.0, 1.0), values=((), ()))
    with_signals = replace(_seq("a", [1, 2]), signals=signals)
    memo = ScoreMemo(100)
    memo.score(det, [with_signals, with_signals, _seq("b", [1, 2])])
    memo.score(det, [with_signals])
    assert det.batches == [3, 1]
    off = ScoreMemo(0)
    off.score(det, [_seq("c", [1, 2]), _seq("d", [1, 2])])
    assert det.batches[-1] == 2 and len(off) == 0
    with pytest.raises(ValueError):
        ScoreMemo(-1)


class _Sink:
    def __init__(self) -> None:
        self.alerts: list[AlertRecord] = []

    def add_alerts(self, alerts: list[AlertRecord]) -> None:
        self.alerts.extend(alerts)


def _run(memo_windows: int) -> tuple[list[AlertRecord], list[tuple[str, float | None, int]], FakeDetector]:
    rng = random.Random(11)
    det, sink = FakeDetector(max_len=4, session_bounds=True), _Sink()
    engine = StreamEngine(det, StreamLimits(flush_interval_s=0.0), alert_sink=sink, score_memo_windows=memo_windows)
    lines = [ln for vm in range(60) for ln in vm_lines(f"vm-{vm}", rng.choice([[1, 2, 3], [3, 2], [1, 2, 3, 4, 5]]))]
    rng.shuffle(lines)
    for start in range(0, len(lines), 25):
        engine.ingest(lines[start : start + 25])
    engine.close_all()
    assert engine.drain(10)
    sessions = [(s.session_id, s.max_score, s.n_anomalous_windows) for s in engine.sessions(limit=1000)]
    engine.shutdown()
    alerts = sorted(sink.alerts, key=lambda a: (a.session_id, a.window_index))
    return [replace(a, created_at=0.0) for a in alerts], sorted(sessions), det


def test_the_engine_raises_the_same_alerts_with_and_without_the_memo() -> None:
    with_memo, sessions_memo, det_memo = _run(1000)
    without, sessions_plain, det_plain = _run(0)
    assert with_memo == without and sessions_memo == sessions_plain
    assert with_memo  # some windows are anomalous (keys out of order), with their explanations
    assert any(a.misses and all(m.line_no is not None and m.raw for m in a.misses) for a in with_memo)
    assert len(det_memo.scored) < len(det_plain.scored)


class _OrderFree(FakeDetector):
    """Misses the unknown keys only, wherever they are: every order of a window scores alike, as an order-free
    LogBERT (its ``memo_key`` says so)."""

    def memo_key(self, keys: list[int], offset: int = 0) -> tuple[object, ...]:
        return ("any order", *sorted(keys))

    def _score(self, s: KeySequence, explain: bool) -> SequenceScore:
        return super()._score(replace(s, key_ids=[k if k == -1 else 0 for k in s.key_ids]), explain)


def test_an_order_free_scorers_windows_are_scored_once_for_every_order_and_explained_at_their_own_positions() -> None:
    windows = [_seq("a", [-1, 2, 3, 2], 10), _seq("b", [2, 3, 2, -1], 50), _seq("c", [3, -1, 2, 2], 90)]
    det, memo = _OrderFree(max_len=8), ScoreMemo(100)
    for explain in (False, True):
        assert memo.score(det, windows, explain=explain) == _OrderFree(max_len=8).score_sequences(windows, explain)
    assert det.batches == [1, 1]  # one window to the scorer, plain and explained
    [a, b, c] = memo.score(det, windows, explain=True)
    assert [(m.position, m.line_no) for m in (*a.misses, *b.misses, *c.misses)] == [(0, 10), (3, 53), (1, 91)]
