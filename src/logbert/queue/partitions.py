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
from collections.abc import Sequence
from dataclasses import dataclass

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


def encode_lines(lines: Sequence[bytes]) -> bytes:
    return b"\n".join(lines)


def decode_lines(payload: bytes, expected: int | None) -> list[bytes]:
    """The lines of one message (``expected``: the count its header gives, checked)."""
    lines = payload.split(b"\n")
    if expected is not None and len(lines) != expected:
        raise ValueError(f"a queue message holds {len(lines)} lines where its header says {expected}")
    return lines
