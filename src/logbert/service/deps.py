"""FastAPI dependencies; tests may replace them through ``app.dependency_overrides``.

The detector itself is loaded (or injected: ``create_app(settings, detector=...)``) once, by the
lifespan; ``get_detector`` hands routes the one the session store was built on.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from fastapi import Depends, Request

from logbert.service.errors import NotReady, Unauthorized
from logbert.service.sessions import SessionStore
from logbert.service.settings import Settings
from logbert.streaming import Scorer


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_store(request: Request) -> SessionStore:
    store: SessionStore | None = getattr(request.app.state, "store", None)
    if store is None:
        raise NotReady("the detector is not loaded yet")
    return store


def get_detector(store: SessionStore = Depends(get_store)) -> Scorer:
    return store.detector


def require_api_key(request: Request, settings: Settings = Depends(get_settings)) -> None:
    """Accept ``X-API-Key: KEY`` or ``Authorization: Bearer KEY`` when an API key is configured."""
    check_api_key(request.headers, settings)


def check_api_key(headers: Mapping[str, str], settings: Settings) -> None:
    """The one key check (routes, and the docs guard in ``app``).

    Raises:
        Unauthorized: a key is configured and ``headers`` do not carry it.
    """
    if settings.api_key is None:
        return
    expected = settings.api_key.get_secret_value().encode()
    given = headers.get("x-api-key")
    if given is None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        given = token if scheme.lower() == "bearer" else None
    if given is None:
        raise Unauthorized("missing API key: send it in the X-API-Key header")
    if not secrets.compare_digest(given.encode(), expected):
        raise Unauthorized("wrong API key")
