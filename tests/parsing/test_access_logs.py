"""Web servers' access logs (``parser.format = "access"``, ``--preset access``): the line, the masks, the hint."""

from __future__ import annotations

import pytest

from logbert.config import ParserConfig, load_config
from logbert.parsing.headers import ACCESS_FORMAT, BUILTIN_FORMATS, HeaderParser, line_text_for_sessions
from logbert.parsing.masking import Masker, default_masks
from logbert.parsing.parser import LogParser
from logbert.parsing.reader import read_log
from logbert.windowing.windows import find_session_ids, session_id_pattern

COMBINED = (
    '203.0.113.9 - alice [20/Nov/2026:10:00:04 +0100] "GET /api/items/42?sort=asc HTTP/1.1" 404 153 "-" "curl/8.4"'
)


def _parse(line: str):  # noqa: ANN202 - a LogLine or None
    return HeaderParser(BUILTIN_FORMATS["access"]).parse(line, 1)


def test_combined_line_content_is_method_target_status_and_the_rest_are_fields() -> None:
    line = _parse(COMBINED)
    assert line is not None
    assert line.content == "GET /api/items/42?sort=asc 404"
    assert line.timestamp == 1795165204.0  # 10:00:04 at +01:00 is 09:00:04 UTC
    assert line.fields == {
        "Client": "203.0.113.9", "Ident": "-", "User": "alice", "Time": "20/Nov/2026:10:00:04 +0100",
        "Protocol": "HTTP/1.1", "Status": "404", "Size": "153", "Referer": "-", "Agent": "curl/8.4",
    }


@pytest.mark.parametrize(
    ("raw", "content", "field", "value"),
    [
        # Common Log Format: no referrer, no user agent
        ('10.0.0.1 - - [20/Nov/2026:10:00:04 +0000] "POST /login HTTP/1.0" 302 -', "POST /login 302", "Size", "-"),
        # Apache's vhost_combined: the virtual host first
        ('shop.example:443 10.0.0.1 - - [20/Nov/2026:10:00:04 +0000] "GET / HTTP/2.0" 200 5 "-" "x"', "GET / 200",
         "Vhost", "shop.example:443"),
        # nginx formats that append fields ($request_time, $upstream_response_time)
        ('10.0.0.1 - - [20/Nov/2026:10:00:04 +0000] "GET / HTTP/1.1" 200 5 "-" "x" 0.004 0.003', "GET / 200",
         "Extra", "0.004 0.003"),
        # an escaped quote inside the user agent
        ('10.0.0.1 - - [20/Nov/2026:10:00:04 +0000] "GET / HTTP/1.1" 200 5 "-" "a \\"b\\" c"', "GET / 200",
         "Agent", 'a \\"b\\" c'),
        # not METHOD target protocol: the request as it stands
        ('10.0.0.1 - - [20/Nov/2026:10:00:04 +0000] "-" 408 0 "-" "-"', "- 408", "Status", "408"),
        ('10.0.0.1 - - [20/Nov/2026:10:00:04 +0000] "\\x16\\x03\\x01" 400 157 "-" "-"', "\\x16\\x03\\x01 400",
         "Client", "10.0.0.1"),
    ],
)
def test_access_layouts(raw: str, content: str, field: str, value: str) -> None:
    line = _parse(raw)
    assert line is not None and line.content == content and line.fields[field] == value
    assert line.timestamp == 1795168804.0
    assert HeaderParser(ACCESS_FORMAT).content_matcher()(raw) == content  # template mining reads the same content


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ('10.0.0.1 - - [20/Nov/2026:10:00:04] "GET / HTTP/1.1" 200 5', True),  # no zone: UTC
        ('10.0.0.1 - - [2026-11-20 10:00:04] "GET / HTTP/1.1" 200 5', False),  # time unreadable: the line, no time
        ("2026/11/29 10:00:01 [error] 120#120: *5 open() failed", None),  # nginx's error log: not an access line
        ('10.0.0.1 - - [20/Nov/2026:10:00:04 +0000] "GET / HTTP/1.1" OK 5', None),  # no status code
    ],
)
def test_times_and_lines_that_are_not_access_entries(raw: str, parsed: bool | None) -> None:
    line = _parse(raw)
    if parsed is None:
        assert line is None
    else:
        assert line is not None and (line.timestamp == 1795168804.0) is parsed


@pytest.mark.parametrize(
    ("content", "masked"),
    [
        ("GET /api/items/42?sort=asc 404", "GET /api/items/<*>?<*> 404"),  # the status stays: half of the event
        ("GET /static/app.3f2a9c.js 200", "GET /static/<*> 200"),
        ("DELETE /v2/users/0b9e1c2a-1111-2222-3333-444455556666 204", "DELETE /<*>/users/<*> 204"),
        ("GET /blog/my-first-post/comments 200", "GET /blog/<*>/comments 200"),  # a slug: three words or more
        ("GET /user-profiles 200", "GET /user-profiles 200"),  # a route's own name stays
        ("GET / 304", "GET / 304"),
    ],
)
def test_access_masks_keep_the_route_and_the_status(content: str, masked: str) -> None:
    assert Masker(default_masks("access")).mask(content) == masked


def test_access_read_as_raw_content_names_the_access_preset() -> None:
    lines = [COMBINED.replace(":04 ", f":{i:02d} ") for i in range(20)]
    _, report = read_log(lines, ParserConfig(format="raw"))
    assert len(report.warnings) == 1 and "access-log entries" in report.warnings[0]
    assert report.warnings[0].endswith("try --preset access (or --set parser.format=access)")
    _, report = read_log(lines, ParserConfig(format="access"))
    assert report.warnings == [] and report.n_parsed == 20


def test_the_access_preset_keys_sessions_by_client_and_mines_one_template_per_route_and_status() -> None:
    config = load_config(None, {}, preset="access")
    lines = [
        '10.0.0.1 - - [20/Nov/2026:10:00:01 +0000] "GET /api/items/1 HTTP/1.1" 200 5 "-" "x Client=9.9.9.9"',
        'shop 10.0.0.2 - - [20/Nov/2026:10:00:02 +0000] "GET /api/items/2 HTTP/1.1" 200 5 "-" "x"',
        '10.0.0.1 - - [20/Nov/2026:10:00:03 +0000] "GET /api/users/3 HTTP/1.1" 200 5 "-" "x"',
        '10.0.0.1 - - [20/Nov/2026:10:00:04 +0000] "GET /api/items/4 HTTP/1.1" 500 5 "-" "x"',
    ]
    records, report = read_log(lines, config.parser)
    pattern = session_id_pattern(config.window)
    # one session per client; a user agent that names another "Client=" does not pick a session (user text)
    assert [find_session_ids(line_text_for_sessions(r), pattern) for r in records] == [
        ("10.0.0.1",), ("10.0.0.2",), ("10.0.0.1",), ("10.0.0.1",)
    ]
    parser = LogParser(config.parser).fit(r.content for r in records)
    assert parser.templates_ == ["GET /api/items/<*> 200", "GET /api/users/<*> 200", "GET /api/items/<*> 500"]
    assert report.n_parsed == 4
