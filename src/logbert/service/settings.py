"""Service settings: where the artifact is, plus host, limits, storage and CORS.

Read from ``LOGBERT_*`` environment variables (e.g. ``LOGBERT_API_KEY``), then overridden by
``logbert serve`` options. The model's own config lives in the artifact, never here.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from logbert.streaming import StreamLimits

#: Hard upper bounds of the request schemas; the settings below may only lower them.
HARD_MAX_LINES_PER_REQUEST = 100_000
HARD_MAX_LINE_CHARS = 1_000_000


class Settings(BaseSettings):
    """Everything ``logbert serve`` can be told; every field has a ``LOGBERT_`` env variable."""

    model_config = SettingsConfigDict(env_prefix="LOGBERT_", extra="forbid", frozen=True)

    artifact: Path | None = None  # trained artifact directory; None only when a detector is injected (tests)
    host: str = "127.0.0.1"  # loopback by default: exposing the service is an explicit choice
    port: int = Field(8000, ge=1, le=65535)
    api_key: SecretStr | None = None  # when set, every endpoint but health needs X-API-Key (or Bearer)
    max_open_sessions: int = Field(10_000, ge=1)  # beyond it the most idle session is closed and scored
    idle_timeout_s: float = Field(300.0, gt=0)  # a session silent this long is closed and scored
    idle_check_interval_s: float = Field(1.0, gt=0)  # how often idle sessions are looked for
    max_window_len: int = Field(512, ge=2)  # cap on keys per window (the artifact's window.max_len applies too)
    max_lines_per_request: int = Field(10_000, ge=1, le=HARD_MAX_LINES_PER_REQUEST)  # more: 422
    max_line_chars: int = Field(10_000, ge=16, le=HARD_MAX_LINE_CHARS)  # a longer line: 422
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024)  # a larger request body: 413
    alerts_db: Path = Path("logbert_alerts.sqlite3")  # SQLite file; ":memory:" keeps nothing
    batch_size: int = Field(64, ge=1)  # windows per model call
    flush_interval_s: float = Field(0.05, ge=0)  # how long a partial batch waits for more windows
    max_pending_windows: int = Field(50_000, ge=1)  # queue bound; ingest answers 503 beyond it
    closed_sessions_kept: int = Field(10_000, ge=0)  # closed-session summaries kept for queries
    recent_scores_kept: int = Field(2_000, ge=1)  # points of the "score over time" chart
    close_wait_s: float = Field(30.0, gt=0)  # how long a close request waits for its scores
    shutdown_timeout_s: float = Field(30.0, gt=0)  # graceful shutdown: time to score what is left
    cors_origins: tuple[str, ...] = ()  # browser origins allowed to call the API (the dashboard needs none)

    def stream_limits(self) -> StreamLimits:
        """The engine's bounds from these settings."""
        return StreamLimits(
            max_open_sessions=self.max_open_sessions,
            idle_timeout_s=self.idle_timeout_s,
            max_window_len=self.max_window_len,
            max_line_chars=self.max_line_chars,
            batch_size=self.batch_size,
            flush_interval_s=self.flush_interval_s,
            max_pending_windows=self.max_pending_windows,
            closed_sessions_kept=self.closed_sessions_kept,
            recent_scores_kept=self.recent_scores_kept,
        )
