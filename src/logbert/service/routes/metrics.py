"""Prometheus exposition."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from logbert.service.deps import require_api_key

router = APIRouter(tags=["metrics"], dependencies=[Depends(require_api_key)])


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Prometheus text format (the service's metrics, then a queue consumer's, when it runs one)."""
    registries = [request.app.state.metrics.registry, *getattr(request.app.state, "extra_registries", ())]
    return Response(b"".join(generate_latest(r) for r in registries), media_type=CONTENT_TYPE_LATEST)
