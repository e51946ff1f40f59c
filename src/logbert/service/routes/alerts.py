"""Stored alerts, filtered."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from logbert.service.alerts import AlertFilter
from logbert.service.deps import get_store, require_api_key
from logbert.service.schemas import Alert, AlertList, ClientFloat
from logbert.service.sessions import SessionStore

#: SQLite integers are 64-bit signed: a larger id or offset is a 422, not a 500.
MAX_ID = 2**63 - 1

router = APIRouter(prefix="/v1", tags=["alerts"], dependencies=[Depends(require_api_key)])


@router.get("/alerts", response_model=AlertList)
async def list_alerts(
    session_id: str | None = None,
    min_score: ClientFloat | None = None,
    since: ClientFloat | None = Query(None, description="epoch seconds, inclusive"),
    until: ClientFloat | None = Query(None, description="epoch seconds, exclusive"),
    after_id: int | None = Query(None, ge=0, le=MAX_ID, description="only alerts newer than this id"),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_ID),
    store: SessionStore = Depends(get_store),
) -> AlertList:
    """Alerts newest first, with their explanations."""
    flt = AlertFilter(session_id, min_score, since, until, after_id, limit, offset)
    return await store.list_alerts(flt)


@router.get("/alerts/{alert_id}", response_model=Alert)
async def get_alert(alert_id: Annotated[int, Path(ge=0, le=MAX_ID)], store: SessionStore = Depends(get_store)) -> Alert:
    return await store.get_alert(alert_id)
