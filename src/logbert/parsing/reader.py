"""Read raw log lines into :class:`~logbert.records.LogLine` records, counting every bad line.

Nothing is dropped silently: a line that is not valid UTF-8 (or holds control bytes) is decoded
with replacement characters and counted as binary; a line longer than
``ParserConfig.max_line_chars`` is truncated and counted; blank lines and lines whose header does
not match the format (e.g. traceback continuation lines) are counted, and the first few
malformed ones are kept as examples in the :class:`~logbert.records.ReadReport`.

:class:`LineReader` is the incremental form (one line at a time, counts kept), used by the
streaming service. :class:`LogStream` reads a file (or lines) block by block, so that a large log
is never held whole: as parsed lines, or as contents only (what template mining needs; no header
fields or times are built for them). :func:`read_log` collects a stream's lines into one list.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Final, cast

from logbert.config import EnvelopeName, ParserConfig, quoted
from logbert.errors import InputDataError
from logbert.files import input_file, not_text_hint, open_log, read_bytes, require_text
from logbert.parsing._gc import gc_paused
from logbert.parsing.envelope import Piece, looks_wrapped, unwrap, wrap
from logbert.parsing.headers import (
    CSV_RECORD_MAX_LINES,
    JSON_FORMAT,
    LOGFMT_FORMAT,
    CsvRecord,
    HeaderParser,
    family_hint,
    format_warnings,
    infer_log_format,
    iso_seconds,
    no_message_key,
    opens_csv_record,
    other_format_hint,
    unread_hint,
)
from logbert.records import LineProblem, LogLine, ReadReport

#: How many malformed lines a report keeps as examples, and how much of each.
MAX_EXAMPLES: Final[int] = 5
EXAMPLE_CHARS: Final[int] = 200

#: Files are read in blocks of about this many bytes (whole lines each).
BLOCK_BYTES: Final[int] = 1 << 20
#: Lines per block when the source is an iterable of lines rather than a file.
ITER_BLOCK_LINES: Final[int] = 4096
#: Parsed lines the header-format warnings are judged on (the first ones of the input).
WARNING_SAMPLE: Final[int] = 2000

# C0 controls except tab (a line break inside a line included), DEL and lone surrogates: text logs
# do not contain them, binary junk does.
_NOT_TEXT = re.compile("[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")
# The same test on a block of raw lines, done on bytes (see _is_clean): the control bytes but
# "\r", then a "\r" that does not end its line. ``feed`` strips the "\r"s that end a line (a run
# of them before "\n" or the end) before it checks.
_CONTROL_BYTES_BUT_CR = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_CR_INSIDE_LINE = re.compile(rb"\r+[^\r\n]")
# Terminal escape sequences: CSI (colours "ESC[32m", cursor moves), OSC ("ESC]8;;url BEL" hyperlinks, ended by BEL
# or ST) and the two-character ones
_TERMINAL_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def repair_line(raw: str | bytes) -> tuple[str, bool, bool]:
    """A raw line as text without its line ending, whether it had to be repaired (binary), and whether terminal
    escape sequences (ANSI colours, cursor moves, OSC hyperlinks) were removed from it.

    Escape sequences go first: a coloured log (a dev server, ``docker compose`` output) is text, and its codes
    would otherwise make every line binary and split the level word from the header. A terminal's progress display
    (carriage returns inside the line: :func:`redrawn`) is read as the text before it and its last step. Then bytes
    that are not UTF-8, control characters (a line break inside the line included) and lone surrogates (a ``str``
    that is not Unicode text: JSON ``"\\udcff"`` escapes, bytes decoded with ``surrogateescape``) become U+FFFD.

    >>> repair_line(b"ok\\xff\\r\\n"), repair_line("a\\x00b"), repair_line("plain")
    (('ok\ufffd', True, False), ('a\ufffdb', True, False), ('plain', False, False))
    >>> repair_line("10:00 \\x1b[32mINFO\\x1b[0m ok"), repair_line("lone \\x1b escape")
    (('10:00 INFO ok', False, True), ('lone \ufffd escape', True, False))
    """
    binary = False
    if isinstance(raw, bytes):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            line = raw.decode("utf-8", errors="replace")
            binary = True
    else:
        line = raw
    line = line.rstrip("\r\n")
    escapes = False
    if "\x1b" in line:
        plain = _TERMINAL_ESCAPE.sub("", line)
        escapes, line = plain != line, plain
    if "\r" in line:
        line = redrawn(line) or line  # lines that ended in CR alone stay one line, their CRs U+FFFD (said)
    if _NOT_TEXT.search(line):
        line = _NOT_TEXT.sub("\ufffd", line)
        binary = True
    return line, binary, escapes


def redrawn(line: str) -> str | None:
    """A line holding a terminal's progress display, each step written over the last after a carriage return (pip's
    and npm's download bars, apt's ``(Reading database ... 5%``, curl), as it reads with a number of steps that
    does not matter: the text before the first carriage return (the header a CI runner or a logger put there, or the
    display's first step), then each run of alike steps (the same letters: the numbers and the bar may change) as
    its last step. Before, every step stayed in the line, its carriage returns as U+FFFD: the line counted as binary
    and a build whose bar took 4 steps instead of 3 had a template never seen (a CI log's normal builds flagged).

    Only alike steps are folded, not every step before the last, as a terminal would show: a carriage return put
    into a line to hide what comes before it (``GET /index.html\\rGET /admin``) leaves both parts to be read.

    None where the pieces look like log lines of their own (lines that ended in CR alone, classic Mac or a tool's
    output pasted in): one after the first begins as it does, a number (a date, a time) among its first 20 characters;
    reading those as one display would hide all but their first and last.

    >>> redrawn("2026-12-02T13:40:01Z [b-7] \\r 1/9 MB\\r 5/9 MB\\r 9/9 MB"), redrawn("ok\\r  \\r")
    ('2026-12-02T13:40:01Z [b-7] 9/9 MB', 'ok')
    >>> redrawn("GET /index.html\\rGET /admin HTTP/1.1"), redrawn("2026-12-02 10:00:01 INFO a\\r2026-12-02 10:00:02 b")
    ('GET /index.html GET /admin HTTP/1.1', None)
    """
    first, *steps = line.split("\r")
    start = _line_start(first)
    if any(char.isdigit() for char in start) and any(_line_start(step) == start for step in steps):
        return None
    shown: list[str] = []
    for step in (step.strip() for step in steps):
        if step and shown and _letters(step) == _letters(shown[-1]):
            shown[-1] = step  # the same step, redrawn: its last
        elif step:
            shown.append(step)
    return " ".join(part for part in (first.rstrip(), *shown) if part)


def _letters(text: str) -> str:
    """A step's letters, the same in every step of a progress display (``MB``, ``Reading database``)."""
    return _NOT_LETTERS.sub("", text).lower()


def _line_start(text: str) -> str:
    """The shape of a text's first 20 characters: digits as 0, letters as a (a date and another date alike; nova's
    ``nova-api.log.1.2017-05-16_00:11:04 2017-05-16 ...`` has its first digit at the 14th)."""
    return _LETTERS.sub("a", _DIGITS.sub("0", text.lstrip()[:20]))


_DIGITS = re.compile(r"\d")
_LETTERS = re.compile(r"[^\W\d_]")
_NOT_LETTERS = re.compile(r"[\W\d_]+")


def line_text(raw: str | bytes, max_line_chars: int) -> tuple[str, bool, bool, bool]:
    """A raw line as every reader keeps it: repaired (:func:`repair_line`), cut at ``max_line_chars``; and whether
    it was binary, whether it was cut and whether terminal escapes were removed. The one rule
    :meth:`LineReader.read_line` and :func:`raw_lines_at` share, so that an explanation quotes a line as it was
    parsed."""
    line, binary, escapes = repair_line(raw)
    if len(line) > max_line_chars:
        return line[:max_line_chars], binary, True, escapes
    return line, binary, False, escapes


# Bytes >= 0x80 (runs of them), and the control bytes but a tab: a line of latin-1 / cp1252 text has none of these
_HIGH_BYTES = re.compile(rb"[\x80-\xff]+")
_CONTROL_BYTES_BUT_TAB = bytes([*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F])
#: Binary lines :class:`Latin1Lines` judges (the first ones): enough to tell, and no cost on a file of junk
LATIN1_JUDGED: Final = 1000
#: Share of the judged binary lines that must read as latin-1 / cp1252 text for the file to be said to be so encoded
LATIN1_SHARE: Final = 0.9


class Latin1Lines:
    r"""Whether the binary lines of an input (not UTF-8) are latin-1 or cp1252 text: the bytes of an accented letter
    (``Jos\xe9 M\xfcller``), isolated among ASCII, where junk (a compressed file, UTF-16) holds control bytes and
    long runs of high bytes. Their count stays "binary" and their bytes U+FFFD, as every reader counts and repairs
    them; what the reader says of them names the encoding and the conversion (:meth:`hint`). Before, 20 lines of
    names in latin-1 were "20 binary", templates held U+FFFD, and nothing said why.

    >>> judge = Latin1Lines()
    >>> for raw in (b"user Jos\xe9 M\xfcller logged in\n", b"caf\xe9 \x80 5"):
    ...     judge.note(raw)
    >>> print(judge.hint("app.log"))  # doctest: +NORMALIZE_WHITESPACE
    2 lines are not UTF-8 but read as cp1252 (Windows' Western European) text, e.g. 'José': the file looks
    cp1252-encoded; their bytes that are not UTF-8 became U+FFFD and the lines count as binary. Convert it, then
    read the copy: iconv -f cp1252 -t utf-8 app.log > app.log.utf8
    >>> judge.note(b"\x1f\x8b\x08\x00junk\xff\xfe"); judge.hint("app.log")
    ''
    """

    def __init__(self) -> None:
        self.n_judged = 0  # binary lines looked at (the first LATIN1_JUDGED)
        self.n_text = 0  # of them, those that read as latin-1 / cp1252 text
        self.example = b""  # the first such line's first word with a high byte
        self.c1 = False  # a byte 0x80-0x9F: cp1252's (the euro sign, curly quotes), a control in latin-1
        self.not_cp1252 = False  # a byte cp1252 leaves undefined: latin-1, then

    def note(self, raw: str | bytes) -> None:
        """Judge one binary line, as read (bytes; a ``str`` was decoded already, and is not judged)."""
        if not isinstance(raw, bytes) or self.n_judged >= LATIN1_JUDGED:
            return
        self.n_judged += 1
        body = raw.rstrip(b"\r\n")
        if len(body.translate(None, _CONTROL_BYTES_BUT_TAB)) != len(body):
            return
        runs = list(_HIGH_BYTES.finditer(body))
        # an accented letter, "°C", a euro sign: one to three bytes; more is UTF-8 of another script, or junk
        if not runs or any(len(m.group()) > 3 for m in runs) or 4 * sum(len(m.group()) for m in runs) > len(body):
            return
        in_words = [
            m for m in runs if body[m.start() - 1 : m.start()].isalpha() or body[m.end() : m.end() + 1].isalpha()
        ]
        if not in_words:  # an accented letter has a letter beside it
            return
        self.n_text += 1
        high = b"".join(m.group() for m in runs)
        self.c1 = self.c1 or any(0x80 <= b <= 0x9F for b in high)
        self.not_cp1252 = self.not_cp1252 or any(b in b"\x81\x8d\x8f\x90\x9d" for b in high)
        if not self.example:  # the word of the first accented letter
            start = body.rfind(b" ", 0, in_words[0].start()) + 1
            end = body.find(b" ", in_words[0].end())
            self.example = body[start : end if end >= 0 else len(body)]

    def hint(self, name: str) -> str:
        """What to say of the file ``name`` when most binary lines read as latin-1 / cp1252 text, else ''. The iconv
        command quotes the file's names for a shell where they need it (a space in a path)."""
        if not self.n_judged or self.n_text < LATIN1_SHARE * self.n_judged:
            return ""
        cp1252 = self.c1 and not self.not_cp1252
        encoding, called = ("cp1252", "cp1252 (Windows' Western European)") if cp1252 else (
            "latin1", "latin-1 (ISO-8859-1)"
        )
        word = self.example.decode(encoding, errors="replace")[:40]
        return (
            f"{self.n_text if self.n_judged < LATIN1_JUDGED else 'most'} lines are not UTF-8 but read as {called} "
            f"text, e.g. {quoted(word)}: the file looks {called.split()[0]}-encoded; their bytes that are not UTF-8 "
            "became U+FFFD and the lines count as binary. Convert it, then read the copy: iconv -f "
            f"{encoding} -t utf-8 {shlex.quote(name)} > {shlex.quote(name + '.utf8')}"
        )


class _Run:
    """The pieces of one split line so far (``parser.envelope``): kept up to ``max_line_chars`` and one character
    more, so that the joined line is still cut (and counted) as a line that long is, while a run of pieces that
    never ends holds no more memory than one line."""

    __slots__ = ("last_line_no", "length", "parts", "stream", "time")

    def __init__(self, time: str, stream: str) -> None:
        self.time, self.stream = time, stream  # the first piece's: when the app wrote the line
        self.parts: list[str] = []
        self.length = 0
        self.last_line_no = 0

    def add(self, message: str, max_line_chars: int, line_no: int) -> None:
        if self.length <= max_line_chars:
            kept = message[: max_line_chars + 1 - self.length]
            self.parts.append(kept)
            self.length += len(kept)
        self.last_line_no = line_no

    def text(self) -> str:
        return "".join(self.parts)


def joins_csv_records(config: ParserConfig) -> bool:
    """Whether ``config`` reads CSV records (``parser.format = "csv"``, no envelope), whose quoted fields may hold
    line breaks: :class:`LineReader` joins such a record's physical lines, and the streaming engine keeps a source's
    open record across requests (:func:`open_pieces`)."""
    return config.format == "csv" and config.envelope == "none"


def joins_lines(config: ParserConfig) -> bool:
    """Whether a line may be joined with the lines that follow it (``parser.envelope``'s pieces, a CSV record's
    quoted line breaks): what the streaming engine keeps open per source between requests (:func:`open_pieces`)."""
    return config.envelope != "none" or joins_csv_records(config)


class LineReader:
    """Header-parse lines one at a time and keep the counts of a :class:`ReadReport`.

    Args:
        config: format (``format`` or ``log_format``) and ``max_line_chars``.

    Example:
        >>> r = LineReader(ParserConfig(format="openstack_devstack"))
        >>> r.feed("INFO nova.compute.manager [req-1] [instance: abc] VM Started (Lifecycle Event)").content
        '[instance: abc] VM Started (Lifecycle Event)'
        >>> r.feed("Traceback (most recent call last):") is None, r.report.n_malformed
        (True, 1)
    """

    def __init__(self, config: ParserConfig) -> None:
        self.config = config
        self.header = HeaderParser.for_config(config)
        self.report = ReadReport()
        self.latin1 = Latin1Lines()  # whether the binary lines are latin-1 / cp1252 text (what to say of them)
        self.last_text = ""  # the last line read by read_line, as parsed: repaired, truncated, no line ending
        self.n_cr_ends = 0  # lines holding lines that ended in CR alone (carriage returns not a progress display's)
        self.n_joined_cut = 0  # parser.envelope: lines joined from a runtime's pieces, then cut at max_line_chars
        #: parser.envelope: the container runtime's line around each of the app's, unwrapped before the format reads
        self.envelope = config.envelope
        # per stream, the pieces of a split line whose last piece has not come yet (the runtime splits per stream)
        self._runs: dict[str, _Run] = {}
        #: parser.format = "csv": a record whose quoted field holds line breaks is joined from its physical lines
        self.joins_records = joins_csv_records(config)
        self._record: CsvRecord | None = None  # its lines so far, while a quote is open
        self.n_records_unclosed = 0  # records whose quote did not close within CSV_RECORD_MAX_LINES lines

    def reads_each_line(self, lines: Sequence[str]) -> bool:
        """Whether a block of clean ``lines`` must be read line by line, where lines may be joined, not by the block
        loops, which read each line as one: a container runtime's lines always; CSV records only while one is open or
        where a line may open one (an odd number of quotes). A CSV export without line breaks in its fields keeps
        the block loops, which read it the same (100,000 rows read one by one took 13 % longer)."""
        if self.envelope != "none":
            return True
        return self.joins_records and (self._record is not None or any(line.count('"') % 2 for line in lines))

    def feed(self, raw: str | bytes) -> LogLine | None:
        """Count and parse one line; None for a blank or malformed line. Never raises on content."""
        parsed = self.read_line(raw)
        return None if isinstance(parsed, str) else parsed

    def read_line(self, raw: str | bytes) -> LogLine | LineProblem:
        """Count and parse one line, or say why it gives no record (``"empty"`` or ``"malformed"``).

        The one line-acceptance rule of the project (files, ``logbert tail`` and the service):
        bytes that are not UTF-8 and control characters become U+FFFD and the line counts as
        binary; a line longer than ``max_line_chars`` is truncated and counted; both are still
        parsed. Never raises on content.
        """
        report = self.report
        report.n_lines += 1
        if isinstance(raw, bytes):
            inner_cr = b"\r" in raw and b"\r" in raw.rstrip(b"\r\n")
        else:
            inner_cr = "\r" in raw and "\r" in raw.rstrip("\r\n")
        if inner_cr:  # a progress display (read as redrawn() reads it), or lines that ended in CR alone (said)
            text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
            shown = redrawn(_TERMINAL_ESCAPE.sub("", text.rstrip("\r\n")))
            report.n_redrawn += shown is not None
            self.n_cr_ends += shown is None
        if self.envelope != "none":
            return self._read_wrapped(raw)
        if self.joins_records:
            return self._read_csv_line(raw)
        line, binary, truncated, escapes = line_text(raw, self.config.max_line_chars)
        report.n_binary += binary
        if binary:
            self.latin1.note(raw)
        report.n_truncated += truncated
        report.n_escaped += escapes
        return self._read_text(line)

    def _read_text(self, line: str) -> LogLine | LineProblem:
        """:meth:`read_line` of a line as read (repaired, cut): parsed by the format, counted."""
        report = self.report
        self.last_text = line
        if not line.strip():
            report.n_empty += 1
            return "empty"
        parsed = self.header.parse(line, report.n_lines)
        if parsed is None:
            report.n_malformed += 1
            if len(report.malformed_examples) < MAX_EXAMPLES:
                report.malformed_examples.append(f"{report.n_lines}: {line[:EXAMPLE_CHARS]}")
            return "malformed"
        report.n_parsed += 1
        report.n_continued = self.header.n_continued
        return parsed

    def _read_csv_line(self, raw: str | bytes) -> LogLine | LineProblem:
        """:meth:`read_line` with ``parser.format = "csv"``: a line that opens a quoted field it does not close (a
        message with line breaks, as ``Export-Csv`` writes Windows events) and the lines that follow until the quote
        closes are one record (:class:`~logbert.parsing.headers.CsvRecord`), read with its last line; the others
        counted in ``n_pieces`` (``"partial"``)."""
        report = self.report
        cap = self.config.max_line_chars
        line, binary, escapes = repair_line(raw)
        report.n_binary += binary
        report.n_escaped += escapes
        if binary:
            self.latin1.note(raw)
        record = self._record
        if record is None and not opens_csv_record(line):
            report.n_truncated += len(line) > cap
            return self._read_text(line[:cap])
        if record is None:
            self._record = CsvRecord(line)
        elif record.add(line, cap):
            self._record = None
            return self._read_record(record)
        self.last_text = line[:cap]
        report.n_pieces += 1
        return "partial"

    def _read_record(self, record: CsvRecord) -> LogLine | LineProblem:
        """A joined CSV record read as one line: cut at ``max_line_chars`` and counted."""
        self.n_records_unclosed += not record.closed
        text = record.text()
        self.report.n_truncated += len(text) > self.config.max_line_chars
        return self._read_text(text[: self.config.max_line_chars])

    def _read_wrapped(self, raw: str | bytes) -> LogLine | LineProblem:
        """:meth:`read_line` of a line in ``parser.envelope``: unwrapped whole (``max_line_chars`` cuts the message,
        not the envelope, whose JSON a cut would break), a piece of a split line kept until the piece that ends it
        (``"partial"``), then the message read by the format as a plain line is."""
        report = self.report
        line, binary, escapes = repair_line(raw)
        piece = unwrap(self.envelope, line) if line.strip() else None
        if piece is not None and self.envelope == "docker":  # JSON escapes may hold controls and colour codes
            message, m_binary, m_escapes = repair_line(piece.message)
            binary, escapes = binary or m_binary, escapes or m_escapes
            piece = Piece(message, piece.time, piece.stream, piece.partial)
        report.n_binary += binary
        report.n_escaped += escapes
        if binary:
            self.latin1.note(raw)
        if piece is None:
            self.last_text = line[: self.config.max_line_chars]
            if not line.strip():
                report.n_empty += 1
                return "empty"
            return self._malformed(self.last_text)
        run = self._runs.get(piece.stream)
        if piece.partial:
            if run is None:
                run = self._runs[piece.stream] = _Run(piece.time, piece.stream)
            run.add(piece.message, self.config.max_line_chars, report.n_lines)
            self.last_text = line[: self.config.max_line_chars]
            report.n_pieces += 1
            return "partial"
        if run is None:
            return self._read_message(piece.message, piece.time, piece.stream, line)
        del self._runs[piece.stream]
        run.add(piece.message, self.config.max_line_chars, report.n_lines)
        return self._read_message(run.text(), run.time, run.stream, None)

    def _read_message(self, message: str, time: str, stream: str, line: str | None) -> LogLine | LineProblem:
        """The message of an envelope line (``line``, None for one joined from pieces) read by the format: cut at
        ``max_line_chars`` and counted, the runtime's time where the message has none, the stream a field."""
        report = self.report
        if len(message) > self.config.max_line_chars:
            self.n_joined_cut += line is None  # joined from pieces (a cut whole line gets line None only here)
            message, line = message[: self.config.max_line_chars], None
            report.n_truncated += 1
        # as parsed: a joined or cut message as one whole envelope line of its own, which reads back to the same
        self.last_text = line if line is not None else wrap(self.envelope, message, time, stream)
        if not message.strip():
            report.n_empty += 1
            return "empty"
        self.header.follow_stream(stream)  # a line without a header continues its own stream's last line
        parsed = self.header.parse(message, report.n_lines)
        if parsed is None:
            return self._malformed(message)
        report.n_parsed += 1
        report.n_continued = self.header.n_continued
        timestamp = parsed.timestamp if parsed.timestamp is not None else iso_seconds(time) if time else None
        fields = parsed.fields
        if stream and "stream" not in fields:  # the app's own "stream" key, if any, wins
            fields = {**fields, "stream": stream}
        return LogLine(parsed.line_no, parsed.content, timestamp, fields, parsed.continues)

    def _malformed(self, text: str) -> LineProblem:
        report = self.report
        report.n_malformed += 1
        if len(report.malformed_examples) < MAX_EXAMPLES:
            report.malformed_examples.append(f"{report.n_lines}: {text[:EXAMPLE_CHARS]}")
        return "malformed"

    def finish(self) -> list[LogLine]:
        """The lines whose last piece never came (``parser.envelope``; the input ended first), read as what their
        pieces hold, in the order they began; each counted in ``n_unended``, its last piece as the line (no longer
        in ``n_pieces``). Call once the input has ended: a stream that goes on keeps them open."""
        out: list[LogLine] = []
        if self._record is not None:  # a CSV record whose quote the input ended in
            record, self._record = self._record, None
            self.report.n_pieces -= 1
            self.report.n_unended += 1
            last_line_no = self.report.n_lines
            parsed = self._read_record(record)
            if not isinstance(parsed, str):
                out.append(replace(parsed, line_no=last_line_no))
        runs, self._runs = self._runs, {}
        for run in runs.values():
            self.report.n_pieces -= 1
            self.report.n_unended += 1
            parsed = self._read_message(run.text(), run.time, run.stream, None)
            if not isinstance(parsed, str):
                out.append(replace(parsed, line_no=run.last_line_no))
        return out

    def feed_clean(self, lines: Iterable[str], out: list[LogLine]) -> None:
        """:meth:`feed` for many decoded lines known to hold no newline and no control character
        (a trailing ``\\r`` aside); appends the parsed ones to ``out``. Same counts, same records.

        :func:`read_log` checks a whole block of lines at once and, when it is clean (the common
        case), uses this loop instead of :meth:`feed`: no per-line control check, one call per line.
        """
        report = self.report
        parse = self.header.parse
        max_chars = self.config.max_line_chars
        append = out.append
        examples = report.malformed_examples
        n_lines = report.n_lines
        n_truncated = n_empty = n_malformed = n_parsed = 0
        try:
            for line in lines:
                n_lines += 1
                if line.endswith("\r"):
                    line = line.rstrip("\r")
                if len(line) > max_chars:
                    line = line[:max_chars]
                    n_truncated += 1
                if not line or line.isspace():  # the same test as `not line.strip()`, without a copy
                    n_empty += 1
                    continue
                parsed = parse(line, n_lines)
                if parsed is None:
                    n_malformed += 1
                    if len(examples) < MAX_EXAMPLES:
                        examples.append(f"{n_lines}: {line[:EXAMPLE_CHARS]}")
                    continue
                n_parsed += 1
                append(parsed)
        finally:
            report.n_lines = n_lines
            report.n_truncated += n_truncated
            report.n_empty += n_empty
            report.n_malformed += n_malformed
            report.n_parsed += n_parsed
            report.n_continued = self.header.n_continued

    def feed_clean_contents(self, lines: Iterable[str], out: list[str]) -> None:
        """:meth:`feed_clean` that keeps only the content of each parsed line (appended to ``out``):
        no header fields, no time, no ``LogLine``. Same counts; each content equals the one
        :meth:`feed_clean` would give (:meth:`HeaderParser.content_matcher`)."""
        report = self.report
        content_of = self.header.content_matcher()
        max_chars = self.config.max_line_chars
        append = out.append
        examples = report.malformed_examples
        n_lines = report.n_lines
        n_truncated = n_empty = n_malformed = n_parsed = 0
        try:
            for line in lines:
                n_lines += 1
                if line.endswith("\r"):
                    line = line.rstrip("\r")
                if len(line) > max_chars:
                    line = line[:max_chars]
                    n_truncated += 1
                if not line or line.isspace():
                    n_empty += 1
                    continue
                content = content_of(line)
                if content is None:
                    n_malformed += 1
                    if len(examples) < MAX_EXAMPLES:
                        examples.append(f"{n_lines}: {line[:EXAMPLE_CHARS]}")
                    continue
                n_parsed += 1
                append(content)
        finally:
            report.n_lines = n_lines
            report.n_truncated += n_truncated
            report.n_empty += n_empty
            report.n_malformed += n_malformed
            report.n_parsed += n_parsed
            report.n_continued = self.header.n_continued


def open_pieces(lines: Sequence[str | bytes], config: ParserConfig) -> list[str]:
    """The pieces (``parser.envelope``) at the end of ``lines`` whose split line has not ended yet, as read (repaired):
    what a :class:`LineReader` that reads them first, then the lines that follow, joins as one that read them all
    does. The streaming engine keeps them per source between ingest calls, as it keeps a continuation's head: a line
    split across two calls reads as offline. Bounded as :class:`_Run` is: once a run's message is longer than
    ``max_line_chars``, its later pieces are left out (the joined line is cut there anyway).

    >>> cfg = ParserConfig(envelope="cri")
    >>> open_pieces(["2026-12-02T04:00:00Z stdout P a", "2026-12-02T04:00:00Z stderr F b",
    ...              "2026-12-02T04:00:01Z stdout P c"], cfg)
    ['2026-12-02T04:00:00Z stdout P a', '2026-12-02T04:00:01Z stdout P c']
    """
    envelope, cap = config.envelope, config.max_line_chars
    if not joins_lines(config):
        return []
    if joins_csv_records(config):
        return _open_record(lines, cap)
    runs: dict[str, tuple[list[str], list[int]]] = {}
    for raw in lines:
        text = repair_line(raw)[0]
        piece = _unwrapped(envelope, text) if envelope != "none" and text.strip() else None
        if piece is None:
            continue
        if not piece.partial:
            runs.pop(piece.stream, None)
            continue
        kept, length = runs.setdefault(piece.stream, ([], [0]))
        if length[0] <= cap:
            kept.append(text)
            length[0] += len(piece.message)
    return [text for kept, _ in runs.values() for text in kept]


def _open_record(lines: Sequence[str | bytes], cap: int) -> list[str]:
    """:func:`open_pieces` of CSV records: the physical lines of the record whose quote is still open at the end of
    ``lines`` (as read), by :class:`LineReader`'s rule (:class:`~logbert.parsing.headers.CsvRecord`).

    >>> _open_record(['"1","done"', '"2","two', '', 'lines"', '"3","open'], 100)
    ['"3","open']
    """
    record: CsvRecord | None = None
    for raw in lines:
        text = repair_line(raw)[0]
        if record is not None:
            if record.add(text, cap):
                record = None
        elif opens_csv_record(text):
            record = CsvRecord(text)
    return list(record.lines) if record is not None else []


def _unwrapped(envelope: EnvelopeName, line: str) -> Piece | None:
    """:func:`~logbert.parsing.envelope.unwrap`, a docker message repaired as the reader repairs it (JSON escapes
    may hold control characters and colour codes; :meth:`LineReader._read_wrapped` also counts them)."""
    piece = unwrap(envelope, line)
    if piece is None or envelope != "docker":
        return piece
    return replace(piece, message=repair_line(piece.message)[0])


def accepted_content_reader(config: ParserConfig) -> Callable[[str], str | None]:
    """What :meth:`HeaderParser.accepted_content` is for a line as the reader kept it (``LineReader.last_text``,
    ``ParsedLine.raw``): with ``parser.envelope``, that line unwrapped first (a joined line is kept whole, as one
    envelope line of its own)."""
    header = HeaderParser.for_config(config)
    envelope = config.envelope
    if envelope == "none":
        return header.accepted_content

    def content(line: str) -> str | None:
        piece = _unwrapped(envelope, line)
        return None if piece is None else header.accepted_content(piece.message[: config.max_line_chars])

    return content


def _file_blocks(path: Path) -> Iterator[bytes]:
    """The file in blocks of whole lines (about ``BLOCK_BYTES`` each), so that a large file is
    never held in memory whole; the last block holds the line without a final newline, if any
    (an empty file is one empty block: one blank line, as when it is read whole). A gzip, bzip2 or xz
    file is decompressed as it is read (:func:`logbert.parsing.files.open_log`).

    Raises:
        InputDataError: a zstd file, or compressed data that is damaged (cut short, corrupt).
    """
    with open_log(path) as fh:
        tail = b""
        n_bytes = 0
        while chunk := read_bytes(fh, path, BLOCK_BYTES):
            n_bytes += len(chunk)
            buf = tail + chunk if tail else chunk
            cut = buf.rfind(b"\n") + 1
            if cut:
                yield buf[:cut]
                tail = buf[cut:]
            else:
                tail = buf
        if tail or not n_bytes:
            yield tail


def raw_lines_at(path: str | Path, line_nos: Collection[int], max_line_chars: int) -> dict[int, str]:
    """The raw text of the given lines of a log file (1-based, every line counted as :class:`LogStream` counts
    them), as :meth:`LineReader.read_line` keeps it (``last_text``: repaired, truncated, no line ending): what an
    explanation quotes. Reads up to the last line asked for, one block at a time.

    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
    ...     _ = f.write("first\\n\\nthird line\\n")
    >>> raw_lines_at(f.name, {3, 1, 9}, 5); os.unlink(f.name)
    {1: 'first', 3: 'third'}
    """
    wanted = set(line_nos)
    found: dict[int, str] = {}
    if not wanted:
        return found
    last, n = max(wanted), 0
    for block in _file_blocks(Path(path)):
        lines, _ = _block_lines(block)
        for raw in lines:
            n += 1
            if n in wanted:
                found[n] = line_text(raw, max_line_chars)[0]
            if n >= last:
                return found
    return found


def _split_lines(block: str) -> list[str]:
    lines = block.split("\n")
    if block.endswith("\n"):
        lines.pop()
    return lines


def _is_clean(block: bytes) -> bool:
    """True when no line of the block holds a control character once its trailing ``\\r``s are
    stripped (what :meth:`LineReader.feed` checks per line). Control characters are ASCII, and
    UTF-8 never uses an ASCII byte inside a multi-byte character, so the bytes tell."""
    if len(block.translate(None, _CONTROL_BYTES_BUT_CR)) != len(block):
        return False
    return b"\r" not in block or _CR_INSIDE_LINE.search(block) is None


def _block_lines(block: bytes) -> tuple[Sequence[str | bytes], bool]:
    """The lines of a block of whole lines, and whether the block is clean.

    A clean block of valid UTF-8 (the common case) is decoded once and its lines go through the
    fast loops (:meth:`LineReader.feed_clean`, :meth:`LineReader.feed_clean_contents`). Otherwise
    every line goes through :meth:`LineReader.feed` (as bytes when the block is not valid UTF-8),
    so that each bad line is found and counted. A block decodes if and only if each of its lines
    does: UTF-8 never uses the byte ``\\n`` inside a character.
    """
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        raw_lines = block.split(b"\n")
        if block.endswith(b"\n"):
            raw_lines.pop()
        return raw_lines, False
    return _split_lines(text), _is_clean(block)


def _chunks(source: Iterable[str | bytes], size: int) -> Iterator[list[str | bytes]]:
    chunk: list[str | bytes] = []
    for raw in source:
        chunk.append(raw)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class LogStream:
    """One pass over a log, block by block, with the counts of a :class:`ReadReport`.

    Iterate :meth:`lines` (blocks of ``LogLine``) or :meth:`contents` (blocks of contents only,
    what template mining needs), once. A file is read in blocks of about ``BLOCK_BYTES``, an
    iterable of lines in blocks of ``ITER_BLOCK_LINES``; only one block is held at a time. The
    records, their order and the report are those of :func:`read_log` on the same source. When
    the iteration ends, the report's warnings are set (judged on the first ``WARNING_SAMPLE``
    parsed lines) and :class:`~logbert.errors.InputDataError` is raised if no line parsed.

    Args:
        source: a path (``str`` or ``Path``), or lines as ``str``/``bytes`` (newlines optional).
        config: the header format and ``max_line_chars``.

    Raises:
        InputDataError: (at once) the path is missing, a directory or empty (:func:`~logbert.files.require_text`).

    Example:
        >>> stream = LogStream(["INFO c [r] a 1", "junk", "INFO c [r] b 2"], ParserConfig(format="openstack_devstack"))
        >>> [block for block in stream.contents()], stream.report.n_malformed
        ([['a 1', 'b 2']], 1)
    """

    def __init__(self, source: str | Path | Iterable[str | bytes], config: ParserConfig) -> None:
        self.config = config
        self.reader = LineReader(config)
        self._path: Path | None = None
        self._source: Iterable[str | bytes] = ()
        if isinstance(source, str | Path):
            path = input_file(Path(source), "log file")
            require_text(path, "log file")  # said so, not as "no parsable line ... 1 lines, 1 blank"
            self._path = path
        else:
            self._source = source
        self._used = False
        self._sample: list[LogLine] = []  # the first WARNING_SAMPLE parsed lines
        self._sample_texts: list[str] = []  # their lines as read (what a suggested format is checked on)
        self._all_fields = len(self.reader.header.field_names)
        self._fields: dict[str, None] = {}
        self._n_first_fields: int | None = None

    @property
    def report(self) -> ReadReport:
        """The counts so far; final (warnings included) once the iteration has ended."""
        return self.reader.report

    @property
    def field_names(self) -> tuple[str, ...]:
        """Header field names of the parsed lines so far, in order of first appearance (a line
        whose format leaves an optional field out has fewer), e.g. for the columns of a table."""
        return tuple(self._fields)

    @property
    def n_first_fields(self) -> int:
        """How many header fields the first parsed line has (0 before it)."""
        return self._n_first_fields or 0

    @property
    def sample(self) -> tuple[LogLine, ...]:
        """The first parsed lines (up to ``WARNING_SAMPLE``), whole: what the format warnings are judged on."""
        return tuple(self._sample)

    def lines(self) -> Iterator[list[LogLine]]:
        """The parsed lines, one block at a time (blocks may be empty)."""
        for lines, clean in self._blocks():
            out: list[LogLine] = []
            before = self.report.n_lines
            if clean and not self.reader.reads_each_line(cast(list[str], lines)):
                self.reader.feed_clean(cast(list[str], lines), out)
            else:
                self._feed(lines, out)
            self._note(out, lines, before)
            yield out
        if unended := self.reader.finish():  # a split line whose last piece never came: as its pieces hold it
            yield unended
        self._finish()

    def contents(self) -> Iterator[list[str]]:
        """The content of each parsed line, one block at a time (blocks may be empty).

        Only the lines that judge the format (the first ``WARNING_SAMPLE`` parsed ones, and all
        of them until every header field of the format has been seen, see :attr:`field_names`)
        and the lines of a block that is not clean text become ``LogLine`` records; the others
        are matched and counted, and only their content is kept.
        """
        reader = self.reader
        for lines, clean in self._blocks():
            out: list[str] = []
            if not clean or reader.reads_each_line(cast(list[str], lines)):  # envelope lines, CSV records with breaks
                parsed: list[LogLine] = []
                before = reader.report.n_lines
                self._feed(lines, parsed)
                self._note(parsed, lines, before)
                out.extend([ln.content for ln in parsed])
            else:
                text = cast(list[str], lines)
                start = 0
                while start < len(text) and self._judging():
                    stop = start + max(WARNING_SAMPLE - len(self._sample), ITER_BLOCK_LINES)
                    parsed = []
                    before = reader.report.n_lines
                    reader.feed_clean(text[start:stop], parsed)
                    self._note(parsed, text[start:stop], before)
                    out.extend([ln.content for ln in parsed])
                    start = stop
                if start < len(text):
                    reader.feed_clean_contents(text[start:] if start else text, out)
            yield out
        if unended := reader.finish():
            yield [ln.content for ln in unended]
        self._finish()

    def _blocks(self) -> Iterator[tuple[Sequence[str | bytes], bool]]:
        """Blocks of raw lines, and whether each is clean (then its lines are ``str``, for the fast loops)."""
        if self._used:
            raise RuntimeError("a LogStream is read once")
        self._used = True
        if self._path is not None:
            for block in _file_blocks(self._path):
                yield _block_lines(block)
        else:
            for chunk in _chunks(self._source, ITER_BLOCK_LINES):
                yield chunk, False

    def _feed(self, raw_lines: Iterable[str | bytes], out: list[LogLine]) -> None:
        feed = self.reader.feed
        for raw in raw_lines:
            parsed = feed(raw)
            if parsed is not None:
                out.append(parsed)

    def _judging(self) -> bool:
        """Whether the lines read next still judge the format (warnings, field names)."""
        return len(self._sample) < WARNING_SAMPLE or len(self._fields) < self._all_fields

    def _note(self, parsed: list[LogLine], raw_lines: Sequence[str | bytes], before: int) -> None:
        """Keep what judges the format from ``parsed``, the lines parsed of ``raw_lines``, which follow the first
        ``before`` lines of the input."""
        if not parsed or not self._judging():
            return
        if len(self._sample) < WARNING_SAMPLE:
            taken = parsed[: WARNING_SAMPLE - len(self._sample)]
            self._sample.extend(taken)
            max_chars, envelope = self.config.max_line_chars, self.reader.envelope
            texts = (line_text(raw_lines[ln.line_no - before - 1], max_chars)[0] for ln in taken)
            if envelope != "none":  # what the format read: the message (a joined line's last piece's)
                texts = ((piece.message if (piece := unwrap(envelope, text)) else text) for text in texts)
            self._sample_texts.extend(texts)
        if self._n_first_fields is None:
            self._n_first_fields = len(parsed[0].fields)
        fields = self._fields
        for line in parsed:
            if len(fields) == self._all_fields:
                break
            for name in line.fields:
                fields.setdefault(name)

    def _finish(self) -> None:
        report = self.reader.report
        header = self.reader.header
        report.warnings = format_warnings(self._sample, self._sample_texts, header)
        if wrapped := envelope_hint(self._sample_texts, self.config):  # the one suggestion: the rest follows from it
            report.warnings = [wrapped]
        cr_hint = ""
        # binary lines that are latin-1 / cp1252 text: the file is text, in another encoding, and its format warnings
        # stand; said instead of "not a text log" (a log of French names, most lines with an accent)
        encoded = self.reader.latin1.hint(str(self._path) if self._path is not None else "FILE")
        # more than lines ended by CR alone explain (their CRs are U+FFFD)
        not_text = binary_hint(report) if self.reader.n_cr_ends < report.n_binary and not encoded else ""
        if not_text:
            report.warnings = [not_text]
        elif cr_hint := carriage_return_hint(self.reader.n_cr_ends, report.n_lines, report.n_redrawn):
            report.warnings.append(cr_hint)
        if encoded:
            report.warnings.append(encoded)
        if self.config.log_format is not None:  # a custom header: are the generic masks the right ones?
            report.warnings += family_hint(self._sample, self.config.format)
        report.warnings += continuation_hint(report, self.config)
        if mismatch := format_mismatch_hint(report, self.config):
            report.warnings.append(mismatch)
        if self.reader.n_joined_cut:
            report.warnings.append(
                f"{self.reader.n_joined_cut} lines joined from the container runtime's pieces were cut at "
                f"parser.max_line_chars ({self.config.max_line_chars}): a runtime splits only lines longer than 16 "
                "KiB, so what they end with (a session id, a JSON record's last keys) is lost; --set "
                f"parser.max_line_chars={JOINED_LINE_CHARS} keeps them whole"
            )
        if self.reader.n_records_unclosed:
            report.warnings.append(
                f"{self.reader.n_records_unclosed} CSV records held a quote that did not close within "
                f"{CSV_RECORD_MAX_LINES} lines: each was read as the lines so far (a stray quote in a field?)"
            )
        if report.n_unended and self.reader.joins_records:
            report.warnings.append(
                f"the input ends inside a CSV record's quoted field ({report.n_unended} record): it is read as what "
                "its lines hold"
            )
        elif report.n_unended:
            report.warnings.append(
                f"{report.n_unended} lines split by the container runtime never got their last piece (the input "
                "ends first: a file cut, or a runtime killed mid-line): each is read as what its pieces hold"
            )
        if not report.n_parsed:
            name = str(self._path) if self._path is not None else "<lines>"
            fmt = quoted(str(self.config.log_format or self.config.format))
            if header.reads_records and self.config.log_format is not None:  # the layout is the message's
                fmt = f"'{self.config.format}' with the message layout {quoted(self.config.log_format)}"
            # binary junk says what it is, not two lines of it (~1,100 replacement characters on the screen)
            examples = f": {not_text}" if not_text else f", e.g. {report.malformed_examples[:2]}"
            unread = [e.split(": ", 1)[-1] for e in report.malformed_examples]
            # another format's lines first: the likeliest reason, and a built-in layout's groups need no escaping
            reasons = (
                other_format_hint(unread, self.config), unread_hint(header, unread), no_message_key(header)
            )
            why = "" if not_text else envelope_hint(unread, self.config) or "; ".join(r for r in reasons if r)
            raise InputDataError(
                f"no parsable line in {name} for format {fmt}: {report.n_lines} lines, {report.n_empty} blank, "
                f"{report.n_malformed} malformed" + (f"; {why}" if why else "") + examples
                + (f". {cr_hint}" if cr_hint else "") + (f". {encoded}" if encoded else "")
            )


_ENVELOPE_SHAPES: Final[dict[EnvelopeName, str]] = {
    "cri": "a container runtime's (CRI: containerd, CRI-O, /var/log/pods) '<time> stdout F <message>'",
    "docker": 'Docker json-file\'s {"log": "<message>\\n", "stream": ..., "time": ...}',
}


#: ``parser.max_line_chars`` that keeps a line a container runtime split whole once joined (it splits at 16 KiB, and a
#: long line is most often a request body or a record of a few tens of KiB), suggested with ``parser.envelope``
JOINED_LINE_CHARS: Final = 65_536


def envelope_hint(texts: Sequence[str], config: ParserConfig) -> str:
    """Where ``parser.envelope`` is none and at least half of ``texts`` (lines as read) are a container runtime's
    lines: what to set, with the format of the messages inside where it is plain (logfmt or JSON records, or a
    header :func:`infer_log_format` finds); else ''. It replaces the other format warnings: read whole, such a line
    has the runtime's time, stream and tag before its message, and every hint about that header (a layout
    ``<Datetime> <Stream> <Flag> ...``, JSON keys) would read the app's record as one text and its split lines as
    pieces.

    >>> said = envelope_hint(["2026-12-02T04:00:00.1Z stdout F level=info msg=ok id=7"], ParserConfig())
    >>> said.split("try ")[1].split(" (")[0]
    '--set parser.envelope=cri --set parser.format=logfmt'
    """
    if config.envelope != "none" or not texts:
        return ""
    envelope = next((e for e in _ENVELOPE_SHAPES if looks_wrapped(e, list(texts))), None)
    if envelope is None:
        return ""
    pieces = [piece for text in texts if (piece := unwrap(envelope, text)) is not None]
    messages = [piece.message for piece in pieces]
    setting = f"--set parser.envelope={envelope}"
    if any(piece.partial for piece in pieces) and config.max_line_chars < JOINED_LINE_CHARS:
        # a runtime splits only lines longer than 16 KiB: joined, each would be cut again at the default
        setting += f" --set parser.max_line_chars={JOINED_LINE_CHARS}"
    then = " (the messages are then read by parser.format / parser.log_format as plain lines are"
    if envelope == "docker" and config.format == "json":
        # parser.format=json reads json-file's "log" key already, and the <Json> or header layout hints read the
        # message: the envelope is the better reading only for logfmt records, which no message layout reads
        inner = _message_format(messages)
        if inner != "--set parser.format=logfmt":
            return ""
        setting += f" {inner}"
        then += ")"
    elif config.format in ("raw", None) and config.log_format is None:
        inner = _message_format(messages)
        setting += f" {inner}" if inner else ""
        then += (
            "; add parser.format=logfmt or json if they are records, or a parser.log_format of their own header)"
            if not inner else ")"
        )
    elif config.log_format is not None:
        then += ": parser.log_format is the message's layout, without the runtime's time, stream and tag)"
    else:
        then += ")"
    return (
        f"{len(messages)} of the first {len(texts)} lines are {_ENVELOPE_SHAPES[envelope]} lines: read whole, the "
        "runtime's time and stream become template words, the app's record is one text, and a line the runtime "
        f"split is read as pieces; try {setting}{then}: the runtime's time is each line's where its message has "
        "none, the stream a field (stream=stdout) and split lines are joined"
    )


def _message_format(messages: Sequence[str]) -> str:
    """The setting that reads ``messages`` (an envelope's) where most are records or one header suggests itself:
    ``--set parser.format=logfmt`` / ``json``, ``--set 'parser.log_format=...'``; else ''."""
    half = 0.5 * len(messages)
    records = {"json": HeaderParser(JSON_FORMAT), "logfmt": HeaderParser(LOGFMT_FORMAT)}
    for name, reading in records.items():
        if sum(1 for m in messages if reading.parse(m, 0) is not None) >= half:
            return f"--set parser.format={name}"
    for message in messages[:20]:
        layout = infer_log_format(message)
        if layout is None:
            continue
        reading = HeaderParser(layout)
        if sum(1 for m in messages if reading.parse(m, 0) is not None) >= half:
            return f"--set 'parser.log_format={layout}'"
    return ""


# A line of a multi-line message: a Java stack frame, "... 42 more", "Caused by:", an exception's first line, a Python
# traceback's header and frames.
_CONTINUATION_LIKE = re.compile(
    r"\s+at \S|\s+\.\.\. \d+ (?:more|common frames omitted)|Caused by: |Traceback \(most recent call last\)"
    r"|\s+File \"|[\w$.]+(?:Exception|Error)(?::|$)"
)


def format_mismatch_hint(report: ReadReport, config: ParserConfig) -> str:
    """'2347 of 2697 lines do not match the format 'syslog': they look like syslog_iso lines ...: try --set ...' where
    more lines are malformed than parsed and the malformed ones (the examples the report keeps) are another format's
    (:func:`~logbert.parsing.headers.other_format_hint`); else ''. Where no line was parsed, the error says it.
    ``logbert.pipeline.corpus`` says it before a missing session id, which it explains."""
    if not report.n_parsed or report.n_malformed <= report.n_parsed:
        return ""
    other = other_format_hint([example.split(": ", 1)[-1] for example in report.malformed_examples], config)
    if not other:
        return ""
    fmt = quoted(str(config.log_format or config.format))
    return (
        f"{report.n_malformed} of {report.n_lines} lines do not match the format {fmt}, and the {report.n_parsed} it "
        f"read are likely misread (a loose field takes what another format's header holds): {other}"
    )


def continuation_hint(report: ReadReport, config: ParserConfig) -> list[str]:
    """A warning when malformed lines look like the continuation lines of multi-line messages (stack traces) and
    ``parser.continuation`` leaves them out: say how to read them."""
    if config.continuation != "count" or not report.n_malformed:
        return []
    texts = [example.split(": ", 1)[-1] for example in report.malformed_examples]  # "N: line" -> the line
    like = next((text for text in texts if _CONTINUATION_LIKE.match(text)), None)
    if like is None:
        return []
    return [
        f"{report.n_malformed} lines do not match the header format, and some look like the continuation lines of "
        f"multi-line messages (stack traces), e.g. {like[:80]!r}: they are counted and left out. --set "
        "parser.continuation=attach reads each as a line of the message it continues (its time and sessions)"
    ]


def carriage_return_hint(n_cr_ends: int, n_lines: int, n_redrawn: int = 0) -> str:
    """What to say of ``n_cr_ends`` of ``n_lines`` lines that hold lines ended by a carriage return alone, else ''.

    Their pieces look like lines of their own (:func:`redrawn`): the file's lines, or some of them, end in CR alone
    (classic Mac, some Windows tools, a tool's output pasted in), and each such run reads as one long line. Lines
    with a terminal's progress display (``n_redrawn``: pip's bars in a CI log, apt's ``(Reading database ...
    5%\\r... 10%\\r``) are read as the terminal left them and counted, nothing to say of them: when most lines held
    a carriage return this said "CR-only line ends" of a CI log whose 13 % of lines held pip's bars, and its tr
    command then made 4,320 lines malformed (stop 56); where most lines hold a display, ``tr`` is not the advice.

    >>> carriage_return_hint(1, 1)[:40], carriage_return_hint(0, 11400, 1440)
    ('1 of 1 lines hold lines ended by a carri', '')
    """
    if not n_cr_ends:
        return ""
    return (
        f"{n_cr_ends} of {n_lines} lines hold lines ended by a carriage return alone (classic Mac, some Windows "
        "tools): each such run of lines reads as one long line. Convert the file first, e.g. "
        "tr '\\r' '\\n' < in.log > out.log"
        + (f" (its {n_redrawn} lines with a terminal's progress display then split too)" if n_redrawn else "")
    )


def binary_hint(report: ReadReport) -> str:
    """What to say when most lines are not text (a compressed or binary file read as a log), else ''."""
    return not_text_hint(report.n_binary, report.n_lines)


def read_log(source: str | Path | Iterable[str | bytes], config: ParserConfig) -> tuple[list[LogLine], ReadReport]:
    """Read a log file (or any iterable of lines) into parsed lines and a report.

    All the lines are held in one list: to parse a large log block by block, use :class:`LogStream`.

    Args:
        source: a path (``str`` or ``Path``), or lines as ``str``/``bytes`` (newlines optional).
        config: the header format and ``max_line_chars``.

    Returns:
        The parsed lines in input order (``line_no`` is 1-based over all input lines) and the
        report that counts every line that did not become a ``LogLine``.

    Raises:
        InputDataError: the path is missing, a directory or empty, or no line matched the format.
    """
    stream = LogStream(source, config)
    lines: list[LogLine] = []
    if isinstance(source, str | Path):
        with gc_paused():  # many long-lived records, no cycles (see _gc)
            for block in stream.lines():
                lines.extend(block)
    else:  # the caller's iterable may make garbage of its own: no gc pause here
        for block in stream.lines():
            lines.extend(block)
    return lines, stream.report
