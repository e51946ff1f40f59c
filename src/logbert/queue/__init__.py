"""Queue-fed scoring beyond one machine: NATS JetStream partitions, a consumer group, PostgreSQL.

* :mod:`~logbert.queue.partitions`: a line's partition (stable hash of its session id).
* :mod:`~logbert.queue.ship`: the producer (``logbert ship``).
* :mod:`~logbert.queue.group`: partition ownership by leases in a JetStream KV bucket.
* :mod:`~logbert.queue.checkpoints`: committed positions and engine states in PostgreSQL.
* :mod:`~logbert.queue.replica`: a replica (``logbert worker``): one streaming engine per owned partition.

docs/scaling.md tells the whole story, and how a Kafka source maps onto it. Needs the ``queue``
extra (nats-py) and the ``postgres`` extra; nothing here is imported unless it is used.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from logbert.config import LogBertConfig, ParserConfig, config_from_dict
from logbert.errors import LogBertError


def artifact_window_pattern(artifact: str | Path) -> re.Pattern[str] | None:
    """The session-id regex of an artifact's config (None: its windows are not sessions).

    Reads only ``config.json``: a producer needs the session rule, not the model.
    """
    from logbert.windowing.windows import session_id_pattern

    config = _artifact_config(artifact)
    if config.window.mode != "session":
        return None
    return session_id_pattern(config.window)


def artifact_attaches_continuations(artifact: str | Path) -> bool:
    """Whether an artifact reads lines without a header as continuations (``parser.continuation = "attach"``):
    a producer then sends them where the line before them went (:class:`~logbert.queue.partitions.Partitioner`)."""
    return _artifact_config(artifact).parser.continuation == "attach"


def artifact_parser(artifact: str | Path) -> ParserConfig:
    """An artifact's parser settings: a producer reads each line's session id as the replica does
    (:func:`~logbert.queue.partitions.session_text_reader`), and a container runtime's lines by the app's message
    (``parser.envelope``, :func:`~logbert.queue.partitions.routed_together`)."""
    return _artifact_config(artifact).parser


def _artifact_config(artifact: str | Path) -> LogBertConfig:
    path = Path(artifact) / "config.json"
    try:
        return config_from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise LogBertError(f"cannot read the session rule from {path}: {exc}") from None
