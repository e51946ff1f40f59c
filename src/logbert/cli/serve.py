"""``logbert serve`` (the HTTP service) and ``logbert tail`` (score a growing file, no server).

Wire into the main CLI with ``register(app)``; ``serve_app`` holds the same two commands for
stand-alone use.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError

from logbert.errors import LogBertError

serve_app = typer.Typer(help="Streaming detection: the HTTP service and tail.", no_args_is_help=True)


def serve(
    artifact: Path = typer.Argument(..., help="trained artifact directory"),
    host: str | None = typer.Option(None, help="bind address [env LOGBERT_HOST, default 127.0.0.1]"),
    port: int | None = typer.Option(None, help="port [env LOGBERT_PORT, default 8000]"),
    api_key: str | None = typer.Option(None, help="require this key in X-API-Key [env LOGBERT_API_KEY]"),
    alerts_db: Path | None = typer.Option(None, help="SQLite file for alerts [env LOGBERT_ALERTS_DB]"),
    max_open_sessions: int | None = typer.Option(None, help="open sessions kept before evicting idle ones"),
    idle_timeout: float | None = typer.Option(None, help="seconds without a line before a session is scored"),
    max_window_len: int | None = typer.Option(None, help="cap on keys per scored window"),
    log_level: str = typer.Option("info", help="uvicorn log level"),
) -> None:
    """Serve the REST API, metrics and the live dashboard for ARTIFACT (see /docs)."""
    import uvicorn

    from logbert.service.app import create_app
    from logbert.service.settings import Settings

    overrides: dict[str, Any] = {
        "host": host,
        "port": port,
        "api_key": api_key,
        "alerts_db": alerts_db,
        "max_open_sessions": max_open_sessions,
        "idle_timeout_s": idle_timeout,
        "max_window_len": max_window_len,
    }
    try:
        settings = Settings(artifact=artifact, **{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        typer.echo(f"error: invalid settings: {exc}", err=True)
        raise typer.Exit(code=1) from None
    if not artifact.is_dir():
        typer.echo(f"error: artifact directory not found: {artifact}", err=True)
        raise typer.Exit(code=1)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        timeout_graceful_shutdown=int(settings.shutdown_timeout_s),
    )


def tail(
    file: str = typer.Argument(..., help="log file to follow, or - for stdin"),
    artifact: Path = typer.Option(..., "--artifact", "-a", envvar="LOGBERT_ARTIFACT", help="trained artifact"),
    follow: bool = typer.Option(True, "--follow/--no-follow", help="keep waiting for new lines at EOF"),
    from_end: bool = typer.Option(False, "--from-end", help="score only lines written from now on"),
    json_output: bool = typer.Option(False, "--json", help="one JSON object per alert"),
    idle_timeout: float = typer.Option(300.0, help="seconds without a line before a session is scored"),
    max_open_sessions: int = typer.Option(10_000, help="open sessions kept before evicting idle ones"),
    max_window_len: int = typer.Option(512, help="cap on keys per scored window"),
) -> None:
    """Score FILE as it grows (like tail -f) and print an alert per anomalous window."""
    from logbert.streaming.engine import StreamLimits
    from logbert.streaming.loading import load_detector
    from logbert.streaming.tail import TailOptions, run_tail

    try:
        limits = StreamLimits(
            max_open_sessions=max_open_sessions, idle_timeout_s=idle_timeout, max_window_len=max_window_len
        )
        detector = load_detector(artifact)
        stats = run_tail(
            detector, file, limits, TailOptions(follow=follow, from_end=from_end, json_output=json_output), sys.stdout
        )
    except (LogBertError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(
        f"lines={int(stats['lines_received'])} accepted={int(stats['lines_accepted'])} "
        f"rejected={int(stats['lines_rejected'])} windows={int(stats['windows_scored'])} "
        f"alerts={int(stats['alerts'])}",
        err=True,
    )


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``tail`` to the main ``logbert`` app."""
    app.command("serve")(serve)
    app.command("tail")(tail)


register(serve_app)
