"""Request and response schemas.

Requests are pydantic models with hard bounds on counts (``Field(max_length=...)``), so an absurd request
fails with 422 before any work; the tighter limit from the settings is checked in ``sessions.py``. A line's
length is no schema bound: the body size limit bounds it, the artifact's line rule truncates it.
Responses reuse the engine's and the store's dataclasses, declared once (FastAPI serialises
stdlib dataclasses): a session is a :class:`SessionSummary`, an alert a :class:`StoredAlert`, a
score point a :class:`ScorePoint`, an ingest answer an :class:`IngestOutcome`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, FiniteFloat, model_validator
from pydantic_core import PydanticCustomError

from logbert.service.alerts import Incident, StoredAlert
from logbert.service.settings import HARD_MAX_LINES_PER_REQUEST
from logbert.streaming import IngestOutcome, ScorePoint, SessionSummary, StreamStats
from logbert.streaming.oneshot import OneShotResult
from logbert.streaming.stats import counter, gauge

#: one raw line of a JSON request: no length of its own. The request body bounds it (``max_body_bytes``, as on the
#: text endpoint), then the artifact's line rule cuts it at ``parser.max_line_chars`` and counts it (``truncated``) on
#: every endpoint: never a 422 for the whole batch (a 1,000,000-character cap here refused it)


def _unicode_text(line: str) -> str:
    """A JSON line must be Unicode text: a lone surrogate escape (``"\\ud800"``) is a 422 saying so, as it was while
    the length cap made pydantic check it (the input is not repeated)."""
    try:
        line.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(line[exc.start])
        raise PydanticCustomError(
            "string_unicode",
            "a lone surrogate (\\u{code}) at character {at} is not Unicode text",
            {"code": f"{code:04x}", "at": exc.start + 1},
        ) from None
    return line


RawLine = Annotated[str, AfterValidator(_unicode_text)]
#: a stream's name: one rule for the JSON body's ``source`` and the text endpoint's ``?source=`` (``SourceQuery``)
SOURCE_MAX_CHARS, SOURCE_PATTERN = 200, r"^[\w.:@/-]+$"
SourceName = Annotated[str, Field(min_length=1, max_length=SOURCE_MAX_CHARS, pattern=SOURCE_PATTERN)]
#: every float a client sends (a query value or a body field): finite, so NaN and infinity are a 422 like any other bad
#: value, never a filter every comparison fails (``/v1/alerts?min_score=nan`` answered 200 with no alert)
ClientFloat = FiniteFloat


class ErrorResponse(BaseModel):
    """Every error answer (``errors.logbert_error_handler``, ``.validation_error_handler``, ``.http_error_handler``):
    ``detail`` says what went wrong, as text or as the fields of a request that does not fit its schema (a body that
    is no JSON, not UTF-8 included); ``error`` names the kind."""

    detail: str | list[dict[str, object]]
    error: str
    hint: str | None = None  # a body that is no JSON because of its content type or encoding: what to send instead


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


class KeySequenceIn(BaseModel):
    """One pre-parsed session: its id and its key ids (``-1`` = a template the parser never saw)."""

    model_config = ConfigDict(extra="forbid")

    session_id: Annotated[str, Field(min_length=1, max_length=200)]
    keys: list[Annotated[int, Field(ge=-1, le=2**31 - 1)]] = Field(min_length=1, max_length=HARD_MAX_LINES_PER_REQUEST)


class ScoreRequest(BaseModel):
    """Raw lines (grouped into sessions or windows like a log file) or pre-parsed key sequences."""

    model_config = ConfigDict(extra="forbid")

    lines: list[RawLine] | None = Field(None, max_length=HARD_MAX_LINES_PER_REQUEST)
    sequences: list[KeySequenceIn] | None = Field(None, max_length=HARD_MAX_LINES_PER_REQUEST)
    explain: bool = True  # the missed keys of each anomalous session's worst window
    only_anomalies: bool = False

    @model_validator(mode="after")
    def _one_of(self) -> ScoreRequest:
        if (self.lines is None) == (self.sequences is None):
            raise ValueError("give exactly one of 'lines' (raw log lines) or 'sequences' (key sequences)")
        return self


#: What one-shot scoring found: per-session results, and what happened to the lines.
ScoreResponse = OneShotResult
#: What an ingest call did with its lines (rejections, binary and truncated counts included).
IngestResponse = IngestOutcome
#: A session's state. Higher ``max_score`` / ``last_score`` = more anomalous.
SessionScore = SessionSummary
#: An anomalous window, with its id in the store. Higher ``anomaly_score`` = more anomalous.
Alert = StoredAlert


class SessionList(BaseModel):
    total: int  # sessions matching the filter (open, and the last closed_sessions_kept closed ones)
    sessions: list[SessionSummary]  # by descending max_score, from the request's offset


class CloseAllResponse(BaseModel):
    closed: int
    drained: bool  # every queued window was scored before the response


class AlertList(BaseModel):
    total: int  # alerts matching the filter
    alerts: list[StoredAlert]  # newest first


class IncidentList(BaseModel):
    total: int  # incidents matching the filter
    incidents: list[Incident]  # most recent alert first


class IncidentDecision(BaseModel):
    """Why a person decided what they did (kept with the incident)."""

    model_config = ConfigDict(extra="forbid")

    note: Annotated[str, Field(max_length=2000)] | None = None


class ScoreHistory(BaseModel):
    points: list[ScorePoint]


@dataclass(frozen=True, slots=True)
class ServiceStats(StreamStats):
    """The engine's stats plus what the service adds."""

    alerts_stored: Annotated[int, gauge("alerts in the alert store")]
    alerts_unsaved: Annotated[int, gauge("alerts a failed write keeps in memory to retry (not ready while > 0)")]
    alerts_repeated: Annotated[
        int,
        counter(
            "alerts raised again that the store held already (a journal replay after a crash; with --source, another "
            "replica's): neither stored nor pushed to the webhook again (without --source, alerts minus this are new)"
        ),
    ]
    webhook_alerts_sent: Annotated[int, counter("alerts delivered to the alert webhook (--alert-webhook)")]
    webhook_alerts_failed: Annotated[int, counter("alerts the alert webhook did not take after every retry (lost)")]
    webhook_alerts_dropped: Annotated[
        int, counter("alerts dropped unsent from the alert webhook's full queue (the oldest first)")
    ]
    checkpoints_written: Annotated[int, counter("journal checkpoints committed")]
    checkpoint_failures: Annotated[int, counter("journal checkpoints that failed (the previous one stays)")]
    checkpoint_seconds: Annotated[float, counter("seconds spent committing checkpoints (waiting for the writer)")]
    checkpoint_age_seconds: Annotated[
        float,
        gauge("seconds since the oldest change not in a checkpoint: what a restart replays (0: nothing to replay)"),
    ]


class Stats(BaseModel):
    """Counters and gauges of the running service (the dashboard polls this)."""

    values: ServiceStats


class Health(BaseModel):
    status: Literal["ok", "loading", "stopping"]
    ready: bool
    detail: str | None = None
