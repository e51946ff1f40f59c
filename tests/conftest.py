"""Shared test helpers: the real datasets live in ../shared/datasets, outside the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DATASETS = (REPO_ROOT / ".." / "shared" / "datasets").resolve()


def dataset_path(relative: str) -> Path:
    """Path of a file under ../shared/datasets; skips the calling test when it is absent."""
    path = DATASETS / relative
    if not path.exists():
        pytest.skip(f"real dataset not available: {path} (see ../shared/datasets/README.md)")
    return path
