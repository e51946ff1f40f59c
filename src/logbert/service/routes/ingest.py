"""Ingest raw log lines (JSON or plain text)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from logbert.service.deps import get_store, require_api_key
from logbert.service.schemas import IngestRequest, IngestResponse, SourceName
from logbert.service.sessions import SessionStore

router = APIRouter(prefix="/v1", tags=["ingest"], dependencies=[Depends(require_api_key)])

_TEXT_BODY = {"requestBody": {"content": {"text/plain": {"schema": {"type": "string"}}}, "required": True}}


@router.post("/ingest", response_model=IngestResponse)
async def ingest_json(req: IngestRequest, store: SessionStore = Depends(get_store)) -> IngestResponse:
    """Ingest one raw line (`line`) or many (`lines`).

    Blank and malformed lines are rejected one by one; binary and over-long lines are repaired,
    counted (`binary`, `truncated`) and scored.
    """
    return await store.ingest(req.all_lines(), req.source)


@router.post("/ingest/text", response_model=IngestResponse, openapi_extra=_TEXT_BODY)
async def ingest_text(
    request: Request,
    source: SourceName = Query("default", description="stream name (its own sliding window)"),
    store: SessionStore = Depends(get_store),
) -> IngestResponse:
    """Ingest a plain-text body, one raw line per newline. Non-UTF-8 bytes are replaced and counted (`binary`)."""
    return await store.ingest_text(await request.body(), source)
