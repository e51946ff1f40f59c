"""NATS JetStream set-up shared by the producer and the replicas: the stream and the group bucket.

One stream (default ``LOGBERT``) holds every partition as its own subject
(``logbert.lines.<p>``). Its partition count is written into the stream's description when the
stream is created (by whichever of ``ship`` and ``worker`` comes first) and read back by everyone
else, so a producer and replicas can never disagree on it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from logbert.errors import LogBertError

logger = logging.getLogger(__name__)
_DESCRIPTION = "logbert lines partitioned by session: partitions={n}"
_PARTITIONS = re.compile(r"partitions=(\d+)")


class QueueError(LogBertError):
    """The queue is unreachable, or its stream disagrees with what was asked."""


def _missing() -> QueueError:
    return QueueError("the queue source needs nats-py: pip install 'logbert[queue]'")


#: URL schemes nats-py connects with; anything else (an http:// URL, a typo) is refused at once
_SCHEMES = ("nats", "tls", "ws", "wss")


async def _one_line(exc: Exception) -> None:
    """nats-py's error callback: one line per failed attempt, not its default's traceback (ten of them, 282 lines,
    before the one error that says the server cannot be reached)."""
    logger.warning("nats: %s", exc or type(exc).__name__)


async def connect(url: str, timeout: float = 20.0) -> Any:
    """A NATS connection (raises QueueError when the server cannot be reached or the URL is no NATS URL)."""
    scheme = url.partition("://")[0].lower() if "://" in url else "nats"
    if scheme not in _SCHEMES:
        raise QueueError(f"{url} is not a NATS URL: give nats://HOST:PORT (or tls://, ws://, wss://)")
    try:
        import nats
    except ImportError:
        raise _missing() from None
    try:
        # reconnects without end once connected (a NATS restart is waited out); the first connection
        # has its own deadline: a wrong URL must be said, not waited on forever
        return await asyncio.wait_for(
            nats.connect(
                url, connect_timeout=5, max_reconnect_attempts=-1, allow_reconnect=True, error_cb=_one_line
            ),
            timeout,
        )
    except TimeoutError:
        raise QueueError(f"cannot connect to NATS at {url}: no answer within {timeout:.0f} s") from None
    except Exception as exc:  # nats raises several unrelated types here
        raise QueueError(f"cannot connect to NATS at {url}: {exc}") from None


async def ensure_stream(js: Any, stream: str, prefix: str, partitions: int | None, max_age_s: float = 0) -> int:
    """Create the stream if missing (``partitions`` then required); returns its partition count.

    Raises:
        QueueError: the stream exists with another partition count or subjects.
    """
    import nats.js.errors
    from nats.js.api import StreamConfig

    try:
        info = await js.stream_info(stream)
    except nats.js.errors.NotFoundError:
        if partitions is None:
            raise QueueError(f"stream {stream} does not exist yet: give --partitions to create it") from None
        config = StreamConfig(
            name=stream,
            subjects=[f"{prefix}.*"],
            description=_DESCRIPTION.format(n=partitions),
            max_age=max_age_s or None,
            duplicate_window=120.0,  # a producer's retried publish (same Nats-Msg-Id) is stored once
        )
        try:
            await js.add_stream(config)
        except nats.js.errors.BadRequestError:  # created by another process meanwhile
            pass
        info = await js.stream_info(stream)
    found = _PARTITIONS.search(info.config.description or "")
    if found is None:
        raise QueueError(f"stream {stream} was not made by logbert (no partition count in its description)")
    n = int(found[1])
    if partitions is not None and partitions != n:
        raise QueueError(
            f"stream {stream} has {n} partitions, not {partitions}: leave --partitions out, or use another"
        )
    if f"{prefix}.*" not in (info.config.subjects or []):
        raise QueueError(f"stream {stream} holds {info.config.subjects}, not {prefix}.*")
    return n


async def ensure_bucket(js: Any, name: str, ttl_s: float) -> Any:
    """The group's KV bucket (created with ``ttl_s`` if missing)."""
    import nats.js.errors
    from nats.js.api import KeyValueConfig

    try:
        return await js.key_value(name)
    except nats.js.errors.BucketNotFoundError:
        pass
    try:
        return await js.create_key_value(KeyValueConfig(bucket=name, ttl=ttl_s, history=1))
    except nats.js.errors.BadRequestError:
        return await js.key_value(name)


async def last_sequences(js: Any, stream: str, prefix: str, partitions: int) -> dict[int, int]:
    """The stream sequence of each partition's last message (0: empty partition)."""
    import nats.js.errors

    out: dict[int, int] = {}
    for p in range(partitions):
        try:
            msg = await js.get_last_msg(stream, f"{prefix}.{p}")
        except nats.js.errors.NotFoundError:
            out[p] = 0
        else:
            out[p] = int(msg.seq)
    return out
