"""What the loaded artifact does: window mode, lengths and widths, threshold."""

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
    window_size: int | None = None  # mode "sliding": keys per window (capped as max_window_len); else null
    stride: int | None = None  # mode "sliding": keys between window starts; else null
    time_window_s: float | None = None  # mode "time": seconds per window; else null
    windows: str  # the rule in words, as tail's and serve's banners say it (WindowConfig.rule)
    threshold: float  # anomaly_score above it = anomalous (higher = more anomalous)
    score: str


@router.get("/info", response_model=Info)
def info(detector: Scorer = Depends(get_detector), store: SessionStore = Depends(get_store)) -> Info:
    cfg = detector.config
    window, cap = cfg.window, store.engine.max_len
    sliding = window.mode == "sliding"
    return Info(
        window_mode=window.mode,
        max_window_len=cap,
        window_size=min(window.window_size, cap) if sliding else None,
        stride=window.stride if sliding else None,
        time_window_s=window.time_window_s if window.mode == "time" else None,
        windows=window.rule(cap),
        threshold=float(detector.threshold),
        score=cfg.scoring.score,
    )
