"""``logbert tail``: its options and the mistakes it reports, on the fake detector (no artifact, no torch)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from logbert import api
from logbert.cli import app
from logbert.results import ParsedLine
from logbert.windowing.windows import unit_rows

from ..streaming.fakes import FakeDetector, vm_lines

runner = CliRunner()


@pytest.fixture
def fake_artifact(monkeypatch: pytest.MonkeyPatch) -> FakeDetector:
    detector = FakeDetector(max_len=8)
    monkeypatch.setattr(api, "load_detector", lambda *a, **k: detector)
    return detector


@pytest.mark.parametrize(
    ("option", "said"),
    [
        ("--idle-timeout=-5", "greater than 0"),
        ("--idle-timeout=nan", "greater than 0"),
        ("--max-window-len=0", "greater than or equal to 2"),
        ("--max-open-sessions=0", "greater than or equal to 1"),
    ],
)
def test_a_limit_out_of_bounds_is_an_option_error_not_a_validation_dump(
    fake_artifact: FakeDetector, tmp_path: Path, option: str, said: str
) -> None:
    log = tmp_path / "x.log"
    log.write_text("\n".join(vm_lines("vm-1", [0, 1, 2])) + "\n")
    result = runner.invoke(app, ["tail", "art", str(log), "--no-follow", option], env={"COLUMNS": "200"})
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and f"Invalid value for '{option.split('=')[0]}'" in text and said in text, text
    assert "validation error" not in text and "errors.pydantic.dev" not in text


def test_a_file_tail_cannot_follow_is_said_before_the_banner(fake_artifact: FakeDetector, tmp_path: Path) -> None:
    """A missing file was "not a file: nope.log", printed after the banner that named it as being scored."""
    missing = runner.invoke(app, ["tail", "art", str(tmp_path / "nope.log"), "--no-follow"], env={"COLUMNS": "300"})
    assert missing.exit_code == 1 and missing.output.strip() == f"error: log file not found: {tmp_path / 'nope.log'}"
    folder = runner.invoke(app, ["tail", "art", str(tmp_path), "--no-follow"], env={"COLUMNS": "300"})
    said = " ".join(folder.output.split())
    assert folder.exit_code == 1 and said.startswith(f"error: expected a log file, got a directory: {tmp_path}; ")
    # a folder of per-build logs: the recipe that joins them, each line after its file's name (README)
    assert f"awk '{{print FILENAME, $0}}' {tmp_path}/*.log > all.log" in said, said
    assert "--set 'window.session_pattern=File=(\\S+)'" in said and folder.output.count("error:") == 1


def test_tail_that_scored_nothing_says_why_and_fails_as_score_does(fake_artifact: FakeDetector, tmp_path: Path) -> None:
    """Every line rejected as malformed (a log of another format) or without a session id (the artifact's session
    pattern matches nothing here): tail printed its counts and exited 0, having scored nothing."""
    cases = {
        "other-format.log": (["hello world", "", "foo bar"], "2 do not match the artifact's log format ('raw')"),
        "no-sessions.log": (["INFO nova k1 step 0", "INFO nova k2 step 1"], "2 name no session id"),
    }
    for name, (lines, said) in cases.items():
        log = tmp_path / name
        log.write_text("\n".join(lines) + "\n")
        result = runner.invoke(app, ["tail", "art", str(log), "--no-follow"], env={"COLUMNS": "300"})
        text = " ".join(result.output.split())
        assert result.exit_code == 1 and "error: no line was scored" in text and said in text, text
    # the artifact's regex and format as written, as score says them: repr doubled every backslash
    assert r"session rule (window.session_pattern '(vm-\d+)') matched none of them" in text
    # one line taken is a run, not a mistake
    (tmp_path / "one.log").write_text("hello world\n" + vm_lines("vm-1", [0])[0] + "\n")
    result = runner.invoke(app, ["tail", "art", str(tmp_path / "one.log"), "--no-follow"], env={"COLUMNS": "300"})
    assert result.exit_code == 0 and "error" not in result.output, result.output


@pytest.mark.parametrize(("compress", "name"), [("gzip", "gzip"), ("bz2", "bzip2"), ("lzma", "xz")])
def test_tail_refuses_a_compressed_file_up_front(
    fake_artifact: FakeDetector, tmp_path: Path, compress: str, name: str
) -> None:
    """A rotated, compressed log was read as binary lines, all rejected, and tail exited 0; score reads it."""
    import importlib

    log = tmp_path / "app.log.1"
    log.write_bytes(importlib.import_module(compress).compress("\n".join(vm_lines("vm-1", [0, 1, 2])).encode()))
    result = runner.invoke(app, ["tail", "art", str(log), "--no-follow"], env={"COLUMNS": "300"})
    text = " ".join(result.output.split())
    assert result.exit_code == 1 and text.startswith(f"error: {log} is {name}-compressed: tail follows plain"), text
    assert "use logbert score for compressed logs" in text and "tail: scoring" not in text  # before the banner


@pytest.mark.parametrize(
    ("detector", "said"),
    [
        (
            FakeDetector(mode="sliding", max_len=32, window_size=20, stride=20),
            "(sliding windows of 20 keys every 20 keys, ",
        ),
        (
            FakeDetector(mode="time", max_len=16, time_window_s=30.0),
            "(time windows of 30 s, scored in pieces of at most 16 keys, ",
        ),
        (FakeDetector(max_len=8), "(sessions, in windows of at most 8 keys, "),
    ],
)
def test_the_banner_says_the_window_rule_the_artifact_uses(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, detector: FakeDetector, said: str
) -> None:
    """Sliding windows of 20 keys every 20 were announced as "sliding windows of at most 32 keys" (max_len), and a
    time window's width was not said at all."""
    monkeypatch.setattr(api, "load_detector", lambda *a, **k: detector)
    log = tmp_path / "x.log"
    log.write_text("\n".join(vm_lines("vm-1", [0, 1, 2])) + "\n")
    result = runner.invoke(app, ["tail", "art", str(log), "--no-follow"], env={"COLUMNS": "300"})
    assert result.exit_code == 0 and said in result.output, result.output


def test_tail_says_the_artifact_s_log_format_as_written() -> None:
    r"""`tail` said "do not match the artifact's log format ('\\[<Date> <Time>: <Level>/<Process>\\] <Content>')":
    repr's doubled backslashes, which the user never wrote; score says the format as it is."""
    from dataclasses import fields, replace

    from logbert.config import LogBertConfig
    from logbert.streaming.stats import StreamStats
    from logbert.streaming.tail import nothing_accepted

    layout = r"\[<Date> <Time>: <Level>/<Process>\] <Content>"
    config = LogBertConfig().with_overrides({"parser.log_format": layout})
    stats = replace(StreamStats(**{f.name: 0 for f in fields(StreamStats)}), lines_received=3, rejected_malformed=3)
    assert f"3 do not match the artifact's log format ('{layout}')" in (nothing_accepted(stats, config) or "")


def test_tail_counts_malformed_and_empty_lines_in_the_words_score_uses(
    fake_artifact: FakeDetector, tmp_path: Path
) -> None:
    """score says "15 malformed, 11 empty" where tail said "rejected=26": the engine counts them apart, tail now says
    them apart, and every line read is in one count (lines = accepted + malformed + empty + without_session)."""
    log = tmp_path / "noisy.log"
    lines = [*vm_lines("vm-1", [0, 1]), "", "not a record", "   ", "", "no key here", *vm_lines("vm-2", [3]), "nova k1"]
    log.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["tail", "art", str(log), "--no-follow"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    counts = next(line for line in result.output.splitlines() if line.startswith("tail: lines="))
    assert counts.startswith("tail: lines=9 accepted=3 malformed=2 empty=3 without_session=1 binary=0 "), counts
    assert "rejected=" not in counts


def test_a_compressed_stream_on_standard_input_is_said_to_be_no_text_as_score_says(
    fake_artifact: FakeDetector, tmp_path: Path
) -> None:
    """`zcat`-less gzip piped into tail said 'the log is not of the kind the artifact was trained on', where score
    (which reads standard input through its compression sniffing) says the lines are not text: one wording now."""
    import gzip

    packed = gzip.compress(("\n".join(vm_lines("vm-1", list(range(400)))) + "\n").encode())
    result = runner.invoke(app, ["tail", "art", "-"], input=packed, env={"COLUMNS": "300"})
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "hold bytes that are not text" in text and "zcat" in text and "not of the kind" not in text, text


@pytest.mark.parametrize("content", ["", "\n", "  \n\t\n\n"], ids=["empty", "one-blank-line", "blank"])
def test_an_input_that_ended_blank_is_an_error_as_in_score(
    fake_artifact: FakeDetector, tmp_path: Path, content: str
) -> None:
    """score says "error: input file is empty" and exits 1; tail --no-follow printed "rejected=3 ... alerts=0" and
    exited 0, as if a log had been scored. Now a file read to its end (or standard input that ended) with no line
    but blank ones is an error, said in the words of the one empty-file rule (files.require_text)."""
    log = tmp_path / "blank.log"
    log.write_text(content)
    result = runner.invoke(app, ["tail", "art", str(log), "--no-follow"], env={"COLUMNS": "300"})
    assert result.exit_code == 1, result.output
    assert result.output.splitlines()[-1] == f"error: log file is empty: {log}", result.output
    assert f"empty={content.count(chr(10))} " in result.output  # the counts first, as for any end
    piped = runner.invoke(app, ["tail", "art", "-"], input=content, env={"COLUMNS": "300"})
    assert piped.exit_code == 1 and "error: standard input is empty" in piped.output, piped.output
    # read from its end, a file gives no line: that is no empty file
    log.write_text("\n".join(vm_lines("vm-1", [0, 1])) + "\n")
    result = runner.invoke(app, ["tail", "art", str(log), "--no-follow", "--from-end"], env={"COLUMNS": "300"})
    assert result.exit_code == 0 and "error" not in result.output, result.output


def test_a_followed_blank_file_is_waited_on_not_an_error(tmp_path: Path) -> None:
    """Only an input that ended is empty: a followed file that nothing was written to yet, stopped (Ctrl-C, SIGTERM),
    ends as before."""
    import threading
    from io import StringIO

    from logbert.streaming import StreamLimits
    from logbert.streaming.tail import TailOptions, nothing_read, run_tail

    log = tmp_path / "new.log"
    log.write_text("\n")
    stop, ended = threading.Event(), threading.Event()
    opts = TailOptions(follow=True, poll_interval_s=0.02, batch_wait_s=0.02)
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    stats = run_tail(FakeDetector(), str(log), StreamLimits(flush_interval_s=0.0), opts, StringIO(), stop, ended=ended)
    timer.join()
    assert not ended.is_set() and stats.rejected_empty == 1
    # not followed, the same file ended blank
    stats = run_tail(FakeDetector(), str(log), StreamLimits(), TailOptions(follow=False), StringIO(), ended=ended)
    assert ended.is_set() and nothing_read(stats, str(log)) == f"log file is empty: {log}"


#: the alerts of test_tail_names_and_counts_time_windows_as_score_does: (window index, first line)
WHERE = [(1, 8), (2, 14)]


def test_tail_names_and_counts_time_windows_as_score_does(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A time-window artifact: score named its windows t0, t1 ... (runs of lines in one slot, an empty slot no
    window) and counted 46 of them; tail numbered the pieces of max_len keys it scored ("window=14" for score's t10)
    and said "windows=69". Now an alert names score's window, and the windows are counted as score counts them, the
    pieces beside them. A long window alerts once, at its first flagged piece (its lines): each flagged piece alerted
    before, and a flood of 4 minutes raised 107 alerts."""
    detector = FakeDetector(mode="time", max_len=4, time_window_s=10.0)
    monkeypatch.setattr(api, "load_detector", lambda *a, **k: detector)
    stamps = [0, 1, 2, 3, 4, 5, 6, 35, 36, 61, 62, 63, 64, 65, 66, 67, 68, 69, 69.5]  # slots 0, 3, 6: 1, 2, 4, 5 empty
    keys = [0, 1, 2, 3, 4, 5, 6, 2, 1, 0, 1, 2, 3, 5, 4, 6, 7, 3, 2]  # a miss in t1, and in t2's 2nd and 3rd pieces
    lines = [f"INFO t={t} k{k} step {i}" for i, (t, k) in enumerate(zip(stamps, keys, strict=True))]
    log = tmp_path / "app.log"
    log.write_text("\n".join(lines) + "\n")
    parsed = [p for p in detector.parse_lines(lines)[0] if isinstance(p, ParsedLine)]
    units, _ = unit_rows([p.session_ids for p in parsed], [p.timestamp for p in parsed], detector.config.window)
    assert [(name, len(rows)) for name, rows in units] == [("t0", 7), ("t1", 2), ("t2", 10)]  # score's windows
    result = runner.invoke(app, ["tail", "art", str(log), "--no-follow"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    alerts = [line.split()[1:3] + line.split()[-1:] for line in result.output.splitlines() if line.startswith("ALERT")]
    assert alerts == [
        ["session=app.log", "window=t1", "lines=8-9"],
        ["session=app.log", "window=t2", "lines=14-17"],  # its 3rd piece, lines 18-19, is flagged too: no 2nd alert
    ]
    assert "windows=3 (6 pieces) alerts=2" in result.output  # t0: 2 pieces, t1: 1, t2: 3
    as_json = runner.invoke(app, ["tail", "art", str(log), "--no-follow", "--json"], env={"COLUMNS": "300"})
    rows = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [(r["window"], r["window_index"], r["first_line_no"]) for r in rows] == [(f"t{i}", i, n) for i, n in WHERE]
