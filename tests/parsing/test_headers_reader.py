"""Header parsing per format and bad input handling, on real lines where available."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from logbert.config import ParserConfig, WindowConfig
from logbert.errors import ConfigError, InputDataError
from logbert.parsing.headers import (
    BUILTIN_FORMATS,
    HeaderParser,
    compile_format,
    infer_log_format,
    line_text_for_sessions,
)
from logbert.parsing.reader import MAX_EXAMPLES, LineReader, read_log
from logbert.windowing.windows import find_session_ids, session_id_pattern
from tests.conftest import dataset_path

OPENSTACK = (
    "nova-compute.log.1.2017-05-16_13:55:31 2017-05-16 00:00:04.500 2931 INFO nova.compute.manager "
    "[req-3ea4052c-895d-4b64-9e2d-04d64c4d94ab - - - - -] [instance: b9000564-fe1a-409b-b8cc-1e88b294cd1d] "
    "VM Started (Lifecycle Event)"
)
DEVSTACK = (
    "INFO nova.compute.claims [req-a4498d64-47bb-491f-adde-effccaba43f0] "
    "[instance: 11760334-ac63-4cc8-9086-578422af8c99] Claim successful on node parisaserver"
)
HDFS = (
    "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 "
    "terminating"
)
BGL = (
    "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO "
    "instruction cache parity error corrected"
)
TBIRD = "- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond(pam_unix)[2915]: session closed for user root"
CRI = [  # a Go service's logfmt as a Kubernetes container runtime (CRI) writes it: time, stream, F, the line
    '2026-12-02T04:00:{0:02d}.034000152Z stdout F time=2026-12-02T04:00:{0:02d}.034Z level=info msg="request received" '
    "request_id=req-{0} method=POST path=/api/v1/checkout",
    '2026-12-02T04:00:{0:02d}.065000203Z stdout F time=2026-12-02T04:00:{0:02d}.065Z level=debug msg="cart loaded" '
    "request_id=req-{0} items=1",
]
AUDITD = [  # auditd's records: key=value pairs whose msg is a stamp, audit(time:serial):, not a message
    'type=SYSCALL msg=audit(1733412238.020:{0}): arch=c000003e syscall=59 success=yes exit=0 a0=55d5 items=2 '
    'ppid=21389 pid=21420 auid=1000 uid=1000 tty=pts0 ses=10 comm="grep" exe="/usr/bin/grep" key="exec"',
    'type=EXECVE msg=audit(1733412238.020:{0}): argc=4 a0="grep" a1="-r" a2="foo" a3="."',
    'type=CWD msg=audit(1733412238.020:{0}): cwd="/home/alice"',
    "type=PATH msg=audit(1733412238.020:{0}): item=0 name=\"/usr/bin/grep\" inode=516425 dev=fd:00 mode=0100755",
    "type=PROCTITLE msg=audit(1733412238.020:{0}): proctitle=67726570202D7220666F6F202E",
]


def test_openstack_header_keeps_instance_in_content_and_request_in_fields() -> None:
    line = HeaderParser(BUILTIN_FORMATS["openstack"]).parse(OPENSTACK, 7)
    assert line is not None and line.line_no == 7
    assert line.content == "[instance: b9000564-fe1a-409b-b8cc-1e88b294cd1d] VM Started (Lifecycle Event)"
    assert line.fields["ADDR"].startswith("req-3ea4052c") and line.fields["Level"] == "INFO"
    assert line.fields["Component"] == "nova.compute.manager"
    assert line.timestamp == pytest.approx(1494892804.5)  # 2017-05-16 00:00:04.500 UTC
    assert "req-3ea4052c" in line_text_for_sessions(line) and "b9000564" in line_text_for_sessions(line)


@pytest.mark.parametrize(
    ("fmt", "raw", "content", "timestamp", "field", "value"),
    [
        ("openstack_devstack", DEVSTACK, "[instance: 11760334-ac63-4cc8-9086-578422af8c99] Claim successful on "
         "node parisaserver", None, "Component", "nova.compute.claims"),
        ("hdfs", HDFS, "PacketResponder 1 for block blk_38865049064139660 terminating", 1226262975.0, "Pid", "148"),
        ("bgl", BGL, "instruction cache parity error corrected", 1117838570.0, "Node", "R02-M1-N0-C:J12-U11"),
        ("thunderbird", TBIRD, "session closed for user root", 1131566461.0, "PID", "2915"),
        ("syslog", "Nov 29 03:00:01 web1 sshd[1133]: Accepted password for bob from 10.0.60.253 port 5 ssh2",
         "Accepted password for bob from 10.0.60.253 port 5 ssh2", 975466801.0, "Component", "sshd"),
        ("syslog", "Nov  9 03:00:01 web1 kernel: [12.5] eth0: link up", "[12.5] eth0: link up", 973738801.0,
         "Host", "web1"),
        ("syslog_iso", "2026-11-29T03:00:01.250000+01:00 web1 CRON[7190]: (root) CMD (run-parts /etc/cron.hourly)",
         "(root) CMD (run-parts /etc/cron.hourly)", 1795917601.25, "PID", "7190"),
        ("json", '{"time": "2026-11-29T03:00:01.5Z", "level": "WARN", "msg": "disk  almost\\nfull", "req": "r-9"}',
         "disk almost full", 1795921201.5, "level", "WARN"),
        # klog has no year either: 2000, as syslog
        ("klog", "I1129 10:00:01.500000    1234 controller.go:123] Syncing pod default/web-1",
         "Syncing pod default/web-1", 975492001.5, "Source", "controller.go:123"),
        # Apache httpd's error log, 2.4 (module, thread, client) and 2.2: a year of its own
        ("apache_error", "[Thu Nov 20 10:00:00.5 2026] [core:error] [pid 7311:tid 1455] [client 10.0.0.3:5000] "
         "AH00126: Invalid URI in request GET /x HTTP/1.1", "AH00126: Invalid URI in request GET /x HTTP/1.1",
         1795168800.5, "Module", "core"),
        ("apache_error", "[Thu Nov 05 10:00:02 2026] [error] [client 10.0.0.1] File does not exist: /var/www/x.ico",
         "File does not exist: /var/www/x.ico", 1793872802.0, "Severity", "error"),
        ("raw", "  anything at all ", "anything at all", None, None, None),
    ],
)
def test_header_per_format(
    fmt: str, raw: str, content: str, timestamp: float | None, field: str | None, value: str | None
) -> None:
    line = HeaderParser(BUILTIN_FORMATS[fmt]).parse(raw, 1)  # type: ignore[index]
    assert line is not None
    assert line.content == content
    assert line.timestamp == timestamp
    if field is not None:
        assert line.fields[field] == value


def test_thunderbird_without_pid() -> None:
    raw = "- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 kernel: Linux version 2.6"
    line = HeaderParser(BUILTIN_FORMATS["thunderbird"]).parse(raw, 1)
    assert line is not None and line.content == "Linux version 2.6" and "PID" not in line.fields


@pytest.mark.parametrize(
    "junk",
    ["Traceback (most recent call last):", "  File \"/opt/stack/nova/nova/compute/manager.py\", line 2",
     "9801 ERROR nova.compute.manager", "<domain type='qemu'>"],
)
def test_devstack_traceback_lines_are_malformed(junk: str) -> None:
    assert HeaderParser(BUILTIN_FORMATS["openstack_devstack"]).parse(junk, 1) is None


def test_bad_format_string() -> None:
    with pytest.raises(ConfigError):
        HeaderParser("<Date> <Time>")


def test_read_log_counts_every_bad_line() -> None:
    lines: list[str | bytes] = [
        DEVSTACK,
        b"INFO nova.virt [req-1] caf\xe9 \xff\xfe binary",  # not UTF-8
        "INFO nova.virt [req-1] has a \x00 NUL",  # control byte
        "",
        "   ",
        "Traceback (most recent call last):",
        "INFO nova.virt [req-1] " + "x" * 20_000,  # huge
        *["  File \"x.py\", line 1" for _ in range(MAX_EXAMPLES + 3)],
    ]
    parsed, report = read_log(lines, ParserConfig(format="openstack_devstack", max_line_chars=1000))
    assert report.n_lines == len(lines)
    assert report.n_binary == 2 and report.n_empty == 2 and report.n_truncated == 1
    assert report.n_malformed == 1 + MAX_EXAMPLES + 3
    assert len(report.malformed_examples) == MAX_EXAMPLES
    assert report.n_parsed == 4 == len(parsed)
    assert "\ufffd" in parsed[1].content and len(parsed[3].content) < 1000
    assert [p.line_no for p in parsed] == [1, 2, 3, 7]


def test_read_log_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputDataError, match="not found"):
        read_log(tmp_path / "missing.log", ParserConfig())
    with pytest.raises(InputDataError, match="directory"):
        read_log(tmp_path, ParserConfig())
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    with pytest.raises(InputDataError, match="log file is empty"):  # as train's and score's "input file is empty"
        read_log(empty, ParserConfig())
    junk = tmp_path / "junk.log"
    junk.write_bytes(b"\x00\xff\x01garbage\n" * 3)
    with pytest.raises(InputDataError, match="no parsable line"):
        read_log(junk, ParserConfig(format="hdfs"))


def test_a_record_format_with_a_layout_that_reads_no_line_says_which_stage_failed() -> None:
    """parser.format=logfmt with a CRI prefix as parser.log_format: no line is logfmt, so the layout (the message's)
    was never tried; the error blamed the layout, "for format '<Datetime> <Stream> <Flag> <Content>'", which reads
    every line. JSON records whose messages the layout does not read are said to be records."""
    cri = [line.format(i) for i in range(3) for line in CRI]
    given = "<Datetime> <Stream> <Flag> <Content>"
    with pytest.raises(InputDataError) as error:
        read_log(cri, ParserConfig(format="logfmt", log_format=given))
    said = str(error.value)
    assert f"for format 'logfmt' with the message layout '{given}'" in said
    # the one suggestion for CRI lines: the runtime's envelope, then logfmt reads each message (parser.envelope)
    assert "try --set parser.envelope=cri (" in said and "parser.log_format is the message's layout" in said
    assert read_log(cri, ParserConfig(log_format=given))[1].n_parsed == len(cri)  # what it says works
    wrapped = [json.dumps({"log": f"step {i} done", "time": "2026-12-02T04:00:00Z"}) for i in range(3)]
    with pytest.raises(InputDataError) as error:
        read_log(wrapped, ParserConfig(format="json", log_format="<Level> <Content>"))
    said = str(error.value)
    assert "3 lines are json records, but none of their messages" in said and "'step 0 done'" in said
    assert "it is the message's layout, not the line's" in said


def test_a_layout_that_compiles_but_reads_no_line_for_an_unescaped_parenthesis_says_so() -> None:
    """auditd's msg=audit(...): written unescaped in a layout is a regex group: it compiled, read no line, and the
    error said only "1000 malformed". It names the characters the lines hold and the escaped layout, which reads."""
    audit = [line.format(4000 + i) for i in range(2) for line in AUDITD]
    given = "type=<Type> msg=audit(<Timestamp>:<Serial>): <Content>"
    with pytest.raises(InputDataError) as error:
        read_log(audit, ParserConfig(log_format=given))
    said = str(error.value)
    assert f"for format '{given}'" in said and "where ( ) are regex syntax: escape them (\\( \\))" in said
    escaped = r"type=<Type> msg=audit\(<Timestamp>:<Serial>\): <Content>"
    assert f"try --set 'parser.log_format={escaped}'" in said
    records, report = read_log(audit, ParserConfig(log_format=escaped))
    assert report.n_parsed == len(audit) and records[0].fields["Type"] == "SYSCALL" and records[0].timestamp
    # a layout that reads no line and holds no such character gets no such advice
    with pytest.raises(InputDataError) as error:
        read_log(audit, ParserConfig(log_format="<Level> <Content>"))
    assert "regex syntax" not in str(error.value)


#: an RFC 3164 auth.log and the same lines as journalctl -o short-iso writes them (a new user's, cut down)
AUTH = [f"Dec 31 21:03:{i:02d} web01 sshd[{600 + i // 3}]: pam_unix(sshd:session): session opened" for i in range(30)]
JOURNAL = [f"2026-12-31T21:03:{i:02d}+0000 web01 sshd[{600 + i // 3}]: Accepted publickey for bob" for i in range(30)]


def test_lines_of_another_built_in_format_are_said_to_be_that_formats_not_a_layout_to_escape() -> None:
    """auth.log read as syslog_iso was told "parser.log_format matches none of them: ... escape ( )", of a layout the
    user never wrote (syslog_iso's own optional [PID] group); the error names the format the lines are."""
    with pytest.raises(InputDataError) as error:
        read_log(AUTH, ParserConfig(format="syslog_iso"))
    said = str(error.value)
    assert "regex syntax" not in said and "parser.log_format" not in said
    assert "they look like syslog lines, not syslog_iso ones (e.g. 'Dec 31 21:03:00 web01" in said
    assert "try --set parser.format=syslog" in said
    with pytest.raises(InputDataError) as error:  # any format: journalctl -o json's lines
        read_log([json.dumps({"MESSAGE": line}) for line in AUTH], ParserConfig(format="syslog_iso"))
    assert "they look like json lines, not syslog_iso ones" in str(error.value)
    with pytest.raises(InputDataError) as error:  # a layout given: the format's name alone would not win over it
        read_log(AUTH, ParserConfig(log_format="<Datetime> <Content>"))
    assert "try --set parser.format=syslog, without parser.log_format" in str(error.value)


def test_most_lines_of_another_format_are_a_warning_that_names_it() -> None:
    """A journal's short-iso lines read as syslog: syslog's loose <Month> took the ISO time of the lines whose message
    holds a ": " (350 of 2697), the others were malformed, and parse said "350 parsed, 2347 malformed" only."""
    lines = [line if i % 3 else f"{line} ssh2: ED25519 SHA256:x" for i, line in enumerate(JOURNAL)]
    records, report = read_log(lines, ParserConfig(format="syslog"))
    assert 0 < report.n_parsed < report.n_malformed and records[0].fields["Month"].startswith("2026-12-31T")
    said = [w for w in report.warnings if "do not match the format" in w]
    assert said == [
        f"20 of 30 lines do not match the format 'syslog', and the 10 it read are likely misread (a loose field takes "
        f"what another format's header holds): they look like syslog_iso lines, not syslog ones (e.g. {lines[1]!r}): "
        "try --set parser.format=syslog_iso"
    ], report.warnings
    _, report = read_log(lines, ParserConfig(format="syslog_iso"))
    assert report.n_malformed == 0 and not any("do not match" in w for w in report.warnings)


def test_read_log_binary_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "mixed.log"
    path.write_bytes(HDFS.encode() + b"\n\xff\xfe\x00\x01\n" + HDFS.encode() + b"\r\n")
    parsed, report = read_log(path, ParserConfig(format="hdfs"))
    assert len(parsed) == 2 and report.n_binary == 1 and report.n_malformed == 1 and report.n_lines == 3
    assert parsed[1].line_no == 3


def test_latin1_lines_are_counted_binary_as_before_and_said_to_be_latin1_with_the_conversion(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A log with user names in latin-1 ("Jos\\xe9 M\\xfcller"): 20 lines were "binary", their templates held U+FFFD,
    and nothing said why. The count and the repair stay; the warning names the encoding and the iconv that converts
    it. Where most lines are latin-1, the file is not said to be "no text log" (compressed?)."""
    path = tmp_path / "app log.log"
    names = [b"Jos\xe9 M\xfcller", b"Bob Smith"]
    path.write_bytes(b"".join(b"10:00:%02d INFO welcome email to %s\n" % (i % 60, names[i % 2]) for i in range(40)))
    parsed, report = read_log(path, ParserConfig(log_format="<Time> <Level> <Content>"))
    assert report.n_binary == 20 and report.n_parsed == 40 and parsed[0].content.endswith("Jos\ufffd M\ufffdller")
    said = report.warnings[-1]
    assert said.startswith("20 lines are not UTF-8 but read as latin-1 (ISO-8859-1) text, e.g. 'José'"), said
    assert said.endswith(f"iconv -f latin1 -t utf-8 '{path}' > '{path}.utf8'")  # quoted for a shell: a space
    # a euro sign (0x80) is cp1252's, a control character in latin-1
    path.write_bytes(b"".join(b"10:00:%02d INFO paid 5 \x80 by Ren\xe9\n" % i for i in range(10)))
    _, report = read_log(path, ParserConfig(log_format="<Time> <Level> <Content>"))
    assert report.n_binary == 10
    assert report.warnings == [
        "10 lines are not UTF-8 but read as cp1252 (Windows' Western European) text, e.g. 'René': the file looks "
        "cp1252-encoded; their bytes that are not UTF-8 became U+FFFD and the lines count as binary. Convert it, then "
        f"read the copy: iconv -f cp1252 -t utf-8 '{path}' > '{path}.utf8'"
    ]
    # junk is still junk
    path.write_bytes(b"\x00\x01\xff\xfe caf\xe9 \x02\x9c\n" * 10)
    _, report = read_log(path, ParserConfig())
    assert len(report.warnings) == 1 and "does not look like a text log" in report.warnings[0]


def test_one_line_rule_for_text_and_bytes() -> None:
    """Files, the service and tail all go through read_line: the same line gives the same record."""
    reader = LineReader(ParserConfig(format="raw", max_line_chars=16))
    samples = [
        ("plain line", False),
        ("a lone \udcff surrogate", True),  # a JSON escape or surrogateescape decoding: not text
        ("embedded\nbreak", True),
        ("nul \x00 byte", True),
    ]
    for text, binary in samples:
        before = reader.report.n_binary
        as_text = reader.read_line(text)
        text_line = reader.last_text
        as_bytes = reader.read_line(text.encode("utf-8", errors="surrogateescape"))
        assert reader.report.n_binary - before == 2 * binary, text
        assert not isinstance(as_text, str) and not isinstance(as_bytes, str)
        assert as_text.content == as_bytes.content == text_line == reader.last_text
        assert "\n" not in text_line and len(text_line) <= 16
    assert reader.report.n_truncated == 2  # "a lone ... surrogate" is longer than 16 characters
    assert reader.read_line("  \r\n") == "empty" and reader.last_text == "  "


def test_line_reader_streaming() -> None:
    reader = LineReader(ParserConfig(format="hdfs"))
    out = [reader.feed(x) for x in [HDFS, "junk", HDFS.encode()]]
    assert [o is not None for o in out] == [True, False, True]
    assert reader.report.n_parsed == 2 and reader.report.n_malformed == 1


@pytest.mark.parametrize(
    ("fmt", "relative"),
    [
        ("openstack", "openstack/loghub_2k/OpenStack_2k.log"),
        ("openstack", "openstack/deeplog_openstack/openstack_abnormal.instance_lines.log"),
        ("hdfs", "hdfs/loghub_2k/HDFS_2k.log"),
        ("bgl", "bgl/loghub_2k/BGL_2k.log"),
        ("thunderbird", "thunderbird/loghub_2k/Thunderbird_2k.log"),
    ],
)
def test_real_files_parse_completely(fmt: str, relative: str) -> None:
    parsed, report = read_log(dataset_path(relative), ParserConfig(format=fmt))  # type: ignore[arg-type]
    assert report.n_parsed == report.n_lines == len(parsed)
    assert all(p.timestamp is not None for p in parsed)


def test_devstack_file_counts_tracebacks() -> None:
    path = dataset_path("openstack/kalaki_devstack/openstack-nova-sample.log")
    parsed, report = read_log(path, ParserConfig(format="openstack_devstack"))
    assert report.n_lines == 25_659
    assert report.n_parsed + report.n_malformed + report.n_empty == report.n_lines
    assert report.n_malformed > 0 and report.n_empty > 0
    assert sum("[instance: " in p.content for p in parsed) > 20_000


def _feed_each(data: bytes, config: ParserConfig) -> tuple[list[object], object]:
    """The reference: every line through LineReader.feed, as bytes (no block fast path)."""
    reader = LineReader(config)
    raw_lines = data.split(b"\n")
    if data.endswith(b"\n"):
        raw_lines.pop()
    parsed = [p for p in map(reader.feed, raw_lines) if p is not None]
    return parsed, reader.report


@pytest.mark.parametrize("block_bytes", [7, 64, 1 << 22])
def test_block_reader_equals_line_by_line(tmp_path, monkeypatch, block_bytes: int) -> None:  # type: ignore[no-untyped-def]
    import logbert.parsing.reader as reader_module

    monkeypatch.setattr(reader_module, "BLOCK_BYTES", block_bytes)
    good = HDFS.encode()
    variants = {
        "clean": b"\n".join([good] * 5) + b"\n",
        "no final newline": b"\n".join([good] * 3),
        "crlf and blank": good + b"\r\n\r\n" + good + b"\r\r\n  \n" + good,
        "cr inside a line": good + b"\n" + good.replace(b" INFO", b"\r INFO") + b"\n" + good + b"\r",
        "control byte": good + b"\n" + good + b"\x00\n" + good + b"\n",
        "not utf-8": good + b"\n" + good + b" caf\xe9\n" + good + b"\n",
        "long and junk": good + b"\n" + good + b" " + b"y" * 3000 + b"\njunk\n" + good,
        "empty": b"",
    }
    config = ParserConfig(format="hdfs", max_line_chars=1000)
    for name, data in variants.items():
        path = tmp_path / "x.log"
        path.write_bytes(data)
        expected, expected_report = _feed_each(data, config)
        if not expected:
            with pytest.raises(InputDataError):
                read_log(path, config)
            continue
        parsed, report = read_log(path, config)
        assert parsed == expected, name
        cr_said = [w for w in report.warnings if "carriage return" in w]
        assert not cr_said, name  # one line of three: a progress display, read as it, counted
        assert report.n_redrawn == (name == "cr inside a line"), name
        latin1_said = [w for w in report.warnings if "read as latin-1" in w]  # "caf\xe9": said once read too
        assert bool(latin1_said) == (name == "not utf-8"), name
        report.warnings = [w for w in report.warnings if w not in cr_said + latin1_said]
        assert report == expected_report, name


def test_gc_paused_restores_the_collector() -> None:
    import gc

    from logbert.parsing._gc import gc_paused

    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # it was off before: stays off
    finally:
        gc.enable()


@pytest.mark.parametrize(
    ("log_format", "line", "expected"),
    [
        ("<Timestamp> <Content>", "1494892804 a b", 1494892804.0),
        ("<Timestamp> <Content>", "1494892804123 a b", 1494892804.123),  # milliseconds
        ("<Timestamp> <Content>", "1494892804123456 a b", 1494892804.123456),  # microseconds
        ("<Datetime> <Level> <Content>", "2017-05-16T00:00:04.5Z INFO a b", 1494892804.5),
        ("<Datetime> <Level> <Content>", "2017-05-16 02:00:04+02:00 INFO a b", 1494892804.0),
        ("<Date> <Time> <Content>", "2017/05/16 00:00:04 a b", 1494892804.0),
        ("<Month> <Day> <Time> <Host> <Content>", "May 16 00:00:04 cp-1 a b", 958435204.0),  # year 2000 assumed
        ("<Month> <Day> <Time> <Host> <Content>", "Feb 29 00:00:00 cp-1 a b", 951782400.0),
        ("<Month> <Day> <Time> <Host> <Content>", "Foo 16 00:00:04 cp-1 a b", None),  # not a month: no time
    ],
)
def test_custom_formats_read_the_common_time_forms(log_format: str, line: str, expected: float | None) -> None:
    parsed = HeaderParser(log_format).parse(line, 1)
    assert parsed is not None and parsed.content == "a b"
    assert parsed.timestamp == (pytest.approx(expected) if expected is not None else None)


def test_a_format_that_looks_wrong_is_said() -> None:
    lines = [f"2017-05-16 00:00:{i:02d} INFO nova [instance: abc] step {i}" for i in range(20)]
    _, report = read_log(lines, ParserConfig(log_format="<Content>"))  # the header left in the content
    assert len(report.warnings) == 1 and "probably misses fields" in report.warnings[0]
    _, report = read_log(lines, ParserConfig(log_format="<Day> <Month> <Time> <Content>"))  # fields in the wrong order
    assert any("no line's time could be read" in w for w in report.warnings)
    _, report = read_log(lines, ParserConfig(log_format="<Date> <Time> <Level> <Content>"))
    assert report.warnings == []


@pytest.mark.parametrize(
    ("line", "preset"),
    [
        ("081109 2036{:02d} 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_3886 terminating",
         "hdfs"),
        ("nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:{:02d}.008 25746 INFO nova.osapi_compute.wsgi.server "
         "[req-38101a0b 113d3a99 54fadb41 - - -] 10.11.10.1 \"GET /v2/servers HTTP/1.1\" status: 200", "openstack"),
        ("- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.{:02d}.675872 R02-M1-N0-C:J12-U11 RAS KERNEL "
         "INFO instruction cache parity error corrected", "bgl"),
        ("- 1131566461 2005.11.09 dn228 Nov 9 12:01:{:02d} dn228/dn228 crond(pam_unix)[2915]: session closed for "
         "user root", "thunderbird"),
        ("INFO nova.compute.claims [req-a4498d64] [instance: 11760334-ac63-4cc8-9086-5784220{:02d}c99] Claim "
         "successful on node parisaserver", "openstack_devstack"),
    ],
)
def test_a_built_in_layout_read_as_raw_content_names_its_preset(line: str, preset: str) -> None:
    """A new user's first run without a preset: the header becomes template words; the warning names the preset
    (syslog's loose fields also read the HDFS and OpenStack lines whole, so it is tried last)."""
    lines = [line.format(i) for i in range(20)]
    _, report = read_log(lines, ParserConfig(format="raw"))
    assert len(report.warnings) == 1
    assert report.warnings[0].endswith(f"try --preset {preset} (or --set parser.format={preset})")
    records, report = read_log(lines, ParserConfig(format=preset))  # type: ignore[arg-type]
    assert report.warnings == [] and report.n_parsed == 20


@pytest.mark.parametrize(
    ("line", "suggested"),
    [("Nov 29 03:00:{:02d} web1 sshd[11]: session opened for user bob", "syslog"),
     ("2026-11-29T03:00:{:02d}+00:00 web1 systemd[1]: Started Session 5", "syslog_iso"),
     ('E1129 10:00:{:02d}.123456       1 reflector.go:255] "Failed to watch" type="*v1.Pod"', "klog"),
     ("[Sun Nov 29 10:00:{:02d}.5 2026] [proxy:error] [pid 9:tid 3] AH00957: connect to backend failed",
      "apache_error")],
)
def test_syslog_read_as_raw_content_names_the_syslog_format(line: str, suggested: str) -> None:
    lines = [line.format(i) for i in range(20)]
    _, report = read_log(lines, ParserConfig(format="raw"))
    assert len(report.warnings) == 1 and report.warnings[0].endswith(f"try --set parser.format={suggested}")
    records, report = read_log(lines, ParserConfig(format=suggested))  # type: ignore[arg-type]
    assert report.warnings == [] and report.n_parsed == 20 and all(r.timestamp is not None for r in records)


@pytest.mark.parametrize(
    ("line", "suggested", "first_word"),
    [("2025-06-24 14:36:{:02d} status installed libc-bin:amd64 2.36-9", "<Datetime> <Content>", "status"),  # dpkg.log
     ("2025-06-24 14:36:{:02d},120 WARNING conductor retrying", "<Datetime> <Level> <Content>", "conductor"),
     # ZooKeeper (log4j "%d - %-5p [%t:%C{1}@%L] - %m"), a thread name holding brackets of its own
     ("2015-07-29 19:04:{:02d},394 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - "
      "Notification time out: 3200", r"<Datetime> - <Level> \[<Context>\] - <Content>", "Notification"),
     # Spring Boot's default: level, pid, "---", a padded thread name
     ("2026-07-29 17:41:{:02d}.253  INFO 12345 --- [           main] o.s.b.w.e.tomcat.TomcatWebServer  : Tomcat "
      "started on port(s): 8080", r"<Datetime> <Level> <Pid> --- \[<Context>\] <Content>",
      "o.s.b.w.e.tomcat.TomcatWebServer"),
     # Python logging "%(asctime)s - %(name)s - %(levelname)s - %(message)s": the logger name before the level
     ("2026-07-29 17:41:{:02d},253 - billing.worker - WARNING - disk full on /var", "<Datetime> - <Logger> - <Level> - "
      "<Content>", "disk"),
     ("2026-07-29T17:41:{:02d}Z [ERROR] | worker 3 stopped", r"<Datetime> \[<Level>\] \| <Content>", "worker"),
     # PostgreSQL's default log_line_prefix "%m [%p] ": a named zone, a bracketed pid, its LOG level (syslog_iso's
     # loose fields read "[20021]" as a host before hosts had to be names)
     ("2026-11-20 08:00:{:02d}.485 UTC [20021] LOG:  connection received: host=10.0.0.20 port=33084",
      r"<Datetime> \[<Pid>\] <Level>: <Content>", "connection"),
     # Debian's and Ubuntu's "%m [%p] %q%u@%d ": user@database before the level ([unknown] before it is known)
     ("2026-11-20 08:00:{:02d}.485 UTC [20021] app@shop LOG:  duration: 1.2 ms  statement: SELECT 1",
      r"<Datetime> \[<Pid>\] (?:<User>@<Database> )?<Level>: <Content>", "duration:"),
     ("2026-11-20 08:00:{:02d}.485 UTC [20021] [unknown]@[unknown] LOG:  connection received: host=10.0.0.20",
      r"<Datetime> \[<Pid>\] (?:<User>@<Database> )?<Level>: <Content>", "connection"),
     # epoch milliseconds first: a <Timestamp>, not a pid
     ("1795946400{:03d} INFO [sess-0] step c ok", r"<Timestamp> <Level> \[<Context>\] <Content>", "step"),
     ("2026-11-20 08:00:{:02d} CET [20021] ERROR:  deadlock detected",
      r"<Datetime> <Zone> \[<Pid>\] <Level>: <Content>", "deadlock"),
     # Go's log package and nginx's error log: a date with slashes
     ("2026/11/29 10:00:{:02d} server: handled request 7 in 3ms", "<Date> <Time> <Content>", "server:"),
     ('2026/11/29 10:00:{:02d} [error] 120#120: *5 open() "/x" failed (2: No such file or directory)',
      r"<Date> <Time> \[<Severity>\] <Content>", "120#120:"),  # the bracketed word is its level
     # Debian's /var/log/alternatives.log: the program's name, then the time and a colon
     ("update-alternatives 2025-06-24 14:36:{:02d}: link group pager updated to point to /usr/bin/less",
      "<Component> <Datetime>: <Content>", "link"),
     # log4j's %d{DATE} (day, month's name, year; a comma before the milliseconds) and Redis (pid:role first, a
     # level character after the time): left in the content, the month's name was a word of every template
     ("24 Jun 2025 14:36:{:02d},120 INFO  [main] o.a.Server - started", r"<Day> <Month> <Year> <Time> <Level> "
      r"\[<Context>\] <Content>", "o.a.Server"),
     ("1:M 24 Jun 2025 14:36:{:02d}.120 * 1 changes in 3600 seconds. Saving...",
      "<Pid>:<Role> <Day> <Month> <Year> <Time> <Severity> <Content>", "1"),
     # loghub's layouts (stop 44: each got no suggestion, and HealthApp's not even the warning)
     # Spark: log4j's yy/MM/dd
     ("17/06/09 20:10:{:02d} INFO executor.Executor: Running task 0.0 in stage 0.0 (TID 0)",
      "<Date> <Time> <Level> <Content>", "executor.Executor:"),
     # Android's logcat (threadtime): month-day without a year, pid, thread id, the level as one letter
     ("03-17 16:13:{:02d}.811  1702  2395 D WindowManager: printFreezingDisplayLogsopening app wtoken",
      "<MonthNum>-<DayNum> <Time> <Pid> <Pid2> <Level> <Content>", "WindowManager:"),
     # dmesg -T: C's ctime in brackets (the warning named no layout)
     ("[Wed Dec  2 08:00:{:02d} 2026] usb 1-1: new high-speed USB device number 3 using xhci_hcd",
      r"\[<Weekday> <Month> <Day> <Time> <Year>\] <Content>", "usb"),
     # and with the year (-v threadtime,year): the level letter was left in every template
     ("2026-12-02 09:00:{:02d}.000  1702  1733 I ActivityManager: Start proc 3000:com.example.mail/u0a121",
      "<Datetime> <Pid> <Pid2> <Level> <Content>", "ActivityManager:"),
     # HealthApp: date and time glued by a dash, milliseconds after a colon, bar-separated fields without spaces
     ("20171223-22:15:{:02d}:606|Step_LSC|30002312|onStandStepChanged 3579",
      r"<Date>-<Time>\|<Component>\|<Pid>\|<Content>", "onStandStepChanged"),
     # Proxifier: a bracketed month.day and time
     ("[10.30 16:49:{:02d}] chrome.exe - proxy.cse.cuhk.edu.hk:5070 open through proxy proxy.cse.cuhk.edu.hk:5070",
      r"\[<MonthNum>\.<DayNum> <Time>\] <Content>", "chrome.exe"),
     # Windows' CBS log: a comma after the time, the level in title case
     ("2016-09-28 04:30:{:02d}, Info                  CBS    Loaded Servicing Stack v6.1.7601.23505",
      "<Datetime>, <Severity> <Content>", "CBS")],
)
def test_a_date_and_time_left_in_the_content_names_a_format_that_reads_them(
    line: str, suggested: str, first_word: str
) -> None:
    """A layout no built-in format reads: the warning infers one from the first contents, and what it says works
    (no warning left, every line parsed with its time, the message first in the content)."""
    lines = [line.format(i) for i in range(20)]
    _, report = read_log(lines, ParserConfig(format="raw"))
    assert len(report.warnings) == 1 and report.warnings[0].endswith(f"try --set 'parser.log_format={suggested}'")
    records, report = read_log(lines, ParserConfig(log_format=suggested))  # what the warning says works
    assert report.warnings == [] and report.n_parsed == 20 and all(r.timestamp is not None for r in records)
    assert records[0].content.split()[0] == first_word




def test_the_inferred_format_keeps_the_header_already_given_and_reads_the_whole_lines() -> None:
    """A header given (the CRI prefix) whose content starts with logfmt's time and level: the suggestion is that header
    with the content's format in place of <Content> (its time numbered, a format repeats no field), checked on whole
    lines. It offered the content's format alone, which read none of the lines. Read raw, the chain ends in the same
    layout, and what it says works."""
    lines = [line.format(i) for i in range(10) for line in CRI]
    given = "<Datetime> <Stream> <Flag> <Content>"
    suggested = "<Datetime> <Stream> <Flag> time=<Datetime2> level=<Severity> <Content>"
    settings = ((given, "--set parser.envelope=cri ("), (None, "envelope=cri --set parser.format=logfmt ("))
    for log_format, setting in settings:
        _, report = read_log(lines, ParserConfig(log_format=log_format))  # CRI lines: the envelope is the suggestion
        assert len(report.warnings) == 1 and setting in report.warnings[0]
    records, report = read_log(lines, ParserConfig(log_format=suggested))  # reads, and the envelope is still said
    assert "parser.envelope=cri" in report.warnings[0] and report.n_parsed == len(lines)
    assert all(r.timestamp is not None for r in records)
    assert records[1].content == 'msg="cart loaded" request_id=req-0 items=1'
    assert (records[1].fields["Stream"], records[1].fields["Severity"]) == ("stdout", "debug")


def test_a_built_in_header_inside_the_content_is_suggested_in_place_of_content_keeping_the_header_given() -> None:
    """A kubelet's klog lines behind a container runtime's prefix, or inside a log driver's JSON: the suggestion keeps
    the header (or the record format) given and puts klog's layout in place of <Content>. It said "try --set
    parser.format=klog", which left the prefix unread (or the JSON)."""
    klog = [f"I1129 10:00:{i:02d}.123456    1234 server.go:12] Started pod x{i}" for i in range(20)]
    cri = [f"2026-12-02T04:00:{i:02d}.03Z stderr F {line}" for i, line in enumerate(klog)]
    _, report = read_log(cri, ParserConfig(log_format="<Datetime> <Stream> <Flag> <Content>"))
    suggested = r"<Datetime> <Stream> <Flag> <Level><MonthNum><DayNum> <Time> <Pid> <Source>\] <Content>"
    assert len(report.warnings) == 1  # CRI lines: the one suggestion is the envelope, klog then reads the messages
    assert "try --set parser.envelope=cri (the messages are then read" in report.warnings[0]
    unwrapped, report = read_log(cri, ParserConfig(envelope="cri", format="klog"))
    assert report.warnings == [] and unwrapped[0].content == "Started pod x0"
    records, report = read_log(cri, ParserConfig(format="klog", log_format=suggested))  # reads too, a layout per line
    assert len(report.warnings) == 1 and report.n_parsed == 20 and records[0].content == "Started pod x0"
    wrapped = [json.dumps({"log": line, "time": f"2026-12-02T04:00:{i:02d}Z"}) for i, line in enumerate(klog)]
    _, report = read_log(wrapped, ParserConfig(format="json"))
    klog_layout = BUILTIN_FORMATS["klog"]
    assert report.warnings[0].endswith(f"try --set 'parser.log_format={klog_layout}' (the message's layout)")
    records, report = read_log(wrapped, ParserConfig(format="json", log_format=klog_layout))
    assert report.warnings == [] and report.n_parsed == 20 and records[0].content == "Started pod x0"


def test_postgresql_debian_prefix_reads_lines_with_and_without_user_at_database() -> None:
    """Debian's log_line_prefix '%m [%p] %q%u@%d ': the checkpointer's lines have no user@database (%q), a session's
    have one. The file starts with a checkpointer line, whose own format reads few of the lines: the warning takes the
    first of the first lines' formats that reads half of them, and it reads every line, the level out of the
    content, the user and database as fields where a line has them."""
    lines = ["2026-11-20 08:00:00.000 UTC [77] LOG:  checkpoint starting: time"]
    for i in range(10):
        lines += [
            f"2026-11-20 08:00:{i:02d}.100 UTC [{300 + i}] [unknown]@[unknown] LOG:  connection received: host=h",
            f"2026-11-20 08:00:{i:02d}.200 UTC [{300 + i}] app@shop LOG:  connection authorized: user=app",
            f"2026-11-20 08:00:{i:02d}.300 UTC [{300 + i}] app@shop ERROR:  relation \"x\" does not exist",
        ]
    _, report = read_log(lines, ParserConfig(format="raw"))
    suggested = r"<Datetime> \[<Pid>\] (?:<User>@<Database> )?<Level>: <Content>"
    assert len(report.warnings) == 1 and report.warnings[0].endswith(f"try --set 'parser.log_format={suggested}'")
    records, report = read_log(lines, ParserConfig(log_format=suggested))
    assert report.warnings == [] and report.n_parsed == len(lines) and all(r.timestamp is not None for r in records)
    assert records[0].content == "checkpoint starting: time" and "User" not in records[0].fields
    assert records[3].content == 'relation "x" does not exist'
    fields = records[3].fields
    assert (fields["User"], fields["Database"], fields["Level"]) == ("app", "shop", "ERROR")


def test_loghub_layouts_read_their_times() -> None:
    """The times of the loghub layouts the warning now names: Spark's year first with two digits, HealthApp's
    milliseconds after a colon (read as 0 s since midnight before), Android's and Proxifier's month and day without a
    year (the syslog rule: the year 2000)."""
    cases = [
        ("<Date> <Time> <Level> <Content>", "17/06/09 20:10:40 INFO x", "2017-06-09 20:10:40"),
        (r"<Date>-<Time>\|<Component>\|<Pid>\|<Content>", "20171223-22:15:29:606|Step_LSC|30002312|x",
         "2017-12-23 22:15:29.606000"),
        ("<MonthNum>-<DayNum> <Time> <Pid> <Pid2> <Level> <Content>", "03-17 16:13:38.811  1702  2395 D x",
         "2000-03-17 16:13:38.811000"),
        (r"\[<MonthNum>\.<DayNum> <Time>\] <Content>", "[10.30 16:49:06] chrome.exe - x", "2000-10-30 16:49:06"),
    ]
    for log_format, line, when in cases:
        records, report = read_log([line], ParserConfig(log_format=log_format))
        assert report.n_parsed == 1 and records[0].timestamp is not None, log_format
        assert str(datetime.fromtimestamp(records[0].timestamp, UTC).replace(tzinfo=None)) == when, log_format


def test_a_day_month_year_time_reads_its_milliseconds_after_a_dot_or_a_comma() -> None:
    """log4j's %d{DATE} writes "14:36:53,120", Redis "14:36:53.120": the same instant (a comma read as 0 s since
    midnight before)."""
    fmt = "<Day> <Month> <Year> <Time> <Content>"
    lines = ["24 Jun 2025 14:36:53,120 a", "24 Jun 2025 14:36:53.120 b"]
    records, report = read_log(lines, ParserConfig(log_format=fmt))
    assert report.n_parsed == 2 and records[0].timestamp == records[1].timestamp == 1750775813.12  # 14:36:53.12 UTC


def test_a_time_named_utc_or_gmt_is_read_as_utc() -> None:
    lines = ["2026-11-20 08:00:04.500 UTC [1] LOG:  a", "2026-11-20 08:00:05 GMT [1] LOG:  b"]
    records, report = read_log(lines, ParserConfig(log_format=r"<Datetime> \[<Pid>\] <Level>: <Content>"))
    assert report.n_parsed == 2 and [r.timestamp for r in records] == [1795161604.5, 1795161605.0]


def test_python_loggings_default_format_is_inferred() -> None:
    """logging.basicConfig()'s "LEVEL:logger:message": no time, the level and the logger glued to the message."""
    lines = [f"{level}:shop.checkout:order ord-{i} paid" for i, level in enumerate(["INFO", "WARNING"] * 10)]
    _, report = read_log(lines, ParserConfig(format="raw"))
    suggested = "<Level>:<Logger>:<Content>"
    assert report.warnings[0].endswith(f"they start with a level: try --set 'parser.log_format={suggested}'")
    records, report = read_log(lines, ParserConfig(log_format=suggested))
    assert report.warnings == [] and report.n_parsed == 20
    assert records[1].fields == {"Level": "WARNING", "Logger": "shop.checkout"}
    assert records[1].content.startswith("order")


def test_a_level_first_layout_is_inferred_too_and_a_plain_log_gets_no_suggestion() -> None:
    lines = [f"INFO [main-{i}] org.example.Server - started in {i} ms" for i in range(20)]
    _, report = read_log(lines, ParserConfig(format="raw"))
    suggested = r"<Level> \[<Context>\] <Content>"
    assert report.warnings[0].endswith(f"they start with a level: try --set 'parser.log_format={suggested}'")
    records, report = read_log(lines, ParserConfig(log_format=r"<Level> \[<Context>\] <Content>"))
    assert report.warnings == [] and records[0].fields == {"Level": "INFO", "Context": "main-0"}
    assert infer_log_format("user bob logged in from 10.0.0.1") is None
    assert infer_log_format("17 packets dropped") is None  # a number alone is no header
    # a level word before the time is a level, not a program's name
    assert not (infer_log_format("INFO 2026-07-29 17:41:44 started") or "").startswith("<Component>")


def test_json_lines_message_time_and_fields_and_what_is_malformed() -> None:
    lines = [
        '{"ts": 1764385201123, "message": "GET /users", "request_id": "r-1", "ok": true, "n": 3, "ctx": {"a": 1}}',
        '{"msg": "no time here", "request_id": "r-2"}',
        '["a list", "not an object"]',
        '{"level": "INFO", "text_missing": "no message key"}',
        '{"message": "cut short by the line limit',
        "plain text between JSON lines",
    ]
    records, report = read_log(lines, ParserConfig(format="json"))
    assert [r.content for r in records] == ["GET /users", "no time here"]
    assert records[0].timestamp == 1764385201.123  # epoch milliseconds
    assert records[0].fields == {"ts": "1764385201123", "request_id": "r-1", "ok": "true", "n": "3"}  # no nested
    assert records[1].timestamp is None
    assert report.n_malformed == 4 and report.warnings == []
    pattern = session_id_pattern(WindowConfig(session_pattern=r"request_id=(\S+)"))
    assert [find_session_ids(line_text_for_sessions(r), pattern) for r in records] == [("r-1",), ("r-2",)]
    # other key names: the first of the configured keys that a line holds
    records, _ = read_log(['{"event": "started", "at": "2026-11-29 03:00:00+01:00"}'],
                          ParserConfig(format="json", json_message_keys=("event",), json_time_keys=("at",)))
    assert records[0].content == "started" and records[0].timestamp == 1795917600.0


@pytest.mark.parametrize(
    ("line", "name"),
    [('{{"time": "2026-11-29T03:00:{:02d}Z", "level": "INFO", "msg": "step"}}', "json"),
     ('time=2026-11-30T08:00:{:02d}Z level=info msg="step" request_id=r1', "logfmt")],
)
def test_records_read_as_raw_content_name_their_format(line: str, name: str) -> None:
    lines = [line.format(i) for i in range(20)]
    _, report = read_log(lines, ParserConfig(format="raw"))
    assert len(report.warnings) == 1 and f"--set parser.format={name}" in report.warnings[0]
    _, report = read_log(lines, ParserConfig(format=name))  # type: ignore[arg-type]
    assert report.warnings == [] and report.n_parsed == 20


CSV_COLUMNS = ("Timestamp", "level", "trace_id", "Message")


def test_csv_records_are_read_as_objects_of_their_columns_and_what_is_malformed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """parser.format = "csv": each line one record of parser.csv_columns; the message and time columns found without
    regard to case, quoted commas and quotes kept in the content, the other columns fields (session ids by name)."""
    lines = [
        "Timestamp,level,trace_id,Message",  # the header row: not a record
        '2026-11-30T08:00:00Z,INFO,ab12,"order loaded, 12 ms"',
        '2026-11-30T08:00:01Z,WARN,ab12,"503, ""upstream"" failed"',
        "2026-11-30T08:00:02Z,INFO,cd34",  # a field short
        "2026-11-30T08:00:04Z,INFO,cd34,",  # an empty message
    ]
    config = ParserConfig(format="csv", csv_columns=CSV_COLUMNS)
    records, report = read_log(lines, config)
    assert [r.content for r in records] == ["order loaded, 12 ms", '503, "upstream" failed']
    assert records[0].fields == {"Timestamp": "2026-11-30T08:00:00Z", "level": "INFO", "trace_id": "ab12"}
    assert records[1].timestamp == records[0].timestamp + 1
    assert report.n_parsed == 2 and report.n_malformed == 3
    pattern = session_id_pattern(WindowConfig(session_pattern=r"trace_id=(\S+)"))
    assert [find_session_ids(line_text_for_sessions(r), pattern) for r in records] == [("ab12",), ("ab12",)]
    # the template miner's path (contents only) reads the same lines the same way
    log = tmp_path / "app.csv"
    log.write_text("\n".join(lines) + "\n")
    reader = LineReader(config)
    contents: list[str] = []
    reader.feed_clean_contents(lines, contents)
    assert contents == [r.content for r in records] and reader.report.n_malformed == 3
    assert [r.content for r in read_log(log, config)[0]] == contents


EXPORT_CSV = [  # Get-WinEvent | Export-Csv: messages with line breaks (CRLF) inside their quoted field
    '"TimeCreated","Id","LevelDisplayName","ProviderName","Message"\r',
    *[
        line
        for i in range(12)
        for line in (
            f'"2026-11-29T13:{i:02d}:18Z","4634","Information","Security","An account was logged off.\r',
            "\r",
            "Subject:\r",
            f"\tLogon ID:\t\t0x{i:06X}\r",
            'This event is generated when a logon session is destroyed."\r',
        )
    ],
]


def test_csv_records_whose_quoted_fields_hold_line_breaks_are_joined(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A record whose quoted message holds line breaks is read as one record (its lines joined by a space, as a
    flattened export reads), whether the reader gets a file or lines; its other lines counted as pieces; the raw
    read suggests the CSV settings from the header row all the same; a quote the input ends in is said."""
    columns = ("TimeCreated", "Id", "LevelDisplayName", "ProviderName", "Message")
    config = ParserConfig(format="csv", csv_columns=columns, json_time_keys=("TimeCreated",))
    log = tmp_path / "events.csv"
    log.write_text("\n".join(EXPORT_CSV) + "\n", encoding="utf-8")
    for source in (EXPORT_CSV, log):
        records, report = read_log(source, config)
        assert len(records) == 12 and report.n_malformed == 1  # the header row
        assert records[3].content == (
            "An account was logged off. Subject: Logon ID: 0x000003 This event is generated when a logon session is "
            "destroyed."
        )
        assert records[3].fields["Id"] == "4634" and records[3].timestamp is not None
        assert report.n_pieces == 48 and report.n_lines == 61 and report.n_empty == 0
    _, report = read_log(EXPORT_CSV, ParserConfig(format="raw"))
    assert "--set parser.format=csv --set 'parser.csv_columns=" in report.warnings[0]
    records, report = read_log(EXPORT_CSV[:-2], config)  # the input ends inside a message
    assert len(records) == 11 and report.n_unended == 1 and report.n_malformed == 2
    assert any("ends inside a CSV record's quoted field" in w for w in report.warnings)


def test_a_csv_block_with_no_record_to_join_keeps_the_block_loops(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Reading every CSV line one by one (to join records with line breaks) cost 13 % on 100,000 plain rows: a block
    whose lines all close their quotes, with no record open, is read by the block loops again, to the same records."""
    config = ParserConfig(format="csv", csv_columns=("Time", "Level", "Message"))
    rows = [f'2026-11-30T08:00:{i % 60:02d}Z,INFO,"request {i} served"' for i in range(50)]
    reader = LineReader(config)
    assert not reader.reads_each_line(rows) and reader.reads_each_line([*rows, '2026-11-30T08:01:00Z,INFO,"open'])
    log = tmp_path / "plain.csv"
    log.write_text("\n".join([*rows, *EXPORT_CSV[1:]]) + "\n", encoding="utf-8")  # plain rows, then Export-Csv's
    by_block, _ = read_log(log, config)
    one_by_one = [r for r in (LineReader(config).feed(line) for line in [*rows, *EXPORT_CSV[1:]]) if r is not None]
    assert [(r.content, r.timestamp) for r in by_block] == [(r.content, r.timestamp) for r in one_by_one]


def test_a_type_line_before_a_csv_header_keeps_the_hint() -> None:
    """Windows PowerShell 5.1's Export-Csv writes '#TYPE <class>' before the header row: the hint passes over it."""
    lines = ["#TYPE System.Diagnostics.Eventing.Reader.EventLogRecord", "TimeCreated,Id,Message"] + [
        f'2026-11-30T08:00:{i:02d}Z,4624,"An account was successfully logged on {i}"' for i in range(20)
    ]
    _, report = read_log(lines, ParserConfig(format="raw"))
    assert "--set parser.format=csv --set 'parser.csv_columns=[\"TimeCreated\",\"Id\",\"Message\"]'" in (
        report.warnings[0]
    )


def test_csv_needs_its_columns_and_a_raw_read_suggests_them() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="parser.csv_columns"):
        ParserConfig(format="csv")
    with pytest.raises(ConfigError, match="csv_columns"):
        HeaderParser(BUILTIN_FORMATS["csv"])
    lines = ["timestamp,level,trace_id,message"] + [
        f'2026-11-30T08:00:{i:02d}Z,INFO,t{i % 3},"step {i}, done"' for i in range(20)
    ]
    _, report = read_log(lines, ParserConfig(format="raw"))
    assert len(report.warnings) == 1
    assert "--set parser.format=csv --set 'parser.csv_columns=[\"timestamp\",\"level\",\"trace_id\",\"message\"]'" in (
        report.warnings[0]
    )
    _, report = read_log(lines, ParserConfig(format="csv", csv_columns=("timestamp", "level", "trace_id", "message")))
    assert report.warnings == [] and report.n_parsed == 20
    # a comma-separated log without a message column is not called CSV (no column would be the content)
    plain = ["a,b,c"] + [f"{i},{i},{i}" for i in range(20)]
    assert not any("csv" in w for w in read_log(plain, ParserConfig(format="raw"))[1].warnings)


def test_logfmt_lines_are_read_as_objects_of_their_keys_and_what_is_malformed() -> None:
    """parser.format = "logfmt": key=value pairs, quoted values unescaped; the message and time keys found as a CSV
    record's; a line that is not pairs throughout, or has no message key, does not match."""
    lines = [
        'time=2026-11-30T08:00:00Z level=info msg="db query done" request_id=r-1 rows=3',
        r'ts=2026-11-30T08:00:01Z level=error Message="dial \"db\": refused" request_id=r-2 err=',
        "level=info request_id=r-3 rows=4",  # no message key
        "plain prose with a=1 pair",  # not pairs throughout
        'msg="never closed',
    ]
    records, report = read_log(lines, ParserConfig(format="logfmt"))
    assert [r.content for r in records] == ["db query done", 'dial "db": refused']
    assert records[0].fields == {"time": "2026-11-30T08:00:00Z", "level": "info", "request_id": "r-1", "rows": "3"}
    assert records[1].fields["err"] == "" and records[1].timestamp == records[0].timestamp + 1
    assert report.n_parsed == 2 and report.n_malformed == 3
    pattern = session_id_pattern(WindowConfig(session_pattern=r"request_id=(\S+)"))
    assert [find_session_ids(line_text_for_sessions(r), pattern) for r in records] == [("r-1",), ("r-2",)]
    reader = LineReader(ParserConfig(format="logfmt"))
    contents: list[str] = []
    reader.feed_clean_contents(lines, contents)
    assert contents == [r.content for r in records]


@pytest.mark.parametrize(
    ("line", "message"),
    # Go's slog (a level in capitals) and logrus (a quoted time, a level in lower case), go-kit (no level); before
    # parser.format = "logfmt" these got a parser.log_format that left every other pair in the content
    [('time=2026-11-29T10:00:{:02d}.243Z level=INFO msg="request started" request_id=ab12', "request started"),
     ('time="2026-11-29T10:00:{:02d}Z" level=info msg="db query failed" err="reset by peer"', "db query failed"),
     ("ts=2026-11-29T10:00:{:02d}Z caller=main.go:12 msg=started", "started")],
)
def test_logfmt_of_go_loggers_is_named_and_read_with_its_time(line: str, message: str) -> None:
    lines = [line.format(i) for i in range(20)]
    _, report = read_log(lines, ParserConfig(format="raw"))
    assert len(report.warnings) == 1 and "try --set parser.format=logfmt" in report.warnings[0]
    records, report = read_log(lines, ParserConfig(format="logfmt"))
    assert report.warnings == [] and report.n_parsed == 20 and all(r.timestamp is not None for r in records)
    assert records[0].content == message


def test_key_value_words_that_are_not_logfmt_records_are_not_called_logfmt() -> None:
    """key=value words inside prose, or pairs without a message key, are not called logfmt."""
    prose = [f"worker {i} done, retries=0 elapsed=3s" for i in range(20)]
    assert not any("logfmt" in w for w in read_log(prose, ParserConfig(format="raw"))[1].warnings)
    metrics = [f"cpu={i} mem={i * 2} disk=7" for i in range(20)]
    assert not any("logfmt" in w for w in read_log(metrics, ParserConfig(format="raw"))[1].warnings)




def test_auditd_records_are_not_called_logfmt_and_a_go_services_logfmt_still_is() -> None:
    """auditd's lines are pairs with a msg key, but msg only stamps them (audit(time:serial):): read as logfmt, every
    record type became one template audit(<*>:<*>): and type= was lost. A message that says something is logfmt."""
    audit = [line.format(4000 + i) for i in range(5) for line in AUDITD]
    _, report = read_log(audit, ParserConfig(format="raw"))
    assert not any("logfmt" in w for w in report.warnings), report.warnings
    go = [f'time=2026-11-29T10:00:{i:02d}Z level=info msg="request handled" path=/x duration_ms={i}' for i in range(20)]
    _, report = read_log(go, ParserConfig(format="raw"))
    assert len(report.warnings) == 1 and "try --set parser.format=logfmt" in report.warnings[0]


def test_content_keys_put_a_records_values_into_its_text_and_are_suggested() -> None:
    """parser.content_keys: the named keys' values join the content as key=value, in the order given and where the
    record has them (they stay fields); a record format's numeric keys are suggested, ids and times never."""
    lines = [
        f'time=2026-11-30T08:00:{i:02d}Z level=info msg="request finished" request_id=r{i} user_id={i} '
        f"status={200 if i % 5 else 503} duration_ms={i * 3}" + (" rows=4" if i % 2 else "")
        for i in range(20)
    ]
    records, report = read_log(lines, ParserConfig(format="logfmt"))
    assert records[1].content == "request finished"
    assert len(report.warnings) == 1
    suggested = """'parser.content_keys=["level","status","duration_ms","rows"]'"""
    assert suggested in report.warnings[0] and "user_id" not in report.warnings[0]
    keys = ("status", "rows", "duration_ms")
    records, report = read_log(lines, ParserConfig(format="logfmt", content_keys=keys))
    assert records[1].content == "request finished status=200 rows=4 duration_ms=3"
    assert records[2].content == "request finished status=200 duration_ms=6"  # no rows: left out
    assert records[1].fields["status"] == "200" and report.warnings == []
    as_json = [f'{{"msg": "request finished", "status": 503, "duration_ms": {i}}}' for i in range(3)]
    records, _ = read_log(as_json, ParserConfig(format="json", content_keys=("status", "duration_ms")))
    assert [r.content for r in records] == [f"request finished status=503 duration_ms={i}" for i in range(3)]
    ecs = [f'{{"message": "done", "log.level": "info", "trace.id": "t{i}", "latency_ms": {i}}}' for i in range(20)]
    _, report = read_log(ecs, ParserConfig(format="json"))  # Elastic's names: a dotted level, a dotted id
    assert any("""'parser.content_keys=["log.level","latency_ms"]'""" in w for w in report.warnings)


def test_journalctl_json_reads_its_times_and_its_time_and_address_keys_are_no_content_keys() -> None:
    """journalctl -o json: __REALTIME_TIMESTAMP (epoch µs) was no default time key, the warning named no key, and the
    content-keys hint offered the time itself and __MONOTONIC_TIMESTAMP as numbers the model should read."""
    def record(i: int, **more: str) -> str:
        return json.dumps({
            "__CURSOR": f"s=abc;i={i}", "__REALTIME_TIMESTAMP": str(1798531594932985 + i * 10**6),
            "__MONOTONIC_TIMESTAMP": str(98531594932985 + i), "_BOOT_ID": "0f5c3d2b", "PRIORITY": str(5 + i % 2),
            "_UID": "0", "MESSAGE": f"session opened for user u{i % 3}", "_PID": str(600 + i // 3), **more,
        })  # fmt: skip

    lines = [record(i) for i in range(30)]
    records, report = read_log(lines, ParserConfig(format="json"))
    assert records[1].timestamp == pytest.approx(1798531595.932985, abs=1e-6)
    assert [w for w in report.warnings if "content_keys" in w] == [
        "the records' keys PRIORITY hold numbers that the model does not read (a record's content is its message "
        """only): --set 'parser.content_keys=["PRIORITY"]' makes them part of each line's text, where each number """
        "becomes a parameter that --set model.signals=all reads as a value (a slow request, an odd status)"
    ]
    # the time the program gave first, as journalctl shows it
    records, _ = read_log([record(0, _SOURCE_REALTIME_TIMESTAMP="1798531594000000")], ParserConfig(format="json"))
    assert records[0].timestamp == 1798531594.0
    # keys of one's own: the warning names those tried and the key that holds times; a time key is no content key
    _, report = read_log(lines, ParserConfig(format="json", json_time_keys=("time", "ts")))
    said = [w for w in report.warnings if "time could be read" in w]
    assert said == [
        "no record's time could be read, none holds one of the keys parser.json_time_keys names (time, ts): --set "
        """'parser.json_time_keys=["__REALTIME_TIMESTAMP"]' reads the records' __REALTIME_TIMESTAMP key, which holds """
        "times (the split is then chronological, and time windows work)"
    ], report.warnings
    timed = [json.dumps({"at": 1798531594 + i, "msg": "done", "rows": i}) for i in range(30)]
    _, report = read_log(timed, ParserConfig(format="json", json_time_keys=("at",)))
    assert [w[:35] for w in report.warnings if "content_keys" in w] == ["the records' keys rows hold numbers"]


def test_json_messages_that_are_json_objects_themselves_are_said_and_read_by_the_json_layout() -> None:
    """Docker's json-file driver wraps an app's JSON log: read with parser.format=json alone, each message was the
    app's object as text, three events one template and no warning. The warning names the message layout <Json>,
    which reads each message as an object of its own."""
    events = [{"msg": "GET /products", "query": "q=socks"}, {"msg": "cache lookup", "hit": False},
              {"msg": "db query done", "rows": 2}]  # fmt: skip
    lines = [
        json.dumps({"log": json.dumps({"ts": f"2026-12-02T04:00:{i:02d}Z", "level": "info", **event}) + "\n",
                    "stream": "stdout", "time": f"2026-12-02T04:00:{i:02d}.5Z"})
        for i in range(10) for event in events
    ]  # fmt: skip
    _, report = read_log(lines, ParserConfig(format="json"))
    assert len(report.warnings) == 1 and "messages are JSON objects themselves" in report.warnings[0]
    assert "try --set 'parser.log_format=<Json>'" in report.warnings[0]
    records, report = read_log(lines, ParserConfig(format="json", log_format="<Json>"))
    assert not any("JSON objects" in w for w in report.warnings) and report.n_parsed == 30
    assert [r.content for r in records[:3]] == ["GET /products", "cache lookup", "db query done"]
    assert records[1].fields == {"ts": "2026-12-02T04:00:00Z", "level": "info", "hit": "false", "stream": "stdout",
                                 "time": "2026-12-02T04:00:00.5Z"}  # fmt: skip
    assert records[0].timestamp == 1796184000.5  # the outer object's time


def test_json_behind_a_header_layout_is_not_sent_to_parser_format_json() -> None:
    """A CRI prefix before an app's JSON: "--set parser.format=json" (said of any JSON content) read none of the lines;
    the warning says the header must go first. Lines that are JSON objects whole still get parser.format=json."""
    app = [json.dumps({"time": "2026-12-02T04:00:00Z", "level": "info", "msg": f"step {i % 3}"}) for i in range(20)]
    cri = [f"2026-12-02T04:00:{i:02d}.03Z stdout F {line}" for i, line in enumerate(app)]
    _, report = read_log(cri, ParserConfig(log_format="<Datetime> <Stream> <Flag> <Content>"))
    assert len(report.warnings) == 1 and "try --set parser.envelope=cri (" in report.warnings[0]  # CRI: unwrap it
    unwrapped, report = read_log(cri, ParserConfig(envelope="cri", format="json"))
    assert report.warnings == [] and unwrapped[1].content == "step 1"
    _, report = read_log(app, ParserConfig())
    assert len(report.warnings) == 1 and "are JSON objects: --set parser.format=json" in report.warnings[0]


def test_nested_json_objects_are_dropped_or_flattened_into_path_named_fields() -> None:
    """parser.json_nested: "drop" (the default) leaves a nested object out and, where most lines nest, says so;
    "flatten" makes its scalars fields named by their path, which session patterns and content_keys name."""
    lines = [
        json.dumps({"@timestamp": f"2026-11-30T08:00:{i:02d}Z", "message": "request done", "trace": {"id": f"t{i % 4}"},
                    "http": {"response": {"status_code": 200 if i % 7 else 503}}, "tags": ["a"]})
        for i in range(20)
    ]
    records, report = read_log(lines, ParserConfig(format="json"))
    assert records[0].fields == {"@timestamp": "2026-11-30T08:00:00Z"}
    assert any("--set parser.json_nested=flatten" in w for w in report.warnings)
    config = ParserConfig(format="json", json_nested="flatten", content_keys=("http.response.status_code",))
    records, report = read_log(lines, config)
    assert records[0].fields == {"@timestamp": "2026-11-30T08:00:00Z", "trace.id": "t0",
                                 "http.response.status_code": "503"}
    assert records[1].content == "request done http.response.status_code=200"
    assert not any("json_nested" in w for w in report.warnings)
    pattern = session_id_pattern(WindowConfig(session_pattern=r"trace\.id=(\S+)"))
    assert find_session_ids(line_text_for_sessions(records[5]), pattern) == ("t1",)


def test_a_file_with_cr_only_line_ends_is_said_and_crlf_is_not(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cr = tmp_path / "cr.log"
    cr.write_bytes(b"".join(f"line {i} k1\r".encode() for i in range(40)))
    _, report = read_log(cr, ParserConfig(format="raw"))
    assert report.n_lines == 1 and any("ended by a carriage return alone" in w for w in report.warnings)
    crlf = tmp_path / "crlf.log"
    crlf.write_bytes(b"".join(f"line {i} k1\r\n".encode() for i in range(40)))
    _, report = read_log(crlf, ParserConfig(format="raw"))
    assert report.n_lines == 40 and not any("carriage return" in w for w in report.warnings)


def test_terminal_colour_codes_are_removed_and_counted_not_read_as_binary(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A coloured log (a dev server, docker compose): every line held ESC, so every line was "binary", the reader
    said the file did not look like text, and the level word carried its codes into the template."""
    lines = [f"2026-11-29 10:00:{i:02d} \x1b[32mINFO\x1b[0m worker: job {i} \x1b]8;;http://x\x07done\x1b]8;;\x07"
             for i in range(30)]
    log = tmp_path / "color.log"
    log.write_text("\n".join([*lines, "a lone \x1b escape"]) + "\n")
    config = ParserConfig(log_format="<Datetime> <Level> <Content>")
    records, report = read_log(log, config)
    assert report.n_escaped == 30 and report.n_binary == 1 and report.n_malformed == 1  # the lone ESC stays binary
    assert records[0].fields["Level"] == "INFO" and records[0].content == "worker: job 0 done"
    assert not any("not text" in w for w in report.warnings)
    _, raw = read_log(log, ParserConfig(format="raw"))
    assert raw.warnings[-1].endswith("try --set 'parser.log_format=<Datetime> <Level> <Content>'")


def test_a_progress_display_reads_as_the_text_before_it_and_its_last_step_whatever_its_number_of_steps(
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    """A CI log (GitHub Actions' timestamp and a build id, then pip's bar redrawn after carriage returns): each step
    stayed in the line as U+FFFD, the line counted as "binary", and a normal build whose bar took 2 or 4 steps
    instead of 3 had a template never seen and was flagged; the hint called the file's line ends CR-only (13 % of
    its lines held a bar) and its tr command then made 4,320 lines malformed. apt's term.log alike."""
    bar = "   \u2501\u2501\u2501 {}/0.3 MB 18.1 MB/s eta 0:00:0{}"
    lines = []
    for build, n_steps in enumerate((3, 2, 4, 3)):
        steps = "".join("\r" + bar.format(f"{0.3 * (i + 1) / n_steps:.1f}", n_steps - i) for i in range(n_steps))
        lines += [f"2026-12-02T13:40:0{build}.1234567Z [build-{build}] Collecting six", f"2026-12-02T13:40:0{build}.2Z "
                  f"[build-{build}] {steps}", f"2026-12-02T13:40:0{build}.3Z [build-{build}] Installed six"]
    apt = "".join(f"(Reading database ... {p}%\r" for p in range(0, 101, 5))
    lines.append(apt + "(Reading database ... 6089 files and directories currently installed.)\r")
    log = tmp_path / "ci.log"
    log.write_bytes(("\n".join(lines) + "\n").encode())
    config = ParserConfig(log_format="<Datetime> \\[<Context>\\] <Content>")
    records, report = read_log(log, config)
    assert (report.n_redrawn, report.n_binary, report.n_malformed) == (5, 0, 1)  # apt's line has no header
    assert not [w for w in report.warnings if "carriage return" in w]
    bars = [r for r in records if "MB" in r.content]
    assert [r.fields["Context"] for r in bars] == ["build-0", "build-1", "build-2", "build-3"]
    # the last step, whatever the steps before it: one content for every build (the numbers are the last step's)
    assert {r.content for r in bars} == {"\u2501\u2501\u2501 0.3/0.3 MB 18.1 MB/s eta 0:00:01"}, bars
    _, raw = read_log(log, ParserConfig(format="raw"))
    assert raw.n_redrawn == 5 and raw.n_binary == 0
    reader = LineReader(ParserConfig(format="raw"))
    assert reader.read_line(lines[-1]).content == (  # type: ignore[union-attr]
        "(Reading database ... 0% (Reading database ... 100% "
        "(Reading database ... 6089 files and directories currently installed.)"
    )
    # steps that are not alike are all read: a carriage return cannot hide what comes before it (log injection)
    hidden = reader.read_line('10.0.0.9 - - "GET /index.html\rGET /admin?cmd=rm HTTP/1.1" 200')
    assert hidden.content == '10.0.0.9 - - "GET /index.html GET /admin?cmd=rm HTTP/1.1" 200'  # type: ignore[union-attr]
    # log lines that ended in CR alone are no display: kept whole (their CRs U+FFFD, binary) and said, as before
    ended = "2026-12-02T13:41:00.1Z [build-9] Collecting six\r2026-12-02T13:41:00.2Z [build-9] Installed six"
    log.write_bytes(("\n".join([*lines, ended]) + "\n").encode())
    records, report = read_log(log, config)
    assert (report.n_redrawn, report.n_binary) == (5, 1) and "Installed six" in records[-1].content
    assert [w for w in report.warnings if "1 of 14 lines hold lines ended by a carriage return alone" in w]


def test_the_header_modules_examples_hold() -> None:
    """The examples in logbert.parsing.headers' docstrings (the inferred layouts) are run, not only read."""
    import doctest

    from logbert.parsing import headers

    assert doctest.testmod(headers).failed == 0


def test_a_layout_in_an_error_or_a_warning_is_shown_as_written_not_with_doubled_backslashes() -> None:
    r"""repr wrote '\[<Level>\] ...' for the layout \[<Level>\] <Content>: not what the user wrote or can paste."""
    with pytest.raises(ConfigError) as error:
        compile_format(r"\[<Level>\] <Message>")
    assert r"log format '\[<Level>\] <Message>' has no <Content> field" in str(error.value)
    layout = r"\[<Level>\] <Content>"
    lines = [f"[INFO] 2026-11-29 10:00:{i:02d} step {i}" for i in range(20)]
    _, report = read_log(lines, ParserConfig(log_format=layout))
    assert f"the header format ('{layout}') probably misses" in report.warnings[0]
    with pytest.raises(InputDataError) as error:
        read_log(["no brackets here"], ParserConfig(log_format=layout))
    assert f"for format '{layout}'" in str(error.value)


def test_a_format_error_without_a_bracket_to_blame_still_names_no_regex_position() -> None:
    with pytest.raises(ConfigError) as error:
        compile_format("<Date> ** <Content>")
    assert "position" not in str(error.value) and "(multiple repeat): the text around its <Field>s is a regular" in (
        str(error.value)
    )


def test_a_syslog_log_read_across_new_year_goes_on_into_the_next_year() -> None:
    """Syslog has no year: from the first line after New Year on, the year is one more (it went back almost a year
    at midnight: a session across it lasted a year, and every session after it began before the log's first line).
    A late line of the old year after the new one's first reads in the old year and moves nothing; klog's numeric
    months turn alike, and a log of many months without New Year stays in one year."""
    lines = [
        "Dec 31 23:58:29 web1 sshd[61197]: Accepted publickey for alice from 10.0.0.5 port 51234 ssh2",
        "Jan  1 00:00:02 web1 CRON[7190]: (root) CMD (run-parts /etc/cron.hourly)",
        "Dec 31 23:59:59 web1 kernel: [12.5] eth0: link up",  # written before, logged after: the old year
        "Jan  1 00:03:51 web1 sshd[61197]: pam_unix(sshd:session): session closed for user alice",
        "Feb  3 08:00:00 web1 sshd[77]: Accepted publickey for bob from 10.0.0.6 port 5 ssh2",
    ]
    records, report = read_log(lines, ParserConfig(format="syslog"))
    assert report.n_parsed == len(lines)
    when = [str(datetime.fromtimestamp(r.timestamp or 0.0, UTC).replace(tzinfo=None)) for r in records]
    assert when == [
        "2000-12-31 23:58:29", "2001-01-01 00:00:02", "2000-12-31 23:59:59", "2001-01-01 00:03:51",
        "2001-02-03 08:00:00",
    ]
    assert (records[3].timestamp or 0.0) - (records[0].timestamp or 0.0) == 322.0  # the session lasted 5 min 22 s
    klog = ["I1231 23:59:58.000000 1 main.go:1] a", "I0101 00:00:01.000000 1 main.go:1] b"]
    records, _ = read_log(klog, ParserConfig(log_format="<Level><MonthNum><DayNum> <Time> <Pid> <Context>] <Content>"))
    assert [r.timestamp for r in records] == [978307198.0, 978307201.0]
    months = [f"{m} 15 12:00:00 web1 app[1]: tick" for m in ("Jan", "Mar", "May", "Jul", "Sep", "Nov")]
    records, _ = read_log(months, ParserConfig(format="syslog"))
    assert {datetime.fromtimestamp(r.timestamp or 0.0, UTC).year for r in records} == {2000}


def test_29_february_after_new_year_has_a_time() -> None:
    """After New Year the calendar assumes 2001, which has no 29 February: the lines of that day had no time, and
    nothing said so (a log of a leap year's winter). The day after the 28th keeps the gaps around it right."""
    lines = [
        "Dec 31 23:59:00 web1 app[1]: tick",
        "Jan  1 00:01:00 web1 app[1]: tick",
        "Feb 28 23:59:00 web1 app[1]: tick",
        "Feb 29 00:01:00 web1 app[1]: tick",
        "Feb 29 23:59:00 web1 app[1]: tick",
    ]
    records, report = read_log(lines, ParserConfig(format="syslog"))
    assert report.n_parsed == 5 and all(r.timestamp is not None for r in records)
    stamps = [r.timestamp or 0.0 for r in records]
    assert stamps[3] - stamps[2] == 120.0 and stamps[4] - stamps[3] == 86280.0
    dated = ParserConfig(log_format="<Year>-<MonthNum>-<DayNum> <Time> <Content>")  # a year the line gives: no such day
    assert read_log(["2001-02-29 00:01:00 tick"], dated)[0][0].timestamp is None


@pytest.mark.parametrize(
    "line",
    [
        "[2026-11-30 10:00:00,137] INFO in views: GET /api/items/73 served in 6 ms",  # Flask's default
        "[2026-11-30 10:00:00,137: INFO/ForkPoolWorker-3] Task app.tasks.resize[3f2a] received",  # Celery's
    ],
)
def test_a_bracketed_python_time_gets_a_layout_that_reads_it(line: str) -> None:
    """Flask's and Celery's time in brackets: no layout was offered for Celery's, and Flask's put the time in a
    <Context> field (every line's time lost, without a warning)."""
    layout = infer_log_format(line)
    assert layout is not None
    records, report = read_log([line], ParserConfig(log_format=layout))
    assert report.n_parsed == 1 and records[0].timestamp == datetime(2026, 11, 30, 10, 0, 0, 137000, UTC).timestamp()
    assert records[0].fields["Level"] == "INFO" and records[0].content.split()[0] in ("in", "Task")


def test_a_us_time_with_am_pm_reads_and_an_unread_time_key_is_told_from_a_missing_one() -> None:
    """Export-Csv's default time, '11/29/2026 01:59:18 PM' (month first: the AM/PM marks the US form), reads as a
    record's time; where the key is on every record but its values do not read, the warning says so, with one."""
    columns = ("TimeCreated", "Id", "Message")
    config = ParserConfig(format="csv", csv_columns=columns, json_time_keys=("TimeCreated",))
    lines = [f'"11/29/2026 {h:02d}:59:18 {ap}","4624","logged on"' for h, ap in ((12, "AM"), (1, "PM"), (12, "PM"))]
    records, report = read_log(lines, config)
    assert [r.timestamp for r in records] == [
        datetime(2026, 11, 29, h, 59, 18, tzinfo=UTC).timestamp() for h in (0, 13, 12)
    ]
    assert report.warnings == []
    unread = [f'"29.11.2026 {h}:59","4624","logged on"' for h in range(10, 13)]
    _, report = read_log(unread, config)
    assert "3 of the first 3 records hold its key TimeCreated" in report.warnings[0]
    assert "do not read as a time (e.g. '29.11.2026 10:59')" in report.warnings[0]
    assert "none holds" not in report.warnings[0]
    _, report = read_log(unread, ParserConfig(format="csv", csv_columns=columns, json_time_keys=("When",)))
    assert "none holds one of the keys parser.json_time_keys names (When)" in report.warnings[0]


def test_the_example_of_a_header_left_in_the_content_is_a_data_line_not_a_comment() -> None:
    """IIS's W3C log starts with '#' lines, one with a date ('#Date: 2026-11-29 06:00:03'): the warning gave that
    comment as its example of a time left in the content, where the data rows are what the layout must read."""
    lines = ["#Software: Microsoft Internet Information Services 10.0", "#Version: 1.0", "#Date: 2026-11-29 06:00:03"]
    lines += [f"2026-11-29 06:00:{i:02d} 10.0.0.1 GET /api/{i} 200 {15 + i}" for i in range(30)]
    _, report = read_log(lines, ParserConfig(format="raw"))
    assert len(report.warnings) == 1 and "(e.g. '2026-11-29 06:00:00 10.0.0.1 GET" in report.warnings[0]


@pytest.mark.parametrize("spaces", [" *", " {0,4}"])
def test_a_quantifier_on_a_space_of_a_layout_is_the_users_regex(spaces: str) -> None:
    """dmesg right-aligns its time since boot ("[    5.123456]", "[12345.678901]"): a layout written for both with
    "\\[ *" did not compile ("multiple repeat": the space had become \\s+ and the star followed it)."""
    config = ParserConfig(log_format=rf"\[{spaces}<Timestamp>\] <Content>")
    lines, report = read_log(["[    5.123456] usb 1-1: new device", "[12345.678901] usb 1-1: new device"], config)
    assert report.n_parsed == 2 and [ln.timestamp for ln in lines] == [5.123456, 12345.678901]
    assert {ln.content for ln in lines} == {"usb 1-1: new device"}


def test_a_log_of_dmesg_lines_is_told_how_to_read_their_time(tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "dmesg.log"
    log.write_text("".join(f"[{5.5 + 997 * i:12.6f}] usb 1-1: new device {i}\n" for i in range(30)), encoding="utf-8")
    lines, report = read_log(log, ParserConfig())
    assert all(ln.timestamp is None for ln in lines)
    said = next(w for w in report.warnings if "time since boot" in w)
    layout = said.split("parser.log_format=", 1)[1].split("'", 1)[0]
    lines, report = read_log(log, ParserConfig(log_format=layout))  # the layout it suggests reads every line's time
    assert report.n_parsed == 30 and lines[-1].timestamp == pytest.approx(5.5 + 997 * 29)
    assert not [w for w in report.warnings if "time since boot" in w]


def test_a_json_document_is_said_to_be_one_with_the_command_that_makes_json_lines(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A Windows event export (PowerShell's ConvertTo-Json: one pretty-printed array) was read as 6,002 log lines of
    braces and "Id": 4624, and on one line as one line cut short, without a word. Its JSON lines then read with
    parser.format=json, PowerShell's "Message" as the message (the keys were matched in their case only: every
    line malformed)."""
    records = [{"TimeCreated": f"2026-12-01T10:00:{i:02d}Z", "Id": 4624, "Message": f"logged on 0x{i:04X}"}
               for i in range(40)]
    pretty, compact, trail = tmp_path / "events.json", tmp_path / "one.json", tmp_path / "trail.json"
    pretty.write_text(json.dumps(records, indent=2))
    compact.write_text(json.dumps(records))
    trail.write_text(json.dumps({"Records": records}, indent=2))
    for path, command in ((pretty, "jq -c '.[]'"), (compact, "jq -c '.[]'"), (trail, "jq -c '.Records[]'")):
        _, report = read_log(path, ParserConfig(format="raw"))
        said = [w for w in report.warnings if "one JSON document" in w]
        assert len(said) == 1 and command in said[0] and "--set parser.format=json" in said[0], (path, report.warnings)
    lines = tmp_path / "events.jsonl"
    lines.write_text("".join(json.dumps(r) + "\n" for r in records))
    parsed, report = read_log(lines, ParserConfig(format="json"))
    assert not [w for w in report.warnings if "one JSON document" in w]
    assert report.n_parsed == 40 and parsed[0].content == "logged on 0x0000"
    assert any("--set 'parser.json_time_keys=[\"TimeCreated\"]'" in w for w in report.warnings), report.warnings
    plain = tmp_path / "plain.log"
    plain.write_text("[main] INFO started\n{not json}\n")
    assert not [w for w in read_log(plain, ParserConfig(format="raw"))[1].warnings if "JSON document" in w]


def test_json_lines_with_a_message_key_not_in_the_list_are_told_which_key_to_name(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """macOS's `log show --style ndjson` (eventMessage): parse suggested parser.format=json, with which every line was
    malformed and nothing said which key to name; and its ids (traceID, processID, machTimestamp) were suggested as
    content keys. eventMessage is now a message key; another unknown key is named by the hint and the error."""
    from logbert.errors import InputDataError

    def ndjson(path, key: str):  # type: ignore[no-untyped-def]
        rows = [{"traceID": 1234 + i, key: f"Connection {i % 40} established", "processID": 321, "threadID": 7 + i,
                 "machTimestamp": 999 + i, "subsystem": "com.apple.network", "bytes": i * 10,
                 "timestamp": f"2026-12-02 10:00:{i % 60:02d}.123456-0800"} for i in range(60)]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        return path

    mac = ndjson(tmp_path / "unified.ndjson", "eventMessage")
    records, report = read_log(mac, ParserConfig(format="json"))
    assert report.n_parsed == 60 and records[0].content == "Connection 0 established"
    assert records[0].timestamp is not None
    said = " ".join(report.warnings)
    assert "bytes" in said and not any(k in said for k in ("traceID", "processID", "threadID", "machTimestamp"))

    other = ndjson(tmp_path / "other.ndjson", "evtText")
    _, raw = read_log(other, ParserConfig(format="raw"))
    advice = "--set 'parser.json_message_keys=[\"evtText\"]' reads evtText as the content"
    assert [w for w in raw.warnings if advice in w and "--set parser.format=json" in w], raw.warnings
    with pytest.raises(InputDataError, match=re.escape(advice)):
        read_log(other, ParserConfig(format="json"))
    assert read_log(other, ParserConfig(format="json", json_message_keys=("evtText",)))[1].n_parsed == 60


def test_json_records_without_a_message_are_not_told_to_read_an_id_as_one(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Zeek's JSON conn log (flow records: uid, addresses, ports, no message): the key hint would have proposed the uid,
    the key with the most distinct text values, as each line's message."""
    from logbert.errors import InputDataError

    rows = [{"ts": 1796212800 + i, "uid": f"C{i:017x}", "id.orig_h": f"10.0.0.{i % 200}", "proto": "tcp",
             "service": "ssl", "conn_state": "SF"} for i in range(60)]
    log = tmp_path / "conn.json"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(InputDataError) as refused:
        read_log(log, ParserConfig(format="json"))
    said = str(refused.value)
    assert "none of their keys holds sentences" in said and "their keys: ts, uid, id.orig_h" in said, said
    assert '["uid"]' not in said
