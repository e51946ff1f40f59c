"""``logbert tail`` on a log with 100,000 sessions: back-pressure, evictions, and nothing lost."""

from __future__ import annotations

import json
import random
from io import StringIO
from pathlib import Path
from typing import Any

from logbert.records import UNK_KEY, KeySequence
from logbert.streaming import StreamLimits
from logbert.streaming.tail import TailOptions, run_tail

from ..streaming.fakes import N_KNOWN, FakeDetector, vm_lines

N_SESSIONS = 100_000


def test_tail_on_100k_sessions_scores_every_line_and_flags_what_offline_flags(tmp_path: Path) -> None:
    rng = random.Random(3)
    sessions = {
        f"vm-{i}": [0, 1, 2] if rng.random() > 0.05 else rng.choice([[0, 42, 2], [2, 1, 0], [0, 1, 42]])
        for i in range(N_SESSIONS)
    }
    log = tmp_path / "big.log"
    with open(log, "w", encoding="utf-8") as f:
        for vm, keys in sessions.items():
            f.write("\n".join(vm_lines(vm, keys)) + "\n")
    detector = FakeDetector(max_len=8)
    # what the fake parser makes of the keys: 42 is a template it never saw
    parsed = {vm: [k if k < N_KNOWN else UNK_KEY for k in keys] for vm, keys in sessions.items()}
    offline = detector.score_sessions([KeySequence(vm, keys) for vm, keys in parsed.items()])
    expected = sorted(r.session_id for r in offline if r.is_anomaly)
    assert 1_000 < len(expected) < N_SESSIONS // 10

    # far fewer open sessions and queued windows allowed than the log holds: evictions and back-pressure
    limits = StreamLimits(max_open_sessions=500, max_pending_windows=64, batch_size=64, flush_interval_s=0.0)
    out = StringIO()
    stats = run_tail(detector, str(log), limits, TailOptions(follow=False, json_output=True), out)

    assert stats.lines_received == stats.lines_accepted == 3 * N_SESSIONS  # every line read was taken
    assert stats.sessions_opened == N_SESSIONS and stats.windows_scored == stats.windows_queued == N_SESSIONS
    flagged = sorted(json.loads(line)["session_id"] for line in out.getvalue().splitlines())
    assert flagged == expected  # the same detections as scoring each session on its own


def test_tail_reads_a_utf8_bom_file_as_score_does_and_names_utf16(tmp_path: Path) -> None:
    """A byte-order mark is no text: with it the first line was rejected by tail (a malformed header) where score,
    which reads files through logbert.files.open_log, took it. A UTF-16 file cannot be followed line by line: a clear
    error, not every line counted as binary."""
    import codecs

    import pytest

    from logbert.errors import InputDataError

    lines = [line for i in range(20) for line in vm_lines(f"vm-{i}", [0, 1, 2])]
    text = "\n".join(lines) + "\n"
    stats = {}
    for name, data in (("plain.log", text.encode()), ("bom.log", codecs.BOM_UTF8 + text.encode())):
        (tmp_path / name).write_bytes(data)
        stats[name] = run_tail(FakeDetector(max_len=8), str(tmp_path / name), StreamLimits(flush_interval_s=0.0),
                               TailOptions(follow=False, json_output=True), StringIO())
    assert stats["bom.log"].lines_accepted == stats["plain.log"].lines_accepted == len(lines)
    utf16 = tmp_path / "utf16.log"
    utf16.write_bytes(text.encode("utf-16"))
    with pytest.raises(InputDataError, match="is UTF-16 .*iconv -f UTF-16 -t UTF-8"):
        run_tail(FakeDetector(max_len=8), str(utf16), StreamLimits(), TailOptions(follow=False), StringIO())


def test_tail_drops_a_utf8_mark_again_after_the_file_is_truncated_and_rewritten(tmp_path: Path) -> None:
    """Followed, a file truncated and written again from its start (a log rotated by copytruncate, by a Windows
    tool that writes a byte-order mark) starts with a mark again: it is dropped there too, and only there."""
    import codecs
    import queue
    import threading

    from logbert.streaming.tail import _follow_file

    log = tmp_path / "app.log"
    log.write_bytes(codecs.BOM_UTF8 + b"first\nsecond\n")
    out: queue.Queue[bytes | None] = queue.Queue()
    stop = threading.Event()
    reader = threading.Thread(target=_follow_file, args=(log, TailOptions(poll_interval_s=0.01), out, stop))
    reader.start()
    try:
        got = [out.get(timeout=5), out.get(timeout=5)]
        log.write_bytes(codecs.BOM_UTF8 + b"third\n")  # shorter than before: read as truncated, from the start
        got.append(out.get(timeout=5))
        with log.open("ab") as f:
            f.write(codecs.BOM_UTF8 + b"fourth\n")  # a mark inside the file is text (counted where it is)
        got.append(out.get(timeout=5))
    finally:
        stop.set()
        reader.join(timeout=5)
    assert got == [b"first", b"second", b"third", codecs.BOM_UTF8 + b"fourth"]


def _follow(log: Path, poll_s: float) -> tuple[Any, Any, Any]:
    import queue
    import threading

    from logbert.streaming.tail import _follow_file

    out: queue.Queue[bytes | None] = queue.Queue()
    stop = threading.Event()
    reader = threading.Thread(target=_follow_file, args=(log, TailOptions(poll_interval_s=poll_s), out, stop))
    reader.start()
    return out, stop, reader


def _taken_until(out: Any, last: bytes) -> list[bytes]:
    got: list[bytes] = []
    while not got or got[-1] != last:
        got.append(out.get(timeout=10))
    return got


def test_a_copytruncate_refilled_past_tails_place_between_two_looks_is_read_from_its_start(tmp_path: Path) -> None:
    """copytruncate, and the writer wrote more than tail had read before tail looked again: the file was no
    shorter, tail went on from its old byte offset, dropped the lines before it (95 of 400 in a new user's run) and
    read half a line. Now tail checks that the bytes before its place are still the ones it read."""
    import time

    log = tmp_path / "app.log"
    log.write_bytes(b"".join(b"old line %d\n" % i for i in range(20)))
    out, stop, reader = _follow(log, poll_s=0.3)
    try:
        assert _taken_until(out, b"old line 19")[0] == b"old line 0"
        time.sleep(0.1)  # tail waits at the end of the file
        with log.open("r+b") as f:  # truncated and refilled at once, well past the old end, within one wait
            f.truncate(0)
            f.write(b"".join(b"new line %03d\n" % i for i in range(100)))
        got = _taken_until(out, b"new line 099")
    finally:
        stop.set()
        reader.join(timeout=5)
    assert got == [b"new line %03d" % i for i in range(100)]


def test_a_rotated_files_unended_last_line_is_a_line_of_its_own(tmp_path: Path) -> None:
    """mv + a new file, the old one's last line never ended: it was glued onto the new file's first line
    (b'OLD-FILE-UNTERMINATEDNEW-FILE-LINE-1'), one line lost from the counts."""
    log = tmp_path / "app.log"
    log.write_bytes(b"line 1\nline 2\nOLD-UNENDED")
    out, stop, reader = _follow(log, poll_s=0.05)
    try:
        assert _taken_until(out, b"line 2") == [b"line 1", b"line 2"]
        log.rename(tmp_path / "app.log.1")
        log.write_bytes(b"NEW 1\nNEW 2\n")
        got = _taken_until(out, b"NEW 2")
    finally:
        stop.set()
        reader.join(timeout=5)
    assert got == [b"OLD-UNENDED", b"NEW 1", b"NEW 2"]
