"""One-shot scoring: lines or key sequences in, per-session scores with explanations out."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from logbert.service.deps import get_store, require_api_key
from logbert.service.schemas import ScoreRequest, ScoreResponse
from logbert.service.sessions import SessionStore

router = APIRouter(prefix="/v1", tags=["score"], dependencies=[Depends(require_api_key)])


@router.post("/score", response_model=ScoreResponse)
async def score(req: ScoreRequest, store: SessionStore = Depends(get_store)) -> ScoreResponse:
    """Score a batch synchronously, as `logbert score` scores a file; the streaming state is untouched.

    Raw `lines` are grouped like a log file (sessions by id, or the artifact's sliding / time
    windows); `sequences` are whole sessions of key ids. Each session scores its worst window and is
    anomalous above `threshold`; with `explain`, anomalous ones carry that window's missed keys.
    """
    return await store.score_once(req)
