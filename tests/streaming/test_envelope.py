"""Container runtimes' split lines in streaming (``parser.envelope``): a CRI line whose P pieces and F piece come in
different ingest calls, or on both sides of a restart, reads as offline: the same messages, keys and sessions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .replay import offline_summaries, replayed, restarted, summaries, trained_on


def _log(n: int) -> list[str]:
    """Requests req-<i> in CRI lines around logfmt; every third request's second line split into P pieces, with a
    stderr line between them."""
    out: list[str] = []
    for i in range(n):
        t = f"2026-12-02T04:{i // 60:02d}:{i % 60:02d}"
        for j, msg in enumerate(("request received", "payment authorized", "request completed")):
            record = f'time={t}.{j:03d}Z level=info msg="{msg}" request_id=req-{i} path=/api/v1/checkout'
            stamp = f"{t}.{j:03d}000001Z"
            if j == 1 and i % 3 == 0:
                out += [f"{stamp} stdout P {record[:25]}", f"{stamp} stderr F level=warn msg=\"gc pause\" id=x{i}"]
                out += [f"{stamp} stdout P {record[25:60]}", f"{stamp} stdout F {record[60:]}"]
            else:
                out.append(f"{stamp} stdout F {record}")
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path, dict[str, Any]]:
    settings = {"parser.envelope": "cri", "parser.format": "logfmt", "window.session_pattern": r"request_id=(\S+)"}
    detector, log, offline = trained_on(tmp_path_factory.mktemp("envelope"), _log(60), settings)
    assert offline["req-3"].n_keys == 3  # its 3 lines, the split one joined
    return detector, log, offline


@pytest.mark.parametrize("per_request", [1, 2, 5, 1000])
def test_requests_that_cut_a_split_line_give_the_offline_sessions(trained: Any, per_request: int) -> None:
    detector, log, offline = trained
    lines = log.read_text(encoding="utf-8").splitlines()
    engine = replayed(detector, lines, per_request)
    assert engine.stats().rejected_malformed == 0  # a piece is accepted, read with the piece that ends it
    assert summaries(engine, offline) == offline_summaries(offline)
    engine.shutdown(30)


def test_a_restart_between_the_pieces_of_a_line_joins_them(trained: Any, tmp_path: Path) -> None:
    detector, log, offline = trained
    lines = log.read_text(encoding="utf-8").splitlines()
    cut = next(i for i, line in enumerate(lines) if " stdout P " in line) + 1  # after the first P piece
    again = restarted(detector, lines, cut, 4, tmp_path / "j")  # the open piece is in the checkpoint only
    assert summaries(again, offline) == offline_summaries(offline)
    again.shutdown(30)


def _spring_pods(n: int) -> list[str]:
    """Requests req=r<i> in CRI lines: a Spring service's stdout, every third one failing with a stack trace on
    stdout, and the JVM's warnings on stderr written between a request's line and its trace."""
    out = []
    for i in range(n):
        t = f"2026-12-02T04:{i // 60:02d}:{i % 60:02d}"
        stamp = f"{t}.000000001Z"
        out.append(f"{stamp} stdout F 2026-12-02 04:00:{i % 60:02d}.000  INFO 1 --- [exec-1] Orders : [req=r{i}] POST")
        if i % 3 == 1:
            out += [
                f"{stamp} stdout F 2026-12-02 04:00:{i % 60:02d}.500 ERROR 1 --- [exec-1] Orders : [req=r{i}] failed",
                f"{stamp} stderr F WARN: An illegal reflective access operation has occurred",
                f"{stamp} stderr F 2026-12-02 04:00:{i % 60:02d}.600  WARN 1 --- [gc] Jvm : pause of 20 ms",
                f"{stamp} stdout F java.lang.IllegalStateException: inventory service unavailable",
                f"{stamp} stdout F \tat com.example.Client.reserve(Client.java:88)",
            ]
        out.append(f"{stamp} stdout F 2026-12-02 04:00:{i % 60:02d}.900  INFO 1 --- [exec-1] Orders : [req=r{i}] 201")
    return out


@pytest.fixture(scope="module")
def streams(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path, dict[str, Any]]:
    settings = {
        "parser.envelope": "cri",
        "parser.log_format": r"<Datetime> <Level> <Pid> --- \[<Context>\] <Content>",
        "parser.continuation": "attach",
        "window.session_pattern": r"req=(\w+)",
    }
    detector, log, offline = trained_on(tmp_path_factory.mktemp("streams"), _spring_pods(60), settings)
    assert offline["r1"].n_keys == 5  # POST, failed, the trace's 2 lines, 201: not the stderr warning
    return detector, log, offline


@pytest.mark.parametrize("per_request", [1, 3, 1000])
def test_each_stream_continues_its_own_lines_across_requests(streams: Any, per_request: int) -> None:
    """The engine keeps each stream's last line for a source's next request (it kept the source's last line: a
    stderr line between a request and its trace took the trace's head away when a request ended there)."""
    detector, log, offline = streams
    lines = log.read_text(encoding="utf-8").splitlines()
    engine = replayed(detector, lines, per_request)
    # the first warning: no stderr line yet to continue; the later ones continue stderr's (sessionless) Jvm line
    assert engine.stats().rejected_malformed == 1
    assert summaries(engine, offline) == offline_summaries(offline)
    engine.shutdown(30)


def test_a_restart_keeps_each_streams_last_line(streams: Any, tmp_path: Path) -> None:
    detector, log, offline = streams
    lines = log.read_text(encoding="utf-8").splitlines()
    cut = next(i for i, line in enumerate(lines) if " stderr " in line) + 1  # stdout's trace comes next
    again = restarted(detector, lines, cut, 2, tmp_path / "j")
    assert summaries(again, offline) == offline_summaries(offline)
    again.shutdown(30)


def _event_csv(n: int) -> list[str]:
    """Windows events as Export-Csv writes them: a header row, then records whose quoted message holds line breaks
    (session <i> in a column of its own)."""
    out = ['"TimeCreated","Id","LogonId","Message"']
    for i in range(n):
        said = ("An account was successfully logged on.", "Special privileges assigned.", "An account was logged off.")
        for j, what in enumerate(said):
            t = f"2026-11-29T13:{i // 60:02d}:{i % 60:02d}.{j:03d}Z"
            out += [f'"{t}","{4624 + j}","s{i}","{what}', "", "Subject:", f"\tAccount Name:\tsvc_{i % 4}", 'Done."']
    return out


@pytest.mark.parametrize("per_request", [1, 3, 1000])
def test_csv_records_with_quoted_line_breaks_cut_by_requests_give_the_offline_sessions(
    tmp_path_factory: pytest.TempPathFactory, per_request: int
) -> None:
    settings = {
        "parser.format": "csv", "parser.csv_columns": ["TimeCreated", "Id", "LogonId", "Message"],
        "parser.json_time_keys": ["TimeCreated"], "window.session_pattern": r"LogonId=(\S+)",
    }
    detector, log, offline = trained_on(tmp_path_factory.mktemp("csv"), _event_csv(60), settings)
    assert offline["s3"].n_keys == 3  # its 3 records, each of 5 lines
    engine = replayed(detector, log.read_text(encoding="utf-8").splitlines(), per_request)
    assert engine.stats().rejected_malformed == 1  # the header row only: a record's first lines wait for its last
    assert summaries(engine, offline) == offline_summaries(offline)
    engine.shutdown(30)


@pytest.mark.parametrize("per_request", [1, 1000])
def test_an_input_that_ends_inside_a_split_line_reads_it_as_score_does(trained: Any, per_request: int) -> None:
    """A file that ends before a split line's last piece: score reads the line as its pieces hold it (counted
    unended); tail left the pieces open at the end of a file it does not follow, the session a line short."""
    from logbert.pipeline.detector import score
    from logbert.streaming import StreamEngine

    from .replay import LIMITS

    detector, log, _ = trained
    lines = log.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if "request_id=req-57 " in line)
    # then a piece of req-57's next line that reads as a record of its own; its F piece never comes
    piece = lines[start].replace(" stdout F ", " stdout P ").replace("request received", "payment authorized")
    cut = [*lines[: start + 1], piece.removesuffix(" path=/api/v1/checkout")]
    ended = log.with_name("ended.log")
    ended.write_text("\n".join(cut) + "\n", encoding="utf-8")
    offline = {s.session_id: s for s in score(detector, ended)}
    engine = StreamEngine(detector, LIMITS)
    for i in range(0, len(cut), per_request):
        engine.ingest(cut[i : i + per_request])
    assert engine.end_source() == 1 and engine.end_source() == 0  # once: the pieces are gone
    engine.close_all()
    assert engine.drain(30)
    assert summaries(engine, offline) == offline_summaries(offline)
    assert offline["req-57"].n_keys == 2  # its first line and the unended one
    engine.shutdown(30)
    if per_request == 1:  # tail at the end of a file it does not follow: every session alerted, req-57's 2 keys
        import io
        import json

        from logbert.streaming.tail import TailOptions, run_tail

        stored = detector.threshold
        detector.use_threshold(-1.0)
        try:
            out = io.StringIO()
            run_tail(detector, str(ended), LIMITS, TailOptions(follow=False, json_output=True), out)
        finally:
            detector.threshold = stored
        alerts = {a["session_id"]: a for a in map(json.loads, out.getvalue().splitlines())}
        assert alerts["req-57"]["n_keys"] == 2 and set(alerts) == set(offline)
