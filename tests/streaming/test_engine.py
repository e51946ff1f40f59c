from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from logbert.config import WindowConfig
from logbert.records import UNK_KEY
from logbert.streaming import (
    AlertRecord,
    LineRejection,
    MicroBatcher,
    Scorer,
    SessionRouter,
    StreamEngine,
    StreamLimits,
)
from logbert.streaming.windows import RoutedLine, routed_line

from .fakes import FakeDetector, vm_lines


def _line(n: int, key: int, source: str = "s", ts: float | None = None) -> RoutedLine:
    return routed_line(n, f"raw {n}", key, f"T{key}", ts, source)


class Sink:
    def __init__(self) -> None:
        self.alerts: list[AlertRecord] = []

    def add_alerts(self, alerts: Sequence[AlertRecord]) -> None:
        self.alerts.extend(alerts)


def test_session_windows_are_cut_at_max_len_and_on_close() -> None:
    router = SessionRouter(
        WindowConfig(mode="session", session_pattern="x", max_len=4, session_bounds=False), max_len=3
    )
    out = [w for i in range(7) for w in router.add("a", _line(i + 1, i), now=0.0)[1]]
    assert [w.sequence.key_ids for w in out] == [[0, 1, 2], [3, 4, 5]]
    assert [w.sequence.window_index for w in out] == [0, 1]
    assert out[1].sequence.line_nos == [4, 5, 6] and out[1].raws == ("raw 4", "raw 5", "raw 6")
    rest = router.close("a", "closed")
    assert rest is not None and [w.sequence.key_ids for w in rest] == [[6]] and rest[0].sequence.window_index == 2
    assert router.close("a", "closed") is None


def test_sliding_windows_follow_stride_and_close_scores_only_new_keys() -> None:
    cfg = WindowConfig(mode="sliding", window_size=4, stride=2, max_len=8)
    router = SessionRouter(cfg, max_len=8)
    out = [w for i in range(8) for w in router.add("src", _line(i + 1, i), now=0.0)[1]]
    assert [w.sequence.key_ids for w in out] == [[0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 6, 7]]
    assert router.close("src", "closed") == []  # every key already scored
    gap = SessionRouter(WindowConfig(mode="sliding", window_size=2, stride=3, max_len=8), max_len=8)
    out = [w for i in range(8) for w in gap.add("src", _line(i + 1, i), now=0.0)[1]]
    assert [w.sequence.key_ids for w in out] == [[0, 1], [3, 4], [6, 7]]


def test_time_windows_follow_the_grid_anchored_at_the_first_timestamp() -> None:
    router = SessionRouter(WindowConfig(mode="time", time_window_s=10, max_len=8), max_len=8)
    stamps = [0, 3, 9, 12, 15, 21, 35]  # slots 0 0 0 1 1 2 3 (not "10 s after a window's first line")
    out = [w for i, t in enumerate(stamps) for w in router.add("s", _line(i + 1, i, ts=t), now=0.0)[1]]
    rest = router.close("s", "closed")
    assert rest is not None
    assert [w.sequence.key_ids for w in out + rest] == [[0, 1, 2], [3, 4], [5], [6]]
    assert [w.reason for w in out + rest] == ["time", "time", "time", "closed"]


def test_a_time_source_keeps_its_grid_after_it_was_closed() -> None:
    router = SessionRouter(WindowConfig(mode="time", time_window_s=10, max_len=8), max_len=8)
    router.add("s", _line(1, 0, ts=5), now=0.0)
    assert router.close("s", "idle") is not None
    out = [w for i, t in enumerate([19, None, 26]) for w in router.add("s", _line(i + 2, i + 1, ts=t), now=1.0)[1]]
    assert [w.sequence.key_ids for w in out] == [[1, 2]]  # slots 1, 1, 2 of the grid from 5 s (from 19 s: 0, 0, 0)


def test_short_sequences_are_counted_not_scored() -> None:
    router = SessionRouter(
        WindowConfig(mode="session", session_pattern="x", max_len=8, min_len=3, session_bounds=False), max_len=8
    )
    router.add("a", _line(1, 1), now=0.0)
    assert router.close("a", "closed") == [] and router.n_skipped_short == 1


def test_batcher_batches_and_survives_a_failing_batch() -> None:
    seen: list[list[int]] = []

    def process(batch: list[int]) -> None:
        if 13 in batch:
            raise RuntimeError("boom")
        seen.append(batch)

    b: MicroBatcher[int] = MicroBatcher(process, batch_size=4, flush_interval_s=0.2)
    b.submit(list(range(10)))
    assert b.drain(5)
    assert [len(x) for x in seen] == [4, 4, 2]
    b.submit([13])
    assert b.drain(5) and b.n_errors == 1
    b.submit([20])
    assert b.drain(5) and seen[-1] == [20]
    assert b.stop(5)
    with pytest.raises(RuntimeError):
        b.submit([1])


def _timed(vm: str, keys: Sequence[int], t0: float) -> list[str]:
    return [f"INFO nova [instance: {vm}] k{k} step {j} t={t0 + j}" for j, k in enumerate(keys)]


def test_a_session_evicted_while_still_receiving_lines_is_counted_named_apart_and_warned(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """max_open_sessions hit by sessions still running: each is split (scored in two parts). Before, nothing said so:
    both parts alerted as window 0 of one id, no answer, counter or log line told the split from a harmless
    eviction of a finished session."""
    sink = Sink()
    clock = [0.0]
    limits = StreamLimits(max_open_sessions=2, flush_interval_s=0.0)
    engine = StreamEngine(FakeDetector(max_len=8), limits, alert_sink=sink, clock=lambda: clock[0])
    with caplog.at_level("WARNING", logger="logbert.streaming.engine"):
        engine.ingest(_timed("vm-1", [0, 42], 1000))  # anomalous (an unseen template)
        engine.ingest(_timed("vm-2", [0, 1], 1010))
        evicts = engine.ingest(_timed("vm-3", [0, 1], 1020))  # vm-1, the most idle, is evicted: no split yet
        assert (evicts.sessions_evicted, evicts.sessions_split) == (1, 0)
        back = engine.ingest(_timed("vm-1", [3, 2], 1030))  # vm-1 was still running: split (and vm-2 evicted)
        assert (back.sessions_evicted, back.sessions_split) == (1, 1)
        clock[0] = 30.0
        engine.ingest(_timed("vm-2", [2, 3], 1040))  # split again within the minute: counted, not warned
        clock[0] = 61.0
        engine.ingest(_timed("vm-3", [1, 2], 1050))  # a minute on: warned, with the one between
        engine.close_all()
        assert engine.drain(5)
    stats = engine.stats()
    assert (stats.sessions_split_by_eviction, stats.sessions_closed_evicted, stats.sessions_opened) == (3, 4, 6)
    # the two parts of vm-1 alert under names of their own: the later one named by the time of its first line
    assert sorted((a.session_id, a.window_index, a.reason) for a in sink.alerts) == [
        ("vm-1", 0, "evicted"),
        ("vm-1@1970-01-01T00:17:10Z", 0, "evicted"),
    ]
    summary = engine.session("vm-1")
    assert summary is not None and summary.n_windows_scored == 2 and summary.n_anomalous_windows == 2
    warnings = [r.getMessage() for r in caplog.records if "max_open_sessions (2) is too low" in r.getMessage()]
    assert len(warnings) == 2
    assert "1 more (1 in all, the last 'vm-1')" in warnings[0] and "raise max_open_sessions" in warnings[0]
    assert "2 more (3 in all, the last 'vm-3')" in warnings[1]
    engine.shutdown()


def test_only_an_evicted_session_that_comes_back_is_split_and_the_evicted_ids_kept_are_bounded() -> None:
    engine = StreamEngine(FakeDetector(max_len=8), StreamLimits(max_open_sessions=1, flush_interval_s=0.0))
    engine._router.evicted_kept = 3  # the bound (max(10,000, max_open_sessions) in use)
    for i in range(10):
        engine.ingest(vm_lines(f"vm-{i}", [0, 1]))
    assert engine.ingest(vm_lines("vm-8", [2])).sessions_split == 1  # among the last 3 evicted
    assert engine.ingest(vm_lines("vm-1", [2])).sessions_split == 0  # forgotten: a new session, as before
    stats = engine.stats()
    assert (stats.sessions_closed_evicted, stats.sessions_split_by_eviction) == (11, 1)
    assert len(engine._router.state()["evicted"]) == 3
    engine.shutdown()


def test_engine_evicts_the_most_idle_session_and_scores_it() -> None:
    sink = Sink()
    clock = [0.0]
    engine = StreamEngine(
        FakeDetector(max_len=8),
        StreamLimits(max_open_sessions=2, idle_timeout_s=5.0, flush_interval_s=0.0),
        alert_sink=sink,
        clock=lambda: clock[0],
    )
    engine.ingest(vm_lines("vm-1", [0, 1]))
    clock[0] = 1.0
    engine.ingest(vm_lines("vm-2", [0, 42]))
    clock[0] = 2.0
    engine.ingest(vm_lines("vm-3", [0]))
    assert engine.drain(5)
    s1 = engine.session("vm-1")
    assert s1 is not None and s1.state == "closed" and s1.closed_reason == "evicted" and s1.n_windows_scored == 1
    clock[0] = 7.5  # vm-2 idle 6.5 s, vm-3 5.5 s
    assert engine.expire_idle() == 2
    assert engine.drain(5)
    assert [a.session_id for a in sink.alerts] == ["vm-2"]
    assert sink.alerts[0].misses[0].raw == vm_lines("vm-2", [0, 42])[1]
    assert sink.alerts[0].misses[0].template is None
    stats = engine.stats()
    assert stats.sessions_closed_evicted == 1 and stats.sessions_closed_idle == 2
    assert stats.lines_unknown_template == 1 and stats.sessions_open == 0
    assert sink.alerts[0].n_unknown == 1  # from the score (keys the vocabulary maps to UNK)
    engine.shutdown()


def test_engine_follows_the_parser_line_rule() -> None:
    """Blank and malformed lines are rejected per line; binary and long lines are repaired, counted, scored."""
    engine = StreamEngine(FakeDetector(max_len=8, max_line_chars=100), StreamLimits())
    lines: list[str | bytes] = [
        "vm-1 k0",
        "",
        "vm-1 \x00 k1",  # a control character: binary
        "no key here",
        "vm-1 k1\r\n",
        "vm-1 k2 " + "x" * 200,  # truncated at the artifact's parser.max_line_chars
        "k2 without session",
        b"vm-1 \xff\xfe k3",  # not UTF-8: binary
        "vm-1 bad \udcff k4",  # a lone surrogate (a JSON escape) is not text: binary
        "   ",
    ]
    out = engine.ingest(lines)
    assert out.rejections == (
        LineRejection(1, 2, "empty"),
        LineRejection(3, 4, "malformed"),
        LineRejection(9, 10, "empty"),
    )
    assert (out.received, out.accepted, out.rejected, out.unrouted) == (10, 6, 3, 1)
    assert (out.binary, out.truncated, out.first_line_no) == (3, 1, 1)
    assert engine.ingest(["vm-1 k2"]).first_line_no == 11
    s = engine.session("vm-1")
    assert s is not None and s.n_lines == 7 and s.n_pending_keys == 7
    stats = engine.stats()
    assert (stats.lines_binary, stats.lines_truncated, stats.rejected_empty, stats.rejected_malformed) == (3, 1, 2, 1)
    assert stats.lines_rejected == 3 and stats.lines_accepted == 7
    engine.close_all()
    assert engine.drain(5)
    engine.shutdown()


def test_the_fake_detector_is_a_scorer() -> None:
    scorer: Scorer = FakeDetector()  # structural: no pipeline class behind it
    assert scorer.threshold == 0.0


def test_engine_scores_windows_of_many_sessions_in_one_model_call() -> None:
    det = FakeDetector(max_len=2)
    # no score memo: the ten windows have the same keys, and this test counts what the model sees
    engine = StreamEngine(det, StreamLimits(batch_size=64, flush_interval_s=0.3), score_memo_windows=0)
    lines = [ln for vm in range(10) for ln in vm_lines(f"vm-{vm}", [0, 1])]
    assert engine.ingest(lines).windows_queued == 10
    assert engine.drain(5)
    assert det.batches == [10]
    engine.shutdown()


def test_a_line_naming_two_sessions_goes_to_both_and_unknown_keys_are_counted() -> None:
    engine = StreamEngine(FakeDetector(max_len=8), StreamLimits())
    out = engine.ingest(["vm-1 vm-2 k42"])
    assert out.accepted == 1 and out.unknown_templates == 1
    for vm in ("vm-1", "vm-2"):
        s = engine.session(vm)
        assert s is not None and s.n_unknown_templates == 1
    assert UNK_KEY == -1
    # a line of no session is never scored: it is unrouted, not an unseen template (offline `score` counts alike)
    out = engine.ingest(["k42 of no session", "vm-1 k43"])
    assert out.unrouted == 1 and out.unknown_templates == 1 and engine.counters["lines_unknown_template"] == 2
    engine.shutdown()


def test_engine_is_safe_under_concurrent_ingest() -> None:
    engine = StreamEngine(FakeDetector(max_len=4), StreamLimits(flush_interval_s=0.0))

    def feed(vm: str) -> None:
        for k in range(40):
            engine.ingest(vm_lines(vm, [k % 4]))

    threads = [threading.Thread(target=feed, args=(f"vm-{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.close_all()
    assert engine.drain(5)
    for i in range(4):
        s = engine.session(f"vm-{i}")
        assert s is not None and s.n_windows_scored == 10 and s.max_score == 0.0
    engine.shutdown()


def test_racing_requests_of_one_session_are_buffered_in_line_order() -> None:
    """Line numbers are given in call order, and keys reach the session buffer in that order too."""
    det = FakeDetector(max_len=8, parse_delay_s=0.001)
    engine = StreamEngine(det, StreamLimits(flush_interval_s=0.0), score_memo_windows=0)  # every window seen

    def feed() -> None:
        for _ in range(20):
            engine.ingest(vm_lines("vm-1", [0]))

    threads = [threading.Thread(target=feed) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.close_all()
    assert engine.drain(5)
    line_nos = [n for seq in sorted(det.scored, key=lambda s: s.window_index) for n in seq.line_nos]
    assert line_nos == list(range(1, 121))
    engine.shutdown()


def test_per_source_state_and_the_rate_window_stay_bounded() -> None:
    now = [0.0]
    engine = StreamEngine(
        FakeDetector(mode="sliding"), StreamLimits(max_sources=3, flush_interval_s=0.0), clock=lambda: now[0]
    )
    try:
        for i in range(50):
            now[0] = float(i)  # one call a second, each from a new source
            engine.ingest([f"INFO x k1 step {i}"], source=f"src-{i}")
        assert len(engine._next_line_no) == 3  # the three most recent sources
        assert len(engine._rate) <= 11  # pruned on ingest: only the last 10 s are kept
        assert engine.ingest(["INFO x k1 again"], source="src-49").first_line_no == 2  # still numbered on
    finally:
        engine.shutdown()
