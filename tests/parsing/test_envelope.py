"""Container runtimes' envelopes (``parser.envelope``): CRI's ``<time> stdout F <message>`` and Docker json-file's
``{"log": ...}`` unwrapped before the format reads the message, split lines joined, bad lines counted."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from logbert.config import ParserConfig
from logbert.errors import InputDataError
from logbert.parsing import reader
from logbert.parsing.headers import iso_seconds, line_text_for_sessions
from logbert.parsing.reader import LineReader, LogStream, open_pieces, read_log
from logbert.windowing.windows import find_session_ids

T0 = "2026-12-02T04:00:00.034000152Z"


def _cri(message: str, tag: str = "F", stream: str = "stdout", time: str = T0) -> str:
    return f"{time} {stream} {tag} {message}"


def _docker(message: str, end: str = "\n", stream: str = "stdout", time: str = T0) -> str:
    return json.dumps({"log": message + end, "stream": stream, "time": time})


def _logfmt(i: int, msg: str = "request received") -> str:
    return f'time=2026-12-02T04:00:0{i}.000Z level=info msg="{msg}" request_id=req-{i} user=carol'


def test_cri_logfmt_records_give_fields_sessions_and_their_own_times() -> None:
    lines, report = read_log([_cri(_logfmt(i)) for i in range(3)], ParserConfig(envelope="cri", format="logfmt"))
    assert report.n_parsed == 3 and report.n_malformed == 0
    first = lines[0]
    assert first.content == "request received"
    assert first.fields == {
        "time": "2026-12-02T04:00:00.000Z", "level": "info", "request_id": "req-0", "user": "carol", "stream": "stdout"
    }
    assert first.timestamp == iso_seconds("2026-12-02T04:00:00.000Z")  # the record's time, not the runtime's


    pattern = re.compile(r"request_id=(\S+)")
    sessions = [find_session_ids(line_text_for_sessions(ln), pattern) for ln in lines]
    assert sessions == [("req-0",), ("req-1",), ("req-2",)]
    assert find_session_ids(line_text_for_sessions(first), re.compile(r"stream=(\S+)")) == ("stdout",)


def test_the_runtime_time_is_the_line_time_where_the_message_has_none() -> None:
    lines, _ = read_log([_cri('level=info msg="no time here" id=1')], ParserConfig(envelope="cri", format="logfmt"))
    assert lines[0].timestamp == iso_seconds(T0)


def test_cri_json_and_cri_text_with_a_header_layout() -> None:
    record = json.dumps({"ts": "2026-12-02T05:00:00Z", "level": "warn", "msg": "cache  miss", "trace_id": "t1"})
    (line,), _ = read_log([_cri(record, stream="stderr")], ParserConfig(envelope="cri", format="json"))
    assert (line.content, line.fields["trace_id"], line.fields["stream"]) == ("cache miss", "t1", "stderr")
    assert line.timestamp == iso_seconds("2026-12-02T05:00:00Z")
    text = ParserConfig(envelope="cri", log_format=r"<Level> \[<Context>\] <Content>")
    (plain,), report = read_log([_cri("INFO [req-7] GET /cart 200")], text)
    assert (plain.content, plain.fields, plain.timestamp) == (
        "GET /cart 200", {"Level": "INFO", "Context": "req-7", "stream": "stdout"}, iso_seconds(T0)
    )
    assert report.warnings == []


def test_docker_json_file_around_logfmt_and_its_split_lines() -> None:
    config = ParserConfig(envelope="docker", format="logfmt")
    whole = _logfmt(1, "payment authorized")
    lines, report = read_log(
        [_docker(_logfmt(0)), _docker(whole[:30], end=""), _docker(whole[30:50], end=""), _docker(whole[50:])], config
    )
    assert [ln.content for ln in lines] == ["request received", "payment authorized"]
    assert lines[1].fields["request_id"] == "req-1" and lines[1].line_no == 4
    assert (report.n_lines, report.n_parsed, report.n_pieces, report.n_malformed) == (4, 2, 2, 0)


def test_cri_partial_pieces_join_per_stream_and_a_run_left_open_is_read_and_counted() -> None:
    config = ParserConfig(envelope="cri", format="logfmt")
    long = _logfmt(5, "order persisted")
    raw = [
        _cri(long[:20], "P"),
        _cri('level=error msg="boom" request_id=req-9', stream="stderr"),  # the other stream, between the pieces
        _cri(long[20:40], "P"),
        _cri(long[40:]),
        _cri('msg="request received" request_id=req-6', "P"),  # the file ends before its F piece
    ]
    lines, report = read_log(raw, config)
    assert [(ln.line_no, ln.content) for ln in lines] == [(2, "boom"), (4, "order persisted"), (5, "request received")]
    assert lines[1].fields["request_id"] == "req-5"
    assert (report.n_lines, report.n_parsed, report.n_pieces, report.n_unended) == (5, 3, 2, 1)
    assert any("never got their last piece" in w for w in report.warnings)


def test_pieces_join_across_a_read_block_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = ParserConfig(envelope="cri", format="logfmt")
    raw = []
    for i in range(40):
        line = _logfmt(i % 10, f"step {i} done")
        raw += [_cri(line[:15], "P"), _cri(line[15:30], "P"), _cri(line[30:])] if i % 3 == 0 else [_cri(line)]
    path = tmp_path / "pods.log"
    path.write_text("\n".join(raw) + "\n", encoding="utf-8")
    whole, whole_report = read_log(path, config)
    monkeypatch.setattr(reader, "BLOCK_BYTES", 97)  # a block boundary inside most runs of pieces
    stream = LogStream(path, config)
    blocks = list(stream.lines())
    assert len(blocks) > 20
    assert [ln for block in blocks for ln in block] == whole
    assert [ln.content for ln in whole] == [f"step {i} done" for i in range(40)]
    assert stream.report.n_pieces == whole_report.n_pieces == 28
    contents = LogStream(path, config)
    assert [c for block in contents.contents() for c in block] == [ln.content for ln in whole]


def test_lines_not_in_the_envelope_are_malformed_with_an_example() -> None:
    config = ParserConfig(envelope="cri", format="logfmt")
    lines, report = read_log([_cri(_logfmt(1)), "level=info msg=unwrapped", "", _docker("x")], config)
    assert len(lines) == 1
    assert (report.n_malformed, report.n_empty) == (2, 1)
    assert report.malformed_examples[0] == "2: level=info msg=unwrapped"
    _, docker = read_log([_docker("a=1 msg=ok"), "not json", '{"no": "log key"}'], ParserConfig(envelope="docker"))
    assert (docker.n_parsed, docker.n_malformed) == (1, 2)


def test_a_joined_line_obeys_max_line_chars_and_keeps_little_of_an_endless_run() -> None:
    config = ParserConfig(envelope="cri", max_line_chars=100)
    pieces = [_cri("x" * 80, "P") for _ in range(50)] + [_cri("y" * 10)]
    r = LineReader(config)
    outcomes = [r.read_line(p) for p in pieces]
    assert outcomes[:-1] == ["partial"] * 50
    last = outcomes[-1]
    assert not isinstance(last, str) and last.content == "x" * 100
    assert (r.report.n_truncated, r.report.n_pieces) == (1, 50)
    assert r.read_line(r.last_text) != "partial"  # a joined line is kept as one envelope line that reads the same
    kept = open_pieces(pieces[:-1], config)
    assert len(kept) == 2  # enough for the cut, not the whole run


def test_parse_suggests_the_envelope_for_runtime_lines_and_one_suggestion_only() -> None:
    raw = [_cri(_logfmt(i)) for i in range(5)]
    _, report = read_log(raw, ParserConfig())
    assert len(report.warnings) == 1
    assert "try --set parser.envelope=cri --set parser.format=logfmt (" in report.warnings[0]
    _, docker = read_log([_docker(_logfmt(i)) for i in range(5)], ParserConfig(format="json"))
    assert "try --set parser.envelope=docker --set parser.format=logfmt (" in docker.warnings[0]
    with pytest.raises(InputDataError, match=r"parser.envelope=cri \(the messages are then read"):
        read_log(raw, ParserConfig(format="logfmt"))  # no line is logfmt from its start: the envelope is why
    _, read = read_log(raw, ParserConfig(envelope="cri", format="logfmt"))
    assert not any("envelope" in w for w in read.warnings)


def test_the_line_counts_parse_prints_add_up_with_the_pieces(tmp_path: Path) -> None:
    """528 lines read, 480 parsed: the 48 pieces joined into others were in no count parse printed."""
    from typer.testing import CliRunner

    from logbert.cli import app

    lines = []
    for i in range(6):
        if i % 2:  # a split line: its first half a P piece, the rest the F piece that ends it
            record = _logfmt(i, "a long message")
            lines += [_cri(record[:30], "P"), _cri(record[30:])]
        else:
            lines.append(_cri(_logfmt(i)))
    log = tmp_path / "pod.log"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = ["--set", "parser.envelope=cri", "--set", "parser.format=logfmt"]
    out = CliRunner().invoke(app, ["parse", str(log), *settings], env={"COLUMNS": "300"})
    assert out.exit_code == 0, out.output
    said = " ".join(out.output.split())
    assert "9 lines: 6 parsed (3 more lines were pieces of split lines, joined into them)" in said, said


def test_a_line_without_a_header_continues_its_own_streams_last_line() -> None:
    """A container's stdout and stderr interleave: a JVM warning on stderr between a request's stdout line and its
    stack trace was attached to that request (every such request then held an odd key, and set the threshold)."""
    spring = r"<Datetime> <Level> <Pid> --- \[<Context>\] <Content>"
    config = ParserConfig(envelope="cri", log_format=spring, continuation="attach")
    lines = [
        _cri("2026-12-02 04:00:00.000 ERROR 1 --- [exec-1] Orders : [req=r1] Request failed"),
        _cri("WARN: An illegal reflective access operation has occurred", stream="stderr"),
        _cri("java.lang.IllegalStateException: inventory service unavailable"),
        _cri("2026-12-02 04:00:01.000  INFO 1 --- [exec-2] Orders : [req=r2] POST", stream="stderr"),
        _cri("\tat com.example.Client.reserve(Client.java:88)"),  # stdout: r1's trace, past r2's stderr line
    ]
    parsed, report = read_log(lines, config)
    assert report.n_malformed == 1  # the warning: stderr had no line of its own to continue
    texts = [line_text_for_sessions(ln) for ln in parsed]
    assert [re.findall(r"req=(\w+)", t)[:1] for t in texts] == [["r1"], ["r1"], ["r2"], ["r1"]]


def test_the_envelope_hint_can_be_pasted_and_keeps_split_lines_whole() -> None:
    """The hint printed "try '--set parser.envelope=cri --set 'parser.log_format=...''", quotes inside quotes that
    bash cannot read; and a runtime splits only lines over 16 KiB, which the default parser.max_line_chars (10,000)
    cut again once joined: the session id at their end was lost."""
    import shlex

    spring = "2026-12-02 04:00:0{i}.000  INFO 1 --- [exec-1] Orders : [req=r{i}] POST"
    long_body = "x" * 20_000
    lines = [_cri(spring.format(i=i)) for i in range(6)]
    lines += [_cri(f"2026-12-02 04:00:09.000 DEBUG 1 --- [exec-1] Body : {long_body[:16_000]}", "P"),
              _cri(f"{long_body[16_000:]} [req=r9]")]  # fmt: skip
    _, report = read_log(lines, ParserConfig())
    said = report.warnings[0]
    suggestion = said.split("try ", 1)[1].split(" (the messages", 1)[0]
    args = shlex.split(suggestion)
    assert args[:2] == ["--set", "parser.envelope=cri"] and "parser.max_line_chars=65536" in args
    assert any(a.startswith("parser.log_format=<Datetime>") for a in args), args
    settings = dict(a.split("=", 1) for a in args[1::2])
    config = ParserConfig(**{k.removeprefix("parser."): v for k, v in settings.items()})
    read, again = read_log(lines, config)
    assert again.n_truncated == 0 and "[req=r9]" in read[-1].content  # the joined line whole, its id kept
    cut, short = read_log(lines, config.model_copy(update={"max_line_chars": 10_000}))
    assert short.n_truncated == 1 and "[req=r9]" not in cut[-1].content
    assert any("cut at parser.max_line_chars (10000)" in w and "=65536 keeps them whole" in w for w in short.warnings)


def test_the_examples_in_the_docstrings_hold() -> None:
    """The envelope's, the reader's and the producer's examples (one in the reader had stopped compiling unseen)."""
    import doctest

    from logbert.parsing import envelope
    from logbert.queue import partitions

    for module in (envelope, reader, partitions):
        assert doctest.testmod(module).failed == 0, module.__name__
