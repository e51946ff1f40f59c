"""The producer: raw lines onto the queue, partitioned by session id, in batches.

Every line read is accounted for: shipped (to one partition, or to each partition of the
sessions it names), and among those, lines without a session id, empty lines, lines cut to
``max_line_bytes``, lines that are not valid UTF-8. Nothing is dropped: a line the artifact
will reject (empty, malformed) is shipped anyway and counted again by the replica that rejects it.

Each batch is one message per partition (the lines joined by ``\\n``), with a ``Nats-Msg-Id``
so that a publish retried after a lost acknowledgement is stored once.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from logbert.config import EnvelopeName, ParserConfig
from logbert.queue.broker import QueueError, connect, ensure_stream
from logbert.queue.partitions import (
    CONTROL_CLOSE_ALL,
    H_CONTROL,
    H_LINES,
    H_SOURCE,
    Partitioner,
    encode_lines,
    routed_together,
    session_text_reader,
    subject,
)


@dataclass
class ShipReport:
    """What ``ship`` did with its input."""

    lines: int = 0  # lines read
    shipped: int = 0  # line copies put on the queue (a line naming sessions of k partitions counts k)
    messages: int = 0
    bytes: int = 0
    without_session: int = 0  # lines naming no session id (shipped to their source's partition)
    multi_partition: int = 0  # lines put on more than one partition
    empty: int = 0
    truncated: int = 0  # longer than max_line_bytes: cut (the artifact's own line rule cuts earlier)
    not_utf8: int = 0
    partitions: int = 0
    per_partition: list[int] = field(default_factory=list)  # line copies per partition
    seconds: float = 0.0


@dataclass(frozen=True)
class ShipOptions:
    nats_url: str
    stream: str = "LOGBERT"
    subject_prefix: str = "logbert.lines"
    partitions: int | None = None  # create the stream with this many when missing
    source: str = "ship"  # the source name of these lines (line numbering; partition of id-less lines)
    batch_lines: int = 500  # lines per message, at most
    batch_bytes: int = 256 << 10  # payload bytes per message, at most
    max_line_bytes: int = 64 << 10
    end_sessions: bool = False  # after the last line, close every open session (a "close-all" per partition)
    retries: int = 5
    # the artifact's parser.continuation = "attach": a line naming no session follows the line before it
    # (queue.partitions.Partitioner)
    follow_previous: bool = False
    # the artifact's parser.envelope: a container runtime's lines are routed by the app's message, and a split line's
    # pieces go where the piece that ends it goes (queue.partitions.routed_together)
    envelope: EnvelopeName = "none"
    # the artifact's parser settings: a line's session id is read where the replica reads it, in the line as its
    # format reads it (queue.partitions.session_text_reader); None: in the raw line (ship --session-pattern)
    parser: ParserConfig | None = None


async def ship(
    lines: Iterable[bytes],
    options: ShipOptions,
    pattern: Any,
    on_progress: Callable[[int, int], None] | None = None,
) -> ShipReport:
    """Put ``lines`` (raw, without their ``\\n``) on the queue; ``pattern``: the session-id regex (None: by source).

    ``on_progress(lines, bytes)`` is called after each published message with the totals so far.

    Raises:
        QueueError: NATS unreachable, the stream inconsistent, or a publish failing ``retries`` times.
    """
    import nats.errors

    o = options
    t0 = time.perf_counter()
    nc = await connect(o.nats_url)
    report = ShipReport()
    try:
        js = nc.jetstream()
        n = await ensure_stream(js, o.stream, o.subject_prefix, o.partitions)
        partitioner = Partitioner(n, pattern, o.follow_previous)
        report.partitions, report.per_partition = n, [0] * n
        buffers: list[list[bytes]] = [[] for _ in range(n)]
        sizes = [0] * n
        run_id = uuid.uuid4().hex[:12]
        batch_no = 0
        read_bytes = 0

        async def publish(p: int, payload: bytes, headers: dict[str, str]) -> None:
            nonlocal batch_no
            batch_no += 1
            headers = {**headers, "Nats-Msg-Id": f"{o.source}:{run_id}:{batch_no}"}
            for attempt in range(o.retries):
                try:
                    await js.publish(subject(o.subject_prefix, p), payload, headers=headers, timeout=10)
                    break
                except (nats.errors.TimeoutError, nats.errors.NoRespondersError) as exc:
                    if attempt + 1 == o.retries:
                        raise QueueError(f"publishing to partition {p} failed {o.retries} times: {exc}") from None
            report.messages += 1
            report.bytes += len(payload)

        async def flush(p: int) -> None:
            batch = buffers[p]
            if not batch:
                return
            await publish(p, encode_lines(batch), {H_SOURCE: o.source, H_LINES: str(len(batch))})
            report.shipped += len(batch)
            report.per_partition[p] += len(batch)
            buffers[p], sizes[p] = [], 0
            if on_progress is not None:
                on_progress(report.lines, read_bytes)

        def read() -> Iterable[tuple[bytes, str]]:
            nonlocal read_bytes
            for raw in lines:
                report.lines += 1
                read_bytes += len(raw) + 1
                if raw.endswith(b"\n"):
                    raw = raw[:-1]
                if len(raw) > o.max_line_bytes:
                    raw = raw[: o.max_line_bytes]
                    report.truncated += 1
                if not raw.strip():
                    report.empty += 1
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    report.not_utf8 += 1
                    text = raw.decode("utf-8", "replace")
                yield raw, text

        # a container runtime's lines: routed by the app's message, a split line's pieces with the piece that ends it
        session_text = session_text_reader(o.parser) if o.parser is not None else None
        for group, text in routed_together(read(), o.envelope):
            targets, n_ids = partitioner.partitions(text if session_text is None else session_text(text), o.source)
            if n_ids == 0:
                report.without_session += len(group)
            if len(targets) > 1:
                report.multi_partition += len(group)
            for raw in group:
                for p in targets:
                    buffers[p].append(raw)
                    sizes[p] += len(raw) + 1
                    if len(buffers[p]) >= o.batch_lines or sizes[p] >= o.batch_bytes:
                        await flush(p)
        for p in range(n):
            await flush(p)
        if o.end_sessions:
            for p in range(n):
                await publish(p, b"", {H_CONTROL: CONTROL_CLOSE_ALL})
        await nc.flush()
    finally:
        await nc.close()
    report.seconds = time.perf_counter() - t0
    if on_progress is not None:
        on_progress(report.lines, read_bytes)
    return report
