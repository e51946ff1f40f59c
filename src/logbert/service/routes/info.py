"""What the loaded artifact does: window mode, lengths, threshold."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from logbert.service.deps import get_detector, get_store, require_api_key
from logbert.service.sessions import SessionStore
from logbert.streaming import Scorer

router = APIRouter(prefix="/v1", tags=["info"], dependencies=[Depends(require_api_key)])


class Info(BaseModel):
    window_mode: str
    max_window_len: int  # effective: the smaller of the artifact's and the service's cap
    threshold: float  # anomaly_score above it = anomalous (higher = more anomalous)
    score: str


@router.get("/info", response_model=Info)
def info(detector: Scorer = Depends(get_detector), store: SessionStore = Depends(get_store)) -> Info:
    cfg = detector.config
    return Info(
        window_mode=cfg.window.mode,
        max_window_len=store.engine.max_len,
        threshold=float(detector.threshold),
        score=cfg.scoring.score,
    )
