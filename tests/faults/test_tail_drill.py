"""``logbert tail`` on a log with 100,000 sessions: back-pressure, evictions, and nothing lost."""

from __future__ import annotations

import json
import random
from io import StringIO
from pathlib import Path

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
