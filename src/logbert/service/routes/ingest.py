"""Ingest raw log lines (JSON or plain text)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Query, Request

from logbert.service.deps import get_store, require_api_key
from logbert.service.schemas import SOURCE_MAX_CHARS, SOURCE_PATTERN, ErrorResponse, IngestRequest, IngestResponse
from logbert.service.sessions import SessionStore

router = APIRouter(prefix="/v1", tags=["ingest"], dependencies=[Depends(require_api_key)])

_TEXT_BODY = {"requestBody": {"content": {"text/plain": {"schema": {"type": "string"}}}, "required": True}}

#: ``Idempotency-Key`` (the IETF httpapi draft's header): a client's id of one ingest call. A retry with the same key,
#: source and lines (after a timeout, a dropped connection, a restart of the service) is answered with the first
#: call's counts and rejections and ``"duplicate": true`` and not applied again; the same key with other lines is a
#: 422. Printable ASCII, at most 200 characters; it is kept as data (journal, checkpoints), never a path or a label.
IdempotencyKey = Header(
    None,
    alias="Idempotency-Key",
    min_length=1,
    max_length=200,
    pattern=r"^[\x21-\x7e]+$",
    description="the client's id of this call: a retry with the same key and lines is not applied twice",
)
#: 422: a body that does not fit its schema, or an Idempotency-Key used before for other lines
_ERRORS: dict[int | str, dict[str, object]] = {422: {"model": ErrorResponse, "description": "Unprocessable"}}


@router.post("/ingest", response_model=IngestResponse, responses=_ERRORS)
async def ingest_json(
    req: IngestRequest, store: SessionStore = Depends(get_store), idempotency_key: str | None = IdempotencyKey
) -> IngestResponse:
    """Ingest one raw line (`line`) or many (`lines`).

    Blank and malformed lines are rejected one by one; binary and over-long lines are repaired,
    counted (`binary`, `truncated`) and scored. With an `Idempotency-Key` header a retry of the same
    call is answered (`duplicate: true`), not applied twice.
    """
    return await store.ingest(req.all_lines(), req.source, idempotency_key)


@router.post("/ingest/text", response_model=IngestResponse, openapi_extra=_TEXT_BODY, responses=_ERRORS)
async def ingest_text(
    request: Request,
    # a Query of its own: a query parameter does not take the constraints of a body field's Annotated type
    source: str = Query(
        "default",
        description="stream name (its own sliding window)",
        min_length=1,
        max_length=SOURCE_MAX_CHARS,
        pattern=SOURCE_PATTERN,
    ),
    store: SessionStore = Depends(get_store),
    idempotency_key: str | None = IdempotencyKey,
) -> IngestResponse:
    """Ingest a plain-text body, one raw line per newline. Non-UTF-8 bytes are replaced and counted (`binary`).
    With an `Idempotency-Key` header a retry of the same call is answered (`duplicate: true`), not applied twice."""
    return await store.ingest_text(await request.body(), source, idempotency_key)
