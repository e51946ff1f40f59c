"""Request and response schemas, kept apart from the engine's internal records.

Request schemas carry hard bounds (``Field(max_length=...)``) so an absurd request fails with
422 before any work; the tighter limits from the settings are checked in ``sessions.py``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from logbert.service.settings import HARD_MAX_LINE_CHARS, HARD_MAX_LINES_PER_REQUEST

RawLine = Annotated[str, Field(max_length=HARD_MAX_LINE_CHARS)]
SourceName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[\w.:@/-]+$")]


class IngestRequest(BaseModel):
    """One raw line (``line``) or many (``lines``), from one ``source`` (its own sliding window)."""

    model_config = ConfigDict(extra="forbid")

    lines: list[RawLine] | None = Field(None, max_length=HARD_MAX_LINES_PER_REQUEST)
    line: RawLine | None = None
    source: SourceName = "default"

    @model_validator(mode="after")
    def _one_of(self) -> IngestRequest:
        if (self.lines is None) == (self.line is None):
            raise ValueError("give exactly one of 'line' (one raw line) or 'lines' (a list of raw lines)")
        return self

    def all_lines(self) -> list[str]:
        return self.lines if self.lines is not None else [self.line or ""]


RejectReason = Literal["empty", "binary", "too_long", "malformed"]


class LineRejection(BaseModel):
    index: int  # 0-based position of the line in the request
    line_no: int  # line number given to it in its source's stream
    reason: RejectReason


class IngestResponse(BaseModel):
    received: int
    accepted: int  # parsed and routed to a session / window
    rejected: int
    unrouted: int  # parsed, but no session id in the line (session mode)
    unknown_templates: int  # accepted lines whose template the parser had never seen (scored as UNK)
    windows_queued: int  # windows completed by this request and queued for the model
    rejections: list[LineRejection]


class SessionScore(BaseModel):
    """A session's state. Higher ``max_score`` / ``last_score`` = more anomalous."""

    session_id: str
    source: str
    state: Literal["open", "closed"]
    closed_reason: str | None
    n_lines: int
    n_pending_keys: int  # buffered, not yet in a scored window
    n_windows_pending: int  # queued for the model
    n_windows_scored: int
    n_anomalous_windows: int
    n_unknown: int
    max_score: float | None
    last_score: float | None
    threshold: float | None
    is_anomaly: bool
    first_seen: float
    last_seen: float


class SessionList(BaseModel):
    sessions: list[SessionScore]


class CloseAllResponse(BaseModel):
    closed: int
    drained: bool  # every queued window was scored before the response


class ExpectedTemplate(BaseModel):
    template: str
    probability: float


class Miss(BaseModel):
    position: int  # 0-based key position in the window
    key_id: int
    template: str | None  # the template seen there (None = unseen by the parser)
    expected: list[ExpectedTemplate]  # the model's top-g
    line_no: int | None
    raw: str | None  # the raw line behind the key


class Alert(BaseModel):
    """An anomalous window. Higher ``anomaly_score`` = more anomalous."""

    id: int
    created_at: float
    session_id: str
    source: str
    window_index: int
    anomaly_score: float
    threshold: float
    miss_ratio: float
    dist_score: float
    n_keys: int
    n_misses: int
    n_unknown: int
    first_line_no: int | None
    last_line_no: int | None
    reason: str
    misses: list[Miss]


class AlertList(BaseModel):
    total: int  # alerts matching the filter
    alerts: list[Alert]  # newest first


class ScorePointOut(BaseModel):
    time: float
    session_id: str
    window_index: int
    anomaly_score: float
    threshold: float
    is_anomaly: bool


class ScoreHistory(BaseModel):
    points: list[ScorePointOut]


class Stats(BaseModel):
    """Counters and gauges of the running service (the dashboard polls this)."""

    values: dict[str, float]


class Health(BaseModel):
    status: Literal["ok", "loading", "stopping"]
    ready: bool
    detail: str | None = None
