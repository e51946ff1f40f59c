"""Streaming detection: per-session window buffers and micro-batched scoring.

One engine serves both ``logbert serve`` (behind FastAPI) and ``logbert tail`` (no server). It
needs only a :class:`Scorer` (the loaded artifact's config, threshold, ``parse_lines`` and
``score_sequences``): parsing and scoring stay in the library, this package only routes parsed
lines to sessions, cuts windows by the library's windowing rules and batches them.
"""

from logbert.streaming.batcher import MicroBatcher
from logbert.streaming.engine import (
    AlertRecord,
    IngestOutcome,
    LineRejection,
    Overloaded,
    RequestConflict,
    ScorePoint,
    SessionSummary,
    StreamEngine,
    StreamLimits,
)
from logbert.streaming.protocol import AlertSink, Scorer
from logbert.streaming.stats import StreamStats
from logbert.streaming.windows import PendingWindow, SessionRouter

__all__ = [
    "AlertRecord",
    "AlertSink",
    "IngestOutcome",
    "LineRejection",
    "MicroBatcher",
    "Overloaded",
    "PendingWindow",
    "RequestConflict",
    "ScorePoint",
    "Scorer",
    "SessionRouter",
    "SessionSummary",
    "StreamEngine",
    "StreamLimits",
    "StreamStats",
]
