"""Multi-line messages (stack traces, tracebacks): ``parser.continuation``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from logbert.config import LogBertConfig, ParserConfig
from logbert.parsing.headers import line_text_for_sessions
from logbert.parsing.reader import ITER_BLOCK_LINES, WARNING_SAMPLE, LogStream, read_log
from logbert.pipeline.corpus import read_corpus

SPRING = r"<Datetime> <Level> <Pid> --- \[<Context>\] <Content>"


def _request(i: int, failed: bool) -> list[str]:
    head = f"2026-11-21 09:00:{i % 60:02d}.{i % 1000:03d}  {{}} 4242 --- [exec-1] c.e.Orders : [req=r{i}] {{}}"
    lines = [head.format("INFO", "POST /orders")]
    if failed:
        lines += [
            head.format("ERROR", "Request failed"),
            "java.lang.IllegalStateException: inventory service unavailable",
            "\tat com.example.inventory.Client.reserve(Client.java:88)",
            "",  # a blank line inside a trace is empty, and the trace goes on after it
            "\t... 42 common frames omitted",
        ]
    return [*lines, head.format("INFO", "201 Created")]


def _log(n: int, every: int = 7) -> list[str]:
    return [line for i in range(n) for line in _request(i, i % every == 3 % every)]


def test_attached_lines_take_the_time_and_sessions_of_the_line_they_continue() -> None:
    lines = ["junk before any header", *_request(3, True)]
    records, report = read_log(lines, ParserConfig(log_format=SPRING, continuation="attach"))
    assert report.n_malformed == 1 and report.n_empty == 1 and report.n_continued == 3  # nothing to continue: junk
    assert report.n_parsed == 6 and report.n_lines == 8
    error, exc, frame, omitted = records[1:5]
    assert [r.content for r in (exc, frame, omitted)] == [
        "java.lang.IllegalStateException: inventory service unavailable",
        "at com.example.inventory.Client.reserve(Client.java:88)",
        "... 42 common frames omitted",
    ]
    assert all(r.timestamp == error.timestamp and r.fields == {} for r in (exc, frame, omitted))
    assert all("[req=r3]" in line_text_for_sessions(r) for r in (exc, frame, omitted))
    assert records[5].continues is None and records[5].content.endswith("201 Created")


def test_counted_by_default_with_a_hint_that_names_the_setting() -> None:
    records, report = read_log(_log(30), ParserConfig(log_format=SPRING))
    assert report.n_continued == 0 and report.n_malformed == 4 * 3  # 4 traces of 3 lines
    (hint,) = [w for w in report.warnings if "parser.continuation=attach" in w]
    assert "12 lines do not match" in hint and "IllegalStateException" in hint
    _, plain = read_log(["INFO a", "junk", "INFO b"], ParserConfig(log_format="<Level> <Content>"))
    assert plain.n_malformed == 1 and plain.warnings == []  # junk that is no stack trace gets no hint


def test_contents_and_lines_agree_across_blocks_and_the_judging_sample(tmp_path: Path) -> None:
    """Template mining reads contents (a matcher without records once the format is judged), keying reads records:
    both must attach the same lines, also where a block boundary or the end of the judged sample cuts a trace."""
    n = (WARNING_SAMPLE + 3 * ITER_BLOCK_LINES) // 4
    log = tmp_path / "app.log"
    log.write_text("\n".join(_log(n, every=3)) + "\n")
    config = ParserConfig(log_format=SPRING, continuation="attach")
    by_lines = LogStream(log, config)
    contents = [r.content for block in by_lines.lines() for r in block]
    by_contents = LogStream(log, config)
    assert [c for block in by_contents.contents() for c in block] == contents
    assert by_lines.report.n_continued == by_contents.report.n_continued == 3 * ((n + 2) // 3)
    # lines that are not clean text go through the record path in the middle of a contents read
    dirty = _log(40, every=3)
    dirty[9] = dirty[9] + "\x00"
    mixed = LogStream(iter(dirty), config)
    assert [c for block in mixed.contents() for c in block] == [r.content for r in read_log(dirty, config)[0]]


@pytest.mark.parametrize("mode", ["count", "attach"])
def test_sessions_of_a_log_with_traces(tmp_path: Path, mode: str) -> None:
    log = tmp_path / "app.log"
    log.write_text("\n".join(_log(40)) + "\n")
    config = LogBertConfig().with_overrides(
        {"parser.log_format": SPRING, "parser.continuation": mode, "window.session_pattern": r"req=(\w+)"}
    )
    corpus = read_corpus(log, config)
    sessions = {s.session_id: s.rows for s in corpus.line_sessions}
    failed = [corpus.lines[i].content for i in sessions["r3"]]
    assert corpus.report.n_without_session == 0
    if mode == "attach":
        assert len(failed) == 6 and failed[3] == "at com.example.inventory.Client.reserve(Client.java:88)"
    else:
        assert len(failed) == 3 and corpus.report.n_malformed == 6 * 3  # 6 traces of 3 lines


# -- JSON lines whose message has a header of its own (a container's log driver) -----------------------------------


def _docker(message: str, time: str | None = "2026-11-29T10:00:00.000000000Z") -> str:
    obj: dict[str, str] = {"log": message + "\n", "stream": "stdout"}
    if time is not None:
        obj["time"] = time
    return json.dumps(obj)


def test_json_lines_read_their_message_by_the_log_format_beside_them() -> None:
    lines = [_docker(f"2026-11-29T09:00:0{i}.000Z INFO [req-{i}] GET /api/cart") for i in range(4)]
    _, hinted = read_log(lines, ParserConfig(format="json"))
    suggested = r"<Datetime> <Level> \[<Context>\] <Content>"
    assert hinted.warnings[-1].endswith(f"try --set 'parser.log_format={suggested}'")
    records, report = read_log(lines, ParserConfig(format="json", log_format=suggested))  # what the hint says works
    assert report.warnings == [] and report.n_parsed == 4
    first = records[0]
    assert first.content == "GET /api/cart"
    assert first.fields["Context"] == "req-0" and first.fields["stream"] == "stdout"
    assert first.timestamp == 1795946400.0  # the object's time wins; the message's is 09:00
    (no_time,), _ = read_log([_docker("2026-11-29T09:00:05.000Z INFO [r] x", time=None)], ParserConfig(
        format="json", log_format=suggested))
    assert no_time.timestamp == 1795942805.0  # none in the object: the message's
    _, unmatched = read_log([*lines, _docker("\tat Client.reserve(Client.java:88)")],
                            ParserConfig(format="json", log_format=suggested))
    assert unmatched.n_malformed == 1


def test_a_json_line_whose_message_has_no_header_continues_the_line_before(tmp_path: Path) -> None:
    lines = [
        _docker("2026-11-29T09:00:01.000Z ERROR [req-7] Request failed"),
        _docker("java.lang.IllegalStateException: inventory service unavailable"),
        _docker("\tat Client.reserve(Client.java:88)"),
    ]
    layout = r"<Datetime> <Level> \[<Context>\] <Content>"
    config = ParserConfig(format="json", log_format=layout, continuation="attach")
    records, report = read_log(lines, config)
    assert report.n_continued == 2 and report.n_malformed == 0
    assert [r.content for r in records[1:]] == ["java.lang.IllegalStateException: inventory service unavailable",
                                                "at Client.reserve(Client.java:88)"]  # the message, not the object
    assert all("Context=req-7" in line_text_for_sessions(r) for r in records)
    log = tmp_path / "k8s.log"  # past the judged sample, contents are read by the matcher alone
    log.write_text("\n".join(lines * (WARNING_SAMPLE // 2)) + "\n")
    by_lines, by_contents = LogStream(log, config), LogStream(log, config)
    contents = [r.content for block in by_lines.lines() for r in block]
    assert [c for block in by_contents.contents() for c in block] == contents == [r.content for r in records] * (
        WARNING_SAMPLE // 2
    )
