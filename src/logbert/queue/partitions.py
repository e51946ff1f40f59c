r"""Which partition a line goes to, and how a batch of lines travels as one queue message.

Lines are partitioned by session: a stable hash of each session id the artifact's session rule
finds in the line (``window.session_pattern`` / ``window.session_id``), modulo the partition count.
All lines of one VM (one HDFS block) therefore land on one partition, in the order they were
shipped, and so reach one replica in order. A line that names sessions of several partitions
(an HDFS line naming two blocks) is put on each of them; the replica that owns a partition keeps
only the session ids of that partition (:class:`PartitionScorer`), so each session sees the line
once. A line that names no session (and every line in the window modes ``sliding`` and ``time``,
which have no session) goes to the partition of its *source* name. The rule runs on the raw line, not
on the parsed one: a pattern that names a header field (``request_id=(\S+)``, the form the parsed
line offers, ``logbert.parsing.headers.line_text_for_sessions``) finds nothing in a raw JSON line, so
such a stream goes by source, whole to one partition: correct, without the spread. A pattern on the
id's own shape (``req-[0-9a-f-]+``) spreads it.

The hash is CRC-32 of the UTF-8 id: the same on every machine and Python version (Python's
``hash`` is salted per process, so it must not be used here).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from logbert.config import EnvelopeName, ParserConfig
from logbert.parsing.envelope import unwrap
from logbert.parsing.headers import HeaderParser, line_text_for_sessions

#: message headers (the payload is the lines joined by "\n")
H_SOURCE = "logbert-source"  # the stream the lines come from (line numbering)
H_LINES = "logbert-lines"  # how many lines the payload holds (a check)
H_CONTROL = "logbert-control"  # "close-all" or "close" (payload: session ids, one a line)
H_REASON = "logbert-reason"  # why a "close" was asked for ("idle")
CONTROL_CLOSE_ALL = "close-all"
CONTROL_CLOSE = "close"

DEFAULT_STREAM = "LOGBERT"
DEFAULT_SUBJECT_PREFIX = "logbert.lines"
DEFAULT_PARTITIONS = 12


def partition_of(key: str, n_partitions: int) -> int:
    """The partition of a session id (or a source name): stable across processes and machines."""
    return zlib.crc32(key.encode("utf-8", "surrogateescape")) % n_partitions


def subject(prefix: str, partition: int) -> str:
    """The subject (Kafka: the partition of the topic) of one partition, e.g. ``logbert.lines.3``."""
    return f"{prefix}.{partition}"


@dataclass(slots=True)
class Partitioner:
    """Finds the partitions of raw lines by the artifact's session rule (None: by source only).

    ``follow_previous`` (an artifact with ``parser.continuation = "attach"``): a line naming no session goes where
    the line before it went, so that a stack trace's lines reach the replica of the session whose line they
    continue, right after it (one source's lines, in order)."""

    n_partitions: int
    pattern: re.Pattern[str] | None
    follow_previous: bool = False
    _previous: tuple[int, ...] | None = None

    def partitions(self, line: str, source: str) -> tuple[tuple[int, ...], int]:
        """The partitions ``line`` goes to, and how many session ids it names."""
        ids: dict[str, None] = {}
        if self.pattern is not None:
            for match in self.pattern.finditer(line):
                sid = match.group(1) if self.pattern.groups else match.group(0)
                if sid:
                    ids.setdefault(sid, None)
        if not ids:
            if self.follow_previous and self._previous is not None:
                return self._previous, 0
            targets: tuple[int, ...] = (partition_of(source, self.n_partitions),)
        else:
            targets = tuple(dict.fromkeys(partition_of(s, self.n_partitions) for s in ids))
        self._previous = targets
        return targets, len(ids)


#: pieces of one split line a producer holds back at most (CRI's are 16 KiB each): a run that never ends is then
#: routed by what it holds so far
MAX_HELD_PIECES = 256


def routed_together(lines: Iterable[tuple[bytes, str]], envelope: EnvelopeName) -> Iterator[tuple[list[bytes], str]]:
    """``(raw line, its text)`` pairs as the groups a producer routes together, each with the text its partition is
    found in (:meth:`Partitioner.partitions`).

    Without an envelope, every line alone, by its own text. With ``parser.envelope`` (a container runtime's lines),
    the app's message, unwrapped: in a docker line the message is JSON-escaped (``request_id=req-7\\n",...``),
    and a session regex read the escapes into the id; and the pieces of a line the runtime split are held back and
    go with the piece that ends it, by the joined message, since the replica joins them (a piece that does not hold
    the id went elsewhere). A line not in the envelope's shape goes alone, by its text.

    >>> cri = ["2026-12-02T04:00Z stdout P id=", "2026-12-02T04:00Z stderr F id=b", "2026-12-02T04:01Z stdout F a"]
    >>> [(len(raws), text) for raws, text in routed_together([(c.encode(), c) for c in cri], "cri")]
    [(1, 'id=b'), (2, 'id=a')]
    """
    held: dict[str, tuple[list[bytes], list[str]]] = {}
    for raw, text in lines:
        piece = unwrap(envelope, text) if envelope != "none" and text.strip() else None
        if piece is None:
            yield [raw], text
            continue
        raws, parts = held.pop(piece.stream, ([], []))
        raws.append(raw)
        parts.append(piece.message)
        if piece.partial and len(raws) < MAX_HELD_PIECES:
            held[piece.stream] = (raws, parts)
            continue
        yield raws, "".join(parts)
    for raws, parts in held.values():  # the input ended inside a split line: what its pieces hold
        yield raws, "".join(parts)


def session_text_reader(parser: ParserConfig) -> Callable[[str], str]:
    r"""The text a producer finds a line's session id in, as the replica's engine finds it: the line read by the
    artifact's format, its header fields as ``name=value`` and its content (:func:`line_text_for_sessions`); a line
    the format does not read, as it is. A JSON line's ``{"request_id": "r-7"}`` and a layout's ``<request_id>``
    field are read by ``request_id=(\S+)`` there, not in the raw line: every such line went by its source, all to
    one partition, counted as naming no session.

    >>> read = session_text_reader(ParserConfig(format="json"))
    >>> read('{"msg": "paid", "request_id": "r-7"}'), read("not json")
    ('request_id=r-7 paid', 'not json')
    """
    header = HeaderParser.for_config(parser)  # its continuation state follows the producer's lines, in order

    def read(text: str) -> str:
        line = header.parse(text, 0)
        return text if line is None else line_text_for_sessions(line)

    return read


def encode_lines(lines: Sequence[bytes]) -> bytes:
    return b"\n".join(lines)


def decode_lines(payload: bytes, expected: int | None) -> list[bytes]:
    """The lines of one message (``expected``: the count its header gives, checked)."""
    lines = payload.split(b"\n")
    if expected is not None and len(lines) != expected:
        raise ValueError(f"a queue message holds {len(lines)} lines where its header says {expected}")
    return lines
