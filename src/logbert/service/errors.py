"""Service-side errors and the one handler that turns every ``LogBertError`` into a response."""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from logbert.errors import ConfigError, InputDataError, LogBertError, NotFittedError, UnknownArtifact
from logbert.streaming import Overloaded, RequestConflict
from logbert.streaming.journal import JournalError


class Unauthorized(LogBertError):
    """Missing or wrong API key."""


class PayloadTooLarge(LogBertError):
    """The request body is larger than ``max_body_bytes``."""


class LimitExceeded(LogBertError):
    """Too many lines in one request (``max_lines_per_request``)."""


class UnknownSession(LogBertError):
    """No open or remembered session has this id."""


class UnknownAlert(LogBertError):
    """No stored alert has this id."""


class NotReady(LogBertError):
    """The detector is not loaded yet, or the service is shutting down."""


_STATUS: tuple[tuple[type[LogBertError], int], ...] = (
    (Unauthorized, 401),
    (UnknownSession, 404),
    (UnknownAlert, 404),
    (PayloadTooLarge, 413),
    (LimitExceeded, 422),
    (RequestConflict, 422),  # an Idempotency-Key used before for other lines
    (InputDataError, 422),
    (ConfigError, 422),
    (NotFittedError, 409),
    (UnknownArtifact, 409),
    (Overloaded, 503),
    (JournalError, 503),  # a line that cannot be journalled is not accepted: the client retries
    (NotReady, 503),
)


def status_for(exc: LogBertError) -> int:
    """HTTP status of a library or service error (400 for any other ``LogBertError``)."""
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 400


async def logbert_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """The single mapping of ``LogBertError`` to an HTTP error with a clear ``detail``."""
    assert isinstance(exc, LogBertError)  # registered for LogBertError only
    status = status_for(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 503:
        headers = {"Retry-After": "1"}
    return JSONResponse({"detail": str(exc), "error": type(exc).__name__}, status_code=status, headers=headers)


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """422 for a request that does not fit its schema, naming where and why but never echoing the input.

    FastAPI's default handler repeats the offending input, which fails to encode for a lone
    surrogate or a NaN literal (an HTTP 500) and hands user data back to the caller.
    """
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": [str(part) for part in err.get("loc", ())],
            "msg": str(err.get("msg", "")),
            "type": str(err.get("type", "")),
        }
        for err in exc.errors()
    ]
    answer: dict[str, object] = {"detail": errors, "error": "RequestValidationError"}
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and any(e["loc"][:1] == ["body"] for e in errors):
        # curl -d sends application/x-www-form-urlencoded: the body is then no JSON object, and pydantic's words
        # ("Input should be a valid dictionary") do not say why
        answer["hint"] = (
            f"the body was sent as {media or 'no content type'}: send JSON with 'content-type: application/json' "
            "(plain-text log lines: POST /v1/ingest/text)"
        )
    return JSONResponse(answer, status_code=422)
