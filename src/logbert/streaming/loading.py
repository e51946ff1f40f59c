"""Loading the detector for ``serve`` and ``tail``: one call to the library facade."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from logbert import api
from logbert.api import Detector
from logbert.errors import UnknownArtifact


def load_detector(path: str | Path) -> Detector:
    """``api.load_detector(path)``, looked up at call time (tests patch it on ``logbert.api``).

    Raises:
        UnknownArtifact: the facade has no ``load_detector`` yet, or the artifact is unusable.
    """
    # getattr, not api.load_detector: the facade function is being written in parallel, and this
    # module must type-check before and after it lands.
    loader: Callable[[Path], Detector] | None = getattr(api, "load_detector", None)
    if loader is None:
        raise UnknownArtifact("this logbert build has no api.load_detector; cannot load an artifact")
    return loader(Path(path))
