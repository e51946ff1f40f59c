"""Ingest raw log lines (JSON or plain text)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from logbert.service.deps import get_store, require_api_key
from logbert.service.schemas import SOURCE_MAX_CHARS, SOURCE_PATTERN, ErrorResponse, IngestRequest, IngestResponse
from logbert.service.sessions import SessionStore

router = APIRouter(prefix="/v1", tags=["ingest"], dependencies=[Depends(require_api_key)])

_TEXT_BODY = {"requestBody": {"content": {"text/plain": {"schema": {"type": "string"}}}, "required": True}}

#: ``Idempotency-Key`` (the IETF httpapi draft's header): a client's id of one ingest call. A retry with the same key,
#: source and lines (after a timeout, a dropped connection, a restart of the service) is answered with the first
#: call's counts and rejections and ``"duplicate": true`` and not applied again; the same key with other lines is a
#: 422. It is kept as data (journal, checkpoints), never a path or a label. The rule, said once (a 422 says it):
IDEMPOTENCY_KEY_MAX_CHARS = 200
IDEMPOTENCY_KEY_RULE = (
    f"1 to {IDEMPOTENCY_KEY_MAX_CHARS} printable ASCII characters without spaces ('!' to '~', e.g. host7-000123)"
)


def _idempotency_key(value: str | None) -> str | None:
    """The rule in words: the header's pattern answered a 422 that quoted the regex ``^[\\x21-\\x7e]+$``."""
    if value is None:
        return None
    if not 1 <= len(value) <= IDEMPOTENCY_KEY_MAX_CHARS:
        raise PydanticCustomError(
            "idempotency_key",
            "an Idempotency-Key is {rule}; this one has {n} characters",
            {"rule": IDEMPOTENCY_KEY_RULE, "n": len(value)},
        )
    for at, char in enumerate(value, start=1):
        if not "!" <= char <= "~":
            # a header's bytes are read as latin-1, one character each: é sent as UTF-8 is bytes 0xc3 0xa9
            what = "a space" if char == " " else f"the byte 0x{ord(char):02x}, not printable ASCII"
            raise PydanticCustomError(
                "idempotency_key",
                "an Idempotency-Key is {rule}; character {at} of this one is {what}",
                {"rule": IDEMPOTENCY_KEY_RULE, "at": at, "what": what},
            )
    return value


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description=f"the client's id of this call: a retry with the same key and lines is not applied twice; "
        f"{IDEMPOTENCY_KEY_RULE}",
        json_schema_extra={"pattern": "^[!-~]+$", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX_CHARS},
    ),
    AfterValidator(_idempotency_key),
]

#: 422: a body that does not fit its schema, or an Idempotency-Key used before for other lines
_ERRORS: dict[int | str, dict[str, object]] = {422: {"model": ErrorResponse, "description": "Unprocessable"}}


@router.post("/ingest", response_model=IngestResponse, responses=_ERRORS)
async def ingest_json(
    req: IngestRequest, store: SessionStore = Depends(get_store), idempotency_key: IdempotencyKey = None
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
    idempotency_key: IdempotencyKey = None,
) -> IngestResponse:
    """Ingest a plain-text body, one raw line per newline. Non-UTF-8 bytes are replaced and counted (`binary`).
    With an `Idempotency-Key` header a retry of the same call is answered (`duplicate: true`), not applied twice."""
    return await store.ingest_text(await request.body(), source, idempotency_key)
