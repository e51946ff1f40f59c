"""``logbert tail``: score a growing file (or stdin) with the streaming engine, no server.

A reader thread turns the file into raw lines (bytes: the engine's parser decodes them by the
project's one line rule; following the file like ``tail -f``: waits at EOF, reopens it after
rotation, starts over after truncation) and the calling thread feeds them to a
:class:`StreamEngine` in batches, closing idle sessions as it goes. Alerts are printed as they are
scored. At EOF (without ``follow``), on ``stop`` or on Ctrl-C every line read is scored and every open
session is flushed (``logbert tail`` sets ``stop`` on SIGTERM, so that it ends as Ctrl-C ends it).
"""

from __future__ import annotations

import codecs
import json
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

from logbert.config import LogBertConfig, quoted
from logbert.errors import InputDataError
from logbert.files import EMPTY_STDIN, compression_of, input_file, marked_encoding, not_text_hint, require_text
from logbert.streaming.engine import AlertRecord, Overloaded, StreamEngine, StreamLimits
from logbert.streaming.protocol import Scorer
from logbert.streaming.stats import StreamStats

_EOF = None  # end of input marker on the line queue


@dataclass(frozen=True, slots=True)
class TailOptions:
    follow: bool = True  # keep waiting for new lines at EOF (like tail -f)
    from_end: bool = False  # start at the current end of the file (only new lines are scored)
    poll_interval_s: float = 0.2  # how often a followed file is checked for growth
    batch_lines: int = 1000  # most lines per ingest call
    batch_wait_s: float = 0.1  # how long a partial batch waits for more lines
    json_output: bool = False  # one JSON object per alert instead of text
    status_interval_s: float = 10.0  # how often `on_status` hears how far scoring has got
    misses_shown: int = 3  # text alerts list the first few misses (all of them in JSON)


class AlertPrinter:
    """Alert sink that writes each alert to a text stream (thread-safe)."""

    def __init__(self, out: TextIO, json_output: bool, misses_shown: int = 3) -> None:
        self.out = out
        self.json_output = json_output
        self.misses_shown = misses_shown
        self._lock = threading.Lock()

    def add_alerts(self, alerts: Sequence[AlertRecord]) -> None:
        with self._lock:
            for a in alerts:
                self.out.write(format_alert(a, self.json_output, self.misses_shown))
            self.out.flush()


def format_alert(a: AlertRecord, json_output: bool = False, misses_shown: int | None = None) -> str:
    """One alert as text (a summary line, then the first ``misses_shown`` misses, those of templates never seen in
    training first, then by position) or as one JSON line.

    The window is named as ``score`` names its unit: ``window=t10`` / ``w16`` (``AlertRecord.window``, which the
    engine names; in JSON, ``"window"`` beside ``window_index``) in modes time / sliding, where ``session`` is the
    source; in mode session,
    ``window`` is the window's place in its session (``score``'s ``worst_window``). A time window longer than
    ``max_len`` keys is scored in pieces and alerts once, at its first flagged piece, whose lines it gives."""
    name = a.window
    if json_output:
        row: dict[str, object] = {}
        for field, value in asdict(a).items():
            if field == "window":
                continue
            row[field] = value
            if field == "window_index" and name is not None:
                row["window"] = name
        return json.dumps(row, ensure_ascii=False, default=str) + "\n"
    lines = [
        f"ALERT session={a.session_id} window={a.window_index if name is None else name} score={a.anomaly_score:.4f} "
        # the misses are of the keys and the session's start/end marks (positions that can miss too)
        f"threshold={a.threshold:.4f} missed={a.n_misses}/{a.n_keys + a.n_marks} "
        + (f"marks={a.n_marks} " if a.n_marks else "")
        + f"unknown={a.n_unknown} lines={a.first_line_no}-{a.last_line_no}"
    ]
    lines.extend(f"  surprise: {s}" for s in a.surprises)
    # templates never seen first: they are what set a window's score (an ANR's three unseen lines were behind
    # "... 3 more missed positions", the three shown ordinary ones of the same window)
    ordered = sorted(a.misses, key=lambda m: m.template is not None)
    shown = ordered if misses_shown is None else ordered[:misses_shown]
    if shown and a.n_misses == 0:  # a model of a few keys, every known key in its top-g (Detector._named_positions)
        lines.append("  no key outside the top-g; the keys the model gave less than even odds:")
    for m in shown:
        seen = "<unseen template>" if m.template is None else m.template
        expected = ", ".join(f"{e.template} ({e.probability:.1%})" for e in m.expected)
        lines.append(f"  position {m.position} (line {m.line_no}): seen {seen}")
        if m.raw is not None:
            lines.append(f"    raw: {m.raw}")
        lines.append(f"    expected: {expected}")
    if len(shown) < len(a.misses):
        what = "missed" if a.n_misses else "unlikely"
        lines.append(f"  ... {len(a.misses) - len(shown)} more {what} positions (--json shows every one)")
    return "\n".join(lines) + "\n"


def _read_stream(stream: BinaryIO, out: queue.Queue[bytes | None]) -> None:
    for raw in stream:
        out.put(raw.rstrip(b"\r\n"))
    out.put(_EOF)


#: bytes just before tail's place in a followed file that it checks are still there after each wait
SEEN_BYTES = 64


def _follow_file(path: Path, opts: TailOptions, out: queue.Queue[bytes | None], stop: threading.Event) -> None:
    f = path.open("rb")
    try:
        if opts.from_end:
            f.seek(0, os.SEEK_END)
        inode = os.fstat(f.fileno()).st_ino
        partial = b""
        # the last bytes read, which end at tail's place: a copytruncate rotation whose writer refilled the file past
        # that place before tail looked again leaves the file no shorter, but other bytes there
        seen = _bytes_before(f, f.tell())
        at_start = f.tell() == 0  # the file's first line is read next (again after a rotation or truncation)
        while not stop.is_set():
            chunk = f.readline()
            seen = (seen + chunk)[-SEEN_BYTES:]  # as they are in the file, a byte-order mark included
            if at_start and chunk:  # as logbert.files.open_log: a UTF-8 byte-order mark is no text
                chunk, at_start = chunk.removeprefix(codecs.BOM_UTF8), False
            if chunk:
                partial += chunk
                if partial.endswith(b"\n"):
                    out.put(partial.rstrip(b"\r\n"))
                    partial = b""
                continue
            if not opts.follow:
                break
            # At EOF: rotated (new inode) -> reopen; truncated (shorter) -> start over; else wait.
            try:
                st = path.stat()
            except FileNotFoundError:
                st = None
            if st is not None and st.st_ino != inode:
                f.close()
                f = path.open("rb")
                inode = os.fstat(f.fileno()).st_ino
                partial = _flushed(partial, out)  # the old file's unended last line: a line of its own
                seen, at_start = b"", True
                continue
            if st is not None and st.st_size < f.tell():
                f.seek(0)
                partial = _flushed(partial, out)
                seen, at_start = b"", True
                continue
            stop.wait(opts.poll_interval_s)
            if seen and _bytes_before(f, f.tell()) != seen:  # truncated and written again past tail's place
                f.seek(0)
                partial = _flushed(partial, out)
                seen, at_start = b"", True
        if partial:
            out.put(partial.rstrip(b"\r\n"))
    finally:
        f.close()
        out.put(_EOF)


def _bytes_before(f: BinaryIO, offset: int) -> bytes:
    """The ``SEEN_BYTES`` bytes of ``f`` that end at ``offset`` (fewer at its start, or where the file is shorter now),
    read without moving ``f``."""
    start = max(0, offset - SEEN_BYTES)
    return os.pread(f.fileno(), offset - start, start)


def _flushed(partial: bytes, out: queue.Queue[bytes | None]) -> bytes:
    """A line the file ended without ending (rotated or truncated away under tail) is put out as a line of its own,
    to be read and counted, not glued onto the first line of what comes next; returns the empty rest."""
    if partial:
        out.put(partial.rstrip(b"\r\n"))
    return b""


#: the command that writes a compressed file's text to standard output, by :func:`~logbert.files.compression_of`'s name
_CAT = {"gzip": "zcat", "bzip2": "bzcat", "xz": "xzcat"}


def followable(path: Path) -> Path:
    """``path``, when tail can follow it: a plain UTF-8 file. ``logbert tail`` checks it before the artifact loads
    and anything is printed; :func:`run_tail` again.

    Raises:
        InputDataError: nothing is there (:func:`~logbert.files.input_file`), a directory, no regular file (a pipe:
            give ``-``), a compressed file, or UTF-16 / UTF-32 text.
    """
    input_file(path, "log file")
    if not path.is_file():  # a FIFO or a device: its size says nothing of truncation
        raise InputDataError(f"{path} is not a regular file: give - to read a pipe from standard input")
    # told as logbert.files tells it, by the first bytes: a compressed file was followed as binary lines, every one
    # rejected, and tail ended "successfully" having scored nothing (a rotated log is not written to any more)
    compression = compression_of(path)
    if compression is not None:
        raise InputDataError(
            f"{path} is {compression}-compressed: tail follows plain text files; use logbert score for compressed "
            f"logs (or decompress it to standard input: {_CAT[compression]} FILE | logbert tail ARTIFACT -)"
        )
    with path.open("rb") as head:
        if marked_encoding(head.read(4)) is not None:
            raise InputDataError(
                f"{path} is UTF-16 (or UTF-32) text: tail follows UTF-8 files; score and train read it as it is, "
                "or convert it with iconv -f UTF-16 -t UTF-8"
            )
    return path


def run_tail(
    detector: Scorer,
    source: str,
    limits: StreamLimits,
    opts: TailOptions,
    out: TextIO,
    stop: threading.Event | None = None,
    stdin: BinaryIO | None = None,
    on_status: Callable[[StreamStats], None] | None = None,
    ended: threading.Event | None = None,
) -> StreamStats:
    """Score ``source`` (a path, or ``-`` for stdin) until EOF or ``stop``; returns final stats.

    Lines follow the same rule as everywhere (the artifact parser's): blank and malformed lines are
    counted as rejected (``rejected_empty``, ``rejected_malformed``), binary and over-long lines are
    repaired, counted and scored. ``ended`` is set when the input came to its end: standard input's, or
    a file's that is not followed (not when ``stop`` ended tail, nor ever for a followed file).

    Raises:
        InputDataError: the path cannot be followed (:func:`followable`).
    """
    stop = stop or threading.Event()
    lines: queue.Queue[bytes | None] = queue.Queue(maxsize=100_000)
    if source == "-":
        reader = threading.Thread(target=_read_stream, args=(stdin or sys.stdin.buffer, lines), daemon=True)
        name = "stdin"
    else:
        path = followable(Path(source))
        reader = threading.Thread(target=_follow_file, args=(path, opts, lines, stop), daemon=True)
        name = path.name
    printer = AlertPrinter(out, opts.json_output, opts.misses_shown)
    engine = StreamEngine(detector, limits, alert_sink=printer)
    reader.start()
    next_status = time.monotonic() + opts.status_interval_s
    done = False  # the reader met the input's end
    ends = source == "-" or not opts.follow  # its end is the input's end (a followed file's is not)
    try:
        while not done and not stop.is_set():
            batch: list[bytes] = []
            deadline = time.monotonic() + opts.batch_wait_s
            while len(batch) < opts.batch_lines:
                try:
                    item = lines.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is _EOF:
                    done = True
                    if ended is not None and ends:
                        ended.set()
                    break
                batch.append(item)
            if batch:
                _ingest_waiting(engine, batch, name)
            engine.expire_idle()
            if on_status is not None and time.monotonic() >= next_status:
                on_status(engine.stats())
                next_status = time.monotonic() + opts.status_interval_s
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        read = _taken(lines)  # read, but not yet given to the engine when tail was stopped
        for i in range(0, len(read), opts.batch_lines):
            _ingest_waiting(engine, read[i : i + opts.batch_lines], name)
        if done and ends:  # the input ended: a split line's open pieces, as score reads
            engine.end_source(name)
        engine.shutdown(timeout=None)  # every line read is scored before tail returns
    return engine.stats()


def _taken(lines: queue.Queue[bytes | None]) -> list[bytes]:
    """The lines waiting on the queue now, without waiting for more (a reader of stdin may never end)."""
    out: list[bytes] = []
    while True:
        try:
            item = lines.get_nowait()
        except queue.Empty:
            return out
        if item is _EOF:
            return out
        out.append(item)


def nothing_accepted(stats: StreamStats, config: LogBertConfig) -> str | None:
    """Why no line was taken when lines were read that were not blank, or None: every line malformed (the log is
    not in the artifact's format) or without a session id (the artifact's session pattern matched nothing), where
    ``score`` stops with an error and tail printed its counts and ended as if all were well. A file that is empty,
    or blank, is not said here: a followed file that nothing has been written to yet is waited on."""
    if stats.lines_accepted or stats.lines_received == stats.rejected_empty:
        return None
    n = stats.lines_received - stats.rejected_empty
    if not_text := not_text_hint(stats.lines_binary, n):  # score's words: a compressed stream piped in, say
        return f"no line was scored: {not_text}"
    parts = []
    if stats.rejected_malformed:
        fmt = config.parser.log_format or config.parser.format or "raw"  # None reads as raw
        parts.append(
            f"{stats.rejected_malformed} do not match the artifact's log format ({quoted(fmt)}): the log is not of the "
            "kind the artifact was trained on"
        )
    if stats.lines_unrouted:
        window = config.window
        rule = (
            f"window.session_pattern {quoted(window.session_pattern)}" if window.session_pattern
            else f"window.session_id {window.session_id!r}"
        )
        parts.append(
            f"{stats.lines_unrouted} name no session id: the artifact's session rule ({rule}) matched none of them; "
            "this log names its sessions otherwise than the training log did"
        )
    return f"no line was scored: of the {n} lines that are not blank, " + "; ".join(parts)


def nothing_read(stats: StreamStats, source: str) -> str | None:
    """Why an input that came to its end (``run_tail``'s ``ended``) is an error, or None: it gave no line but blank
    ones, where ``score`` stops with "input file is empty" (the one rule of an empty file,
    :func:`~logbert.files.require_text`, says it of a file). A followed file is waited on, not asked this."""
    if stats.lines_received != stats.rejected_empty:
        return None
    if source == "-":
        return EMPTY_STDIN
    try:
        require_text(Path(source), "log file")
    except InputDataError as exc:
        return str(exc)
    return None  # written to since tail read it, or read from its end (--from-end): not empty


def _ingest_waiting(engine: StreamEngine, batch: list[bytes], source: str) -> None:
    """Back-pressure: while the scoring queue is full, wait for the scorer instead of failing."""
    while True:
        try:
            engine.ingest(batch, source=source)
            return
        except Overloaded:
            engine.drain(1.0)
