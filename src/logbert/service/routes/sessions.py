"""Session scores: one session, the top sessions, closing."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from logbert.results import SessionState
from logbert.service.deps import get_store, require_api_key
from logbert.service.routes.alerts import MAX_ID
from logbert.service.schemas import CloseAllResponse, ScoreHistory, SessionList, SessionScore, Stats
from logbert.service.sessions import SessionStore

router = APIRouter(prefix="/v1", tags=["sessions"], dependencies=[Depends(require_api_key)])


@router.get("/sessions", response_model=SessionList)
def list_sessions(
    limit: int = Query(20, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_ID, description="sessions to skip: the next page is offset + limit"),
    state: SessionState | None = None,
    store: SessionStore = Depends(get_store),
) -> SessionList:
    """Sessions by descending max score (the most anomalous first), a page at a time as `/v1/alerts` pages:
    `total` says how many match, `offset` skips that many (open sessions move as their lines are scored)."""
    return store.sessions(limit, state, offset)


@router.post("/sessions/close-all", response_model=CloseAllResponse)
async def close_all(store: SessionStore = Depends(get_store)) -> CloseAllResponse:
    """Close every open session and wait until every queued window is scored."""
    return await store.close_all()


@router.get("/sessions/{session_id}", response_model=SessionScore)
def get_session(session_id: str, store: SessionStore = Depends(get_store)) -> SessionScore:
    """The current score of one session (higher = more anomalous)."""
    return store.session(session_id)


@router.post("/sessions/{session_id}/close", response_model=SessionScore)
async def close_session(session_id: str, store: SessionStore = Depends(get_store)) -> SessionScore:
    """End a session now: its buffered keys are scored; returns its final state."""
    return await store.close_session(session_id)


@router.get("/scores", response_model=ScoreHistory)
def score_history(limit: int = Query(500, ge=1, le=10_000), store: SessionStore = Depends(get_store)) -> ScoreHistory:
    """The latest scored windows, oldest first (score over time)."""
    return store.score_history(limit)


@router.get("/stats", response_model=Stats)
def stats(store: SessionStore = Depends(get_store)) -> Stats:
    """Counters and gauges: lines, windows, sessions, queue, ingest rate."""
    return Stats(values=store.stats())
