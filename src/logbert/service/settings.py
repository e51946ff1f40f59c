"""Service settings: where the artifact is, plus host, request bounds, engine limits, storage and CORS.

Read from ``LOGBERT_*`` environment variables (e.g. ``LOGBERT_API_KEY``; the engine's limits are
one nested object, e.g. ``LOGBERT_LIMITS__MAX_OPEN_SESSIONS``), then overridden by
``logbert serve`` options. The model's own config lives in the artifact, never here: so does the
length at which a line is truncated (the artifact's ``parser.max_line_chars``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from logbert.service.alerts import is_postgres_url
from logbert.streaming import StreamLimits

#: Hard upper bounds of the request schemas (422 beyond them, before any work); the settings
#: below may only lower the number of lines.
HARD_MAX_LINES_PER_REQUEST = 100_000
#: The ingest journal's folder when the alerts are in PostgreSQL and no journal_dir is given
#: (relative to the working directory, like the default SQLite file).
PG_JOURNAL_DIR = Path("logbert_journal")


class Settings(BaseSettings):
    """Everything ``logbert serve`` can be told; every field has a ``LOGBERT_`` env variable."""

    model_config = SettingsConfigDict(env_prefix="LOGBERT_", env_nested_delimiter="__", extra="forbid", frozen=True)

    artifact: Path | None = None  # trained artifact directory; None only when a detector is injected (tests)
    device: str = "cpu"  # where the model scores: cpu, cuda, cuda:N, mps or auto (logbert.threads.resolve_device)
    host: str = "127.0.0.1"  # loopback by default: exposing the service is an explicit choice
    port: int = Field(8000, ge=1, le=65535)
    # when set, every /v1 endpoint, /metrics and the API docs need X-API-Key (or Bearer); /health/* and the
    # dashboard's files stay public (they hold no data; the dashboard asks for the key); see public_docs
    api_key: SecretStr | None = None
    limits: StreamLimits = StreamLimits()  # the engine's bounds: LOGBERT_LIMITS__<FIELD>, e.g. ..._IDLE_TIMEOUT_S
    idle_check_interval_s: float = Field(1.0, gt=0)  # how often idle sessions are looked for
    max_lines_per_request: int = Field(10_000, ge=1, le=HARD_MAX_LINES_PER_REQUEST)  # more: 422
    # a larger request body: 413. The one bound of a request's size on every endpoint, its lines' included: a line
    # longer than the artifact's parser.max_line_chars is truncated and counted ("truncated"), JSON or plain text
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    # A SQLite file (":memory:" keeps nothing), or a postgresql://user@host:port/dbname URL (a str;
    # every other value becomes a Path) for one database shared by several replicas
    alerts_db: Path | str = Path("logbert_alerts.sqlite3")
    alerts_busy_timeout_s: float = Field(30.0, ge=0)  # how long a write waits for another writer's lock
    # The ingest journal: every accepted request is on disk before it is answered and replayed on
    # start, so a line answered 200 is never lost and a restart does not split open sessions.
    # None: "<alerts_db>.journal" beside the alerts (no journal for an in-memory alert store); with a
    # PostgreSQL alerts_db, ./logbert_journal (PG_JOURNAL_DIR). The journal is one replica's own:
    # replicas sharing a database each need their own journal_dir.
    journal: bool = True
    journal_dir: Path | None = None
    journal_fsync: Literal["always", "never"] = "always"  # "never": survives kill -9, not a power cut
    checkpoint_interval_s: float = Field(5.0, gt=0)  # how often the engine's state is committed
    # checkpoints built and written by a forked child process (Linux), so ingest does not wait for them
    # (streaming.journal.IngestJournal.fork_checkpoint); off: in the service's own process, as before
    checkpoint_in_child: bool = True
    close_wait_s: float = Field(30.0, gt=0)  # how long a close request waits for its scores
    shutdown_timeout_s: float = Field(30.0, gt=0)  # graceful shutdown: time to score what is left
    # Alertmanager-compatible receiver (POST .../api/v2/alerts); alerts are stored first, then pushed
    alert_webhook: str | None = Field(None, pattern=r"^https?://")
    threshold: float | None = Field(None, allow_inf_nan=False)  # decide with this instead of the stored threshold
    target_fpr: float | None = Field(None, gt=0, lt=1)  # or: the threshold for this false-alarm rate
    # with an api_key, /docs, /redoc and /openapi.json need it too, unless opened on purpose here
    # (they hold no data, but they map the whole API for whoever reaches the port)
    public_docs: bool = False
    cors_origins: tuple[str, ...] = ()  # browser origins allowed to call the API (the dashboard needs none)

    @property
    def journal_path(self) -> Path | None:
        """Where the ingest journal lives (None: no journal)."""
        if not self.journal:
            return None
        if self.journal_dir is not None:
            return self.journal_dir
        if isinstance(self.alerts_db, str):  # a PostgreSQL URL: no file to sit beside
            return PG_JOURNAL_DIR
        if str(self.alerts_db) == ":memory:":
            return None  # nothing outlives the process anyway
        return self.alerts_db.with_name(self.alerts_db.name + ".journal")

    @field_validator("alerts_db", mode="before")
    @classmethod
    def _file_or_url(cls, value: object) -> object:
        # a postgresql:// URL stays a str (a Path would fold its "//"); anything else is a file
        if isinstance(value, str | Path):
            text = str(value)
            return text if is_postgres_url(text) else Path(text)
        return value

    @property
    def exposed_without_key(self) -> bool:
        """Listening beyond this machine with no API key: anyone who can reach it can read the alerts."""
        return self.api_key is None and self.host not in ("127.0.0.1", "localhost", "::1")

    @model_validator(mode="after")
    def _no_blank_key(self) -> Settings:
        # an empty key (`--api-key ""`, an empty LOGBERT_API_KEY) would accept an empty header
        if self.api_key is not None and not self.api_key.get_secret_value().strip():
            raise ValueError("api_key is empty: set a real key, or leave it unset for a loopback-only service")
        return self

    @model_validator(mode="after")
    def _no_flat_limits_in_env(self) -> Settings:
        # The limits used to be flat settings; an old variable would now be ignored without a word.
        old = [f"LOGBERT_{name.upper()}" for name in (*StreamLimits.model_fields, "max_line_chars")]
        found = [name for name in old if name in os.environ]
        if found:
            raise ValueError(
                f"{', '.join(found)} no longer exist: set the engine limits as LOGBERT_LIMITS__<NAME> "
                "(e.g. LOGBERT_LIMITS__IDLE_TIMEOUT_S); lines are truncated at the artifact's parser.max_line_chars"
            )
        return self
