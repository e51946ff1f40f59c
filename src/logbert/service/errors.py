"""Service-side errors and the one handler that turns every ``LogBertError`` into a response."""

from __future__ import annotations

from http import HTTPStatus

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

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
    return JSONResponse(_validation_answer(request, exc), status_code=422)


def _validation_answer(request: Request, exc: RequestValidationError) -> dict[str, object]:
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
    return answer


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's and FastAPI's own HTTP errors in the same shape as every other error: ``detail`` and ``error``.

    A JSON body FastAPI cannot read (not UTF-8, nested past the parser's depth) came as a bare
    ``400 {"detail": "There was an error parsing the body"}`` beside the 422 of a syntax error; it is a request
    that does not fit its schema like any other, so it is answered as :func:`validation_error_handler` answers.
    """
    assert isinstance(exc, StarletteHTTPException)
    cause = exc.__cause__
    if exc.status_code == 400 and cause is not None:  # FastAPI raises its body-parse 400 `from` the parse error
        answer = _validation_answer(request, RequestValidationError([body_parse_error(cause)]))
        if isinstance(cause, UnicodeDecodeError) and request.url.path.endswith("/v1/ingest"):
            answer["hint"] = "log lines in another encoding: POST them to /v1/ingest/text (repaired and counted)"
        return JSONResponse(answer, status_code=422)
    try:
        name = "".join(HTTPStatus(exc.status_code).phrase.split())  # NotFound, MethodNotAllowed
    except ValueError:
        name = "HTTPException"
    return JSONResponse({"detail": exc.detail, "error": name}, status_code=exc.status_code, headers=exc.headers)


def body_parse_error(cause: BaseException) -> dict[str, object]:
    """The validation error of a body that could not be read as JSON (``cause``: what the JSON reader raised)."""
    if isinstance(cause, UnicodeDecodeError):
        body = bytes(cause.object)
        try:
            body.decode("utf-8")
            at = cause.start  # valid UTF-8 that the reader took for UTF-16 or -32 (zero bytes at the start)
        except UnicodeDecodeError as exc:
            at = exc.start
        return {
            "type": "json_invalid",
            "loc": ("body", at),
            "msg": f"the body is not UTF-8 (byte 0x{body[at]:02x} at offset {at}): JSON must be UTF-8",
        }
    why = "it is nested too deeply" if isinstance(cause, RecursionError) else f"{type(cause).__name__}: {cause}"
    return {"type": "json_invalid", "loc": ("body",), "msg": f"the body could not be read as JSON: {why}"}
