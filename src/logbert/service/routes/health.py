"""Liveness and readiness (no API key: orchestrators probe them)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from logbert.service.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health/live", response_model=Health)
def live() -> Health:
    """The process answers."""
    return Health(status="ok", ready=True)


@router.get("/health/ready", response_model=Health, responses={503: {"model": Health}})
def ready(request: Request) -> Health | JSONResponse:
    """200 once the detector is loaded and until shutdown starts, while every alert is stored; 503 otherwise."""
    phase: str = request.app.state.phase
    store = request.app.state.store
    unsaved = 0 if store is None else store.alerts.n_unsaved
    failed = getattr(request.app.state, "companion_error", None)
    if phase == "ready" and failed:
        return JSONResponse(Health(status="ok", ready=False, detail=failed).model_dump(), status_code=503)
    if phase == "ready" and unsaved:
        detail = f"{unsaved} alerts could not be stored yet (database locked or disk full); retrying"
        return JSONResponse(Health(status="ok", ready=False, detail=detail).model_dump(), status_code=503)
    if phase == "ready":
        return Health(status="ok", ready=True)
    body = Health(status="stopping" if phase == "stopping" else "loading", ready=False, detail=phase)
    return JSONResponse(body.model_dump(), status_code=503)
