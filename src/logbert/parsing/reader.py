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
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from logbert.config import ParserConfig
from logbert.errors import InputDataError
from logbert.parsing.headers import HeaderParser, resolve_log_format
from logbert.records import LogLine, ReadReport

#: How many malformed lines a report keeps as examples, and how much of each.
MAX_EXAMPLES: Final[int] = 5
EXAMPLE_CHARS: Final[int] = 200

# C0 controls except tab, plus DEL: text logs do not contain them, binary junk does.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


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

    def feed(self, raw: str | bytes) -> LogLine | None:
        """Count and parse one line; None for a blank or malformed line. Never raises on content."""
        report = self.report
        report.n_lines += 1
        if isinstance(raw, bytes):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                line = raw.decode("utf-8", errors="replace")
                report.n_binary += 1
                line = _CONTROL.sub("\ufffd", line)
            else:
                if _CONTROL.search(line.rstrip("\r\n")):
                    report.n_binary += 1
                    line = _CONTROL.sub("\ufffd", line.rstrip("\r\n"))
        else:
            line = raw
            if _CONTROL.search(line.rstrip("\r\n")):
                report.n_binary += 1
                line = _CONTROL.sub("\ufffd", line.rstrip("\r\n"))
        line = line.rstrip("\r\n")
        if len(line) > self.config.max_line_chars:
            line = line[: self.config.max_line_chars]
            report.n_truncated += 1
        if not line.strip():
            report.n_empty += 1
            return None
        parsed = self.header.parse(line, report.n_lines)
        if parsed is None:
            report.n_malformed += 1
            if len(report.malformed_examples) < MAX_EXAMPLES:
                report.malformed_examples.append(f"{report.n_lines}: {line[:EXAMPLE_CHARS]}")
            return None
        report.n_parsed += 1
        return parsed


def _file_lines(path: Path) -> Iterable[str | bytes]:
    """Lines of a file: one decode for the whole file when it is clean UTF-8 text (the common
    case, much faster), else bytes per line so that each bad line is found and counted."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data.split(b"\n")[: -1 if data.endswith(b"\n") else None]
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    return lines


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
    append = lines.append
    feed = reader.feed
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.exists():
            raise InputDataError(f"log file not found: {path}")
        if path.is_dir():
            raise InputDataError(f"expected a log file, got a directory: {path}")
        name = str(path)
        for raw in _file_lines(path):
            parsed = feed(raw)
            if parsed is not None:
                append(parsed)
    else:
        name = "<lines>"
        for raw in source:
            parsed = feed(raw)
            if parsed is not None:
                append(parsed)
    report = reader.report
    if not lines:
        fmt = config.log_format or config.format
        raise InputDataError(
            f"no parsable line in {name} for format {fmt!r}: {report.n_lines} lines, {report.n_empty} blank, "
            f"{report.n_malformed} malformed, e.g. {report.malformed_examples[:2]}"
        )
    return lines, report
