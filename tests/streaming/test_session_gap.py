"""``window.session_gap_s``: a session id that comes back after a gap in time is a new session, offline and in the
streaming router alike (names, windows, checkpoints, counters). The line-by-line parity with offline is in
test_parity.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from logbert.config import LogBertConfig, WindowConfig
from logbert.pipeline.corpus import read_corpus
from logbert.streaming import SessionRouter, StreamEngine, StreamLimits
from logbert.streaming.windows import RoutedLine, routed_line
from logbert.windowing.windows import unit_rows

from .fakes import FakeDetector

GAP = WindowConfig(mode="session", session_pattern="x", max_len=8, session_bounds=False, session_gap_s=60.0)


def _line(n: int, key: int, ts: float | None) -> RoutedLine:
    return routed_line(n, f"raw {n}", key, f"T{key}", ts, "s")


def test_unit_rows_cut_a_session_at_gaps_and_name_the_later_parts() -> None:
    ids = [("a",), ("b",), ("a",), ("a",), ("b",), ("a",)]
    stamps = [0.0, 10.0, 30.0, None, 200.0, 1000.0]
    units, _ = unit_rows(ids, stamps, GAP)
    assert units == [
        ("a", [0, 2, 3]),
        ("b", [1]),
        ("b@1970-01-01T00:03:20Z", [4]),
        ("a@1970-01-01T00:16:40Z", [5]),
    ]
    assert unit_rows(ids, stamps, GAP.model_copy(update={"session_gap_s": None}))[0] == [
        ("a", [0, 2, 3, 5]),
        ("b", [1, 4]),
    ]
    with pytest.raises(ValueError, match="needs mode='session'"):
        WindowConfig(mode="sliding", session_gap_s=60.0)


def test_a_part_takes_its_ids_label_unless_the_labels_name_it(tmp_path: Path) -> None:
    log = tmp_path / "jobs.log"
    log.write_text(
        "2026-11-01 10:00:00 job=7 start\n2026-11-01 10:00:05 job=7 done\n"
        "2026-11-02 10:00:00 job=7 start\n2026-11-02 10:00:05 job=7 done\n"
        "2026-11-03 10:00:00 job=7 start\n"
    )
    labels = tmp_path / "labels.csv"
    labels.write_text("session_id,label\n7,0\n7@2026-11-03T10:00:00Z,1\n")
    config = LogBertConfig().with_overrides(
        {"parser.log_format": "<Date> <Time> <Content>", "window.session_pattern": r"job=(\d+)",
         "window.session_gap_s": 3600}
    )
    corpus = read_corpus(log, config, labels=labels)
    assert [(u.session_id, u.label, len(u.rows)) for u in corpus.line_sessions] == [
        ("7", 0, 2), ("7@2026-11-02T10:00:00Z", 0, 2), ("7@2026-11-03T10:00:00Z", 1, 1)
    ]


def test_the_router_ends_a_part_at_a_gap_and_a_restored_router_goes_on_alike() -> None:
    lines = [_line(1, 1, 0.0), _line(2, 2, 5.0), _line(3, 3, None), _line(4, 1, 500.0), _line(5, 2, 505.0),
             _line(6, 3, 2000.0)]

    def run(restart_after: int | None) -> list[tuple[str, list[int], int, str]]:
        router = SessionRouter(GAP, max_len=8)
        out = []
        for i, line in enumerate(lines):
            opened, windows = router.add("a", line, now=0.0)
            assert opened == (i in (0, 3, 5))  # the first line, and each line after a gap
            out += windows
            if restart_after == i:
                state = json.loads(json.dumps(router.state()))
                router = SessionRouter(GAP, max_len=8)
                router.load_state(state, now=0.0)
        out += router.close("a", "closed") or []
        return [(w.sequence.session_id, w.sequence.key_ids, w.sequence.window_index, w.reason) for w in out]

    expected = [
        ("a", [1, 2, 3], 0, "gap"),
        ("a@1970-01-01T00:08:20Z", [1, 2], 0, "gap"),
        ("a@1970-01-01T00:33:20Z", [3], 0, "closed"),
    ]
    assert run(None) == expected
    assert run(3) == run(4) == expected  # a checkpoint in the middle of a part keeps its name and its last time


def test_a_checkpoint_from_before_the_rule_loads() -> None:
    router = SessionRouter(GAP.model_copy(update={"session_gap_s": None}), max_len=8)
    router.add("a", _line(1, 1, 0.0), now=0.0)
    state = router.state()
    assert "name" not in state["buffers"][0] and "last_time" not in state["buffers"][0]  # byte for byte as before
    restored = SessionRouter(GAP, max_len=8)
    restored.load_state(state, now=0.0)
    restored.add("a", _line(2, 2, 9999.0), now=0.0)  # no last time known: this line cannot end the part
    assert [w.sequence.key_ids for w in restored.close("a", "closed") or []] == [[1, 2]]


def test_the_engine_counts_the_parts_it_ended() -> None:
    det = FakeDetector(mode="session", max_len=8, session_gap_s=60.0)
    engine = StreamEngine(det, StreamLimits(flush_interval_s=0.0), score_memo_windows=0)
    engine.ingest([f"INFO t={t:.1f} [instance: vm-1] k{i} step" for i, t in enumerate([0, 5, 500, 510, 900])])
    assert engine.shutdown(10)
    assert engine.stats().sessions_closed_gap == 2
    assert sorted({s.session_id for s in det.scored}) == [
        "vm-1", "vm-1@1970-01-01T00:08:20Z", "vm-1@1970-01-01T00:15:00Z"
    ]
    summary = engine.session("vm-1")  # the id's summary counts the windows of all its parts
    assert summary is not None and summary.n_windows_scored == 3 and summary.n_windows_pending == 0


def test_train_notes_ids_that_come_back_after_days_and_not_lifecycles_of_hours(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from logbert.pipeline.fit import session_gap_note

    def log(pause_s: float, n_back: int) -> Path:
        lines = []
        for job in range(30):
            start = 1_780_000_000 + 60 * job
            times = [start, start + 1, start + 2] + ([start + pause_s] if job < n_back else [])
            lines += [f"{datetime.fromtimestamp(t, UTC):%Y-%m-%d %H:%M:%S} job={job} step" for t in times]
        path = tmp_path / f"jobs_{pause_s:.0f}_{n_back}.log"
        path.write_text("\n".join(sorted(lines)) + "\n")
        return path

    config = LogBertConfig().with_overrides(
        {"parser.log_format": "<Date> <Time> <Content>", "window.session_pattern": r"job=(\d+)"}
    )
    note = session_gap_note(read_corpus(log(3 * 86400, 4), config), config)
    assert note is not None and note.startswith("4 of 30 sessions pause for 1 day or more") and "3 days" in note
    assert "--set window.session_gap_s=86400" in note
    assert session_gap_note(read_corpus(log(12 * 3600, 30), config), config) is None  # a block deleted hours later
    assert session_gap_note(read_corpus(log(3 * 86400, 2), config), config) is None  # two: too few to say
    cut = config.with_overrides({"window.session_gap_s": 86400})
    assert session_gap_note(read_corpus(log(3 * 86400, 4), cut), cut) is None  # set already
