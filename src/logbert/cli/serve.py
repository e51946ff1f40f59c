"""``logbert serve`` (the HTTP service) and ``logbert tail`` (score a growing file, no server).

Wired into the main CLI with ``register(app)``. Both commands fill the same engine limits
(:class:`~logbert.streaming.StreamLimits`: the service's ``Settings.limits``) with the same
options; an option not given keeps the limit's default (or, for ``serve``, its
``LOGBERT_LIMITS__*`` environment variable).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError

from logbert.cli._common import TargetFprOption
from logbert.config import WindowMode, describe_errors
from logbert.errors import LogBertError
from logbert.files import artifact_dir
from logbert.streaming import StreamLimits
from logbert.streaming.stats import StreamStats

_DEFAULT_LIMITS = StreamLimits()


def _limit_option(field: str, text: str, env: bool) -> Any:
    """An engine-limit option (None = not given); the help shows the one default, from StreamLimits, and a value
    out of the limit's bounds is refused as an option error (:func:`check_limit`)."""
    where = f"; env LOGBERT_LIMITS__{field.upper()}" if env else ""
    # parentheses, not brackets: typer's rich help would take "[...]" for markup and drop it
    return typer.Option(
        None,
        callback=lambda value: check_limit(field, value),
        help=f"{text} (default {getattr(_DEFAULT_LIMITS, field)}{where})",
    )


def check_limit(field: str, value: Any) -> Any:
    """``value`` when StreamLimits takes it for ``field``, else a one-line option error. StreamLimits says, so that
    its bounds are written in one place (before, a bad value printed pydantic's whole ValidationError)."""
    if value is not None:
        try:
            StreamLimits.model_validate({field: value})
        except ValidationError as exc:
            raise typer.BadParameter(exc.errors()[0]["msg"]) from None
    return value


_OPEN = ("max_open_sessions", "open sessions kept before the most idle one is scored")
_IDLE = ("idle_timeout_s", "seconds without a line before a session is scored")
_WINDOW = ("max_window_len", "cap on keys per scored window (the artifact's window.max_len applies too)")


def _limits(max_open_sessions: int | None, idle_timeout: float | None, max_window_len: int | None) -> dict[str, Any]:
    """The limits given on the command line, by their ``StreamLimits`` names."""
    given = {"max_open_sessions": max_open_sessions, "idle_timeout_s": idle_timeout, "max_window_len": max_window_len}
    return {k: v for k, v in given.items() if v is not None}


def serve(
    artifact: Path = typer.Argument(
        ..., envvar="LOGBERT_ARTIFACT", show_envvar=False, help="trained artifact directory (env LOGBERT_ARTIFACT)"
    ),
    host: str | None = typer.Option(None, help="bind address (default 127.0.0.1; env LOGBERT_HOST)"),
    port: int | None = typer.Option(None, help="port (default 8000; env LOGBERT_PORT)"),
    api_key: str | None = typer.Option(
        None, help="require this key in X-API-Key (visible in `ps`: prefer --api-key-file or LOGBERT_API_KEY)"
    ),
    api_key_file: Path | None = typer.Option(None, help="read the API key from this file (first line)"),
    alerts_db: str | None = typer.Option(
        None, help="SQLite file or postgresql:// URL for alerts (env LOGBERT_ALERTS_DB)"
    ),
    max_open_sessions: int | None = _limit_option(*_OPEN, env=True),
    idle_timeout: float | None = _limit_option(*_IDLE, env=True),
    max_window_len: int | None = _limit_option(*_WINDOW, env=True),
    threshold: float | None = typer.Option(
        None, "--threshold", help="decide with this instead of the stored threshold (env LOGBERT_THRESHOLD)"
    ),
    target_fpr: float | None = typer.Option(
        None, "--target-fpr", help="decide at this false-alarm rate on normal sessions (env LOGBERT_TARGET_FPR)"
    ),
    alert_webhook: str | None = typer.Option(
        None, help="push alerts to this Alertmanager-compatible URL, e.g. http://am:9093/api/v2/alerts"
    ),
    journal: bool | None = typer.Option(
        None,
        "--journal/--no-journal",
        help="keep accepted lines on disk until their alerts are stored, beside --alerts-db (default on; "
        "env LOGBERT_JOURNAL)",
    ),
    public_docs: bool | None = typer.Option(
        None,
        "--public-docs/--no-public-docs",
        help="with an API key, serve /docs and /openapi.json without it (env LOGBERT_PUBLIC_DOCS)",
    ),
    source: str | None = typer.Option(
        None,
        "--source",
        envvar="LOGBERT_SOURCE",
        help="also consume this NATS queue as one replica of --group (as `logbert worker`; needs a "
        "postgresql:// --alerts-db)",
    ),
    replica_id: str | None = typer.Option(
        None, "--replica-id", envvar="LOGBERT_REPLICA_ID", help="with --source: this replica's name (default host-pid)"
    ),
    group: str = typer.Option("logbert", "--group", help="with --source: the consumer group"),
    partitions: int | None = typer.Option(
        None, "--partitions", min=1, help="with --source: create the stream with this many partitions if it is missing"
    ),
    device: str | None = typer.Option(
        None, "--device", help="where the model scores: cpu, cuda, cuda:N, mps or auto (default cpu; LOGBERT_DEVICE)"
    ),
    log_level: str = typer.Option("info", help="uvicorn log level"),
    access_log: bool = typer.Option(False, "--access-log/--no-access-log", help="log every HTTP request"),
) -> None:
    """Serve the REST API, metrics and the live dashboard for ARTIFACT (see /docs)."""
    import logging

    import uvicorn

    from logbert.service.app import Companion, check_alert_store, check_device, create_app, load_artifact
    from logbert.service.settings import Settings

    if api_key is not None and api_key_file is not None:
        typer.echo("error: give --api-key or --api-key-file, not both", err=True)
        raise typer.Exit(code=1)
    if api_key_file is not None:
        try:
            api_key = api_key_file.read_text(encoding="utf-8").splitlines()[0].strip()
        except (OSError, UnicodeDecodeError, IndexError) as exc:
            typer.echo(f"error: cannot read an API key from {api_key_file}: {exc}", err=True)
            raise typer.Exit(code=1) from None
    overrides: dict[str, Any] = {
        "host": host,
        "port": port,
        "api_key": api_key,
        "alerts_db": alerts_db,
        "threshold": threshold,
        "target_fpr": target_fpr,
        "alert_webhook": alert_webhook,
        "journal": journal,
        "public_docs": public_docs,
        "device": device,
    }
    try:
        settings = Settings(
            artifact=artifact,
            # a dict, not a StreamLimits: pydantic-settings merges it with LOGBERT_LIMITS__* variables
            limits=_limits(max_open_sessions, idle_timeout, max_window_len),
            **{k: v for k, v in overrides.items() if v is not None},
        )
    except ValidationError as exc:
        typer.echo(f"error: invalid settings: {describe_errors(exc.errors())}", err=True)
        raise typer.Exit(code=1) from None
    try:
        artifact_dir(artifact)
    except LogBertError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    if source is not None and not isinstance(settings.alerts_db, str):
        typer.echo("error: --source needs a postgresql:// --alerts-db (alerts and positions are shared)", err=True)
        raise typer.Exit(code=1)
    companions: list[Companion] = []
    try:  # the artifact must load, and the alert store must belong to it: say so now, not in a start-up traceback
        check_device(settings.device)  # before the alert store is created: a wrong flag leaves nothing behind
        # loaded (and so validated) before the store is opened: opening binds it to the artifact's meta.json, and a
        # broken one bound it to the hash of a file that was then repaired, refused from then on as "another artifact"
        detector = load_artifact(settings)
        check_alert_store(settings)
        if source is not None:
            from logbert.cli.worker import queue_consumer

            companions.append(queue_consumer(settings, source, replica_id, group, partitions))
    except LogBertError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    if settings.exposed_without_key:
        typer.echo(
            f"WARNING: listening on {settings.host} without an API key: anyone who reaches this port can send "
            "lines and read every alert. Set --api-key-file (or LOGBERT_API_KEY).",
            err=True,
        )
    if log_level.lower() in ("info", "debug", "trace"):
        # a server's own life (recovered from the journal, what shutdown kept) belongs in its default log
        logging.getLogger("logbert").setLevel(logging.DEBUG if log_level.lower() != "info" else logging.INFO)
    window = detector.config.window
    typer.echo(f"logbert: scoring {window.rule(settings.limits.max_window_len)}", err=True)
    base = f"http://{settings.host}:{settings.port}"
    typer.echo(f"logbert: dashboard {base}/dashboard/  API docs {base}/docs  metrics {base}/metrics", err=True)
    uvicorn.run(
        create_app(settings, detector=detector, companions=companions),
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        access_log=access_log,  # one line per request floods the log at the default level
        timeout_graceful_shutdown=int(settings.shutdown_timeout_s),
    )


def tail_paths(paths: list[str], artifact: Path | None) -> tuple[Path, str]:
    """``logbert tail``'s ``(artifact, file)``: ``ARTIFACT FILE`` as ``score`` takes them, or ``FILE`` alone with
    ``--artifact`` / ``LOGBERT_ARTIFACT``.

    Raises:
        ValueError: no artifact, two different ones, or more than two arguments.
    """
    if len(paths) > 2:
        raise ValueError(f"tail takes [ARTIFACT] FILE, got {len(paths)} arguments")
    if len(paths) == 2:
        given = Path(paths[0])
        if artifact is not None and artifact.resolve() != given.resolve():
            raise ValueError(
                f"two artifacts: {paths[0]!r} (argument) and {str(artifact)!r} (--artifact or LOGBERT_ARTIFACT); "
                "give one"
            )
        return given, paths[1]
    if artifact is None:
        raise ValueError("no artifact: logbert tail ARTIFACT FILE (or --artifact / LOGBERT_ARTIFACT with FILE alone)")
    return artifact, paths[0]


#: ``logbert tail --help``: one paragraph a line (the help keeps a docstring's line ends)
TAIL_HELP = "\n\n".join(
    [
        "Score FILE as it grows (like tail -f) and print an alert per anomalous window: logbert tail ARTIFACT FILE.",
        "Alerts name a window as score names its unit (t10, w16; in mode session, the session and its window's "
        "place in it). The counts at the end, on standard error: lines read, accepted, malformed and empty (the "
        "lines rejected, in score's words), binary, truncated, windows (as score counts them; time windows over the "
        "key cap: also the pieces scored) and alerts.",
        "Exit status, as score's: 0 when it ran, alerts or not, also when Ctrl-C or SIGTERM stopped it (every line "
        "read is scored); 1 on an error: a file it cannot follow, an artifact that does not load, an input that "
        "ended (--no-follow, or standard input) with no line but blank ones (score: input file is empty), or lines of "
        "which none was scored (not in the artifact's format, or naming no session id). A followed file that nothing "
        "was written to yet is waited on.",
    ]
)


def tail(
    paths: list[str] = typer.Argument(
        ..., metavar="[ARTIFACT] FILE", help="trained artifact (or --artifact) and the log file to follow, - for stdin"
    ),
    artifact_option: Path | None = typer.Option(
        None, "--artifact", "-a", envvar="LOGBERT_ARTIFACT", help="trained artifact, when not the first argument"
    ),
    follow: bool = typer.Option(True, "--follow/--no-follow", help="keep waiting for new lines at EOF"),
    from_end: bool = typer.Option(False, "--from-end", help="score only lines written from now on"),
    json_output: bool = typer.Option(False, "--json", help="one JSON object per alert"),
    idle_timeout: float | None = _limit_option(*_IDLE, env=False),
    max_open_sessions: int | None = _limit_option(*_OPEN, env=False),
    max_window_len: int | None = _limit_option(*_WINDOW, env=False),
    threshold: float | None = typer.Option(None, "--threshold", help="decide with this instead of the stored one"),
    target_fpr: float | None = TargetFprOption,
    device: str = typer.Option("cpu", "--device", help="where the model scores: cpu, cuda, cuda:N, mps or auto"),
) -> None:
    """Score FILE as it grows (like tail -f) and print an alert per anomalous window (the help: TAIL_HELP)."""
    from logbert import api
    from logbert.streaming.tail import TailOptions, followable, nothing_accepted, nothing_read, run_tail

    mode: WindowMode = "session"  # the artifact's, once loaded

    def status(stats: StreamStats) -> None:
        typer.echo(_counts(stats, prefix="tail: so far ", mode=mode), err=True)

    try:
        artifact, file = tail_paths(paths, artifact_option)
        if file != "-":  # said before the artifact loads and the banner names the file
            followable(Path(file))
        limits = StreamLimits(**_limits(max_open_sessions, idle_timeout, max_window_len))
        detector = api.load_detector(artifact, need_parser=True, device=device)
        basis = detector.use_threshold(threshold, target_fpr)
        window = detector.config.window
        mode = window.mode
        typer.echo(
            f"tail: scoring {file} with {artifact} ({window.rule(limits.max_window_len)}, "
            f"threshold {detector.threshold:.4f}: {basis}); alerts on stdout, progress here"
            + ("; Ctrl-C or SIGTERM stops" if follow else ""),
            err=True,
        )
        opts = TailOptions(follow=follow, from_end=from_end, json_output=json_output)
        stop, ended = threading.Event(), threading.Event()
        with _stopped_by_sigterm(stop):
            stats = run_tail(detector, file, limits, opts, sys.stdout, stop=stop, on_status=status, ended=ended)
    except (LogBertError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(_counts(stats, prefix="tail: ", mode=mode), err=True)
    unseen = api.mostly_unseen(stats.lines_unknown_template, stats.lines_accepted, window.unit_noun, detector.directory)
    if unseen is not None:  # score's warning, on the same counts
        typer.echo(f"warning: {unseen}", err=True)
    why = (nothing_read(stats, file) if ended.is_set() else None) or nothing_accepted(stats, detector.config)
    if why is not None:  # as score would: an error, not a run that looked fine
        typer.echo(f"error: {why}", err=True)
        raise typer.Exit(code=1)


@contextmanager
def _stopped_by_sigterm(stop: threading.Event) -> Iterator[None]:
    """While inside, SIGTERM sets ``stop``: tail then ends as on Ctrl-C (every line read scored, the counts
    printed, exit 0). SIGTERM is what systemctl stop, docker stop and Kubernetes send; its default action killed
    tail with the open sessions and their partial windows unscored and no summary. A handler can only be set
    from the main thread; elsewhere (tail called from a library's thread) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _counts(stats: StreamStats, prefix: str, mode: WindowMode) -> str:
    """tail's counts: of the lines, in score's words (malformed, empty: the lines rejected), and of the windows, as
    score counts them (mode time: ``t<i>`` once, however many pieces of ``max_len`` keys it was scored in)."""
    return (
        f"{prefix}lines={stats.lines_received} accepted={stats.lines_accepted} "
        f"malformed={stats.rejected_malformed} empty={stats.rejected_empty} "
        # parsed, but no session id (session windows): every line received is counted in one of the four
        + (f"without_session={stats.lines_unrouted} " if stats.lines_unrouted else "")
        + f"binary={stats.lines_binary} truncated={stats.lines_truncated} "
        # score's "with an unseen template": the lines of sessions (or windows) whose template training never saw
        + (f"unseen_template={stats.lines_unknown_template} " if stats.lines_unknown_template else "")
        + f"windows={_windows(stats, mode)} "
        f"alerts={stats.alerts}"
        # sessions evicted (max_open_sessions) while still receiving lines: scored in two parts
        + (
            f" split_by_eviction={stats.sessions_split_by_eviction} (raise --max-open-sessions)"
            if stats.sessions_split_by_eviction
            else ""
        )
        # sessions running when the stream began: scored, their alerts withheld (logbert.scoring.capture)
        + (
            f" in_flight_at_start={stats.sessions_in_flight} (not alerted; "
            f"{stats.windows_in_flight_not_alerted} windows over the threshold)"
            if stats.sessions_in_flight
            else ""
        )
    )


def _windows(stats: StreamStats, mode: WindowMode) -> str:
    """The windows scored: in modes sliding and time each once, as score counts them, with the model inputs that
    scored them where more (pieces of time windows over max_len keys; sliding windows scored short at an idle close
    and again complete); in mode session, every window of a session (score counts sessions)."""
    if mode == "session":
        return str(stats.windows_scored)
    more = stats.windows_scored - stats.windows_distinct
    return f"{stats.windows_distinct}" + (f" ({stats.windows_scored} {_MORE[mode]})" if more > 0 else "")


_MORE = {"time": "pieces", "sliding": "scored"}


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``tail`` to the main ``logbert`` app."""
    app.command("serve")(serve)
    app.command("tail", help=TAIL_HELP)(tail)
