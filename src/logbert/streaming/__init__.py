"""Streaming detection: per-session window buffers and micro-batched scoring.

One engine serves both ``logbert serve`` (behind FastAPI) and ``logbert tail`` (no server). It is
built only on the library facade (:class:`logbert.api.Detector`): parsing and scoring stay in the
library, this package only routes parsed lines to sessions, cuts windows and batches them.
"""

from logbert.streaming.batcher import MicroBatcher
from logbert.streaming.engine import (
    AlertRecord,
    AlertSink,
    IngestOutcome,
    MissDetail,
    Overloaded,
    ScorePoint,
    SessionSummary,
    StreamEngine,
    StreamLimits,
)
from logbert.streaming.windows import PendingWindow, SessionRouter

__all__ = [
    "AlertRecord",
    "AlertSink",
    "IngestOutcome",
    "MicroBatcher",
    "MissDetail",
    "Overloaded",
    "PendingWindow",
    "ScorePoint",
    "SessionRouter",
    "SessionSummary",
    "StreamEngine",
    "StreamLimits",
]
