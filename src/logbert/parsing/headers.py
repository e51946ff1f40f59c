"""Header parsing: a raw log line -> :class:`~logbert.records.LogLine`.

Formats are loghub-style strings (``"<Date> <Time> <Level> <Component>: <Content>"``): each
``<Field>`` becomes a named group, the text between fields is a regular expression in which a
space means "one or more whitespace characters" (the loghub benchmark's convention, so its
published format strings work unchanged). A few field names carry a stricter pattern so that
non-log lines are rejected instead of half-parsed: ``Level`` must be upper-case letters and
``Pid``/``Timestamp`` digits. That is what makes Python tracebacks and XML dumps inside the
DevStack nova logs count as malformed lines rather than as events with the level "Traceback".

Content of the OpenStack formats: the request context ``[req-… user project - - -]`` is a
header field (``fields["ADDR"]``), while ``[instance: <uuid>]`` stays at the start of the
content, exactly as in loghub's OpenStack ground truth. Reasons: (1) the instance id is the
session id, and later stages find it by regex on the content without any special case;
(2) masking turns it into one fixed token (``[instance:<*>]``), so templates of lines with and
without an instance stay apart and the words that follow (``VM Started``) still reach the
Drain prefix tree. Request ids are per-call noise for templates, so they are kept out of the
content. :func:`line_text_for_sessions` returns header fields plus content for callers that
need to find an id wherever it sits in the line.

Timestamps become epoch seconds where the format has them, from the first of these fields that
it names (times without a zone are taken as UTC):

* ``<Timestamp>``: epoch seconds (BGL, Thunderbird), or milliseconds / microseconds (13 / 16 digits);
* ``<Datetime>``: one ISO 8601 token, ``2017-05-16T00:00:04.5Z``, ``2017-05-16 00:00:04+02:00``;
* ``<Date> <Time>``: ``2017-05-16`` / ``2017/05/16`` / ``081109`` (HDFS) / ``17/06/09`` (Spark, year first) /
  ``20171223`` and ``00:00:04[.500]`` / ``203615`` / ``22:15:29:606`` (milliseconds after a colon);
* ``<Month> <Day> <Time>``: syslog (``May 16 00:00:04``), which has no year: the year 2000 is
  assumed for the first line, and the next year from the first line after New Year on
  (:class:`~logbert.records.SyslogCalendar`, one per reading: :attr:`HeaderParser.calendar`).
"""

from __future__ import annotations

import csv
import json
import re
import shlex
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

from logbert.config import CSV_NEEDS_COLUMNS, FormatName, ParserConfig, quoted
from logbert.errors import ConfigError
from logbert.parsing.params import parse_number
from logbert.records import SYSLOG_YEAR, LogLine, SyslogCalendar

#: loghub-style format string per built-in format (``raw``: the whole line is the content).
BUILTIN_FORMATS: Final[dict[FormatName, str]] = {
    "openstack": r"<Logrecord> <Date> <Time> <Pid> <Level> <Component> \[<ADDR>\] <Content>",
    "openstack_devstack": r"<Level> <Component> \[<ADDR>\] <Content>",
    "hdfs": r"<Date> <Time> <Pid> <Level> <Component>: <Content>",
    "bgl": r"<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>",
    "thunderbird": r"<Label> <Timestamp> <Date> <User> <Month> <Day> <Time> <Location> <Component>(\[<PID>\])?: "
    r"<Content>",
    # syslog as written by rsyslog / syslog-ng: "May 16 00:00:04 host sshd[123]: ..." (traditional) and
    # "2017-05-16T00:00:04.500+02:00 host sshd[123]: ..." (high precision, Debian's default)
    "syslog": r"<Month> <Day> <Time> <Host> <Component>(\[<PID>\])?: <Content>",
    "syslog_iso": r"<Datetime> <Host> <Component>(\[<PID>\])?: <Content>",
    # Apache httpd's error log: "[Thu Nov 20 10:00:00.123456 2026] [core:error] [pid 12:tid 34] [client 10.0.0.1:5]
    # AH00126: ..." (2.4; 2.2 writes "[error]" without the module, and no tid)
    "apache_error": r"\[<Weekday> <Month> <Day> <Time> <Year>\] \[(<Module>:)?<Severity>\] "
    r"(\[pid <Pid>(:tid <Tid>)?\] )?(\[client <Client>\] )?<Content>",
    # klog, Kubernetes' Go logger: "Lmmdd hh:mm:ss.uuuuuu threadid file:line] msg", L one of I W E F; no year
    "klog": r"<Level><MonthNum><DayNum> <Time> <Pid> <Source>\] <Content>",
    "json": "<Json>",  # not a header layout: each line is one JSON object (HeaderParser's JSON mode)
    "csv": "<Csv>",  # not a header layout: each line one CSV record of parser.csv_columns (HeaderParser's CSV mode)
    "logfmt": "<Logfmt>",  # nor this: each line key=value pairs, key="quoted value" (HeaderParser's logfmt mode)
    # not a header layout either: a web server's access log, Common or Combined Log Format (HeaderParser's access
    # mode: the content is the request's method and target and the response status)
    "access": "<Access>",
    "raw": "<Content>",
}
#: The format string of ``parser.format = "json"``.
JSON_FORMAT: Final[str] = "<Json>"
#: The format string of ``parser.format = "csv"``.
CSV_FORMAT: Final[str] = "<Csv>"
#: The format string of ``parser.format = "logfmt"``.
LOGFMT_FORMAT: Final[str] = "<Logfmt>"
#: One logfmt pair: a key, ``=`` and a value, quoted with backslash escapes or up to the next space. (logfmt also
#: allows a bare key for "true"; read here as prose, so that a line of plain words is not taken for pairs.)
_LOGFMT_PAIR = re.compile(r'\s*([^\s="]+)=("(?:[^"\\]|\\.)*"|[^\s"]*)(?=\s|$)')
#: The format string of ``parser.format = "access"``.
ACCESS_FORMAT: Final[str] = "<Access>"
# An access-log entry as Apache's and nginx's default formats write it (Common Log Format, and Combined with the
# referrer and user agent), an optional virtual host before it (Apache's vhost_combined), anything after it
# (nginx formats that append $request_time, $upstream_response_time ...). Quoted fields may hold escaped quotes.
_QUOTED = r'(?:[^"\\]|\\.)*'
_ACCESS_LINE: Final[re.Pattern[str]] = re.compile(
    r"^\s*(?:(?P<Vhost>\S+)\s+(?=\S+\s+\S+\s+\S+\s+\[))?(?P<Client>\S+)\s+(?P<Ident>\S+)\s+(?P<User>\S+)\s+"
    rf'\[(?P<Time>[^\]]+)\]\s+"(?P<Request>{_QUOTED})"\s+(?P<Status>\d{{3}})\s+(?P<Size>\d+|-)'
    rf'(?:\s+"(?P<Referer>{_QUOTED})"\s+"(?P<Agent>{_QUOTED})")?(?P<Extra>.*?)\s*$'
)
#: The header fields of an access-log line, in line order (``Request`` becomes the content, ``Protocol`` is
#: taken from it).
ACCESS_FIELDS: Final[tuple[str, ...]] = (
    "Vhost", "Client", "Ident", "User", "Time", "Protocol", "Status", "Size", "Referer", "Agent", "Extra"
)
_JSON_MESSAGE_KEYS: Final[tuple[str, ...]] = ParserConfig().json_message_keys
#: the message keys in lower case: what the CSV and logfmt suggestions look for among a line's names
_MESSAGE_KEY_NAMES: Final[frozenset[str]] = frozenset(k.lower() for k in _JSON_MESSAGE_KEYS)
_JSON_TIME_KEYS: Final[tuple[str, ...]] = ParserConfig().json_time_keys

# Stricter patterns for some field names; any other field is a lazy ``.*?`` like loghub's.
_FIELD_PATTERNS: Final[dict[str, str]] = {
    "Content": r".*",
    "Level": r"[A-Z]+",
    "Pid": r"\d+",
    "Year": r"\d{4}",
    "Timestamp": r"\d+(?:\.\d+)?",
    "MonthNum": r"\d{2}",  # klog's month and day, glued to its level letter: I1129
    "DayNum": r"\d{2}",
    # an ISO date and time, with its zone as an offset, Z, or UTC / GMT after a space (PostgreSQL's %m writes
    # "2026-11-20 08:00:04.485 UTC"): other zone names are ambiguous (CST, IST), a header field of their own
    "Datetime": r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}(?::?\d{2})?| ?(?:UTC|GMT)\b)?",
}
_FIELD_RE = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)>")

# Date/Time layouts seen in the built-in formats, tried in order for custom formats too.
_DATETIME_LAYOUTS: Final[tuple[str, ...]] = (
    "%Y-%m-%d %H:%M:%S.%f",  # OpenStack: 2017-05-16 00:00:04.500
    "%Y-%m-%d %H:%M:%S",
    "%y%m%d %H%M%S",  # HDFS: 081109 203615
    "%Y/%m/%d %H:%M:%S",
    "%d/%m/%Y %H:%M:%S",
    "%y/%m/%d %H:%M:%S",  # Spark (log4j's yy/MM/dd): 17/06/09 20:10:40; a day-first 09/06/17 reads as 2009-06-17
    "%Y%m%d %H:%M:%S",  # loghub's HealthApp: 20171223-22:15:29:606
)
_MONTHS: Final[dict[str, int]] = {
    name: i + 1 for i, name in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())
}


def compile_format(log_format: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    """Compile a loghub-style format string into an anchored regex and its field names.

    Raises:
        ConfigError: the format has no ``<Content>`` field, repeats a field, or is not a valid regex.
    """
    names = _FIELD_RE.findall(log_format)
    if "Content" not in names:
        raise ConfigError(f"log format {quoted(log_format)} has no <Content> field")
    if len(set(names)) != len(names):
        raise ConfigError(f"log format {quoted(log_format)} repeats a field")
    parts = _FIELD_RE.split(log_format)  # literal, name, literal, name, ..., literal
    try:
        regex = re.compile(_format_regex(parts))
    except re.error as exc:
        raise ConfigError(_format_error(log_format, exc)) from None
    return regex, tuple(names)


#: spaces in a format's text, but for the last one before a quantifier (which applies to that space alone)
_SPACES_OUTSIDE_QUANTIFIERS = re.compile(r" +(?![*+?]|\{\d*,?\d*\})")


def _format_regex(parts: Sequence[str]) -> str:
    """The regex of a format split into ``literal, name, literal, ..., literal``."""
    pattern = [r"^\s*"]
    for i, part in enumerate(parts):
        if i % 2:
            # A field followed by a space cannot itself hold one (the loghub convention):
            # \S+ instead of a lazy .*? saves the regex a step per character.
            followed_by_space = parts[i + 1].startswith(" ")
            default = r"\S+" if followed_by_space else ".*?"
            pattern.append(f"(?P<{part}>{_FIELD_PATTERNS.get(part, default)})")
        else:
            # a run of spaces matches any run of spaces, except a space a quantifier applies to (" *", " ?",
            # " {0,4}": dmesg's right-aligned "[    5.123456]"), which stays the user's regex
            pattern.append(_SPACES_OUTSIDE_QUANTIFIERS.sub(r"\\s+", part))
    pattern.append(r"\s*$")
    return "".join(pattern)


#: regex syntax that a log's own text often holds (a [bracketed] field, a (note), a {block}): unescaped in the text
#: of a log_format, where it is regex syntax, it is the usual reason a format does not compile
_SYNTAX_IN_TEXT = re.compile(r"(?<!\\)[][(){}]")


def _format_error(log_format: str, exc: re.error) -> str:
    """Why a log format does not compile, said of the format the user wrote. re's message places the fault in the
    regex made from it ("unbalanced parenthesis at position 37": a field's group inside the user's "[...]"), which
    the user never saw; the text around the fields is a regex (README, "Your own logs"), and an unescaped bracket
    or parenthesis of the log's own text is the usual fault: named, with the format that escapes it when that
    compiles."""
    said = f"log format {quoted(log_format)} is not a valid pattern"
    found = _unescaped_syntax(log_format)
    if not found:
        return f"{said} ({exc.msg}): the text around its <Field>s is a regular expression"
    fixed = _escaped(log_format, found)
    try:
        re.compile(_format_regex(_FIELD_RE.split(fixed)))
        hint = f": try --set 'parser.log_format={fixed}'"
    except re.error:
        hint = ""
    return f"{said}: {_escape_advice(found)}{hint}"


def _unescaped_syntax(log_format: str) -> list[str]:
    r"""The characters of ``[](){}`` that the text around a format's <Field>s holds unescaped, where they are regex
    syntax. A "(?" in the format is a group written on purpose: its parentheses are left alone.

    >>> _unescaped_syntax("type=<Type> msg=audit(<Timestamp>:<Serial>): <Content>")
    ['(', ')']
    >>> _unescaped_syntax(r"<Datetime> \[<Pid>\] (?:<User>@<Database> )?<Level>: <Content>")
    []
    """
    texts = _FIELD_RE.split(log_format)[0::2]
    syntax = "[]{}" if any("(?" in text for text in texts) else "[](){}"
    return [c for c in syntax if any(c in _SYNTAX_IN_TEXT.findall(text) for text in texts)]


def _escaped(log_format: str, found: Sequence[str]) -> str:
    """The format with the characters ``found`` escaped in the text around its <Field>s."""
    parts = _FIELD_RE.split(log_format)
    return "".join(
        f"<{part}>" if i % 2 else _SYNTAX_IN_TEXT.sub(lambda m: ("\\" if m.group() in found else "") + m.group(), part)
        for i, part in enumerate(parts)
    )


def _escape_advice(found: Sequence[str]) -> str:
    """'the text around its <Field>s is a regular expression, where ( ) are regex syntax: escape them (\\( \\)) ...'"""
    written = " ".join("\\" + c for c in found)
    are, them = ("are", "them") if len(found) > 1 else ("is", "it")
    return (
        f"the text around its <Field>s is a regular expression, where {' '.join(found)} {are} regex syntax: "
        f"escape {them} ({written}) to match the line's own characters"
    )


class HeaderParser:
    """Split raw lines into header fields and content with one compiled format.

    Args:
        log_format: a loghub-style format string, e.g. ``BUILTIN_FORMATS["hdfs"]``.

    With :data:`JSON_FORMAT` each line is one JSON object instead: the first of ``json_message_keys``
    it holds is the content (whitespace runs made one space, so a multi-line message is one line), the
    other keys with a scalar value are header fields (nested objects and lists are left out), and the
    first of ``json_time_keys`` is the time (ISO 8601, or epoch seconds / ms / µs); a key named in another case
    (PowerShell's ``Message``) counts where none is as written. A line that is not an object, or has no message
    key, does not match. With ``message_format`` (``parser.log_format`` next to
    ``parser.format = "json"``) the message is read by that layout too: its content is the line's, its fields
    join the object's (which win a clash), and its time counts where the object names none; a message that
    does not match it makes the line not match.

    Example:
        >>> p = HeaderParser(BUILTIN_FORMATS["hdfs"])
        >>> line = p.parse("081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 terminating", 1)
        >>> line.content, line.fields["Level"], line.timestamp
        ('PacketResponder 1 terminating', 'INFO', 1226262975.0)
        >>> j = HeaderParser(JSON_FORMAT).parse('{"ts": 1117838570, "msg": "disk  full", "req": "r-1", "n": 3}', 1)
        >>> j.content, j.fields, j.timestamp
        ('disk full', {'ts': '1117838570', 'req': 'r-1', 'n': '3'}, 1117838570.0)
    """

    @classmethod
    def for_config(cls, config: ParserConfig) -> HeaderParser:
        """The header parser a :class:`~logbert.config.ParserConfig` asks for (its format and JSON keys)."""
        attach = config.continuation == "attach"
        keys = (config.json_message_keys, config.json_time_keys)
        if config.format in ("json", "csv", "logfmt") and config.log_format is not None:  # each message's layout
            mode = {"json": JSON_FORMAT, "csv": CSV_FORMAT, "logfmt": LOGFMT_FORMAT}[config.format]
            return cls(
                mode, *keys, attach, message_format=config.log_format, csv_columns=config.csv_columns,
                content_keys=config.content_keys, flatten_json=config.json_nested == "flatten",
            )
        log_format = resolve_log_format(config.format, config.log_format)
        return cls(
            log_format, *keys, attach, csv_columns=config.csv_columns, content_keys=config.content_keys,
            flatten_json=config.json_nested == "flatten",
        )

    def __init__(
        self,
        log_format: str,
        json_message_keys: Sequence[str] = _JSON_MESSAGE_KEYS,
        json_time_keys: Sequence[str] = _JSON_TIME_KEYS,
        attach_continuations: bool = False,
        message_format: str | None = None,
        csv_columns: Sequence[str] | None = None,
        content_keys: Sequence[str] = (),
        flatten_json: bool = False,
    ) -> None:
        self.log_format = log_format if message_format is None else f"{log_format} with messages {message_format}"
        #: ``parser.continuation = "attach"``: a line that does not match, after one that did, continues it
        self.attach_continuations = attach_continuations
        # the last line that matched (what a continuation line continues): parsed, or, when the content matcher read
        # it, its raw text (parsed only if a continuation needs its time and sessions); its text for session ids
        self._head: LogLine | None = None
        self._head_raw: str | None = None
        self._head_text: str | None = None
        # parser.envelope: the stream whose head the three above are, and the other streams' heads (follow_stream)
        self._stream = ""
        self._stream_heads: dict[str, tuple[LogLine | None, str | None, str | None]] = {}
        self.n_continued = 0  # lines read as continuations, by parse() and the content matcher
        #: each line is one JSON object (``parser.format = "json"``), not a header layout
        self.is_json = self._json = log_format == JSON_FORMAT
        #: each line is one CSV record of ``csv_columns`` (``parser.format = "csv"``), read as a JSON object
        self._csv = log_format == CSV_FORMAT
        if self._csv and not csv_columns:
            raise ConfigError(CSV_NEEDS_COLUMNS)
        self._csv_columns = tuple(csv_columns or ())
        #: each line is logfmt's key=value pairs (``parser.format = "logfmt"``), read as a JSON object
        self._logfmt = log_format == LOGFMT_FORMAT
        #: a record's keys whose values join its content as ``key=value`` (``parser.content_keys``)
        self._content_keys = tuple(content_keys)
        #: ``parser.json_nested = "flatten"``: a JSON object's nested objects become dotted fields
        self._flatten_json = flatten_json
        self.n_json_objects = 0  # JSON objects read without flattening, and how many of them nest an object
        self.n_nested_json = 0
        #: each line is a web server's access-log entry (``parser.format = "access"``)
        self._access = log_format == ACCESS_FORMAT
        self._message_keys, self._time_keys = tuple(json_message_keys), tuple(json_time_keys)
        self._message_names = tuple(k.lower() for k in self._message_keys)  # JSON keys in another case
        self._time_names = tuple(k.lower() for k in self._time_keys)
        self.keyless_objects: list[dict[str, object]] = []  # the first JSON objects without a message key
        records = self._json or self._csv or self._logfmt  # each line one record of named values, not a layout
        #: each line is one record of named values (json, csv, logfmt), not a header layout
        self.reads_records = records
        #: the layout whose ``<Content>`` is a line's content: a record's message layout (``"<Content>"``: the whole
        #: message), else the line's header format; None for an access log, whose content no layout makes
        self.content_layout: str | None = (
            (message_format or "<Content>") if records else None if self._access else log_format
        )
        self._record_mode = log_format  # JSON_FORMAT, CSV_FORMAT or LOGFMT_FORMAT where records is True
        # what with_layout() builds another parser with
        self._settings = (json_message_keys, json_time_keys, csv_columns, content_keys, flatten_json)
        self._regex, self._names = compile_format("<Content>" if records or self._access else log_format)
        # JSON lines whose message has a header of its own (a container's log driver wraps the app's lines):
        # parser.format = "json" (or "csv", "logfmt") with parser.log_format, the message's layout
        self._message = None if message_format is None or not records else HeaderParser(message_format)
        #: records whose message the message layout did not read, and the first such message (why no line read)
        self.n_unread_messages = 0
        self.first_unread_message: str | None = None
        # the same record reading without the message layout: a continuation's content is its whole message
        bare = (
            None
            if self._message is None
            else HeaderParser(log_format, json_message_keys, json_time_keys, csv_columns=csv_columns)
        )
        self._bare_json = bare
        self._match = self._regex.match
        self._raw = self._names == ("Content",)
        #: the header fields a line can have, in format order (``Content`` aside)
        self.field_names: tuple[str, ...] = (
            ACCESS_FIELDS if self._access else tuple(name for name in self._names if name != "Content")
        )
        self._has_timestamp = "Timestamp" in self._names
        self._has_iso = "Datetime" in self._names
        self._has_datetime = "Date" in self._names and "Time" in self._names
        self._has_syslog = {"Month", "Day", "Time"} <= set(self._names)
        self._has_klog = {"MonthNum", "DayNum", "Time"} <= set(self._names)
        #: the format names fields a time is read from (whether each line's can be read is another matter)
        self.has_time_fields = (
            records
            or self._access
            or self._has_timestamp
            or self._has_iso
            or self._has_datetime
            or self._has_syslog
            or self._has_klog
        )
        self._date_cache: dict[str, float | None] = {}
        self._time_cache: dict[str, float] = {}
        self._month_cache: dict[str, int | None] = {}
        self.calendar = SyslogCalendar()  # the message layout's parser shares it
        self._layout: str | None = None

    @property
    def calendar(self) -> SyslogCalendar:
        """The year of yearless lines read so far (:class:`SyslogCalendar`); set it to go on from another reading's
        (the streaming engine's per source), the message layout's parser sharing it."""
        return self._calendar

    @calendar.setter
    def calendar(self, calendar: SyslogCalendar) -> None:
        self._calendar = calendar
        if self._message is not None:
            self._message.calendar = calendar

    def with_layout(self, layout: str) -> HeaderParser:
        """This reading with ``layout`` in place of :attr:`content_layout`: a record format's message layout, else the
        line's header format; continuations are not attached (it tells what the layout itself reads).

        Raises:
            ConfigError: the layout does not compile.
        """
        keys, times, columns, content_keys, flatten = self._settings
        mode, message_format = (self._record_mode, layout) if self.reads_records else (layout, None)
        return HeaderParser(
            mode, keys, times, message_format=message_format, csv_columns=columns, content_keys=content_keys,
            flatten_json=flatten,
        )

    def parse(self, line: str, line_no: int) -> LogLine | None:
        """Parse one line (without its newline); None when it does not match the format.

        With ``attach_continuations``, a line that does not match after one that did is that line's continuation:
        its text is the content (stripped; a JSON line's message), the time is that line's, its header fields none,
        and ``continues`` that line's text for session ids (:func:`line_text_for_sessions`).

        >>> p = HeaderParser("<Level> <Content>", attach_continuations=True)
        >>> p.parse("\tat Client.reserve(Client.java:88)", 1) is None  # nothing before it to continue
        True
        >>> p.parse("ERROR [req=7] Request failed", 2).content
        '[req=7] Request failed'
        >>> trace = p.parse("\tat Client.reserve(Client.java:88)", 3)
        >>> trace.content, trace.fields, trace.timestamp
        ('at Client.reserve(Client.java:88)', {}, None)
        >>> line_text_for_sessions(trace)  # the sessions of the line it continues
        'Level=ERROR [req=7] Request failed at Client.reserve(Client.java:88)'
        """
        parsed = self._parse_own(line, line_no)
        if parsed is not None:
            if self.attach_continuations:
                self._head, self._head_raw, self._head_text = parsed, None, None
            return parsed
        if not self.attach_continuations or not (content := self._continuation_text(line)):
            return None
        if self._head is None and self._head_raw is not None:
            self._head, self._head_raw = self._parse_own(self._head_raw, 0), None
        head = self._head
        if head is None:
            return None
        if self._head_text is None:
            self._head_text = line_text_for_sessions(head)
        self.n_continued += 1
        return LogLine(line_no, content, head.timestamp, {}, self._head_text)

    def follow_stream(self, stream: str) -> None:
        """The next lines are of ``stream`` (``parser.envelope``: a container's stdout or stderr): a line without a
        header continues that stream's last line, not another's. The two streams of a container interleave: a
        JVM's warning on stderr inside a stack trace on stdout is neither the trace's nor its request's, and was
        attached to whichever request's line came before it (every such request then held an odd key)."""
        if stream == self._stream:
            return
        self._stream_heads[self._stream] = (self._head, self._head_raw, self._head_text)
        self._head, self._head_raw, self._head_text = self._stream_heads.pop(stream, (None, None, None))
        self._stream = stream

    def accepted_content(self, line: str) -> str | None:
        """The content :meth:`parse` gave a line it accepted, without its state: the line's own, or with
        ``attach_continuations`` its continuation text (an accepted line that does not match was a continuation).
        None for a line no parse accepts. For callers that read a window's raw lines again (the service's
        time and value signals)."""
        parsed = self._parse_own(line, 0)
        if parsed is not None:
            return parsed.content
        return (self._continuation_text(line) or None) if self.attach_continuations else None

    def _continuation_text(self, line: str) -> str:
        """The content of a continuation line: the line stripped, or for JSON lines whose message did not match
        the message layout, the message (a container's log driver writes each line of a stack trace as an
        object of its own)."""
        if self._bare_json is not None:
            whole = self._bare_json._parse_own(line, 0)
            if whole is not None:
                return whole.content
        return line.strip()

    def _parse_own(self, line: str, line_no: int) -> LogLine | None:
        """:meth:`parse` without continuations: the line's own header, or None."""
        if self._json:
            return self._parse_json(line, line_no)
        if self._csv:
            return self._parse_csv(line, line_no)
        if self._logfmt:
            return self._parse_logfmt(line, line_no)
        if self._access:
            return self._parse_access(line, line_no)
        if self._raw:
            content = line.strip()
            return LogLine(line_no=line_no, content=content) if content else None
        m = self._match(line)
        if m is None:
            return None
        # groupdict() holds the named fields only, in pattern order; a field inside an optional
        # part of the format (Thunderbird's "[PID]") is None when absent and is left out.
        fields = m.groupdict()
        if None in fields.values():
            fields = {k: v for k, v in fields.items() if v is not None}
        content = fields.pop("Content", "")
        if self._has_timestamp:
            timestamp: float | None = epoch_seconds(fields["Timestamp"])
        elif self._has_iso:
            timestamp = iso_seconds(fields["Datetime"])
        elif self._has_datetime:
            date, clock = fields["Date"], fields["Time"]
            day, seconds = self._date_cache.get(date), self._time_cache.get(clock)
            # both cached: the common case, inline; otherwise _datetime parses and caches them
            timestamp = day + seconds if day is not None and seconds is not None else self._datetime(date, clock)
        elif self._has_syslog:  # a <Year> where the layout has one (Apache's error log), else none: SYSLOG_YEAR
            timestamp = self._syslog(fields["Month"], fields["Day"], fields["Time"], fields.get("Year"))
        elif self._has_klog:  # the syslog rule, with the month as a number (and a <Year> where the layout has one)
            timestamp = self._syslog(fields["MonthNum"], fields["DayNum"], fields["Time"], fields.get("Year"))
        else:
            timestamp = None
        return LogLine(line_no, content, timestamp, fields)

    def content_matcher(self) -> Callable[[str], str | None]:
        """A function of one line (without its newline): the content :meth:`parse` gives it, or
        None when it does not match; no header field, time or record is built (for template mining)."""
        own = self._own_content_matcher()
        if not self.attach_continuations:
            return own

        def content_or_continuation(line: str) -> str | None:  # parse()'s continuation rule, contents only
            content = own(line)
            if content is not None:
                self._head, self._head_raw, self._head_text = None, line, None
                return content
            if (self._head is None and self._head_raw is None) or not (text := self._continuation_text(line)):
                return None
            self.n_continued += 1
            return text

        return content_or_continuation

    def _own_content_matcher(self) -> Callable[[str], str | None]:
        if self._json or self._csv or self._logfmt:
            record = self._parse_json if self._json else self._parse_csv if self._csv else self._parse_logfmt
            return lambda line: None if (parsed := record(line, 0)) is None else parsed.content
        if self._access:
            return _access_content
        if self._raw:
            return _stripped_or_none
        match = self._match
        index = self._regex.groupindex["Content"]

        def content(line: str) -> str | None:
            m = match(line)
            return None if m is None else (m.group(index) or "")  # None: Content in an optional part

        return content

    def _parse_json(self, line: str, line_no: int) -> LogLine | None:
        text = line.strip()
        if not text.startswith("{"):
            return None
        try:
            obj = json.loads(text)
        except ValueError:  # not JSON, or cut short by parser.max_line_chars
            return None
        if not isinstance(obj, dict):
            return None
        if self._flatten_json:
            obj = flattened(obj)
        else:  # what parser.json_nested = "flatten" would add (format_warnings says so)
            self.n_json_objects += 1
            self.n_nested_json += any(isinstance(v, dict) for v in obj.values())
        message_key = next((k for k in self._message_keys if isinstance(obj.get(k), str | int | float)), None)
        time_key = next((k for k in self._time_keys if k in obj), None)
        if message_key is None or time_key is None:  # names without regard to case, as csv's: "Message", "Time"
            by_name = {k.lower(): k for k in reversed(obj)}
            if message_key is None:
                held = (by_name[k] for k in self._message_names if k in by_name)
                message_key = next((k for k in held if isinstance(obj[k], str | int | float)), None)
            if time_key is None:
                time_key = next((by_name[k] for k in self._time_names if k in by_name), None)
        if message_key is None and len(self.keyless_objects) < KEYLESS_KEPT:  # what no_message_key reads
            self.keyless_objects.append(obj)
        return self._record(obj, message_key, time_key, line_no)

    def _parse_csv(self, line: str, line_no: int) -> LogLine | None:
        """One CSV record (RFC 4180 quoting, the ``csv`` module) of the columns ``csv_columns``, read as a JSON object
        of those keys; its message and time columns are the first named in ``json_message_keys`` /
        ``json_time_keys``, names compared without regard to case. A record with another number of fields (one
        whose quoted field holds a newline is split over lines) and the header row itself do not match.

        >>> p = HeaderParser(CSV_FORMAT, csv_columns=("Time", "Level", "trace_id", "Message"))
        >>> line = p.parse('2026-11-30T08:00:00Z,INFO,ab12,"order loaded, 12 ms"', 1)
        >>> line.content, line.fields, line.timestamp
        ('order loaded, 12 ms', {'Time': '2026-11-30T08:00:00Z', 'Level': 'INFO', 'trace_id': 'ab12'}, 1796025600.0)
        >>> p.parse("Time,Level,trace_id,Message", 2) is None, p.parse("a,b", 3) is None
        (True, True)
        """
        row = csv_row(line)
        columns = self._csv_columns
        if row is None or len(row) != len(columns) or tuple(row) == columns:
            return None
        obj: dict[str, object] = dict(zip(columns, row, strict=True))
        return self._record(obj, *self._named_keys(columns), line_no)

    def _parse_logfmt(self, line: str, line_no: int) -> LogLine | None:
        """One line of logfmt (``key=value key="quoted value"``, as Go's slog, logrus and Heroku write),
        read as a JSON object of its keys (a later key of the same name wins); its message
        and time keys are found as a CSV record's. A line that is not pairs from start to end does not match.

        >>> p = HeaderParser(LOGFMT_FORMAT)
        >>> line = p.parse('time=2026-11-30T08:00:00Z level=info msg="db query done" rows=3', 1)
        >>> line.content, line.fields, line.timestamp
        ('db query done', {'time': '2026-11-30T08:00:00Z', 'level': 'info', 'rows': '3'}, 1796025600.0)
        >>> p.parse('msg="disk full" err="x y"', 2).content, p.parse("plain text, no pairs", 3)
        ('disk full', None)
        """
        obj = logfmt_pairs(line)
        if obj is None:
            return None
        return self._record(obj, *self._named_keys(tuple(obj)), line_no)

    def _named_keys(self, names: Sequence[str]) -> tuple[str | None, str | None]:
        """The message and the time key among ``names``: the first of ``json_message_keys`` / ``json_time_keys``
        present, compared without regard to case (the first of equal names counts)."""
        by_name = {c.lower(): c for c in reversed(names)}
        message_key = next((by_name[k.lower()] for k in self._message_keys if k.lower() in by_name), None)
        time_key = next((by_name[k.lower()] for k in self._time_keys if k.lower() in by_name), None)
        return message_key, time_key

    def _record(
        self, obj: dict[str, object], message_key: str | None, time_key: str | None, line_no: int
    ) -> LogLine | None:
        """A record of named values (a JSON object, a CSV row, logfmt's pairs): the message the content, the time its
        time, the other scalar values the fields; read by the message layout where there is one, then
        ``parser.content_keys`` appended."""
        if message_key is None:
            return None
        content = " ".join(str(obj[message_key]).split())
        if not content:
            return None
        fields = {
            str(k): _json_scalar(v)
            for k, v in obj.items()
            if k != message_key and (v is None or isinstance(v, str | int | float | bool))
        }
        timestamp = None if time_key is None else _json_time(obj[time_key])
        if self._message is not None:
            inner = self._message._parse_own(content, line_no)
            if inner is None:
                self.n_unread_messages += 1
                if self.first_unread_message is None:
                    self.first_unread_message = content
                return None
            content, timestamp = inner.content, inner.timestamp if timestamp is None else timestamp
            fields = {**inner.fields, **fields}
        if self._content_keys:  # parser.content_keys: these values are part of what the line says
            content = " ".join([content, *(f"{k}={fields[k]}" for k in self._content_keys if k in fields)])
        return LogLine(line_no, content, timestamp, fields)

    def _parse_access(self, line: str, line_no: int) -> LogLine | None:
        """An access-log entry: the content is ``METHOD target STATUS`` (the event: which resource, how it went),
        the protocol a field of its own; a request that is not ``METHOD target [protocol]`` (``"-"``, a TLS
        handshake sent to a plain-HTTP port) is the content as it stands, before the status.

        >>> p = HeaderParser(ACCESS_FORMAT)
        >>> line = p.parse('10.0.0.7 - bob [20/Nov/2026:10:00:04 +0100] "GET /api/items/42?x=1 HTTP/1.1" 404 153 '
        ...                '"-" "curl/8.4.0"', 1)
        >>> line.content, line.timestamp, line.fields["Client"], line.fields["Agent"], line.fields["Protocol"]
        ('GET /api/items/42?x=1 404', 1795165204.0, '10.0.0.7', 'curl/8.4.0', 'HTTP/1.1')
        >>> p.parse('10.0.0.7 - - [20/Nov/2026:10:00:05 +0000] "-" 408 0', 2).content
        '- 408'
        """
        m = _ACCESS_LINE.match(line)
        if m is None:
            return None
        fields = {k: v for k, v in m.groupdict().items() if v is not None}
        content, protocol = _access_event(fields.pop("Request"), fields["Status"])
        if protocol is not None:
            fields["Protocol"] = protocol
        extra = fields.pop("Extra", "").strip()
        if extra:
            fields["Extra"] = extra
        ordered = {name: fields[name] for name in ACCESS_FIELDS if name in fields}
        return LogLine(line_no, content, self._clf_time(fields["Time"]), ordered)

    def _clf_time(self, text: str) -> float | None:
        """Epoch seconds of an access log's ``20/Nov/2026:10:00:04 +0100`` (the zone is optional: UTC without one);
        None when unreadable."""
        date, _, rest = text.partition(":")
        clock, _, zone = rest.partition(" ")
        midnight = self._date_cache.get(date)
        if midnight is None and date not in self._date_cache:
            try:
                midnight = datetime.strptime(date, "%d/%b/%Y").replace(tzinfo=UTC).timestamp()
            except ValueError:
                midnight = None
            self._date_cache[date] = midnight
        if midnight is None or clock.count(":") != 2:
            return None
        offset = 0
        if zone:
            z = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", zone.strip())
            if z is None:
                return None
            offset = (1 if z.group(1) == "+" else -1) * (int(z.group(2)) * 3600 + int(z.group(3)) * 60)
        return midnight + _clock_seconds(clock) - offset

    def _syslog(self, month: str, day: str, clock: str, year: str | None = None) -> float | None:
        number = self._month_cache.get(month)  # the month's number, cached: it repeats on every line
        if number is None and month not in self._month_cache:
            number = self._month_cache[month] = int(month) if month.isdigit() else _MONTHS.get(month[:3].lower())
        assumed = year is None
        if year is None and number is not None and 1 <= number <= 12:  # a yearless line: the calendar's year
            year = str(self.calendar.year_of(number))
        date = f"{month} {day} {year}"
        midnight = self._date_cache.get(date)
        if midnight is None and date not in self._date_cache:
            try:
                value = datetime(int(year or SYSLOG_YEAR), number, int(day), tzinfo=UTC) if number else None
            except ValueError:
                # 29 February of a year the calendar assumed (after New Year, 2001, which has none; the log's own
                # year had one): the day after the 28th, so that the gaps around it stay right. It had no time
                value = None
                if assumed and number == 2 and day == "29":
                    value = datetime(int(year or SYSLOG_YEAR), 2, 28, tzinfo=UTC) + timedelta(days=1)
            midnight = None if value is None else value.timestamp()
            self._date_cache[date] = midnight
        return None if midnight is None else midnight + _clock_seconds(clock)

    def _datetime(self, date: str, time: str) -> float | None:
        # Dates repeat on almost every line: parse "date + midnight" once, add the clock time.
        day = self._date_cache.get(date)
        if day is None and date not in self._date_cache:
            day = self._parse_day(date)
            self._date_cache[date] = day
        if day is None:
            return None
        seconds = self._time_cache.get(time)
        if seconds is None:
            seconds = _clock_seconds(time)
            if len(self._time_cache) < 100_000:  # clock times repeat within a file; bound the memory
                self._time_cache[time] = seconds
        return day + seconds

    def _parse_day(self, date: str) -> float | None:
        for layout in (self._layout,) if self._layout else _DATETIME_LAYOUTS:
            date_layout = layout.split(" ")[0]
            try:
                value = datetime.strptime(date, date_layout).replace(tzinfo=UTC).timestamp()
            except ValueError:
                continue
            self._layout = layout
            return value
        return None


def _access_event(request: str, status: str) -> tuple[str, str | None]:
    """An access-log line's content, ``METHOD target STATUS``, and the request's protocol (None without one).

    >>> _access_event("GET /a?b=1 HTTP/1.1", "404"), _access_event("-", "408")
    (('GET /a?b=1 404', 'HTTP/1.1'), ('- 408', None))
    """
    parts = request.split()
    protocol = None
    if len(parts) in (2, 3) and parts[0].isalpha() and parts[0].isupper():
        protocol = parts[2] if len(parts) == 3 else None
        parts = parts[:2]
    return f"{' '.join(parts) or '-'} {status}", protocol


def _access_content(line: str) -> str | None:
    """An access-log line's content alone (no time or fields built: template mining), or None."""
    m = _ACCESS_LINE.match(line)
    return None if m is None else _access_event(m["Request"], m["Status"])[0]


def _stripped_or_none(line: str) -> str | None:
    return line.strip() or None


def _json_scalar(value: str | int | float | bool | None) -> str:
    """A JSON scalar as header-field text: strings as they are, others as JSON writes them (true, null, 3)."""
    return value if isinstance(value, str) else json.dumps(value)


def _json_time(value: object) -> float | None:
    """Epoch seconds of a record's time value: an ISO 8601 string, epoch seconds / ms / µs (number or digits), or
    the US form with a 12-hour clock (:func:`us_seconds`, ``Export-Csv``'s default)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = value.strip() if isinstance(value, str) else repr(value)
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return epoch_seconds(text)
    if not isinstance(value, str):
        return None
    seconds = iso_seconds(text)
    return seconds if seconds is not None else us_seconds(text)


#: a month-first date with a 12-hour clock and AM/PM (the AM/PM marks the US form): ``11/29/2026 01:59:18 PM``
_US_DATETIME = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2}):(\d{2})(\.\d+)? ?([AaPp][Mm])"
)


def us_seconds(value: str) -> float | None:
    """Epoch seconds (UTC: the form names no zone) of a month-first date with a 12-hour clock and AM/PM, as Windows
    PowerShell's ``Export-Csv`` writes a time in the en-US culture; None for any other text.

    >>> us_seconds("11/29/2026 01:59:18 PM") - us_seconds("11/29/2026 12:59:18 AM"), us_seconds("29/11/2026 13:59")
    (46800.0, None)
    """
    m = _US_DATETIME.fullmatch(value.strip())
    if m is None:
        return None
    month, day, year, hour, minute, second = (int(g) for g in m.groups()[:6])
    if not 1 <= hour <= 12:
        return None
    hour = hour % 12 + (12 if m.group(8).upper() == "PM" else 0)
    try:
        stamp = datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()
    except ValueError:
        return None
    return stamp + float(m.group(7) or 0)


# What a header left inside the content looks like: a time or a level word among its first tokens.
_LEVEL_NAMES = "TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|CRITICAL|FATAL"
_LEVEL_WORD = rf"(?:{_LEVEL_NAMES})\b"
# the keys logfmt writes its time under (Go's slog and logrus "time", go-kit "ts", ...)
_LOGFMT_TIME_KEYS = "time|ts|timestamp|t|@timestamp"
_HEADER_IN_CONTENT = re.compile(
    r"^(?:\S+\s+){0,2}?(?:\d{4}[-/]\d{2}[-/]\d{2}|\d{2}:\d{2}:\d{2}|[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}"
    r"|\d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}"  # day, month's name, year: log4j's %d{DATE}, Redis
    r"|\d{8}-\d{2}:\d{2}:\d{2}"  # a date and a time glued by a dash (loghub's HealthApp)
    r"|" + _LEVEL_WORD + rf'|(?:{_LOGFMT_TIME_KEYS})="?\d{{4}}-\d{{2}}-\d{{2}})'  # the last: logfmt's time key
)


#: a line that begins with the kernel's time since boot, as dmesg writes it ("[    5.123456] usb 1-1: ...")
_KERNEL_UPTIME_START = re.compile(r"\[\s*\d+\.\d{6}\] ")


def format_warnings(
    lines: Sequence[LogLine], texts: Sequence[str], header: HeaderParser, sample: int = 2000
) -> list[str]:
    """What looks wrong with a header format, judged on the first ``sample`` parsed lines (``texts``: each one's
    line as it was read, what a suggested format is checked on).

    A time field that never reads (the split cannot be chronological, time windows cannot work),
    and header fields left inside the content (a time or a level word among its first tokens),
    which turns every timestamp into a template token and merges or splits templates.
    """
    head = lines[:sample]
    if not head:
        return []
    warnings = []
    if header.has_time_fields and all(ln.timestamp is None for ln in head):
        warnings.append(
            _no_record_time(head, header._time_keys) if header.reads_records and header._message is None else
            f"the format {quoted(header.log_format)} names time fields, but no line's time could be read: the split "
            "will not be chronological and time windows cannot be used (see the time forms in the README)"
        )
    if document := json_document_hint(texts):  # every other hint would read its braces and keys as log lines
        warnings.append(document)
        return warnings
    objects = [obj for ln in head if (obj := _json_object(ln.content)) is not None]  # each line parsed once
    n_json = len(objects)
    if n_json >= 0.5 * len(head) and (json_hint := _json_content_hint(header, n_json, len(head), objects)):
        warnings.append(json_hint)
        return warnings
    # records read as one text (no header layout): a CSV export or logfmt has a format of its own
    raw = not header.reads_records and not header.field_names
    record_hint = _csv_header_hint(head) or _logfmt_hint(head) if raw else None
    if record_hint is not None:
        warnings.append(record_hint)
        return warnings
    layout_fields = () if header._message is None else header._message.field_names  # named by the user's layout
    if (
        header.reads_records
        and not header._content_keys
        and (keys_hint := _content_keys_hint(head, layout_fields, header._time_keys)) is not None
    ):
        warnings.append(keys_hint)
    if header.is_json and header.n_json_objects >= 20 and header.n_nested_json >= 0.5 * header.n_json_objects:
        warnings.append(
            f"{header.n_nested_json} of {header.n_json_objects} JSON lines nest objects (e.g. \"http\": {{...}}), "
            "whose values are left out: --set parser.json_nested=flatten makes them fields named by their path "
            "(http.response.status_code), which session-id patterns and parser.content_keys can name"
        )
    n_header_like = sum(1 for ln in head if _HEADER_IN_CONTENT.match(ln.content))
    whole = _whole_header(head)
    if whole is not None and whole[0] == "access":
        _, n, example = whole
        warnings.append(
            f"{n} of the first {len(head)} lines are web-server access-log entries (e.g. {example[:80]!r}): read as "
            "one text, their client, time, size and user agent become template words; " + _try_format("access")
        )
    elif whole is not None:  # a built-in format reads the contents whole: the header is in them
        name, n, example = whole
        setting = _builtin_in_place(name, texts[:sample], header)
        warnings.append(
            f"{n} of the first {len(head)} lines hold a whole {name} header in their content (e.g. {example[:80]!r}): "
            f"the header format ({quoted(header.log_format)}) misses its fields, which then become template words"
            + (f"; {setting}" if setting else "")
        )
    elif n_header_like >= 0.5 * len(head):
        # a data line, not a comment line of a header block (IIS's "#Date: 2026-11-29 06:00:03" also has a time)
        shown = [ln.content for ln in head if _HEADER_IN_CONTENT.match(ln.content)]
        example = next((c for c in shown if not c.startswith("#")), shown[0])[:80]
        warnings.append(
            f"{n_header_like} of the first {len(head)} lines have a time or a level near the start of their content "
            f"(e.g. {example!r}): the header format ({quoted(header.log_format)}) probably misses fields such as "
            "<Date> <Time> <Level>" + _inferred_format_hint(head, texts[:sample], header)
        )
    n_uptime = sum(1 for ln in head if _KERNEL_UPTIME_START.match(ln.content))
    if n_uptime >= 0.5 * len(head) and all(ln.timestamp is None for ln in head):
        warnings.append(
            f"{n_uptime} of the first {len(head)} lines begin with the kernel's time since boot (e.g. "
            f"{head[0].content[:40]!r}, dmesg's layout), which this format does not read: the lines have no time. "
            r"--set 'parser.log_format=\[\s*<Timestamp>\] <Content>' reads it (seconds since boot, counted from "
            "1970: gaps and time windows are right, dates are not; dmesg -T writes dates)"
        )
    return warnings


#: what a line must be to be a record of each record format, for the error that says no line was one
_RECORD_SHAPES: Final[dict[str, tuple[FormatName, str]]] = {
    JSON_FORMAT: ("json", "a JSON object with a message key"),
    CSV_FORMAT: ("csv", "a CSV record of the parser.csv_columns with a message column"),
    LOGFMT_FORMAT: ("logfmt", "logfmt pairs from start to end (key=value key=\"quoted value\") with a message key"),
}


def unread_hint(header: HeaderParser, texts: Sequence[str]) -> str:
    r"""Why ``header`` read none of the lines (``texts``: some of them, as read), where that can be told; else ''.

    A record format with a message layout (``parser.format`` json, csv or logfmt next to ``parser.log_format``) reads
    in two stages: which one failed, since the layout is tried on the message key's value only, never on the line (a
    CRI log read with parser.format=logfmt and its prefix as the layout was said to match no line "for format
    '<Datetime> <Stream> <Flag> <Content>'", which does read them). A layout whose text holds ``[](){}`` unescaped,
    as the lines (or messages) hold them: those are regex syntax there (``msg=audit(<Timestamp>:<Serial>):`` makes
    a group, and no line matches it), said with the escaped layout where that reads one of them.

    >>> print(unread_hint(HeaderParser(LOGFMT_FORMAT, message_format="<Level> <Content>"), ["2026-12-02 F a=1"])[:47])
    no line is logfmt pairs from start to end (key=
    >>> print(unread_hint(HeaderParser("msg=audit(<Serial>): <Content>"), ["msg=audit(12): x"]).split(": try ")[1])
    --set 'parser.log_format=msg=audit\(<Serial>\): <Content>'
    """
    layout = header.content_layout
    stage = ""
    if header._message is not None and layout is not None:
        keys = ", ".join(header._message_keys)
        name, shape = _RECORD_SHAPES[header._record_mode]
        if not header.n_unread_messages:
            return (
                f"no line is {shape} ({keys}), so parser.log_format {quoted(layout)} was never tried: next to "
                f"parser.format={name} it is the layout of the message key's value, not of the line. For a header "
                "before the record, leave parser.format out and give the whole line's layout in parser.log_format "
                "(logbert parse FILE without either suggests one)"
            )
        texts = [header.first_unread_message or ""]
        stage = (
            f"{header.n_unread_messages} lines are {name} records, but none of their messages (the value of the first "
            f"of the keys {keys} that a line holds, e.g. {texts[0][:80]!r}) matched parser.log_format "
            f"{quoted(layout)}: next to parser.format={name} it is the message's layout, not the line's"
        )
    found = [c for c in _unescaped_syntax(layout or "") if any(c in text for text in texts)]
    if not found or layout is None or layout in BUILTIN_FORMATS.values():  # a built-in format's groups are meant
        return stage
    fixed = _escaped(layout, found)
    try:
        reads = HeaderParser(fixed)._parse_own
        hint = f": try --set 'parser.log_format={fixed}'" if any(reads(text, 0) for text in texts) else ""
    except ConfigError:
        hint = ""
    return (f"{stage}; " if stage else "") + f"parser.log_format matches none of them: {_escape_advice(found)}{hint}"


def _json_content_hint(
    header: HeaderParser, n_json: int, n_lines: int, objects: Sequence[dict[str, object]] = ()
) -> str:
    """What to do about ``n_json`` of ``n_lines`` contents that are JSON objects, as ``header`` reads them: lines read
    whole, parser.format=json; a record's messages, the message layout <Json>; behind a header layout, that the
    header must go first (no reading of a JSON object behind a header exists: parser.format=json, said there too,
    read none of the lines); with a message layout already, ''."""
    if header.reads_records and header._message is None:
        name = _RECORD_SHAPES[header._record_mode][0]
        return (
            f"{n_json} of the first {n_lines} lines' messages are JSON objects themselves (an app's JSON log, as a "
            "container's log driver wraps it): read as one text, their keys and quotes become template words and "
            f"lines that say different things share a template; try --set 'parser.log_format={JSON_FORMAT}': next "
            f"to parser.format={name} it reads each message as a JSON object of its own (its message key the content, "
            "its other keys fields)"
        )
    if header.reads_records:
        return ""
    if header.content_layout != "<Content>":
        return (
            f"{n_json} of the first {n_lines} lines hold a JSON object after their header fields: as one text, its "
            "keys and quotes become template words, and parser.format=json reads only lines that are JSON objects "
            "whole: strip the header from the lines first (e.g. with cut or sed), then --set parser.format=json"
        )
    if found := json_message_key(objects, header._message_keys):  # none of the message keys: name theirs too
        return (
            f"{n_json} of the first {n_lines} lines are JSON objects: --set parser.format=json reads them as records, "
            "but " + message_key_advice(found, header._message_keys) + " (with parser.format=json)"
        )
    return (
        f"{n_json} of the first {n_lines} lines are JSON objects: --set parser.format=json reads their message "
        "key as the content and the other keys as fields (as one text, their keys and quotes become template words)"
    )


def flattened(obj: dict[str, object], prefix: str = "", depth: int = 0) -> dict[str, object]:
    """A JSON object with its nested objects' values under dotted paths (``parser.json_nested = "flatten"``); lists
    stay as they are (a record's fields keep scalars only), and objects below 8 levels are left out.

    >>> flattened({"message": "done", "http": {"response": {"status_code": 503}, "method": "GET"}, "tags": ["a"]})
    {'message': 'done', 'http.response.status_code': 503, 'http.method': 'GET', 'tags': ['a']}
    """
    out: dict[str, object] = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            if depth < 8:
                out.update(flattened(value, f"{name}.", depth + 1))
        else:
            out.setdefault(name, value)  # a top-level "a.b" and a nested a: {b} are one name: the first wins
    return out


def logfmt_pairs(text: str) -> dict[str, object] | None:
    """The key-value pairs of one logfmt line, quoted values unescaped; None where the text is not pairs from start to
    end (or holds none).

    >>> logfmt_pairs('a=1 b="x y" c='), logfmt_pairs("a=1 then prose"), logfmt_pairs('a="unclosed')
    ({'a': '1', 'b': 'x y', 'c': ''}, None, None)
    """
    pairs: dict[str, object] = {}
    at, end = 0, len(text.rstrip())
    while at < end:
        m = _LOGFMT_PAIR.match(text, at)
        if m is None or m.end() == at:
            return None
        key, value = m.group(1), m.group(2)
        if value.startswith('"'):
            try:
                pairs[key] = json.loads(value)  # Go's strconv.Quote escapes are JSON's, \x.. aside
            except ValueError:
                pairs[key] = value[1:-1].replace('\\"', '"')
        else:
            pairs[key] = value
        at = m.end()
    return pairs or None


def csv_row(text: str) -> list[str] | None:
    """The fields of one CSV record on one line (RFC 4180 quoting); None where a quoted field is not closed on the
    line (a record that a quoted newline split) or the text is not CSV (a NUL byte).

    >>> csv_row('a,"b, c",d'), csv_row('a,"b c')
    (['a', 'b, c', 'd'], None)
    """
    try:
        return next(csv.reader((text,), strict=True), [])
    except csv.Error:
        return None


#: ``parser.format = "csv"``: the most physical lines one record may span where its quoted fields hold line breaks
#: (``Export-Csv``'s event messages); a quote still open after them ends the record there (read as it is: malformed)
CSV_RECORD_MAX_LINES: Final = 500


def opens_csv_record(line: str) -> bool:
    """Whether ``line`` begins a CSV record that a line break in a quoted field split: it does not read as a row on
    its own and holds an odd number of quotes (a doubled quote inside a field counts twice).

    >>> opens_csv_record('"11/29/2026","4634","An account was logged off.'), opens_csv_record('a,"b",c')
    (True, False)
    """
    return line.count('"') % 2 == 1 and csv_row(line) is None


class CsvRecord:
    """The physical lines of one CSV record whose quoted field holds line breaks, joined while a quote is open: the
    one rule offline reading, ``tail`` and the service join by (:class:`~logbert.parsing.reader.LineReader`, and
    :func:`~logbert.parsing.reader.open_pieces` across a stream's requests) and the CSV-header hint reads a head by.
    Kept up to ``max_line_chars`` and one character more (later lines are counted, not kept: the joined record is cut
    there anyway) and ended after :data:`CSV_RECORD_MAX_LINES` lines.

    >>> r = CsvRecord('"1","An account was logged off.')
    >>> r.add("", 100), r.add('Subject: x"', 100), r.text()
    (False, True, '"1","An account was logged off.  Subject: x"')
    """

    __slots__ = ("kept", "length", "lines", "n_lines", "quotes")

    def __init__(self, first: str) -> None:
        self.kept = [first]
        self.lines = [first]  # the physical lines as read, what a stream's next request reads again
        self.length = len(first)
        self.n_lines = 1
        self.quotes = first.count('"')

    def add(self, line: str, max_line_chars: int) -> bool:
        """Add the record's next physical line; whether the record has ended with it (its quotes closed, or the
        line limit reached)."""
        self.n_lines += 1
        self.quotes += line.count('"')
        if self.length <= max_line_chars:
            self.kept.append(line)
            self.lines.append(line)
            self.length += 1 + len(line)
        elif line.count('"') % 2:  # not kept, but its quote is: read again, the lines that follow join the same
            self.lines.append('"')
        return self.quotes % 2 == 0 or self.n_lines >= CSV_RECORD_MAX_LINES

    @property
    def closed(self) -> bool:
        """Whether its quotes are closed (else it ended at the line limit, or the input ended)."""
        return self.quotes % 2 == 0

    def text(self) -> str:
        """The record as one line: its physical lines joined by a space (what a flattened export holds)."""
        return " ".join(self.kept)


def joined_csv_records(texts: Sequence[str], max_line_chars: int) -> list[str]:
    """``texts`` (a head's lines) with each CSV record that quoted line breaks split joined by :class:`CsvRecord`.

    >>> joined_csv_records(['"a","b"', '"1","two', 'lines"', '"3","4"'], 100)
    ['"a","b"', '"1","two lines"', '"3","4"']
    """
    out: list[str] = []
    record: CsvRecord | None = None
    for text in texts:
        if record is not None:
            if record.add(text, max_line_chars):
                out.append(record.text())
                record = None
        elif opens_csv_record(text):
            record = CsvRecord(text)
        else:
            out.append(text)
    if record is not None:
        out.append(record.text())
    return out


_HINT_RECORD_CHARS: Final = 65_536  # the CSV-header hint's bound on one joined record (the head's lines are cut)
_CSV_COLUMN_NAME = re.compile(r"[A-Za-z_@][\w.@ -]{0,63}")


def _csv_header_hint(head: Sequence[LogLine]) -> str | None:
    """'the first line is a CSV header row ...: --set parser.format=csv --set parser.csv_columns=[...]' when the first
    content reads as a CSV row of at least 2 names, one of them a message column (``json_message_keys``, any case),
    and at least half of the others as rows of as many fields; else None. A leading ``#TYPE ...`` line (what Windows
    PowerShell 5.1's ``Export-Csv`` writes before the header) is passed over, and records whose quoted fields hold line
    breaks are joined first (:class:`CsvRecord`, as ``parser.format = "csv"`` reads them)."""
    texts = [ln.content for ln in head]
    if texts and texts[0].startswith("#TYPE "):
        texts = texts[1:]
    if not texts:
        return None
    columns = csv_row(texts[0]) or []
    names = _MESSAGE_KEY_NAMES
    if len(columns) < 2 or not all(_CSV_COLUMN_NAME.fullmatch(c) for c in columns):
        return None
    if not any(c.lower() in names for c in columns):
        return None
    rest = joined_csv_records(texts[1:], _HINT_RECORD_CHARS)
    same = sum(1 for text in rest if len(csv_row(text) or ()) == len(columns))
    if not rest or same < 0.5 * len(rest):
        return None
    setting = shlex.quote("parser.csv_columns=" + json.dumps(columns, separators=(",", ":")))
    first = "the line after the '#TYPE' line" if len(texts) < len(head) else "the first line"
    joined = len(rest) < len(texts) - 1
    rows = "records (joined where a quoted field holds line breaks, as parser.format=csv joins them)" if joined else (
        "lines"
    )
    return (
        f"{first} is a CSV header row ({len(columns)} columns) and {same} of the next {len(rest)} {rows} are "
        f"records of as many fields: read as one text, their times and ids become template words; try --set "
        f"parser.format=csv --set {setting} (the message column is the content, the others fields that "
        "window.session_pattern sees as name=value)"
    )


#: keys of a record that are names, ids or times, never suggested for parser.content_keys (their numbers say which
#: thing or when, not how it went). Besides the configured time keys (:func:`_content_keys_hint`): journald's
#: address fields, whose names begin with "__" (__CURSOR, __REALTIME_TIMESTAMP, __MONOTONIC_TIMESTAMP, __SEQNUM: where
#: a record is in the journal), any *_TIMESTAMP, and user and group ids (_UID, _GID)
_NOT_CONTENT_KEY = re.compile(
    r"(?i)(?:^|[_.-])(?:id|ids|uuid|pid|tid|uid|gid|port|line|lineno|thread|host|ip|addr|address|caller|span|trace"
    r"|timestamp)$"
    r"|^(?:time|ts|t|@timestamp|date|datetime)$|^__"
    # the same words closing a camelCase name (macOS's unified log: traceID, processID, machTimestamp,
    # activityIdentifier): an id or a clock, not a value of the event
    r"|(?-i:[a-z0-9](?:ID|IDs|Id|Ids|UUID|Uuid|Pid|Tid|Identifier|Timestamp|Port|Thread|Host|Address)$)"
)
_LEVEL_KEY = re.compile(r"(?i)^(?:[\w@]+[._])?(?:level|lvl|severity|loglevel)$")  # ECS: log.level


def _content_keys_hint(
    head: Sequence[LogLine], layout_fields: Collection[str] = (), time_keys: Collection[str] = ()
) -> str | None:
    """'the records' keys ... hold numbers the model does not read: --set parser.content_keys=[...]' when a record
    format's lines carry keys beside the message whose values are numbers (in at least 90 % of the lines that have
    the key, and 10 % of all lines: a status, a duration, a size), or a level key; names, ids and times aside
    (:data:`_NOT_CONTENT_KEY`, and ``time_keys``, parser.json_time_keys: a record's time whatever its name, matched
    without regard to case as csv and logfmt match them). At most 6 numeric keys, the most frequent first, after the
    level; nothing is said of fewer than 20 lines. ``layout_fields``, the fields of a message layout (a klog
    message's <MonthNum>), are no record keys: the user named them."""
    if len(head) < 20:
        return None
    times = {k.lower() for k in time_keys}
    seen: dict[str, int] = {}
    numeric: dict[str, int] = {}
    for ln in head:
        for key, value in ln.fields.items():
            seen[key] = seen.get(key, 0) + 1
            numeric[key] = numeric.get(key, 0) + (parse_number(value) is not None)  # the slot typing's rule
    candidates = [
        k for k in seen
        if not _NOT_CONTENT_KEY.search(k) and k not in layout_fields and k.lower() not in times
        and seen[k] >= 0.1 * len(head)
    ]
    numbers = sorted((k for k in candidates if numeric[k] >= 0.9 * seen[k]), key=lambda k: -seen[k])[:6]
    levels = [k for k in candidates if _LEVEL_KEY.match(k)][:1]
    if not numbers:
        return None
    keys = levels + numbers
    setting = shlex.quote("parser.content_keys=" + json.dumps(keys, separators=(",", ":")))
    return (
        f"the records' keys {', '.join(numbers)} hold numbers" + (f" (and {levels[0]} a level)" if levels else "")
        + f" that the model does not read (a record's content is its message only): --set {setting} makes them part "
        "of each line's text, where each number becomes a parameter that --set model.signals=all reads as a value "
        "(a slow request, an odd status)"
    )


#: the epoch seconds a key's values must read as, on every line that has it, to be suggested as a record's time key
#: (2000 to 2100): a pid, a count or journald's __MONOTONIC_TIMESTAMP (microseconds since boot) read as epoch 1970
_PLAUSIBLE_TIMES: Final[tuple[float, float]] = (946_684_800.0, 4_102_444_800.0)


def _no_record_time(head: Sequence[LogLine], time_keys: Sequence[str]) -> str:
    """What to say where no record's time was read: the keys tried and the setting, with a key of the records that
    holds times where one does (every line that has it reads as a time from 2000 to 2100), e.g. a journal's
    __REALTIME_TIMESTAMP, which was not among the keys tried, and the warning named no key.

    >>> lines = [LogLine(i, "done", None, {"at": f"2026-11-30T08:00:{i:02d}Z", "n": str(i)}) for i in range(3)]
    >>> print(_no_record_time(lines, ("time", "ts")).split(": ", 1)[1].split(" (the split")[0])
    --set 'parser.json_time_keys=["at"]' reads the records' at key, which holds times
    """
    low, high = _PLAUSIBLE_TIMES

    def holds_times(key: str) -> bool:
        stamps = [_json_time(ln.fields[key]) for ln in head if key in ln.fields]
        return len(stamps) >= 0.5 * len(head) and all(t is not None and low <= t <= high for t in stamps)

    key = next((k for k in dict.fromkeys(k for ln in head for k in ln.fields) if holds_times(k)), None)
    tried = f"none holds one of the keys parser.json_time_keys names ({', '.join(time_keys) or 'none'})"
    wanted = {k.lower() for k in time_keys}  # csv and logfmt match them without regard to case
    held = next(((k, v) for ln in head for k, v in ln.fields.items() if k.lower() in wanted), None)
    if held is not None:
        n_with = sum(1 for ln in head if any(k.lower() in wanted for k in ln.fields))
        tried = (
            f"{n_with} of the first {len(head)} records hold its key {held[0]} (parser.json_time_keys), but its "
            f"values do not read as a time (e.g. {quoted(str(held[1])[:60])})"
        )
    if key is not None:
        setting = shlex.quote("parser.json_time_keys=" + json.dumps([key]))
        return (
            f"no record's time could be read, {tried}: --set {setting} reads the records' {key} key, which holds "
            "times (the split is then chronological, and time windows work)"
        )
    forms = "an ISO 8601 time, epoch seconds, ms or µs, or 'MM/DD/YYYY hh:mm:ss AM'"
    tried = f"{tried}: the times read are {forms}" if held is not None else f"{tried} with {forms}"
    return (
        f"no record's time could be read, {tried}: the split will "
        "not be chronological and time windows cannot be used; --set 'parser.json_time_keys=[\"KEY\"]' names the key "
        "of yours"
    )


def _logfmt_hint(head: Sequence[LogLine]) -> str | None:
    """'N of the first lines are logfmt ...: --set parser.format=logfmt' when at least half of the contents are logfmt
    pairs (:func:`logfmt_pairs`) with at least 3 keys and a message key (``json_message_keys``, any case, the one
    HeaderParser would read) whose value says something: a message, not a stamp (:func:`_is_stamp`); else None.

    The stamp rule is what keeps auditd's lines out: ``type=SYSCALL msg=audit(1733412230.111:4001): arch=...`` is
    pairs with a ``msg`` key, but that value only says when and which record. Read as logfmt it is every line's
    content, and SYSCALL, EXECVE, CWD, PATH ... lines become one template ``audit(<*>:<*>):``; read as text, they
    stay apart by their ``type=`` and keys."""

    def logfmt_record(text: str) -> bool:
        pairs = logfmt_pairs(text)
        if pairs is None or len(pairs) < 3:
            return False
        by_name = {k.lower(): v for k, v in reversed(pairs.items())}  # the first of equal names, as _named_keys
        message = next((by_name[k.lower()] for k in _JSON_MESSAGE_KEYS if k.lower() in by_name), None)
        return message is not None and not _is_stamp(str(message))

    n = sum(1 for ln in head if logfmt_record(ln.content))
    if n < 0.5 * len(head):
        return None
    return (
        f"{n} of the first {len(head)} lines are logfmt (key=value pairs with a message key): read as one text, every "
        "key and value becomes template words; try --set parser.format=logfmt (the message key is the content, the "
        "others fields that window.session_pattern sees as name=value)"
    )


def _is_stamp(value: str) -> bool:
    """Whether a record's message value is a stamp rather than a message: one token with more digits than letters (a
    time, an id, a serial number; auditd's ``audit(1733412230.111:4001):``). It says when or which, not what
    happened: as the content of every line, it makes them one template.

    >>> _is_stamp("audit(1733412230.111:4001):"), _is_stamp("2026-11-30T08:00:00Z"), _is_stamp("req-91b72265b1f5")
    (True, True, True)
    >>> _is_stamp("request handled"), _is_stamp("started"), _is_stamp("GET /api/v1/items")
    (False, False, False)
    """
    if not value or any(c.isspace() for c in value):
        return False
    return sum(c.isdigit() for c in value) > sum(c.isalpha() for c in value)


#: JSON objects without a message key a HeaderParser keeps, to say which key to name (:func:`no_message_key`)
KEYLESS_KEPT = 20
#: a pretty-printed JSON object's member line: `  "name": value`
_JSON_MEMBER = re.compile(r'^\s*"[^"\n]*"\s*:')


def json_document_hint(texts: Sequence[str]) -> str:
    """What to say when the input is one JSON document, not a log with a record per line, else ''.

    An array of records (PowerShell's ``ConvertTo-Json``, ``jq -s``, an API's export: ``[`` then ``{``, pretty or on
    one line) or a pretty-printed object holding one (CloudTrail's ``{"Records": [...]}``). Before, each of its
    lines was read as a log line (a Windows event export: 6,002 "lines" of braces and ``"Id": 4624,``; on one line:
    one line, cut at ``parser.max_line_chars``) and nothing was said.

    >>> json_document_hint(["[", "  {", '    "Id": 4624,'])[:40], json_document_hint(['[{"Id": 4624}, {"Id": 1}]'])[:10]
    ('the input is one JSON document (an array', 'the input ')
    >>> json_document_hint(["{", '  "Records": [', "    {"])[-40:], json_document_hint(['{"msg": "ok"}', "[x] y"])
    ("cords[]' in.json > in.jsonl (CloudTrail)", '')
    """
    lines = [text.strip() for text in texts[:50] if text.strip()]
    if not lines:
        return ""
    first = lines[0]
    array = first == "[" or (first.startswith("[") and first[1:].lstrip().startswith("{"))
    members = sum(1 for text in lines[1:] if _JSON_MEMBER.match(text) or text in ("{", "[", "}", "},", "]", "],"))
    pretty_object = first == "{" and len(lines) >= 3 and members >= 0.8 * (len(lines) - 1)
    if not (array or pretty_object):
        return ""
    held = next((m.group(1) for text in lines[1:3] if (m := re.match(r'"([^"]+)"\s*:\s*\[$', text))), None)
    path = f".{held}[]" if pretty_object and held else ".[]"
    return (
        "the input is one JSON document (an array of records, as PowerShell's ConvertTo-Json, jq -s or an export "
        "writes it), not a log with one record per line: each of its lines was read as a log line. Convert it to JSON "
        f"lines first, then read those with --set parser.format=json: jq -c '{path}' in.json > in.jsonl"
        + (" (CloudTrail)" if held == "Records" else "")
    )


def json_message_key(objects: Sequence[object], message_keys: Sequence[str]) -> tuple[str | None, list[str]] | None:
    """Where JSON ``objects`` hold none of ``message_keys`` (parser.json_message_keys, any case): the key whose values
    are a message (a name with "message", "msg", "text", "body" or "payload" in it, else of the keys whose values hold
    words on most objects and whose name is not an id's or a clock's, the one with the most distinct values) and the
    first object's keys (None for the key where none is a message: a flow record, Zeek's); None where the objects
    hold a message key. Before, ``parse`` suggested
    parser.format=json for JSON lines whose message key it does not know, and with it every line was malformed and
    nothing said which key to name.

    >>> json_message_key([{"eventMessage": "Connection 3 up", "pid": 1}], ("message",))
    ('eventMessage', ['eventMessage', 'pid'])
    >>> json_message_key([{"message": "ok"}], ("message",)), json_message_key([{"n": 1}], ("message",))
    (None, (None, ['n']))
    >>> json_message_key([{"uid": "CHhAvVGS1", "proto": "tcp"}], ("message",))  # a flow record: no message
    (None, ['uid', 'proto'])
    """
    wanted = {k.lower() for k in message_keys}
    dicts = [obj for obj in objects[:200] if isinstance(obj, dict)]
    if not dicts or any(k.lower() in wanted for obj in dicts for k in obj):
        return None
    values: dict[str, set[str]] = {}
    for obj in dicts:
        for key, value in obj.items():
            if isinstance(value, str):
                values.setdefault(key, set()).add(value)
    named = [k for k in values if any(word in k.lower() for word in ("message", "msg", "text", "body", "payload"))]
    # else a key of sentences: words on most objects, not an id's or a clock's name (Zeek's uid is no message)
    worded = [
        k for k in values
        if not _NOT_CONTENT_KEY.search(k) and sum(" " in str(obj.get(k, "")) for obj in dicts) >= 0.5 * len(dicts)
    ]
    order = list(values)
    pool = named or worded
    pick = None if not pool else pool[0] if named else max(pool, key=lambda k: (len(values[k]), -order.index(k)))
    return pick, list(dicts[0])


def message_key_advice(found: tuple[str | None, list[str]], message_keys: Sequence[str]) -> str:
    """'none holds a key parser.json_message_keys names (...; their keys: ...): --set ... reads KEY as the content'
    (where no key holds sentences: name the one that holds each event's message)."""
    pick, keys = found
    shown = ", ".join(keys[:SHOWN_KEYS]) + (", ..." if len(keys) > SHOWN_KEYS else "")
    said = f"none holds a key parser.json_message_keys names ({', '.join(message_keys)}; their keys: {shown})"
    if pick is None:  # records without a message (a flow record): LogBERT reads events' messages
        return (
            f"{said}, and none of their keys holds sentences: name the key of each event's message with --set "
            "'parser.json_message_keys=[\"KEY\"]' (records without a message, as a flow log's, are not what LogBERT "
            "reads)"
        )
    return f"{said}: --set 'parser.json_message_keys=[{json.dumps(pick)}]' reads {pick} as the content"


#: keys of a JSON object :func:`message_key_advice` lists
SHOWN_KEYS = 8


def no_message_key(header: HeaderParser) -> str:
    """Why JSON lines read with parser.format=json gave no record, where that is their having no message key: the
    keys they hold and the setting that names theirs (:func:`json_message_key`), else ''."""
    if not header.is_json or header._message is not None:
        return ""
    found = json_message_key(header.keyless_objects, header._message_keys)
    return "" if found is None else "the lines are JSON objects, but " + message_key_advice(found, header._message_keys)


def _json_object(text: str) -> dict[str, object] | None:
    """``text`` as a JSON object, or None where it is not one."""
    if not (text.startswith("{") and text.endswith("}")):
        return None
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def _looks_like_json_object(text: str) -> bool:
    return _json_object(text) is not None


#: Built-in header formats a content that holds a whole header may be suggested, the most specific first. Syslog's
#: loose fields read most layouts that begin with a date and a time (all of loghub's HDFS_2k.log, 97 % of its
#: OpenStack_2k.log), so the syslog formats come last and their <Month> must be a month's name.
_SUGGESTED_FORMATS: Final[tuple[tuple[FormatName, re.Pattern[str]], ...]] = (
    ("access", _ACCESS_LINE),
    *(
        (name, compile_format(BUILTIN_FORMATS[name])[0])
        for name in (
            "openstack", "bgl", "thunderbird", "hdfs", "openstack_devstack", "klog", "apache_error", "syslog_iso",
            "syslog",
        )
    ),
)
#: Built-in formats that a preset of the same name reads, with the masks and Drain settings made for them.
_FORMAT_PRESETS: Final[frozenset[str]] = frozenset(
    {"openstack", "bgl", "thunderbird", "hdfs", "openstack_devstack", "access"}
)


# What a header left in the content may hold after its date and time, tried in this order at each token:
# a level word (bare, bracketed or with a colon), a bracketed field (one level of nested brackets: log4j's
# "[QuorumPeer[myid=1]/0.0.0.0:2181:FastLeaderElection@774]"), a separator standing alone ("-", "|", ":",
# "---"), a number (a pid) and, before a level word only, a plain word (Python logging's logger name).
# a header's level word: the common names, and PostgreSQL's LOG and PANIC ("... [20021] LOG:  connection received")
_HEADER_LEVEL = re.compile(rf"(\[?)({_LEVEL_NAMES}|LOG|PANIC)(\]?)(:?)(?=\s)")
# nginx's error log writes its level in lower case and in brackets: "2026/11/29 10:00:00 [error] 120#120: ..."
_HEADER_NGINX_LEVEL = re.compile(r"\[(?:debug|info|notice|warn|error|crit|alert|emerg)\](?=\s)")
_HEADER_BRACKET = re.compile(r"\[(?:[^\[\]]|\[[^\[\]]*\])*\](?=\s)")
_HEADER_BRACKETED_PID = re.compile(r"\[\d+\](?=\s)")
# PostgreSQL's "%u@%d" (user@database) before the level, "[unknown]@[unknown]" before the user is known. Debian's
# log_line_prefix '%m [%p] %q%u@%d ' leaves it out of the lines of processes without a session (%q: the checkpointer),
# so the format reads it as optional: (?:<User>@<Database> )?
_HEADER_USER_AT_DATABASE = re.compile(r"(?:\[unknown\]|[\w.$-]*)@(?:\[unknown\]|[\w.$-]*)(?=\s)")
_OPTIONAL_USER_AT_DATABASE = "(?:<User>@<Database> )?"
# epoch seconds, milliseconds or microseconds first on the line (a fraction allowed): read as <Timestamp>
_HEADER_EPOCH = re.compile(r"\d{10}(?:\d{3}|\d{6})?(?:\.\d+)?(?=\s)")


def _plausible_epoch(text: str) -> bool:
    """A number that reads as a time between 2000 and 2100 (an id of 10 or 13 digits mostly does not)."""
    return 946_684_800 <= epoch_seconds(text) < 4_102_444_800


# a time zone's name right after the date and time (UTC and GMT are part of <Datetime>)
_HEADER_ZONE = re.compile(r"[A-Z]{3,5}(?=\s)")
# Kubernetes' container runtimes (CRI: containerd, CRI-O) write each line of a container as "<RFC 3339 time> stdout F
# <line>": the stream, then F for a full line or P for part of one. Read as <Datetime> <Stream> <Flag>
_HEADER_CRI = re.compile(r"(?:stdout|stderr) [FP](?=\s)")
_HEADER_SEPARATOR = re.compile(r"(?:-+|\||:)(?=\s)")
_HEADER_NUMBER = re.compile(r"\d+(?=\s)")
_HEADER_WORD = re.compile(r"[\w.$/-]+(?=\s)")
_HEADER_DATETIME = re.compile(_FIELD_PATTERNS["Datetime"] + r"(?=[:,]?\s)")
# Python logging's default format (logging.BASIC_FORMAT, "%(levelname)s:%(name)s:%(message)s"): no time at all
_PYTHON_BASIC_FORMAT = re.compile(rf"(?:{_LEVEL_NAMES}):[\w.]+:")
# a program's name before an ISO date and time, as update-alternatives writes its log
_HEADER_PROGRAM = re.compile(
    rf"(?!{_LEVEL_WORD})[A-Za-z][\w.-]*(?= \d{{4}}-\d{{2}}-\d{{2}}[T ]\d{{2}}:\d{{2}}:\d{{2}})"
)
# Go's log package and nginx's error log: "2026/11/29 10:00:00", and Spark's "17/06/09 20:10:40" (log4j's yy/MM/dd),
# read as <Date> <Time> (layouts of _DATETIME_LAYOUTS)
_HEADER_SLASH_DATETIME = re.compile(r"(?:\d{4}|\d{2})/\d{2}/\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?(?=\s)")
# Android's logcat ("threadtime": "03-17 16:13:38.811  1702  2395 D WindowManager: ..."): a month and a day without
# a year, read as <MonthNum>-<DayNum> <Time> (the syslog rule: the year is SYSLOG_YEAR), then the pid, the thread id
# and the level as one letter (V D I W E F A), which only this layout's position after the numbers makes a level
_HEADER_MONTH_DAY_TIME = re.compile(r"\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?(?=\s)")
_HEADER_LETTER_LEVEL = re.compile(r"[VDIWEFA](?=\s)")
# loghub's Proxifier: "[10.30 16:49:06] chrome.exe - ...", a bracketed month.day and time, no year
# Python logging's time in brackets: Flask's default "[2026-11-30 10:00:00,137] INFO in views: ...", and Celery's
# "[2026-11-30 10:15:02,123: INFO/ForkPoolWorker-3] Task ...", its level and process inside the brackets too
_HEADER_BRACKETED_DATETIME = re.compile(
    r"\[" + _FIELD_PATTERNS["Datetime"] + rf"(?:\]|(: (?:{_LEVEL_NAMES})/[\w.-]+\]))(?=\s)"
)
# C's ctime in brackets: dmesg -T "[Wed Dec  2 08:00:00 2026] usb 1-1: ..." (Apache's error log too, whose whole
# header the built-in apache_error format reads)
_HEADER_BRACKETED_CTIME = re.compile(
    r"\[[A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}(?:\.\d+)? \d{4}\](?=\s)"
)
_HEADER_BRACKETED_MONTH_DAY_TIME = re.compile(r"\[\d{2}\.\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?\](?=\s)")
# loghub's HealthApp: "20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579", a date and a time glued by
# a dash, milliseconds after a colon, then fields separated by bars and no space
_HEADER_COMPACT_DATETIME = re.compile(r"\d{8}-\d{2}:\d{2}:\d{2}(?:[:.]\d+)?(?=\|)")
_HEADER_BAR_FIELD = re.compile(r"\|([^|\s]+)(?=\|)")
# a level word in title case (Windows' CBS log: "2016-09-28 04:30:30, Info  CBS  Loaded ..."): a <Severity>, since
# <Level> holds capitals only
_HEADER_TITLE_LEVEL = re.compile("(?:" + "|".join(name.title() for name in _LEVEL_NAMES.split("|")) + r")(?=\s)")
_MONTH_NAME = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
# the day, the month's name, the year and the time, as log4j's %d{DATE} ("24 Jun 2025 14:36:53,120") and Redis write
# them: read as <Day> <Month> <Year> <Time> (the syslog reading of a time, with the year). Left in the content, the
# month's name is a template word, and every template changes on the first of the month
_HEADER_DAY_MONTH_YEAR = re.compile(rf"\d{{1,2}} {_MONTH_NAME} \d{{4}} \d{{2}}:\d{{2}}:\d{{2}}(?:[.,]\d+)?(?=\s)")
# Redis: "1:M 24 Jun 2025 14:36:53.120 * Ready to accept connections", the process id and its role (C child, M
# master, S replica, X sentinel) before the date, then one character for the level (. - * #)
_HEADER_REDIS_PID_ROLE = re.compile(rf"\d+:[CMSX](?= \d{{1,2}} {_MONTH_NAME} \d{{4}} )")
_HEADER_REDIS_LEVEL = re.compile(r"[.*#-](?= )")
#: header pieces that may come before the time, and what the format hint calls them
_BEFORE_TIME: Final[dict[str, str]] = {"<Component>": "a program's name", "<Pid>:<Role>": "a process id and role"}
_MAX_HEADER_TOKENS: Final[int] = 8
# logfmt (Go's slog and logrus text output, go-kit): a time key first, then maybe a level key, each value maybe quoted
_LOGFMT_TIME = re.compile(rf'({_LOGFMT_TIME_KEYS})=("?)(?:' + _FIELD_PATTERNS["Datetime"] + r')\2(?=\s)')
_LOGFMT_LEVEL = re.compile(r'(level|lvl|severity)=("?)([A-Za-z]+)\2(?=\s)')


def _logfmt_header(content: str) -> str | None:
    """The header of a logfmt line (``time=<Datetime> level=<Level>``, the rest its content); None for another line.
    A level in lower case (logrus, go-kit) is a ``<Severity>`` field, since ``<Level>`` holds capitals only."""
    time = _LOGFMT_TIME.match(content)
    if time is None:
        return None
    quote = time.group(2)
    pieces = [f"{time.group(1)}={quote}<Datetime>{quote}"]
    at = time.end()
    while at < len(content) and content[at].isspace():
        at += 1
    if (level := _LOGFMT_LEVEL.match(content, at)) is not None:
        name = "Level" if level.group(3).isupper() else "Severity"
        pieces.append(f"{level.group(1)}={level.group(2)}<{name}>{level.group(2)}")
    return " ".join([*pieces, "<Content>"])


def infer_log_format(content: str) -> str | None:
    r"""A header format (``parser.log_format``) for a line whose header was left in its content: an ISO date and
    time and/or a level word at its start, with the separators, bracketed fields, a pid and (before the level)
    a logger name around them; None when the line starts with neither.

    >>> infer_log_format("2026-07-29 17:41:44,253 - INFO  [main:Server@197] - Accepted socket connection")
    '<Datetime> - <Level> \\[<Context>\\] - <Content>'
    >>> infer_log_format("2026-07-29 17:41:44,253 - myapp - WARNING - disk full")
    '<Datetime> - <Logger> - <Level> - <Content>'
    >>> infer_log_format("2025-06-24 14:36:00 status installed libc-bin:amd64 2.36-9")
    '<Datetime> <Content>'
    >>> infer_log_format("2026-11-20 08:00:04.485 UTC [20021] LOG:  connection received: host=10.0.0.20")
    '<Datetime> \\[<Pid>\\] <Level>: <Content>'
    >>> infer_log_format("2026-11-20 09:00:04 CET [20021] ERROR:  deadlock detected")
    '<Datetime> <Zone> \\[<Pid>\\] <Level>: <Content>'
    >>> infer_log_format("2026-11-20 08:00:04.485 UTC [20021] app@shop LOG:  disconnection: session time: 0:00:01.2")
    '<Datetime> \\[<Pid>\\] (?:<User>@<Database> )?<Level>: <Content>'
    >>> infer_log_format("1795946400069 INFO [sess-0] step c ok"), infer_log_format("4242 INFO [w] x")
    ('<Timestamp> <Level> \\[<Context>\\] <Content>', '<Pid> <Level> \\[<Context>\\] <Content>')
    >>> infer_log_format("2026/11/29 10:00:00 [error] 120#120: *5 open() failed")  # nginx's error log
    '<Date> <Time> \\[<Severity>\\] <Content>'
    >>> infer_log_format('time="2026-11-29T10:00:00Z" level=info msg="request started" path=/api')
    'time="<Datetime>" level=<Severity> <Content>'
    >>> infer_log_format("update-alternatives 2025-06-24 14:36:53: run with --install /usr/bin/pager pager")
    '<Component> <Datetime>: <Content>'
    >>> infer_log_format("WARNING:shop.checkout:order ord-1000 payment declined")  # Python logging's default
    '<Level>:<Logger>:<Content>'
    >>> infer_log_format("24 Jun 2025 14:36:53,120 INFO  [main] Server - started")  # log4j's %d{DATE}
    '<Day> <Month> <Year> <Time> <Level> \\[<Context>\\] <Content>'
    >>> infer_log_format("1:M 24 Jun 2025 14:36:53.120 * Ready to accept connections tcp")  # Redis
    '<Pid>:<Role> <Day> <Month> <Year> <Time> <Severity> <Content>'
    >>> infer_log_format("17/06/09 20:10:40 INFO executor.Executor: Running task 0.0 in stage 0.0")  # Spark
    '<Date> <Time> <Level> <Content>'
    >>> infer_log_format("03-17 16:13:38.811  1702  2395 D WindowManager: printFreezingDisplayLogs")  # Android
    '<MonthNum>-<DayNum> <Time> <Pid> <Pid2> <Level> <Content>'
    >>> infer_log_format("20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579")  # HealthApp
    '<Date>-<Time>\\|<Component>\\|<Pid>\\|<Content>'
    >>> infer_log_format("[10.30 16:49:06] chrome.exe - proxy.cse.cuhk.edu.hk:5070 open through proxy")  # Proxifier
    '\\[<MonthNum>\\.<DayNum> <Time>\\] <Content>'
    >>> infer_log_format("2016-09-28 04:30:30, Info                  CBS    Loaded Servicing Stack")  # Windows CBS
    '<Datetime>, <Severity> <Content>'
    >>> infer_log_format("[2026-11-30 10:00:00,137] INFO in views: GET /api/items/73 served in 6 ms")  # Flask's
    '\\[<Datetime>\\] <Level> <Content>'
    >>> infer_log_format("[2026-11-30 10:15:02,123: INFO/ForkPoolWorker-3] Task app.tasks.resize[3f2a] received")
    '\\[<Datetime>: <Level>/<Process>\\] <Content>'
    >>> infer_log_format("2026-12-02T04:00:00.034000152Z stdout F GET /healthz 200")  # a container runtime's (CRI)
    '<Datetime> <Stream> <Flag> <Content>'
    >>> infer_log_format("2026-12-02T04:00:00.034000152Z stdout F time=2026-12-02T04:00:00.034Z level=info msg=up")
    '<Datetime> <Stream> <Flag> time=<Datetime2> level=<Severity> <Content>'
    """
    if (logfmt := _logfmt_header(content)) is not None:
        return logfmt
    if _PYTHON_BASIC_FORMAT.match(content) is not None:
        return "<Level>:<Logger>:<Content>"
    pieces: list[str] = []
    at = 0
    if (m := _HEADER_PROGRAM.match(content)) is not None:  # Debian's update-alternatives: its name, then the time
        pieces.append("<Component>")
        at = m.end() + 1
    elif (m := _HEADER_REDIS_PID_ROLE.match(content)) is not None:
        pieces.append("<Pid>:<Role>")
        at = m.end() + 1
    if (m := _HEADER_COMPACT_DATETIME.match(content)) is not None and not pieces:  # HealthApp: bars, no spaces
        pieces.append("<Date>-<Time>")
        at = m.end()
        bar_names = iter(("<Component>", "<Pid>"))
        while (field_m := _HEADER_BAR_FIELD.match(content, at)) is not None:
            name = "<Pid>" if field_m.group(1).isdigit() else next(bar_names, None)
            if name is None or name in pieces:
                break
            pieces.append(name)
            at = field_m.end()
        return r"\|".join([*pieces, "<Content>"])
    has_time = True
    if (m := _HEADER_EPOCH.match(content)) is not None and _plausible_epoch(m.group()):
        pieces.append("<Timestamp>")
        at = m.end()
    elif (m := _HEADER_MONTH_DAY_TIME.match(content, at)) is not None:
        pieces += ["<MonthNum>-<DayNum>", "<Time>"]
        at = m.end()
    elif (m := _HEADER_BRACKETED_DATETIME.match(content, at)) is not None:
        if m.group(1) is not None:  # Celery's: the level and the process are the rest of the header
            return r"\[<Datetime>: <Level>/<Process>\] <Content>"
        pieces.append(r"\[<Datetime>\]")
        at = m.end()
    elif (m := _HEADER_BRACKETED_MONTH_DAY_TIME.match(content, at)) is not None:
        pieces.append(r"\[<MonthNum>\.<DayNum> <Time>\]")
        at = m.end()
    elif (m := _HEADER_BRACKETED_CTIME.match(content, at)) is not None:
        pieces.append(r"\[<Weekday> <Month> <Day> <Time> <Year>\]")
        at = m.end()
    elif (m := _HEADER_SLASH_DATETIME.match(content)) is not None:
        pieces += ["<Date>", "<Time>"]
        at = m.end()
    elif (m := _HEADER_DAY_MONTH_YEAR.match(content, at)) is not None:
        pieces += ["<Day>", "<Month>", "<Year>", "<Time>"]
        at = m.end()
        level = _HEADER_REDIS_LEVEL.match(content, at + 1) if pieces[0] == "<Pid>:<Role>" else None
        if level is not None:  # Redis's level character, then the message (whose first number is no pid)
            return " ".join([*pieces, "<Severity>", "<Content>"])
    elif (m := _HEADER_DATETIME.match(content, at)) is not None:
        pieces.append("<Datetime>")
        at = m.end()
        if content[at : at + 1] in (":", ","):  # "2025-06-24 14:36:53: message": the colon closes the header
            pieces[-1] += content[at]
            at += 1
        zone = _HEADER_ZONE.match(content, at + 1) if content[at : at + 1] == " " else None
        if zone is not None and _HEADER_LEVEL.match(content, at + 1) is None:
            pieces.append("<Zone>")
            at = zone.end()
    else:
        has_time = False
    before_level: list[str] = []  # plain words are header fields only when a level word follows them
    names: dict[str, int] = {}

    def field(name: str) -> str:
        names[name] = names.get(name, 0) + 1
        return name if names[name] == 1 else f"{name}{names[name]}"

    level_seen = False
    for _ in range(_MAX_HEADER_TOKENS):
        while at < len(content) and content[at].isspace():
            at += 1
        if (m := _HEADER_LEVEL.match(content, at)) is not None and not level_seen:
            optional = ""  # PostgreSQL's user@database, joined to the level: absent, it leaves no space to match
            if before_level and before_level[-1] == _OPTIONAL_USER_AT_DATABASE:
                optional = before_level.pop()
            pieces += before_level
            before_level = []
            bracket = m.group(1) == "[" and m.group(3) == "]"
            pieces.append(optional + (r"\[<Level>\]" if bracket else "<Level>") + m.group(4))
            level_seen = True
        elif not level_seen and (m := _HEADER_NGINX_LEVEL.match(content, at)) is not None:
            pieces += [*before_level, r"\[<Severity>\]"]  # lower case: not <Level>'s [A-Z]+
            before_level, level_seen = [], True
        elif not level_seen and (m := _HEADER_TITLE_LEVEL.match(content, at)) is not None:
            pieces += [*before_level, "<Severity>"]
            before_level, level_seen = [], True
        elif (
            not level_seen
            # Android's logcat: the level letter after the pid and thread (-v threadtime; with ",year" a <Datetime>)
            and pieces[:1] in (["<MonthNum>-<DayNum>"], ["<Datetime>"])
            and before_level[-1:] == ["<Pid2>"]
            and (m := _HEADER_LETTER_LEVEL.match(content, at)) is not None
        ):
            pieces += [*before_level, "<Level>"]
            before_level, level_seen = [], True
        elif pieces == ["<Datetime>"] and not before_level and (m := _HEADER_CRI.match(content, at)) is not None:
            pieces += ["<Stream>", "<Flag>"]  # a container's stream and whether the line is whole, as CRI writes
        elif not level_seen and (logfmt := _logfmt_header(content[at:])) is not None:
            # a logfmt line behind a header (a container runtime's): its time and level are header too, and the words
            # before them (the level rule's)
            return _in_place_of_content(" ".join([*pieces, *before_level, "<Content>"]), logfmt)
        elif not level_seen and (m := _HEADER_USER_AT_DATABASE.match(content, at)) is not None:
            before_level.append(_OPTIONAL_USER_AT_DATABASE)
        elif (m := _HEADER_BRACKETED_PID.match(content, at)) is not None:
            (before_level if not level_seen else pieces).append(r"\[<" + field("Pid") + r">\]")
        elif (m := _HEADER_BRACKET.match(content, at)) is not None:
            (before_level if not level_seen else pieces).append(r"\[<" + field("Context") + r">\]")
        elif (m := _HEADER_SEPARATOR.match(content, at)) is not None:
            (before_level if not level_seen else pieces).append(m.group().replace("|", r"\|"))
        elif (m := _HEADER_NUMBER.match(content, at)) is not None:
            (before_level if not level_seen else pieces).append("<" + field("Pid") + ">")
        elif not level_seen and (m := _HEADER_WORD.match(content, at)) is not None:
            before_level.append("<" + field("Logger") + ">")
        else:
            break
        at = m.end()
    if not level_seen:  # without a level word only what precedes the first plain word is header
        for piece in before_level:
            if piece.startswith("<Logger") or piece == _OPTIONAL_USER_AT_DATABASE:
                break
            pieces.append(piece)
    if not level_seen and not has_time:
        return None
    return " ".join([*pieces, "<Content>"])


def _inferred_format_hint(head: Sequence[LogLine], texts: Sequence[str], header: HeaderParser) -> str:
    """'; they start with a date and a time: try --set parser.log_format=...' (or "with a level") when a format
    :func:`infer_log_format` makes of one of the first 20 contents reads at least half of the contents (the first
    such, in line order), else ''. Not only the first line's: a file may start with a line of a rarer shape
    (PostgreSQL's "connection received", before the user is known).

    What is offered is the layout the user has with that format in place of its ``<Content>``
    (:func:`_in_place_of_content`), checked on the lines as read (``texts``, one per line of ``head``): it too must
    read at least half of them. The inferred format alone, offered as the whole line's, dropped the header the user
    had given (a CRI container log's ``<Datetime> <Stream> <Flag> <Content>``) and read none of the lines."""
    if header.content_layout is None:
        return ""
    tried: set[str] = set()
    for line in head[:20]:
        log_format = infer_log_format(line.content)
        if log_format is None or log_format in tried:
            continue
        tried.add(log_format)
        pattern = compile_format(log_format)[0]
        if sum(1 for ln in head if pattern.match(ln.content)) < 0.5 * len(head):
            continue
        whole = _in_place_of_content(header.content_layout, log_format)
        if not _reads_half(header, whole, texts):
            continue
        starts = {
            "<Datetime>": "a date and a time", "<Date>": "a date and a time", "<Day>": "a date and a time",
            "<Timestamp>": "an epoch time", "<MonthNum>": "a date and a time", "<Weekday>": "a date and a time",
        }
        first, *rest = log_format.split(" ")  # "<Datetime>", logfmt's "time=<Datetime>", or what precedes the time
        named = first in _BEFORE_TIME
        what = next((v for k, v in starts.items() if k in (rest[0] if named and rest else first)), "a level")
        what = f"{_BEFORE_TIME[first]} and {what}" if named else what
        return f"; they start with {what}: try --set 'parser.log_format={whole}'"
    return ""


def _builtin_in_place(name: FormatName, texts: Sequence[str], header: HeaderParser) -> str:
    """What to set for contents that hold a whole header of the built-in format ``name``: that format, where the
    lines are read as they are (:func:`_try_format`); else the header given, with that format's layout in place of
    its ``<Content>`` (a record's message layout; a line's, with the format's masks and Drain settings), where that
    reads at least half of ``texts``; else ''. Only the format was said, which dropped the header given: a CRI
    container log of a kubelet's klog lines got "try --set parser.format=klog"."""
    layout = header.content_layout
    if layout is None or (layout == "<Content>" and not header.reads_records):
        return _try_format(name)
    whole = _in_place_of_content(layout, BUILTIN_FORMATS[name])
    if not _reads_half(header, whole, texts):
        return ""
    if header.reads_records:
        return f"try --set 'parser.log_format={whole}' (the message's layout)"
    return f"try --set 'parser.log_format={whole}' --set parser.format={name} (that format's masks and Drain settings)"


def _reads_half(header: HeaderParser, layout: str, texts: Sequence[str]) -> bool:
    """Whether ``header``'s reading with ``layout`` (:meth:`HeaderParser.with_layout`) reads at least half of the
    lines ``texts``: what a suggested layout is checked on before it is offered."""
    try:
        reading = header.with_layout(layout)
    except ConfigError:
        return False
    return sum(1 for i, text in enumerate(texts) if reading.parse(text, i + 1) is not None) >= 0.5 * len(texts)


def _in_place_of_content(layout: str, inner: str) -> str:
    """``layout`` with the format ``inner`` in place of its ``<Content>``; a field of ``inner`` whose name ``layout``
    already has is numbered (``<Datetime2>``: a format repeats no field).

    >>> _in_place_of_content("<Datetime> <Stream> <Flag> <Content>", "time=<Datetime> level=<Severity> <Content>")
    '<Datetime> <Stream> <Flag> time=<Datetime2> level=<Severity> <Content>'
    >>> _in_place_of_content("<Content>", "<Level> <Content>")
    '<Level> <Content>'
    """
    taken = set(_FIELD_RE.findall(layout))

    def unique(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "Content" or name not in taken:
            taken.add(name)
            return m.group()
        n = 2
        while f"{name}{n}" in taken:
            n += 1
        taken.add(f"{name}{n}")
        return f"<{name}{n}>"

    return layout.replace("<Content>", _FIELD_RE.sub(unique, inner), 1)


def _whole_header(head: Sequence[LogLine]) -> tuple[FormatName, int, str] | None:
    """The first built-in format (:data:`_SUGGESTED_FORMATS`) that reads at least half of the contents whole, with
    how many it reads and one of them; None when none does."""
    for name, pattern in _SUGGESTED_FORMATS:
        read = [ln.content for ln in head if (m := pattern.match(ln.content)) is not None and _plausible(m)]
        if len(read) >= 0.5 * len(head):
            return name, len(read), read[0]
    return None


def _try_format(name: FormatName) -> str:
    """What to set for a built-in format: its preset where there is one (masks and Drain settings made for it)."""
    if name in _FORMAT_PRESETS:
        return f"try --preset {name} (or --set parser.format={name})"
    return f"try --set parser.format={name}"


def _plausible(match: re.Match[str]) -> bool:
    """Whether a built-in format's reading of a content looks like its header and not a loose fit: a <Month> is a
    month's name, a host, component, level or pid is one word, and a host is a name or an address, not a level word
    (syslog's loose fields otherwise read "2017-05-16 00:00:04 INFO nova [instance: abc] ..." with INFO as the host,
    and PostgreSQL's "2026-11-20 08:00:04.485 UTC [20021] LOG:  ..." with "[20021]" as the host)."""
    fields = match.groupdict()
    month = fields.get("Month")
    if month is not None and month[:3].lower() not in _MONTHS:
        return False
    if any(re.search(r"\s", fields.get(name) or "") for name in ("Host", "Component", "Level", "PID")):
        return False
    host = fields.get("Host")
    if host is not None and re.fullmatch(r"[\w.:%-]+", host) is None:  # a name or an address, not "[20021]"
        return False
    return re.fullmatch(_LEVEL_WORD, host or "") is None


# Content that a built-in format's masks and Drain settings were made for.
_FAMILIES: Final[tuple[tuple[FormatName, re.Pattern[str]], ...]] = (
    ("openstack", re.compile(r"\[instance: [0-9a-f-]{36}\]")),
    ("hdfs", re.compile(r"\bblk_-?\d+")),
)


def family_hint(lines: Sequence[LogLine], format_name: FormatName | None, sample: int = 2000) -> list[str]:
    """A custom header with the generic masks, on content a built-in format knows: say which format's
    masks and Drain settings to keep (without them such logs merge templates)."""
    if format_name not in (None, "raw"):
        return []
    head = lines[:sample]
    for family, pattern in _FAMILIES:
        n = sum(1 for ln in head if pattern.search(ln.content))
        if head and n >= 0.2 * len(head):
            return [
                f"{n} of the first {len(head)} lines look like {family} content, read with the generic masks and "
                f"Drain settings: add --set parser.format={family} to keep that format's (templates merge otherwise)"
            ]
    return []


def other_format_hint(texts: Sequence[str], config: ParserConfig) -> str:
    """'they look like syslog lines, not syslog_iso ones (e.g. ...): try --set parser.format=syslog' when at least
    half of ``texts``, lines as read that ``config``'s format did not read, are another format's; else ''.

    The formats are those parse suggests for a log read as raw text (:func:`format_warnings`, the same rules): a
    built-in header (:func:`_whole_header`), JSON objects, logfmt. An RFC 3164 auth.log read as syslog_iso was told
    "parser.log_format matches none of them: ... escape ( )", of a layout the user never wrote; a journal read as
    syslog parsed 350 of 2697 lines (a loose <Month> took the ISO time) and said nothing of the other 2347.

    >>> said = other_format_hint(["Dec 31 21:03:20 web01 sshd[9]: opened"], ParserConfig(format="syslog_iso"))
    >>> said.split(" (e.g.")[0], said.split("): ")[-1]
    ('they look like syslog lines, not syslog_iso ones', 'try --set parser.format=syslog')
    """
    head = [LogLine(i + 1, text) for i, text in enumerate(texts)]
    if not head:
        return ""
    whole = _whole_header(head)
    name: FormatName | None = whole[0] if whole is not None else None
    example = whole[2] if whole is not None else ""
    if name is None and (objects := [t for t in texts if _looks_like_json_object(t)]) and len(objects) >= 0.5 * len(
        texts
    ):
        name, example = "json", objects[0]
    if name is None and _logfmt_hint(head) is not None:
        name, example = "logfmt", texts[0]
    given = config.log_format
    if name is None or (given is None and name == config.format):
        return ""
    setting = _try_format(name)
    if given is not None:  # parser.log_format wins over parser.format: the suggestion needs it gone
        return f"they look like {name} lines (e.g. {example[:80]!r}): {setting}, without parser.log_format"
    return f"they look like {name} lines, not {config.format} ones (e.g. {example[:80]!r}): {setting}"


def epoch_seconds(value: str) -> float:
    """Epoch seconds from seconds, milliseconds (13 digits) or microseconds (16 digits).

    >>> epoch_seconds("1117838570"), epoch_seconds("1117838570123"), epoch_seconds("1117838570.5")
    (1117838570.0, 1117838570.123, 1117838570.5)
    """
    number = float(value)
    digits = len(value.split(".")[0])
    if digits >= 16:
        return number / 1e6
    if digits >= 13:
        return number / 1e3
    return number


def iso_seconds(value: str) -> float | None:
    """Epoch seconds of an ISO 8601 time (UTC when it names no zone); None when unreadable.

    >>> iso_seconds("2017-05-16T00:00:04.5Z"), iso_seconds("2017-05-16 02:00:04+02:00")
    (1494892804.5, 1494892804.0)
    >>> iso_seconds("2017-05-16 00:00:04.5 UTC")
    1494892804.5
    """
    text = value.replace(",", ".")
    if text.endswith(("UTC", "GMT")):  # "... 08:00:04.485 UTC": the Datetime field's named zones
        text = text[:-3].rstrip() + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _clock_seconds(time: str) -> float:
    """Seconds since midnight of ``HH:MM:SS[.fff]``, ``HH:MM:SS:fff`` or ``HHMMSS``; 0.0 when unreadable.

    >>> _clock_seconds("22:15:29.606"), _clock_seconds("22:15:29,606"), _clock_seconds("22:15:29:606")
    (80129.606, 80129.606, 80129.606)
    """
    try:
        if ":" in time:
            h, m, s, *fraction = time.replace(",", ".").split(":")  # log4j's "14:36:53,120" as "14:36:53.120"
            if fraction:  # HealthApp's "22:15:29:606": the milliseconds after a colon
                (digits,) = fraction
                s = f"{s}.{digits}" if s.isdigit() and digits.isdigit() else "?"
            return int(h) * 3600 + int(m) * 60 + float(s)
        if len(time) == 6 and time.isdigit():
            return int(time[:2]) * 3600 + int(time[2:4]) * 60 + int(time[4:])
    except ValueError:
        pass
    return 0.0


def resolve_log_format(format_name: FormatName | None, log_format: str | None) -> str:
    """The format string a :class:`~logbert.config.ParserConfig` asks for (``log_format`` wins).

    Raises:
        ConfigError: neither is set, or the format name is unknown.
    """
    if log_format is not None:
        return log_format
    if format_name is None:
        raise ConfigError("ParserConfig needs `format` or `log_format`")
    if format_name not in BUILTIN_FORMATS:
        raise ConfigError(f"unknown log format {format_name!r}; built-in: {sorted(BUILTIN_FORMATS)}")
    return BUILTIN_FORMATS[format_name]


def line_text_for_sessions(line: LogLine) -> str:
    """Header fields and content of a parsed line as one string, for session-id regexes.

    The OpenStack instance id is already in ``line.content``; this helper also covers ids that a
    custom format puts in a header field (e.g. a request id in ``ADDR``). Each field is written
    ``name=value``, so that a pattern can name the field it reads: ``request_id=(\\S+)`` takes the
    session id from a JSON line's ``request_id`` key, or a custom format's ``<request_id>`` field.

    >>> line_text_for_sessions(LogLine(1, "GET /users", None, {"request_id": "r-7", "level": "INFO"}))
    'request_id=r-7 level=INFO GET /users'
    """
    own = line.content if not line.fields else " ".join([*(f"{k}={v}" for k, v in line.fields.items()), line.content])
    return own if line.continues is None else f"{line.continues} {own}"  # a continuation: its message's sessions
