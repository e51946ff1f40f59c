"""Loading the detector for ``serve`` and ``tail``: one call to the library facade."""

from __future__ import annotations

from pathlib import Path

from logbert import api
from logbert.api import Detector
from logbert.errors import UnknownArtifact


def load_detector(path: str | Path) -> Detector:
    """``api.load_detector(path)``, looked up at call time (tests patch it on ``logbert.api``).

    Raises:
        UnknownArtifact: the artifact is unusable, or it was trained on key-sequence files and so
            has no parser for raw lines (every ingest would fail: refuse it at start-up instead).
    """
    detector = api.load_detector(Path(path))
    if getattr(detector, "parser", "") is None:
        raise UnknownArtifact(
            f"{path} was trained on pre-parsed key sequences and has no log parser; "
            "the streaming service and tail need an artifact trained on a raw log"
        )
    return detector
