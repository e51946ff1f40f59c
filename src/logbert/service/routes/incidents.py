"""Incidents: a session's alerts as one item, and what a person decided about it (the feedback loop)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import PlainTextResponse

from logbert.service.alerts import IncidentStatus
from logbert.service.deps import get_store, require_api_key
from logbert.service.routes.alerts import MAX_ID
from logbert.service.schemas import IncidentDecision, IncidentList
from logbert.service.sessions import SessionStore, UntriagedLabel

router = APIRouter(prefix="/v1", tags=["incidents"], dependencies=[Depends(require_api_key)])
SessionId = Annotated[str, Path(min_length=1, max_length=200)]


@router.get("/incidents", response_model=IncidentList)
async def list_incidents(
    status: IncidentStatus | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_ID),
    store: SessionStore = Depends(get_store),
) -> IncidentList:
    """One incident per session with alerts (its windows grouped), most recent first; filter by status."""
    return await store.list_incidents(status, limit, offset)


@router.post("/incidents/{session_id}/acknowledge", response_model=IncidentList)
async def acknowledge(
    session_id: SessionId, decision: IncidentDecision | None = None, store: SessionStore = Depends(get_store)
) -> IncidentList:
    """A real problem: the session is listed as anomalous in `/v1/incidents/labels`."""
    return await store.decide(session_id, "acknowledged", decision.note if decision else None)


@router.post("/incidents/{session_id}/mark-normal", response_model=IncidentList)
async def mark_normal(
    session_id: SessionId, decision: IncidentDecision | None = None, store: SessionStore = Depends(get_store)
) -> IncidentList:
    """A false alarm: the session counts as normal for the next training."""
    return await store.decide(session_id, "normal", decision.note if decision else None)


@router.get("/incidents/labels", response_class=PlainTextResponse)
async def labels(untriaged: UntriagedLabel = "left_out", store: SessionStore = Depends(get_store)) -> str:
    """Acknowledged sessions, then those whose incident is still open, one id per line: `logbert train LOG --labels
    this.txt` keeps them out of training (an id list: listed = anomalous, every other session normal, false alarms
    marked normal included). `?untriaged=normal` lists the acknowledged ones only: open incidents then train as
    normal."""
    return store.labels_file(untriaged)
