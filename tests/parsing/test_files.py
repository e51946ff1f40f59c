"""Compressed logs (rotated files: syslog.2.gz) read like plain ones, told by their first bytes."""

from __future__ import annotations

import bz2
import codecs
import gzip
import lzma
from collections.abc import Callable
from pathlib import Path

import pytest

from logbert.config import LogBertConfig, ParserConfig
from logbert.datasets.keyfile import detect_input_kind, read_key_sequences
from logbert.errors import InputDataError
from logbert.parsing.reader import read_log

LINES = [f"081109 2036{i:02d} 148 INFO dfs.DataNode: Receiving block blk_{i} src: /10.0.0.{i}:5" for i in range(50)]
TEXT = ("\n".join(LINES) + "\n").encode()


@pytest.mark.parametrize(
    ("name", "compress"),
    [("a.gz", gzip.compress), ("a.bz2", bz2.compress), ("a.xz", lzma.compress), ("renamed.log", gzip.compress)],
)
def test_a_compressed_log_reads_as_the_plain_one(tmp_path: Path, name: str, compress: object) -> None:
    plain, packed = tmp_path / "plain.log", tmp_path / name
    plain.write_bytes(TEXT)
    packed.write_bytes(compress(TEXT))  # type: ignore[operator]
    config = ParserConfig(format="hdfs")
    (want, want_report), (got, got_report) = read_log(plain, config), read_log(packed, config)
    assert [(r.content, r.timestamp) for r in got] == [(r.content, r.timestamp) for r in want]
    assert got_report.n_parsed == want_report.n_parsed == 50 and got_report.n_binary == 0


@pytest.mark.parametrize(
    ("name", "encode"),
    [
        # Windows PowerShell 5's `>` and Out-File: UTF-16 LE with a byte-order mark, CRLF line ends
        ("le.log", lambda text: text.replace("\n", "\r\n").encode("utf-16")),
        ("be.log", lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be")),
        ("utf32.log", lambda text: text.encode("utf-32")),
        ("le.log.gz", lambda text: gzip.compress(text.encode("utf-16"))),
        # Notepad's "UTF-8 with BOM": the mark made the first line malformed
        ("bom.log", lambda text: text.encode("utf-8-sig")),
    ],
)
def test_a_utf16_or_bom_log_reads_as_the_utf8_one(tmp_path: Path, name: str, encode: Callable[[str], bytes]) -> None:
    """Before, every line of a UTF-16 log counted as binary and its templates were mined from the NUL bytes."""
    plain, other = tmp_path / "plain.log", tmp_path / name
    plain.write_bytes(TEXT)
    other.write_bytes(encode(TEXT.decode()))
    config = ParserConfig(format="hdfs")
    (want, _), (got, got_report) = read_log(plain, config), read_log(other, config)
    assert [(r.line_no, r.content, r.timestamp) for r in got] == [(r.line_no, r.content, r.timestamp) for r in want]
    assert got_report.n_parsed == 50 and got_report.n_malformed == got_report.n_binary == 0 and not got_report.warnings


def test_compressed_key_files_are_sniffed_and_read(tmp_path: Path) -> None:
    path = tmp_path / "keys.gz"
    path.write_bytes(gzip.compress(b"s1,1 2 3\ns2,4 5\n" * 20))
    assert detect_input_kind(path) == "keys"
    sequences, _ = read_key_sequences(path)
    assert len(sequences) == 40 and list(sequences[0].key_ids) == [1, 2, 3]


def test_damaged_and_zstd_files_are_clear_errors(tmp_path: Path) -> None:
    cut = tmp_path / "cut.gz"
    cut.write_bytes(gzip.compress(TEXT * 50)[:300])
    with pytest.raises(InputDataError, match="cut.gz: the compressed data is damaged"):
        read_log(cut, ParserConfig(format="hdfs"))
    zst = tmp_path / "a.zst"
    zst.write_bytes(b"\x28\xb5\x2f\xfd" + b"\0" * 20)
    with pytest.raises(InputDataError, match="zstd-compressed: read it through zstdcat"):
        read_log(zst, ParserConfig(format="hdfs"))
    with pytest.raises(InputDataError, match="zstd-compressed"):
        detect_input_kind(zst)


def test_a_binary_file_is_said_to_be_no_text_log(tmp_path: Path) -> None:
    from logbert.config import LogBertConfig
    from logbert.pipeline.corpus import read_corpus

    junk = tmp_path / "junk.log"
    junk.write_bytes(bytes(range(256)) * 40)
    _, report = read_log(junk, ParserConfig(format="raw"))
    assert report.warnings == [f"{report.n_binary} of {report.n_lines} lines hold bytes that are not text "
                               "(invalid UTF-8 or control characters): this does not look like a text log "
                               "(compressed? read it through zcat / zstdcat first; UTF-16 without a byte-order mark? "
                               "convert it with iconv -f UTF-16LE -t UTF-8)"]
    with pytest.raises(InputDataError, match="does not look like a text log.*; no line names a session id"):
        read_corpus(junk, LogBertConfig())


def test_lines_of_another_format_are_said_before_the_session_pattern_that_finds_no_id(tmp_path: Path) -> None:
    """A journal read with an artifact's syslog format: the error blamed its session pattern ("no line names a session
    id ..."), the format's misreading said last if at all; the lines' format is the likelier reason, said first."""
    from logbert.config import LogBertConfig
    from logbert.pipeline.corpus import read_corpus

    log = tmp_path / "journal.log"
    lines = [f"2026-12-31T21:03:{i:02d}+0000 web01 sshd[{600 + i // 3}]: Accepted publickey for bob" for i in range(30)]
    lines[::3] = [f"{line} ssh2: ED25519 SHA256:x" for line in lines[::3]]  # "x: y" in the message: syslog reads
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = LogBertConfig().with_overrides({"parser.format": "syslog", "window.session_pattern": r"PID=(\d+)"})
    with pytest.raises(InputDataError) as error:
        read_corpus(log, config)
    said = str(error.value)
    assert said.startswith(f"{log}: 20 of 30 lines do not match the format 'syslog'"), said
    assert said.index("try --set parser.format=syslog_iso") < said.index("no line names a session id"), said


def _no_session_error(log: Path, lines: list[str], log_format: str) -> tuple[str, LogBertConfig]:
    """What reading ``lines`` (written to ``log``) with ``log_format`` and no session pattern raises, and the config."""
    from logbert.pipeline.corpus import read_corpus

    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = LogBertConfig().with_overrides({"parser.log_format": log_format})
    with pytest.raises(InputDataError) as error:
        read_corpus(log, config)
    return str(error.value), config


def test_no_session_id_says_how_to_go_on_and_what_the_reader_noticed(tmp_path: Path) -> None:
    """JSON lines read as plain text: the error gives the --set lines for a pattern, sliding and time windows, and the
    reader's word that they are JSON; read as JSON, it names their fields and a pattern that reads one."""
    import json

    from logbert.config import LogBertConfig
    from logbert.pipeline.corpus import read_corpus

    log = tmp_path / "app.jsonl"
    log.write_text("".join(json.dumps({"ts": 1.0 + i, "msg": f"query {i}", "request_id": f"r{i % 3}"}) + "\n"
                           for i in range(30)), encoding="utf-8")
    with pytest.raises(InputDataError) as raw:
        read_corpus(log, LogBertConfig())
    said = str(raw.value)
    assert "window.session_pattern=REGEX" in said and "window.mode=sliding" in said and "window.mode=time" in said
    assert "are JSON objects: --set parser.format=json" in said
    as_json = LogBertConfig().with_overrides({"parser.format": "json"})
    with pytest.raises(InputDataError, match=r"the fields ts, request_id: --set 'window.session_pattern=request_id="):
        read_corpus(log, as_json)
    corpus = read_corpus(log, as_json.with_overrides({"window.session_pattern": r"request_id=(\S+)"}))
    assert sorted(u.session_id for u in corpus.line_sessions) == ["r0", "r1", "r2"]


def test_no_session_id_names_a_field_past_the_first_records_first_eight(tmp_path: Path) -> None:
    """journalctl -o json: _PID is a record's 11th key, and only the first record's first 8 keys were looked at (no
    hint; trimmed to 4 keys, the user got --set 'window.session_pattern=_PID=(\\S+)'). Every key is, the id first."""
    import json

    from logbert.pipeline.corpus import read_corpus

    log = tmp_path / "journal.json"
    keys = ["__CURSOR", "__REALTIME_TIMESTAMP", "__MONOTONIC_TIMESTAMP", "_BOOT_ID", "PRIORITY", "SYSLOG_FACILITY",
            "SYSLOG_IDENTIFIER", "_HOSTNAME", "_TRANSPORT", "MESSAGE", "_PID", "_COMM"]
    records = [dict.fromkeys(keys, "x") | {"__CURSOR": f"i={i}", "MESSAGE": f"step {i % 3}", "_PID": str(600 + i // 3)}
               for i in range(60)]  # fmt: skip
    log.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    config = LogBertConfig().with_overrides({"parser.format": "json"})
    with pytest.raises(InputDataError) as error:
        read_corpus(log, config)
    said = str(error.value)
    assert (
        "SYSLOG_IDENTIFIER, ..., _PID (11 in all): --set 'window.session_pattern=_PID=(\\S+)' reads its values as "
        "session ids" in said
    )
    corpus = read_corpus(log, config.with_overrides({"window.session_pattern": r"_PID=(\S+)"}))
    assert len(corpus.line_sessions) == 20  # what it says works


def test_no_session_id_shows_the_text_the_pattern_is_matched_against(tmp_path: Path) -> None:
    """A pattern written for the raw line: every sshd line holds sshd[N], the pattern sees "Component=sshd PID=N ..."
    and the error said only "no line names a session id"; it shows one line's text as the pattern sees it (the
    first with the most fields: not the kernel's, which has no pid)."""
    from logbert.pipeline.corpus import read_corpus

    lines = ["2026-12-31T21:01:24+0000 web01 kernel: [UFW BLOCK] IN=eth0"]
    lines += [f"2026-12-31T21:03:{i:02d}+0000 web01 sshd[{600 + i // 3}]: Accepted publickey for bob" for i in range(9)]
    log = tmp_path / "journal.log"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = LogBertConfig().with_overrides({"parser.format": "syslog_iso", "window.session_pattern": r"sshd\[(\d+)\]"})
    with pytest.raises(InputDataError) as error:
        read_corpus(log, config)
    assert (
        "The pattern is matched against each parsed line's header fields as name=value, then its content, e.g. "
        "'Datetime=2026-12-31T21:03:00+0000 Host=web01 Component=sshd PID=600 Accepted publickey for bob'"
    ) in str(error.value)


def test_no_session_id_names_ids_of_the_contents_that_read_one(tmp_path: Path) -> None:
    """Python logging's default format: no key=value pairs, the order id is a word of the program's own
    ("order ord-1000 paid"); the error names it, the pattern it prints reads one session per order, and an
    interface name (eth0, the same on every line) or a number alone is never suggested."""
    import re

    from logbert.pipeline.corpus import read_corpus

    log = tmp_path / "app.log"
    lines = []
    for order in range(40):
        lines += [f"INFO:shop.checkout:order ord-{1000 + order} received with {order % 5 + 1} items on eth0",
                  f"DEBUG:shop.db:order ord-{1000 + order} reserved stock in {order % 9}.5 ms",
                  f"INFO:shop.checkout:order ord-{1000 + order} paid"]
    said, config = _no_session_error(log, lines, "<Level>:<Logger>:<Content>")
    hint = r"Their contents hold ids like ord-1000: --set 'window.session_pattern=\b(ord-\d+)\b' reads them"
    assert said.endswith(hint)
    printed = re.search(r"session_pattern=(\S+)' reads them", said)
    assert printed is not None
    corpus = read_corpus(log, config.with_overrides({"window.session_pattern": printed.group(1)}))
    assert len(corpus.line_sessions) == 40 and corpus.line_sessions[0].session_id == "ord-1000"  # what it says works


@pytest.mark.parametrize(
    ("session_of", "example", "expected_id"),
    [
        # ZooKeeper: client sessions named by a hexadecimal number
        (lambda i: f"0x14ed93111f2{i:04x}", "0x14ed93111f20000", "0x14ed93111f20000"),
        # a request id of a UUID, "req-" before it (the UUID is the session)
        (lambda i: f"req-3f2a9c{i:02d}-1b2c-4d5e-8f90-a1b2c3d4e5f6", "3f2a9c00-1b2c-4d5e-8f90-a1b2c3d4e5f6",
         "3f2a9c00-1b2c-4d5e-8f90-a1b2c3d4e5f6"),
    ],
)
def test_no_session_id_names_hexadecimal_and_uuid_ids_of_the_contents(
    tmp_path: Path, session_of: Callable[[int], str], example: str, expected_id: str
) -> None:
    """Ids with no prefix of letters (stop 44: ZooKeeper's "Established session 0x14ed93111f20027" got no hint): the
    error names them, and the pattern it prints reads one session per id; a per-line number (a zxid, on one line
    each) is never suggested."""
    import re

    from logbert.pipeline.corpus import read_corpus

    log = tmp_path / "zk.log"
    lines = []
    for n in range(40):
        sid = session_of(n)
        lines += [f"2015-07-29 17:41:{n % 60:02d},100 - INFO  [CommitProcessor:1] - Established session {sid} with "
                  f"negotiated timeout 10000 zxid 0x{n:08x}",
                  f"2015-07-29 17:42:{n % 60:02d},200 - INFO  [ProcessThread] - Processed session termination for "
                  f"sessionid: {sid}",
                  f"2015-07-29 17:42:{n % 60:02d},300 - INFO  [NIOServerCxn] - Closed socket connection which had "
                  f"sessionid {sid}"]
    said, config = _no_session_error(log, lines, r"<Datetime> - <Level> \[<Context>\] - <Content>")
    assert f"Their contents hold ids like {example}: --set 'window.session_pattern=" in said
    printed = re.search(r"session_pattern=(\S+)' reads them", said)
    assert printed is not None
    corpus = read_corpus(log, config.with_overrides({"window.session_pattern": printed.group(1)}))
    assert len(corpus.line_sessions) == 40 and corpus.line_sessions[0].session_id == expected_id
    assert all(len(s.rows) == 3 for s in corpus.line_sessions)


def test_no_session_id_never_suggests_a_status_code_that_repeats(tmp_path: Path) -> None:
    """Windows logon failures: each holds the statuses 0xC000006D and 0xC000006A (the same on every such event, as
    8-digit hexadecimal numbers as the few other codes are): never suggested as ids; a logon id, 0x and 6 digits,
    that a few lines each repeat is."""
    failures = [f"{i}: An account failed to log on. Status: 0xC000006D Sub Status: 0xC000006A Port {i}"
                for i in range(44)]
    failures += [f"{i}: Faulting module ntdll.dll exception code 0xc0000374 offset 0x5b9c9cf6" for i in range(6)]
    said, _ = _no_session_error(tmp_path / "failures.log", failures, "<Content>")
    assert "ids like" not in said and "0x[0-9a-fA-F]{8}" not in said
    logons = [f"{i}: {w} Logon ID: 0x8D{i // 3:04X} Status: 0xC000006D" for i, w in
              enumerate(["An account was logged on.", "Privileges assigned.", "An account was logged off."] * 20)]
    said, _ = _no_session_error(tmp_path / "logons.log", logons, "<Content>")
    assert "Their contents hold ids like 0x8D0000: --set 'window.session_pattern=\\b(0x[0-9a-fA-F]{6})\\b'" in said


def test_no_session_id_never_suggests_a_field_with_one_value_for_every_line(tmp_path: Path) -> None:
    """Debian's alternatives.log read with its header (the program's name, the time): the name is the same on every
    line, so reading sessions by it would make the log one session; the error offers windows and names no field."""
    lines = [f"update-alternatives 2025-06-24 14:36:{i:02d}: link group g{i % 4} updated to point to /usr/bin/x{i}"
             for i in range(40)]
    said, _ = _no_session_error(tmp_path / "alternatives.log", lines, "<Component> <Datetime>: <Content>")
    assert "window.mode=sliding" in said and "Its lines have the fields" not in said


def test_no_session_id_never_suggests_a_field_whose_first_word_is_the_same_on_every_line(tmp_path: Path) -> None:
    r"""A field "[job J00000]": the suggested `Context=(\S+)` reads "job" on every line, one session (it was offered,
    and train then said only that 1 session cannot be split)."""
    lines = [f"2026-12-01T10:00:{i % 60:02d} INFO [job J{i // 6:05d}] step {i % 6} done" for i in range(120)]
    said, _ = _no_session_error(tmp_path / "jobs.log", lines, r"<Datetime> <Level> \[<Context>\] <Content>")
    assert "session_pattern=Context" not in said


def test_no_session_id_names_a_key_of_the_contents_that_reads_one(tmp_path: Path) -> None:
    """logfmt and 'task=N ...' lines: the session is a key=value of the content, not a header field; a time or a
    level is never suggested as a session id, nor a number one kind of line carries (rows=) or a level."""
    from logbert.config import LogBertConfig
    from logbert.pipeline.corpus import read_corpus

    log = tmp_path / "svc.log"
    lines = []
    for i in range(60):
        rid = f"{i * 7919:08x}"
        lines += [f'time=2026-11-29T10:00:{i:02d}Z level=info msg="request started" request_id={rid} path=/a',
                  f'time=2026-11-29T10:00:{i:02d}Z level=debug msg="db query done" request_id={rid} rows={i % 3}',
                  f'time=2026-11-29T10:00:{i:02d}Z level=info msg="request finished" request_id={rid} status=200']
    error, config = _no_session_error(log, lines, "time=<Datetime> level=<Severity> <Content>")
    said = r"Their contents hold request_id=...: --set 'window.session_pattern=request_id=(\S+)' reads it"
    assert error.endswith(said)
    corpus = read_corpus(log, config.with_overrides({"window.session_pattern": r"request_id=(\S+)"}))
    assert len(corpus.line_sessions) == 60  # what it says works
    timed = tmp_path / "timed.log"
    timed.write_text("".join(f"2026-11-29 10:00:{i:02d} INFO started run\n" for i in range(30)), encoding="utf-8")
    with pytest.raises(InputDataError) as error:
        read_corpus(timed, LogBertConfig().with_overrides({"parser.log_format": "<Datetime> <Level> <Content>"}))
    assert "session_pattern=Datetime" not in str(error.value) and "Its lines have" not in str(error.value)


def test_the_corpus_modules_examples_hold() -> None:
    """The examples in logbert.pipeline.corpus' docstrings (the session-id hints) and logbert.files' are run, not only
    read."""
    import doctest

    from logbert import files
    from logbert.pipeline import corpus

    assert doctest.testmod(corpus).failed == 0
    assert doctest.testmod(files).attempted > 0 and doctest.testmod(files).failed == 0  # the byte-order marks
