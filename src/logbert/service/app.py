"""The FastAPI application: ``create_app(settings)`` and its lifespan.

The lifespan loads the detector once (``api.load_detector(settings.artifact, need_parser=True)``,
or uses the one given to ``create_app``), opens the alert store, starts the idle-session reaper,
and on shutdown flushes: every open session is closed and scored and its alerts are stored
before the process ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Protocol

from anyio import to_thread
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from prometheus_client import CollectorRegistry
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from logbert.errors import InputDataError, LogBertError, UnknownArtifact
from logbert.service.alerts import AlertStore, SQLiteAlertStore
from logbert.service.deps import check_api_key
from logbert.service.errors import (
    Unauthorized,
    http_error_handler,
    logbert_error_handler,
    validation_error_handler,
)
from logbert.service.metrics import ServiceMetrics
from logbert.service.routes import alerts, health, incidents, info, ingest, metrics, score, sessions
from logbert.service.schemas import ServiceStats
from logbert.service.sessions import SessionStore
from logbert.service.settings import Settings
from logbert.streaming import Scorer
from logbert.streaming.journal import IngestJournal, JournalError

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("static")
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})


class BodyLimitMiddleware:
    """Answers 413 when a request body exceeds ``max_body_bytes`` (declared or streamed)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._reject(send, int(declared))
            return
        # Buffer the body while counting, so a chunked upload cannot slip past the limit.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body_bytes:
                await self._reject(send, size)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, send: Send, size: int) -> None:
        detail = f"request body is {size} bytes or more; max_body_bytes is {self.max_body_bytes}"
        body = json.dumps({"detail": detail, "error": "PayloadTooLarge"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


#: The API's own description: behind the key when one is set (``Settings.public_docs`` opens them).
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})


class DocsGuard:
    """401 for the API docs and schema without the key, before anything else runs."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in DOCS_PATHS and not self.settings.public_docs:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            try:
                check_api_key(headers, self.settings)
            except Unauthorized as exc:
                response = JSONResponse(
                    {"detail": str(exc), "error": "Unauthorized"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class TimingMiddleware:
    """Observes request latency per route template into the app's Prometheus histogram."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        t0 = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            # a client picks the method: only known ones become labels, or made-up methods grow /metrics forever
            method = scope["method"] if scope["method"] in _KNOWN_METHODS else "other"
            self.metrics.request_seconds.labels(method, route, str(status)).observe(time.perf_counter() - t0)


def _artifact_id(artifact: Path | None) -> str | None:
    """SHA-256 of the artifact's meta.json (which holds the hash of every other file): its identity."""
    meta = None if artifact is None else artifact / "meta.json"
    if meta is None or not meta.is_file():
        return None  # an injected detector (tests) or nothing to tie the store to
    return hashlib.sha256(meta.read_bytes()).hexdigest()


def open_alert_store(settings: Settings) -> AlertStore:
    """The alert store of ``settings``, tied to its artifact (raises AlertStoreError otherwise).

    ``alerts_db`` chooses it: a ``postgresql://`` URL (kept as a str by the settings) opens
    PostgreSQL (the ``postgres`` extra, imported only then), any other value a SQLite file.
    """
    artifact_id = _artifact_id(settings.artifact)
    timeout = settings.alerts_busy_timeout_s
    if isinstance(settings.alerts_db, str):
        from logbert.service.alerts_pg import PostgresAlertStore

        return PostgresAlertStore(settings.alerts_db, artifact_id=artifact_id, busy_timeout_s=timeout)
    return SQLiteAlertStore(settings.alerts_db, artifact_id=artifact_id, busy_timeout_s=timeout)


def check_alert_store(settings: Settings) -> None:
    """Open and close the alert store and the journal once: another artifact's are refused before start-up.

    Raises:
        AlertStoreError: unusable file, or alerts of another artifact.
        JournalError: unusable journal folder, or the checkpoint of another artifact.
    """
    store = open_alert_store(settings)
    location = store.path  # a URL's password masked
    store.close()
    path = settings.journal_path
    if path is None:
        return
    journal = IngestJournal(path, fsync=settings.journal_fsync)
    try:
        checkpoint = journal.load_checkpoint()
    finally:
        journal.close()
    ours, theirs = _artifact_id(settings.artifact), None if checkpoint is None else checkpoint.get("artifact")
    if ours is not None and theirs is not None and ours != theirs:
        own = (
            "its own LOGBERT_JOURNAL_DIR"
            if isinstance(settings.alerts_db, str) or settings.journal_dir is not None
            else "its own --alerts-db (the journal sits beside it)"
        )
        raise JournalError(
            f"the ingest journal {path} holds the open sessions of another artifact ({str(theirs)[:12]}…): give this "
            f"service {own}, or move the journal away (alerts in {location})"
        )


def check_device(device: str) -> None:
    """Raise :class:`InputDataError` for a device this machine lacks (``logbert.threads.resolve_device``)."""
    from logbert.threads import resolve_device  # imports torch: at call time

    try:
        resolve_device(device)
    except ValueError as exc:
        raise InputDataError(str(exc)) from None


def load_artifact(settings: Settings) -> Scorer:
    """``api.load_detector(settings.artifact, need_parser=True, device=settings.device)``.

    Raises:
        UnknownArtifact: no artifact set, an unusable one, or one without a log parser (trained on
            key-sequence files: it could not read a single raw line).
    """
    from logbert import api  # at call time: the facade loads torch, and tests patch it

    if settings.artifact is None:
        raise UnknownArtifact("no artifact: set LOGBERT_ARTIFACT or pass it to `logbert serve`")
    detector = api.load_detector(settings.artifact, need_parser=True, device=settings.device)
    basis = detector.use_threshold(settings.threshold, settings.target_fpr)
    logger.info("threshold %.4f (%s)", detector.threshold, basis)
    return detector


class Companion(Protocol):
    """Work that lives as long as the service and writes to its alert store: a queue consumer
    (``logbert serve --source``, built in ``logbert.cli.serve``; the service cannot import the queue
    package, which imports it). Started once the store is ready; ``stop`` is set at shutdown, before
    the store closes; its Prometheus ``registry`` (or None) joins ``/metrics``."""

    registry: CollectorRegistry | None

    async def run(self, alert_store: AlertStore, stop: asyncio.Event) -> None: ...


def create_app(
    settings: Settings, detector: Scorer | None = None, companions: Sequence[Companion] = ()
) -> FastAPI:
    """Build the service.

    Args:
        settings: service settings (artifact path, limits, storage).
        detector: an already loaded detector (or a test's fake); None = load ``settings.artifact``
            at start-up.
        companions: work that runs beside the service on its event loop (see :class:`Companion`).
            One that fails leaves the service up, its error in the log and ``/health/ready`` 503.
    """

    async def run_companion(companion: Companion, alert_store: AlertStore, stop: asyncio.Event) -> None:
        try:
            await companion.run(alert_store, stop)
        except Exception as exc:  # said in the log and by /health/ready, never silent
            logger.exception("%s failed", type(companion).__name__)
            app.state.companion_error = f"{type(companion).__name__} failed: {exc}"

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loaded = detector if detector is not None else await to_thread.run_sync(load_artifact, settings)
        alert_store = open_alert_store(settings)
        store = SessionStore(loaded, settings, alert_store, artifact_id=_artifact_id(settings.artifact))
        await to_thread.run_sync(store.recover)  # before ready: what was accepted before a crash comes first
        await to_thread.run_sync(_freeze_loaded_objects)
        app.state.store = store
        app.state.phase = "ready"
        reaper = asyncio.create_task(_reap_idle(store, settings.idle_check_interval_s, settings.checkpoint_interval_s))
        stop_companions = asyncio.Event()
        running = [asyncio.create_task(run_companion(c, alert_store, stop_companions)) for c in companions]
        base = f"http://{settings.host}:{settings.port}"
        logger.info(
            "logbert service ready: dashboard %s/dashboard/, API docs %s/docs, metrics %s/metrics (alerts in %s)",
            base,
            base,
            base,
            alert_store.path,  # never settings.alerts_db: a URL may hold a password
        )
        try:
            yield
        finally:
            app.state.phase = "stopping"
            stop_companions.set()  # a queue consumer commits and hands its partitions over while the store is open
            await asyncio.gather(*running)
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper
            flushed = await to_thread.run_sync(store.shutdown)
            logger.info("logbert service stopped (all windows scored: %s)", flushed)
            app.state.store = None

    # FastAPIOffline: FastAPI whose /docs and /redoc load Swagger UI and ReDoc from the installed
    # package instead of a CDN, so the API docs work on a machine with no way out
    app = FastAPIOffline(
        title="logbert",
        summary="Streaming LogBERT log anomaly detection",
        version=_version(),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.phase = "loading"
    app.state.store = None
    app.state.metrics = ServiceMetrics(lambda: _stats(app))
    app.state.extra_registries = [c.registry for c in companions if c.registry is not None]
    app.state.companion_error = None
    app.add_exception_handler(LogBertError, logbert_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    for module in (ingest, score, sessions, alerts, incidents, info, health, metrics):
        app.include_router(module.router)
    app.mount("/dashboard", StaticFiles(directory=STATIC_DIR, html=True), name="dashboard")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/dashboard/")

    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["X-API-Key", "Authorization", "Content-Type"],
        )
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(DocsGuard, settings=settings)
    app.add_middleware(TimingMiddleware, metrics=app.state.metrics)
    return app


def _freeze_loaded_objects() -> None:
    """Keep what start-up built (torch, FastAPI, the artifact: ~210k objects) out of every later
    garbage collection. Each full collection traversed them all, ~70 ms on the 2-core machine,
    and a collection runs inside whichever request allocates at that moment: it was the largest
    part of the ingest p99 on the HDFS replay. Garbage made before is collected first."""
    gc.collect()
    gc.freeze()


async def _reap_idle(store: SessionStore, interval_s: float, checkpoint_interval_s: float) -> None:
    """Close idle sessions, retry unsaved alerts and commit journal checkpoints, until cancelled."""
    last_checkpoint = time.monotonic()
    while True:
        await asyncio.sleep(interval_s)
        try:
            await store.expire_idle()
            if store.alerts.n_unsaved:
                await to_thread.run_sync(store.alerts.retry_unsaved)
            if store.journal is not None and time.monotonic() - last_checkpoint >= checkpoint_interval_s:
                last_checkpoint = time.monotonic()
                await to_thread.run_sync(store.checkpoint)
        except Exception:  # the reaper must survive one failure; it is logged
            logger.exception("closing idle sessions or committing a journal checkpoint failed")


def _stats(app: FastAPI) -> ServiceStats | None:
    store: SessionStore | None = app.state.store
    return None if store is None else store.stats()


def _version() -> str:
    from logbert import __version__

    return str(__version__)


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory logbert.service.app:create_app_from_env`` (settings from LOGBERT_*)."""
    return create_app(Settings())
