"""Offline windowing and the streaming engine cut the same windows from the same lines.

Offline: the pure functions of ``logbert.windowing.windows`` over each source's lines (as a file:
parsed by the same fake detector, then ``group_sessions`` / ``sliding_windows`` /
``time_windows`` and ``split_all(max_len, min_len)``). Streaming: the same lines, several sources
and sessions interleaved in small ingest calls, through ``StreamEngine`` until shutdown. The key
windows (and the line numbers behind them) must be the same, session by session, source by
source, and so must the number of windows skipped as shorter than ``min_len``.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from logbert.pipeline.sessions import session_windows
from logbert.records import SESSION_END_KEY, SESSION_START_KEY, KeySequence
from logbert.results import ParsedLine
from logbert.streaming import StreamEngine, StreamLimits
from logbert.windowing.windows import group_sessions, sliding_windows, time_windows

from .fakes import FakeDetector, feed_interleaved

# session (or source) -> [(key ids, line numbers, keys of its session or time window before it)]
Windows = dict[str, list[tuple[list[int], list[int], int]]]
SOURCES = ("web", "db", "cache")


def _source_lines(rng: random.Random, source_no: int, n: int) -> list[str]:
    """Raw lines of one source: sessions vm-<source><0..3> interleaved, a few lines naming none or
    two sessions, blank and malformed lines, timestamps with gaps, repeats, one step back, and
    lines without a timestamp (the first two, and some continuation lines)."""
    t = 1000.0 + source_no
    lines = []
    for i in range(n):
        r = rng.random()
        if r < 0.04:
            lines.append("")
            continue
        if r < 0.08:
            lines.append(f"Traceback line {i} without a key")
            continue
        t += rng.choice([0.0, 0.5, 1.0, 2.0, 3.0, 7.0, 12.0, 25.0])
        if rng.random() < 0.03:
            t -= 15.0  # out of order: offline and streaming both open a window for it
        stamp = "" if i < 2 or rng.random() < 0.15 else f"t={t:.1f} "
        u = rng.random()
        sessions = (
            ""
            if u < 0.05
            else " ".join(f"[instance: vm-{source_no}{rng.randrange(4)}]" for _ in range(2 if u > 0.95 else 1))
        )
        lines.append(f"INFO {stamp}{sessions} k{rng.randrange(12)} step {i}")
    return lines


def _offline(det: FakeDetector, lines_by_source: dict[str, list[str]]) -> tuple[Windows, int]:
    w = det.config.window
    out: Windows = {}
    n_skipped = 0
    for source, lines in lines_by_source.items():
        parsed = [p for p in det.parse_lines(lines)[0] if isinstance(p, ParsedLine)]
        keys = [p.key_id for p in parsed]
        nos = [p.line_no for p in parsed]
        stamps = [p.timestamp for p in parsed]
        if w.mode == "session":
            seqs = group_sessions([p.session_ids for p in parsed], keys, nos, stamps).sessions
        elif w.mode == "sliding":
            seqs = sliding_windows(keys, w.window_size, w.stride, line_nos=nos)
        else:
            seqs = time_windows(keys, stamps, w.time_window_s, line_nos=nos)
        kept, skipped = session_windows(seqs, w)  # the offline rule (session bounds included)
        n_skipped += len(skipped)
        for k in kept:
            out.setdefault(k.session_id if w.mode == "session" else source, []).append(
                (k.key_ids, k.line_nos, k.unit_offset)
            )
    return out, n_skipped


def _streaming(det: FakeDetector, lines_by_source: dict[str, list[str]], seed: int) -> tuple[Windows, int]:
    rng = random.Random(seed)
    engine = StreamEngine(det, StreamLimits(flush_interval_s=0.0), score_memo_windows=0)  # every window seen
    feed_interleaved(engine, lines_by_source, rng)  # small calls, sources interleaved at random
    scored: list[KeySequence] = sorted(det.scored, key=lambda s: (s.session_id, s.window_index))
    out: Windows = {}
    for s in scored:
        out.setdefault(s.session_id, []).append((s.key_ids, s.line_nos, s.unit_offset))
    return out, engine.stats().windows_skipped_short


def _check(det_args: dict[str, Any], seed: int, n_lines: int = 400) -> Windows:
    rng = random.Random(seed)
    lines = {source: _source_lines(rng, i + 1, n_lines) for i, source in enumerate(SOURCES)}
    offline, offline_skipped = _offline(FakeDetector(**det_args), lines)
    streamed, streamed_skipped = _streaming(FakeDetector(**det_args), lines, seed)
    assert streamed == offline
    assert streamed_skipped == offline_skipped
    return offline


@pytest.mark.parametrize("bounds", [False, True], ids=["plain", "session-bounds"])
@pytest.mark.parametrize(("max_len", "min_len"), [(4, 1), (5, 3), (8, 8), (2, 1)])
def test_session_windows_match_offline(max_len: int, min_len: int, bounds: bool) -> None:
    args = {"mode": "session", "max_len": max_len, "min_len": min_len, "session_bounds": bounds}
    offline = _check(args, seed=max_len)
    assert len(offline) == 12  # four sessions per source
    assert any(len(windows) > 1 for windows in offline.values())  # sessions cut at max_len
    keys = [k for windows in offline.values() for keys, _, _ in windows for k in keys]
    assert (SESSION_START_KEY in keys or SESSION_END_KEY in keys) == bounds
    if bounds and min_len == 1:  # every session starts with the start key and ends with the end key
        assert all(w[0][0][0] == SESSION_START_KEY and w[-1][0][-1] == SESSION_END_KEY for w in offline.values())


@pytest.mark.parametrize("bounds", [False, True], ids=["plain", "session-bounds"])
@pytest.mark.parametrize(("max_len", "min_len", "overlap"), [(4, 1, 1), (5, 3, 2), (8, 8, 4), (3, 1, 1)])
def test_overlapping_session_windows_match_offline(max_len: int, min_len: int, overlap: int, bounds: bool) -> None:
    """``window.session_overlap``: consecutive windows of a long session share ``overlap`` keys, the
    same ones offline and streaming (the router keeps a full window's last lines in the buffer)."""
    args = {"mode": "session", "max_len": max_len, "min_len": min_len, "session_bounds": bounds}
    offline = _check({**args, "session_overlap": overlap}, seed=max_len)
    plain, _ = _offline(FakeDetector(**args), {s: _lines_of(s, max_len) for s in SOURCES})
    assert offline != plain  # the overlap changes the cut
    long = [windows for windows in offline.values() if len(windows) > 1]
    assert long
    for windows in long:  # consecutive full windows share exactly `overlap` keys and lines
        for (keys, nos, _), (next_keys, next_nos, _) in zip(windows[:-1], windows[1:], strict=True):
            assert len(keys) == max_len
            assert (keys[-overlap:], nos[-overlap:]) == (next_keys[:overlap], next_nos[:overlap])


def _lines_of(source: str, seed: int) -> list[str]:
    """The lines ``_check(..., seed)`` gives ``source``."""
    rng = random.Random(seed)
    lines = {s: _source_lines(rng, i + 1, 400) for i, s in enumerate(SOURCES)}
    return lines[source]


@pytest.mark.parametrize(
    ("window_size", "stride"),
    [(4, 2), (4, 1), (4, 4), (3, 5), (8, 3)],
    ids=["stride<size", "stride=1", "stride=size", "stride>size", "size=max_len"],
)
@pytest.mark.parametrize("min_len", [1, 3, 5])
def test_sliding_windows_match_offline(window_size: int, stride: int, min_len: int) -> None:
    args = {"mode": "sliding", "max_len": 8, "window_size": window_size, "stride": stride, "min_len": min_len}
    offline = _check(args, seed=window_size * 10 + stride)
    # min_len above window_size: every window is too short, offline and streaming
    assert set(offline) == (set(SOURCES) if min_len <= window_size else set())


@pytest.mark.parametrize(("time_window_s", "max_len", "min_len"), [(10.0, 8, 1), (30.0, 4, 1), (10.0, 4, 2)])
def test_time_windows_match_offline(time_window_s: float, max_len: int, min_len: int) -> None:
    args = {"mode": "time", "time_window_s": time_window_s, "max_len": max_len, "min_len": min_len}
    offline = _check(args, seed=int(time_window_s) + max_len)
    assert set(offline) == set(SOURCES)
    # time windows longer than max_len: their later pieces count the window's lines before them (its volume so far),
    # offline and streaming alike
    offsets = [offset for windows in offline.values() for _, _, offset in windows]
    assert max(offsets) >= max_len


def test_the_known_time_window_disagreement_is_gone() -> None:
    """Offline gave [[0,1,2],[3,4],[5],[6]]; streaming (10 s from a window's first line) gave [[0,1,2],[3,4,5],[6]]."""
    lines = [f"INFO t={t} k{k}" for k, t in enumerate([0, 3, 9, 12, 15, 21, 35])]
    args: dict[str, Any] = {"mode": "time", "time_window_s": 10.0, "max_len": 8}
    offline, _ = _offline(FakeDetector(**args), {"s": lines})
    streamed, _ = _streaming(FakeDetector(**args), {"s": lines}, seed=0)
    assert [keys for keys, _, _ in offline["s"]] == [[0, 1, 2], [3, 4], [5], [6]]
    assert streamed == offline


def _offline_units(det: FakeDetector, lines_by_source: dict[str, list[str]]) -> Windows:
    """Offline as the corpus reader does it: ``unit_rows`` (the one rule, gaps in time included), then windows."""
    from logbert.windowing.windows import unit_rows

    w = det.config.window
    out: Windows = {}
    for lines in lines_by_source.values():
        parsed = [p for p in det.parse_lines(lines)[0] if isinstance(p, ParsedLine)]
        units, _ = unit_rows([p.session_ids for p in parsed], [p.timestamp for p in parsed], w)
        seqs = [
            KeySequence(uid, [parsed[i].key_id for i in rows], line_nos=[parsed[i].line_no for i in rows])
            for uid, rows in units
        ]
        for k in session_windows(seqs, w)[0]:
            out.setdefault(k.session_id, []).append((k.key_ids, k.line_nos, k.unit_offset))
    return out


@pytest.mark.parametrize("bounds", [False, True], ids=["plain", "session-bounds"])
@pytest.mark.parametrize("gap_s", [20.0, 6.0])
def test_sessions_cut_at_gaps_in_time_match_offline(bounds: bool, gap_s: float) -> None:
    """``window.session_gap_s``: a line more than that after its session's previous timed line starts a part of
    its own, ``<id>@<time>``, cut and named alike offline and in the router (across ingest calls, sources
    interleaved, lines without a time and one step back in time among them)."""
    args = {"mode": "session", "max_len": 4, "min_len": 1, "session_bounds": bounds, "session_gap_s": gap_s}
    rng = random.Random(11)
    lines = {source: _source_lines(rng, i + 1, 400) for i, source in enumerate(SOURCES)}
    offline = _offline_units(FakeDetector(**args), lines)
    detector = FakeDetector(**args)
    streamed, _ = _streaming(detector, lines, seed=11)
    assert streamed == offline
    for sid in streamed:  # each part's windows are numbered from 0, as a session's
        assert sorted(s.window_index for s in detector.scored if s.session_id == sid) == list(range(len(streamed[sid])))
    parts = [sid for sid in offline if "@" in sid]
    assert len(parts) > 12 and all(sid.split("@")[0] in offline for sid in parts)  # every id also has its first part
    whole, _ = _streaming(FakeDetector(**{**args, "session_gap_s": None}), lines, seed=11)
    assert len(whole) == 12  # without the rule: four sessions per source
    if bounds:  # every part is a session of its own: start key first, end key last
        assert all(w[0][0][0] == SESSION_START_KEY and w[-1][0][-1] == SESSION_END_KEY for w in offline.values())


@pytest.mark.parametrize(("window_size", "stride"), [(4, 4), (4, 2), (3, 5)], ids=["stride=size", "stride<size", "gap"])
@pytest.mark.parametrize("restart", [False, True], ids=["running", "restored"])
def test_an_idle_sliding_source_stays_on_the_offline_grid(window_size: int, stride: int, restart: bool) -> None:
    """A quiet spell longer than the idle timeout closed the source, and its next line began a new grid at window 0:
    every later window started elsewhere than offline's, and an anomaly offline flags could be split over two windows
    that each score under the threshold (found on a syslog followed by ``tail``). Now the source keeps its place: the
    windows are offline's, plus the shorter window scored at each idle close, which has the index and first line of
    the offline window it is the start of. Also across a restart from a checkpoint taken while the source was idle."""
    args: dict[str, Any] = {"mode": "sliding", "max_len": 8, "window_size": window_size, "stride": stride}
    lines = _lines_of("web", 7)[:120]
    offline, _ = _offline(FakeDetector(**args), {"web": lines})
    detector = FakeDetector(**args)
    now = [0.0]
    limits = StreamLimits(flush_interval_s=0.0, idle_timeout_s=5.0)
    engine = StreamEngine(detector, limits, score_memo_windows=0, clock=lambda: now[0])
    # each quiet spell falls inside an offline window (before its last line), past the windows before it: there is a
    # shorter window to score
    a, b = (offline["web"][k][1][-2] for k in (5, 12))  # line numbers count from 1: lines[:a] ends with line a
    for cut, part in enumerate([lines[:a], lines[a:b], lines[b:]]):
        engine.ingest(part, source="web")
        if cut < 2:  # a quiet spell: the source's partial window is scored as it goes idle
            now[0] += 10.0
            assert engine.expire_idle() == 1
            assert engine.drain(5)
            if restart:  # the grid place is in the router's state
                state = engine._router.state()
                assert "resumed" in state
                engine._router.load_state(state, now[0])
    assert engine.shutdown(10)
    streamed = sorted(detector.scored, key=lambda s: (s.window_index, len(s.key_ids)))
    full = {}
    for s in streamed:  # the last of each index is the one scored once complete
        full[s.window_index] = (s.key_ids, s.line_nos)
    assert list(full.values()) == [(keys, nos) for keys, nos, _ in offline["web"]]
    extra = [s for s in streamed if (s.key_ids, s.line_nos) != full[s.window_index]]
    assert len(extra) == 2  # one shorter window per idle close, each the start of offline's window of its index
    for s in extra:
        keys, nos = full[s.window_index]
        assert keys[: len(s.key_ids)] == s.key_ids and nos[: len(s.line_nos)] == s.line_nos


class _Alerts:
    def __init__(self) -> None:
        self.alerts: list[Any] = []

    def add_alerts(self, alerts: Any) -> None:
        self.alerts.extend(alerts)


def test_a_window_scored_short_at_an_idle_close_and_again_complete_alerts_once() -> None:
    """A sliding source that goes idle has its shorter window scored, and the same window (same index and first
    line) scored again once complete: both scores went over the threshold and ``tail`` printed two alerts for one
    anomaly (the service's store kept one). Now the engine alerts once per window start, and counts it once."""
    args: dict[str, Any] = {"mode": "sliding", "max_len": 8, "window_size": 4, "stride": 4}
    # every key lower than the one before it: every window of two or more lines misses, so every window alerts
    lines = [f"INFO k{9 - i % 10} step {i}" for i in range(40)]
    offline, _ = _offline(FakeDetector(**args), {"web": lines})
    sink = _Alerts()
    now = [0.0]
    limits = StreamLimits(flush_interval_s=0.0, idle_timeout_s=5.0)
    engine = StreamEngine(FakeDetector(**args), limits, alert_sink=sink, score_memo_windows=0, clock=lambda: now[0])
    engine.ingest(lines[:23], source="web")  # 5 windows complete, the 6th (lines 21-24) holds 3 lines
    now[0] += 10.0
    assert engine.expire_idle() == 1
    assert engine.drain(5)
    engine.ingest(lines[23:], source="web")
    assert engine.shutdown(10)
    starts = [(a.window_index, a.first_line_no) for a in sink.alerts]
    assert sorted(starts) == sorted(set(starts))  # without the rule: window 5 (first line 21) twice
    assert len(starts) == len(offline["web"]) == 10
    assert engine.stats().alerts == 10
    assert engine.stats().windows_distinct == 10 < engine.stats().windows_scored  # window 5 scored twice, one window


def test_an_alert_counts_the_session_marks_among_its_positions() -> None:
    """With session bounds a window holds the session's start and end marks, predicted like keys: a missed end
    mark is among ``n_misses``, so the alert says how many marks it holds (tail printed "missed=25/24")."""
    sink = _Alerts()
    detector = FakeDetector(session_bounds=True, max_len=32)
    engine = StreamEngine(detector, StreamLimits(flush_interval_s=0.0), alert_sink=sink, score_memo_windows=0)
    engine.ingest([f"INFO [instance: vm-1] k{k} step" for k in (5, 3, 4)], source="nova")
    assert engine.close_session("vm-1")
    assert engine.shutdown(10)
    (alert,) = sink.alerts
    assert alert.n_keys == 3 and alert.n_marks == 2 and alert.n_misses <= alert.n_keys + alert.n_marks


@pytest.mark.parametrize(
    "args",
    [
        {"mode": "time", "time_window_s": 10.0, "max_len": 4},
        {"mode": "time", "time_window_s": 30.0, "max_len": 8, "min_len": 2},
        {"mode": "sliding", "max_len": 8, "window_size": 4, "stride": 2},
    ],
    ids=["time", "time-min_len", "sliding"],
)
def test_windows_are_named_and_counted_as_score_names_them(args: dict[str, Any]) -> None:
    """``score`` names a time window ``t<i>`` by its place among the time windows of the log (runs of lines in one
    slot: an empty slot is no window, a step back in time opens one), and the streaming engine numbered the pieces it
    scored (one per ``max_len`` keys), so ``tail`` said "window=14" of score's ``t10``, and counted 69 windows where
    score counted 46. Now a window's index is score's, every piece of a long window has it, and ``windows_distinct``
    counts windows as score does; sliding windows were and stay ``w<i>``."""
    from logbert.windowing.windows import window_name

    lines = _lines_of("web", 5)
    offline = _offline_units(FakeDetector(**args), {"web": lines})
    detector = FakeDetector(**args)
    engine = StreamEngine(detector, StreamLimits(flush_interval_s=0.0), score_memo_windows=0)
    for i in range(0, len(lines), 7):
        engine.ingest(lines[i : i + 7], source="web")
    assert engine.shutdown(10)
    streamed: Windows = {}
    for s in sorted(detector.scored, key=lambda s: (s.window_index, s.line_nos[0])):
        name = window_name(args["mode"], s.window_index)
        streamed.setdefault(name, []).append((s.key_ids, s.line_nos, s.unit_offset))
    assert streamed == offline
    stats = engine.stats()
    assert stats.windows_distinct == len(offline)
    if args["mode"] == "time":  # windows longer than max_len: scored in pieces, counted once
        assert stats.windows_scored > len(offline)


def test_a_checkpoint_from_before_time_windows_were_named_goes_on_numbering() -> None:
    """A checkpoint's time clocks were ``[source, anchor, last]``; now the window index is kept beside them. An older
    one loads, its open window numbered on from the count it had (no window is emitted twice under one name)."""
    from logbert.streaming.windows import SessionRouter, routed_line
    from logbert.windowing.windows import TimeClock

    det = FakeDetector(mode="time", time_window_s=10.0, max_len=8)
    router = SessionRouter(det.config.window, 8)
    for i, t in enumerate([0.0, 1.0, 25.0, 26.0]):
        router.add("web", routed_line(i + 1, f"k{i}", i, None, t, "web"), now=0.0)
    state = router.state()
    assert state["clocks"] == [["web", 0.0, 26.0, 1]]
    state["clocks"] = [["web", 0.0, 26.0]]  # as written before
    state["buffers"][0]["next_window_index"] = 3  # the pieces the old router had numbered
    again = SessionRouter(det.config.window, 8)
    again.load_state(state, now=0.0)
    assert again._clocks["web"] == TimeClock(0.0, 26.0, 3)
    _, windows = again.add("web", routed_line(5, "k5", 5, None, 40.0, "web"), now=0.0)
    assert [(w.sequence.window_index, w.sequence.line_nos) for w in windows] == [(3, [3, 4])]
    closed = again.close("web", "closed")
    assert closed is not None and [w.sequence.window_index for w in closed] == [4]
