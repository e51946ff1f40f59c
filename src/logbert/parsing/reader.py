"""Read raw log lines into :class:`~logbert.records.LogLine` records, counting every bad line.

Nothing is dropped silently: a line that is not valid UTF-8 (or holds control bytes) is decoded
with replacement characters and counted as binary; a line longer than
``ParserConfig.max_line_chars`` is truncated and counted; blank lines and lines whose header does
not match the format (e.g. traceback continuation lines) are counted, and the first few
malformed ones are kept as examples in the :class:`~logbert.records.ReadReport`.

:class:`LineReader` is the incremental form (one line at a time, counts kept), used by
:func:`read_log` and by the streaming service.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Final

from logbert.config import ParserConfig
from logbert.errors import InputDataError
from logbert.parsing._gc import gc_paused
from logbert.parsing.headers import HeaderParser, family_hint, format_warnings, resolve_log_format
from logbert.records import LineProblem, LogLine, ReadReport

#: How many malformed lines a report keeps as examples, and how much of each.
MAX_EXAMPLES: Final[int] = 5
EXAMPLE_CHARS: Final[int] = 200

#: Files are read in blocks of about this many bytes (whole lines each).
BLOCK_BYTES: Final[int] = 1 << 22

# C0 controls except tab (a line break inside a line included), DEL and lone surrogates: text logs
# do not contain them, binary junk does.
_NOT_TEXT = re.compile("[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")
# The same test on a block of raw lines, done on bytes (see _is_clean): the control bytes but
# "\r", then a "\r" that does not end its line. ``feed`` strips the "\r"s that end a line (a run
# of them before "\n" or the end) before it checks.
_CONTROL_BYTES_BUT_CR = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_CR_INSIDE_LINE = re.compile(rb"\r+[^\r\n]")


def repair_line(raw: str | bytes) -> tuple[str, bool]:
    """A raw line as text without its line ending, and whether it had to be repaired (binary).

    Bytes that are not UTF-8, control characters (a line break inside the line included) and
    lone surrogates (a ``str`` that is not Unicode text: JSON ``"\\udcff"`` escapes, bytes decoded
    with ``surrogateescape``) become U+FFFD.

    >>> repair_line(b"ok\\xff\\r\\n"), repair_line("a\\x00b"), repair_line("plain")
    (('ok\ufffd', True), ('a\ufffdb', True), ('plain', False))
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
    if _NOT_TEXT.search(line):
        line = _NOT_TEXT.sub("\ufffd", line)
        binary = True
    return line, binary


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
        self.header = HeaderParser(resolve_log_format(config.format, config.log_format))
        self.report = ReadReport()
        self.last_text = ""  # the last line read by read_line, as parsed: repaired, truncated, no line ending

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
        line, binary = repair_line(raw)
        report.n_binary += binary
        if len(line) > self.config.max_line_chars:
            line = line[: self.config.max_line_chars]
            report.n_truncated += 1
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
        return parsed

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


def _file_blocks(path: Path) -> Iterator[bytes]:
    """The file in blocks of whole lines (about ``BLOCK_BYTES`` each), so that a large file is
    never held in memory whole; the last block holds the line without a final newline, if any
    (an empty file is one empty block: one blank line, as when it is read whole)."""
    with path.open("rb") as fh:
        tail = b""
        n_bytes = 0
        while chunk := fh.read(BLOCK_BYTES):
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


def _read_block(reader: LineReader, block: bytes, out: list[LogLine]) -> None:
    """Parse one block of whole lines into ``out``.

    A clean block of valid UTF-8 (the common case) is decoded once and header-parsed by
    :meth:`LineReader.feed_clean`. Otherwise every line goes through :meth:`LineReader.feed`
    (as bytes when the block is not valid UTF-8), so that each bad line is found and counted.
    A block decodes if and only if each of its lines does: UTF-8 never uses the byte ``\\n``
    inside a character.
    """
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        raw_lines = block.split(b"\n")
        if block.endswith(b"\n"):
            raw_lines.pop()
        lines: list[str] | list[bytes] = raw_lines
    else:
        if _is_clean(block):
            reader.feed_clean(_split_lines(text), out)
            return
        lines = _split_lines(text)
    feed = reader.feed
    for line in lines:
        parsed = feed(line)
        if parsed is not None:
            out.append(parsed)


def read_log(source: str | Path | Iterable[str | bytes], config: ParserConfig) -> tuple[list[LogLine], ReadReport]:
    """Read a log file (or any iterable of lines) into parsed lines and a report.

    Args:
        source: a path (``str`` or ``Path``), or lines as ``str``/``bytes`` (newlines optional).
        config: the header format and ``max_line_chars``.

    Returns:
        The parsed lines in input order (``line_no`` is 1-based over all input lines) and the
        report that counts every line that did not become a ``LogLine``.

    Raises:
        InputDataError: the path is missing or a directory, or no line matched the format.
    """
    reader = LineReader(config)
    lines: list[LogLine] = []
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.exists():
            raise InputDataError(f"log file not found: {path}")
        if path.is_dir():
            raise InputDataError(f"expected a log file, got a directory: {path}")
        name = str(path)
        with gc_paused():
            for block in _file_blocks(path):
                _read_block(reader, block, lines)
    else:
        name = "<lines>"
        append = lines.append
        feed = reader.feed
        for raw in source:  # the caller's iterable may make garbage of its own: no gc pause here
            parsed = feed(raw)
            if parsed is not None:
                append(parsed)
    report = reader.report
    report.warnings = format_warnings(lines, reader.header)
    if config.log_format is not None:  # a custom header: are the generic masks the right ones?
        report.warnings += family_hint(lines, config.format)
    if not lines:
        fmt = config.log_format or config.format
        raise InputDataError(
            f"no parsable line in {name} for format {fmt!r}: {report.n_lines} lines, {report.n_empty} blank, "
            f"{report.n_malformed} malformed, e.g. {report.malformed_examples[:2]}"
        )
    return lines, report
