"""Overlapping windows of a long session (``window.session_overlap``, mode "session").

One rule (``session_window_starts``) cuts a session offline (``split_long`` / ``session_windows``,
training and scoring) and in the streaming router; with overlap 0 it is the plain cut of before.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from logbert.config import WindowConfig
from logbert.parsing.params import SlotSchema
from logbert.pipeline.sessions import session_windows
from logbert.pipeline.signals import line_signals
from logbert.records import SESSION_END_KEY, SESSION_START_KEY, KeySequence, SessionSignals
from logbert.scoring.lengths import LengthReference, whole_session_length
from logbert.streaming.windows import PendingWindow, SessionRouter, routed_line, window_from_json, window_to_json
from logbert.windowing.windows import (
    SkippedSequence,
    complete_session_windows,
    session_window_starts,
    split_all,
    split_long,
)


def _window(max_len: int = 4, overlap: int = 0, bounds: bool = False, min_len: int = 1) -> WindowConfig:
    return WindowConfig(
        mode="session",
        session_id=None,
        session_pattern=r"(vm-\d+)",
        max_len=max_len,
        min_len=min_len,
        session_bounds=bounds,
        session_overlap=overlap,
    )


def _session(n: int, sid: str = "s") -> KeySequence:
    """Keys 100, 101, ... (each names its position) on lines 1000, 1002, ... with gaps as signals."""
    gaps = tuple(float(i) for i in range(n))
    return KeySequence(
        session_id=sid,
        key_ids=[100 + i for i in range(n)],
        label=0,
        line_nos=[1000 + 2 * i for i in range(n)],
        start_time=5.0,
        signals=SessionSignals(gaps, tuple((float(i),) for i in range(n)), 99.0, sid),
    )


@pytest.mark.parametrize(
    ("n", "max_len", "overlap", "bounds"),
    [
        (10, 5, 0, [(0, 5), (5, 10)]),
        (11, 5, 0, [(0, 5), (5, 10), (10, 11)]),
        (10, 5, 2, [(0, 5), (3, 8), (6, 10)]),  # the tail is shorter, it ends at the session's end
        (11, 5, 2, [(0, 5), (3, 8), (6, 11)]),
        (8, 5, 2, [(0, 5), (3, 8)]),  # the last full window reaches the end: no window inside it
        (9, 5, 2, [(0, 5), (3, 8), (6, 9)]),
        (5, 5, 2, [(0, 5)]),  # exactly max_len keys: one window
        (6, 5, 4, [(0, 5), (1, 6)]),  # stride 1
        (3, 5, 2, [(0, 3)]),
        (1, 2, 1, [(0, 1)]),
    ],
)
def test_split_long_cuts_the_exact_overlapping_windows(
    n: int, max_len: int, overlap: int, bounds: list[tuple[int, int]]
) -> None:
    seq = _session(n)
    kept, skipped = split_long(seq, max_len, 1, overlap)
    assert skipped == []
    assert session_window_starts(n, max_len, overlap) == [a for a, _ in bounds]
    assert [(w.key_ids[0] - 100, w.key_ids[-1] - 100 + 1) for w in kept] == bounds
    for index, (w, (a, b)) in enumerate(zip(kept, bounds, strict=True)):
        assert w.key_ids == list(range(100 + a, 100 + b))
        assert w.line_nos == [1000 + 2 * i for i in range(a, b)]  # positions map to their lines
        assert w.window_index == index
        assert w.session_id == "s" and w.label == 0 and w.start_time == 5.0
        assert w.signals is not None and w.signals.gaps == tuple(float(i) for i in range(a, b))
        assert w.signals.elapsed == 99.0


def test_no_window_lies_inside_the_one_before_and_every_key_is_covered() -> None:
    for max_len in range(2, 9):
        for overlap in range(max_len):
            for n in range(1, 40):
                starts = session_window_starts(n, max_len, overlap)
                ends = [min(a + max_len, n) for a in starts]
                assert ends[-1] == n
                assert all(b - a == max_len for a, b in zip(starts[:-1], ends[:-1], strict=True))
                assert all(e2 > e1 for e1, e2 in zip(ends, ends[1:], strict=False))  # each window adds keys
                assert all(b - a == max_len - overlap for a, b in zip(starts, starts[1:], strict=False))


def _old_split_long(seq: KeySequence, max_len: int, min_len: int) -> tuple[list[KeySequence], list[SkippedSequence]]:
    """The cut before session_overlap existed, verbatim: windows [i*max_len:(i+1)*max_len]."""
    kept: list[KeySequence] = []
    skipped: list[SkippedSequence] = []
    for index, start in enumerate(range(0, len(seq.key_ids), max_len)):
        keys = seq.key_ids[start : start + max_len]
        if len(keys) < min_len:
            skipped.append(SkippedSequence(seq.session_id, index, len(keys), "shorter_than_min_len", seq.label))
            continue
        assert seq.signals is not None
        kept.append(
            KeySequence(
                session_id=seq.session_id,
                key_ids=list(keys),
                label=seq.label,
                line_nos=list(seq.line_nos[start : start + max_len]),
                start_time=seq.start_time,
                window_index=index,
                signals=seq.signals.window(start, start + max_len),
                unit_offset=start,  # what split_long records since (the volume surprise): the keys before it
            )
        )
    return kept, skipped


def test_overlap_zero_is_the_old_cut_exactly() -> None:
    seqs = [_session(n, f"s{n}") for n in range(1, 30)]
    for max_len in (2, 3, 5, 8):
        for min_len in range(1, max_len + 1):
            old_kept: list[KeySequence] = []
            old_skipped: list[SkippedSequence] = []
            for seq in seqs:
                k, s = _old_split_long(seq, max_len, min_len)
                old_kept += k
                old_skipped += s
            assert split_all(seqs, max_len, min_len, 0) == (old_kept, old_skipped)
            assert split_all(seqs, max_len, min_len) == (old_kept, old_skipped)
    # session_windows (bounds added first) cuts the bounded sessions the old way too
    window = _window(max_len=4, overlap=0, bounds=True)
    bounded = session_windows(seqs, window.model_copy(update={"max_len": 64}))[0]  # whole, uncut
    assert len(bounded) == len(seqs)

    def ids(ws: list[KeySequence]) -> list[tuple[str, list[int], list[int], int]]:
        return [(w.session_id, w.key_ids, w.line_nos, w.window_index) for w in ws]

    old = [w for seq in bounded for w in _old_split_long(seq, 4, 1)[0]]
    assert ids(session_windows(seqs, window)[0]) == ids(old)


def test_a_short_tail_is_skipped_with_its_window_index() -> None:
    kept, skipped = split_long(_session(10), 5, min_len=5, overlap=2)  # windows (0,5) (3,8) (6,10)
    assert [w.window_index for w in kept] == [0, 1]
    assert skipped == [SkippedSequence("s", 2, 4, "shorter_than_min_len", 0)]
    kept, skipped = split_long(_session(11), 5, min_len=5, overlap=2)  # the tail (6,11) is 5 keys long
    assert [w.window_index for w in kept] == [0, 1, 2] and skipped == []


def test_bounded_windows_map_to_their_lines_and_only_the_first_opens_the_session() -> None:
    """With session bounds and overlap: the start key only in the first window, the end key only in
    the last; a window's line numbers are those of its keys; the short-session reference counts one
    session per session and no cut window as a whole session."""
    seqs = [_session(n, f"s{n}") for n in (3, 7, 12, 20)]
    window = _window(max_len=6, overlap=3, bounds=True)
    kept, skipped = session_windows(seqs, window)
    assert skipped == []
    line_of = {100 + i: 1000 + 2 * i for i in range(20)}
    for seq in seqs:
        mine = [w for w in kept if w.session_id == seq.session_id]
        n = len(seq.key_ids) + 2  # the bounds
        assert [w.window_index for w in mine] == list(range(len(session_window_starts(n, 6, 3))))
        assert mine[0].key_ids[0] == SESSION_START_KEY and mine[-1].key_ids[-1] == SESSION_END_KEY
        assert all(SESSION_START_KEY not in w.key_ids for w in mine[1:])
        assert all(SESSION_END_KEY not in w.key_ids for w in mine[:-1])
        for w in mine:
            for k, no in zip(w.key_ids, w.line_nos, strict=True):
                if k == SESSION_START_KEY:
                    assert no == seq.line_nos[0]
                elif k == SESSION_END_KEY:
                    assert no == seq.line_nos[-1]
                else:
                    assert no == line_of[k]
        # consecutive windows share exactly 3 keys, the same positions
        for a, b in zip(mine, mine[1:], strict=False):
            assert a.key_ids[-3:] == b.key_ids[:3] and a.line_nos[-3:] == b.line_nos[:3]
        whole = [whole_session_length(w.key_ids) for w in mine]
        assert whole == ([3] if n <= 6 else [None] * len(mine))
    reference = LengthReference.fit([w.key_ids for w in kept])
    assert reference.n_sessions == len(seqs) and reference.lengths == (3,)


def test_the_overlap_is_for_sessions_only() -> None:
    time_window = WindowConfig(mode="time", max_len=4, session_overlap=2)
    units = [_session(11, "t0")]
    assert session_windows(units, time_window) == split_all(units, 4, 1)
    router = SessionRouter(time_window, 4)
    assert router.overlap == 0


def test_config_checks_the_overlap() -> None:
    assert WindowConfig().session_overlap == 0
    assert _window(max_len=4, overlap=3).session_overlap == 3
    with pytest.raises(ValidationError, match=r"session_overlap \(4\) must be < max_len \(4\)"):
        _window(max_len=4, overlap=4)
    with pytest.raises(ValidationError):
        _window(max_len=4, overlap=-1)
    with pytest.raises(ValueError, match="overlap"):
        session_window_starts(10, 4, 4)
    assert _window(max_len=4, overlap=2, bounds=True).session_overlap == 2
    with pytest.raises(ValidationError, match=r"session_overlap \(3\) must be <= max_len - 2 \(2\)"):
        _window(max_len=4, overlap=3, bounds=True)


def test_complete_windows_of_a_session_that_goes_on() -> None:
    assert complete_session_windows(3, 4, 1) == (0, 0)
    assert complete_session_windows(4, 4, 1) == (4, 3)
    assert complete_session_windows(9, 4, 1) == (7, 6)  # (0,4) (3,7); (6,..) still growing
    assert complete_session_windows(12, 4, 0) == (12, 12)
    assert complete_session_windows(16, 8, 4) == (16, 12)


# ---------------------------------------------------------------- streaming router


def _builder(keys: Sequence[int], stamps: Sequence[float | None], raws: Sequence[str]) -> SessionSignals:
    return line_signals(keys, stamps, [[] for _ in keys], SlotSchema())


def _lines(n: int) -> list[tuple[int, int, float | None]]:
    """(line number, key, timestamp) of one session's lines; a few without a timestamp."""
    t, out = 100.0, []
    for i in range(n):
        t += [0.5, 3.0, 0.0, 12.0][i % 4]
        out.append((10 + 3 * i, i % 9, None if i % 7 == 5 else t))
    return out


def _gaps(sig: SessionSignals | None) -> list[float | None]:
    assert sig is not None
    return [None if math.isnan(g) else g for g in sig.gaps]


def _stream(
    window: WindowConfig, lines: list[tuple[int, int, float | None]], signals: bool, hold_keys: int, restore: bool
) -> list[PendingWindow]:
    builder = _builder if signals else None
    router = SessionRouter(window, window.max_len, signals=builder, hold_keys=hold_keys)
    got: list[PendingWindow] = []
    for i, (no, key, stamp) in enumerate(lines):
        _, windows = router.add("vm-1", routed_line(no, f"raw {no}", key, f"T{key}", stamp, "src", i), 0.0)
        got.extend(windows)
        if restore:  # a checkpoint after every line, through JSON, as the journal keeps it
            restored = SessionRouter(window, window.max_len, signals=builder, hold_keys=hold_keys)
            restored.load_state(json.loads(json.dumps(router.state())), 0.0)
            router = restored
    got.extend(router.close("vm-1", "closed") or [])
    return [window_from_json(json.loads(json.dumps(window_to_json(w)))) for w in got]


@pytest.mark.parametrize("restore", [False, True], ids=["straight", "checkpoint-every-line"])
@pytest.mark.parametrize(
    ("signals", "hold_keys"), [(False, 1024), (True, 1024), (True, 8)], ids=["key-only", "held", "scored-early"]
)
@pytest.mark.parametrize("bounds", [False, True], ids=["plain", "bounds"])
@pytest.mark.parametrize(
    ("n", "max_len", "overlap", "min_len"),
    [(23, 4, 1, 1), (23, 5, 2, 1), (23, 6, 2, 6), (16, 5, 3, 1), (4, 4, 2, 1), (30, 8, 0, 1)],
)
def test_the_router_cuts_the_offline_windows_with_overlap(
    n: int, max_len: int, overlap: int, min_len: int, bounds: bool, signals: bool, hold_keys: int, restore: bool
) -> None:
    window = _window(max_len=max_len, overlap=overlap, bounds=bounds, min_len=min_len)
    lines = _lines(n)
    keys, stamps = [k for _, k, _ in lines], [t for _, _, t in lines]
    session = KeySequence(
        "vm-1", keys, line_nos=[no for no, _, _ in lines], signals=_builder(keys, stamps, []) if signals else None
    )
    offline, skipped = session_windows([session], window)
    got = _stream(window, lines, signals, hold_keys, restore)
    assert [w.sequence.key_ids for w in got] == [w.key_ids for w in offline]
    assert [w.sequence.line_nos for w in got] == [w.line_nos for w in offline]
    assert [w.sequence.window_index for w in got] == [w.window_index for w in offline]
    assert len(offline) >= (2 if n + 2 * bounds > max_len else 1)
    # each window's raw lines and stream offsets are those of its own lines
    for w in got:
        assert w.raws == tuple(f"raw {no}" for no in w.sequence.line_nos)
    if signals:
        for w, o in zip(got, offline, strict=True):
            assert _gaps(w.sequence.signals) == _gaps(o.signals)
    if min_len > 1:
        assert skipped  # the short tail: skipped offline, and not streamed either (compared above)


def test_a_close_right_after_a_full_window_adds_no_window_inside_it() -> None:
    """8 keys, windows of 5 sharing 2: (0,5) (3,8). The router emits (3,8) as the 8th line arrives and
    keeps its last 2 lines; the close finds nothing new after them and emits nothing."""
    window = _window(max_len=5, overlap=2)
    router = SessionRouter(window, 5)
    emitted = []
    for i in range(8):
        emitted += router.add("vm-1", routed_line(i, "", 100 + i, None, None, "src"), 0.0)[1]
    assert [w.sequence.key_ids for w in emitted] == [[100, 101, 102, 103, 104], [103, 104, 105, 106, 107]]
    assert router.pending_keys("vm-1") == 0  # the 2 lines kept are scored already
    assert router.close("vm-1", "closed") == []
    router.add("vm-2", routed_line(0, "", 1, None, None, "src"), 0.0)
    assert router.pending_keys("vm-2") == 1


@pytest.mark.parametrize("cut_at", [5, 6, 9, 13])
def test_a_restart_from_a_checkpoint_mid_session_cuts_the_same_overlapping_windows(tmp_path: Path, cut_at: int) -> None:
    """The engine with a journal: part of a long session, a checkpoint (the buffer holds the overlap of
    the last full window), a crash, a restart, the rest of the session and a close: the windows scored
    before and after the restart are the offline ones, each once."""
    from logbert.results import ParsedLine
    from logbert.streaming import StreamEngine, StreamLimits
    from logbert.streaming.journal import IngestJournal

    from ..streaming.fakes import FakeDetector, vm_lines

    keys = [(3 * i) % 10 for i in range(17)]
    lines = vm_lines("vm-1", keys)
    args: dict[str, Any] = {"max_len": 5, "session_bounds": True, "session_overlap": 2}
    limits = StreamLimits(flush_interval_s=0.0)

    before = FakeDetector(**args)
    engine = StreamEngine(before, limits, journal=IngestJournal(tmp_path / "j"), score_memo_windows=0)
    engine.ingest(lines[:cut_at], source="src")
    assert engine.drain(10) and engine.checkpoint()
    engine.shutdown(5)  # with a journal: the session stays open in the checkpoint

    after = FakeDetector(**args)
    again = StreamEngine(after, limits, journal=IngestJournal(tmp_path / "j"), score_memo_windows=0)
    assert again.recover().sessions_restored == 1
    again.ingest(lines[cut_at:], source="src")
    again.close_session("vm-1")
    assert again.drain(10)
    again.shutdown(5)

    parsed = [p for p in before.parse_lines(lines)[0] if isinstance(p, ParsedLine)]
    session = KeySequence("vm-1", [p.key_id for p in parsed], line_nos=[p.line_no for p in parsed])
    offline, _ = session_windows([session], before.config.window)
    assert len(offline) == 6  # 19 keys with the bounds: windows start at 0, 3, 6, 9, 12 and 15
    streamed = before.scored + after.scored
    assert before.scored and after.scored  # windows on both sides of the restart
    ident = [(w.key_ids, w.line_nos, w.window_index) for w in streamed]
    assert ident == [(w.key_ids, w.line_nos, w.window_index) for w in offline]
