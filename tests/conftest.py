"""Shared test helpers: the real datasets live in ../shared/datasets, outside the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from logbert.config import LogBertConfig

REPO_ROOT = Path(__file__).resolve().parents[1]
DATASETS = (REPO_ROOT / ".." / "shared" / "datasets").resolve()


def dataset_path(relative: str) -> Path:
    """Path of a file under ../shared/datasets; skips the calling test when it is absent."""
    path = DATASETS / relative
    if not path.exists():
        pytest.skip(f"real dataset not available: {path} (see ../shared/datasets/README.md)")
    return path


def tiny_nova_config(max_len: int) -> LogBertConfig:
    """The demo's settings on a model small enough to train on a simulated nova log in seconds; windows of
    ``max_len`` keys, so that a session's first window completes while the session stays open."""
    from logbert.pipeline.demo import demo_config

    overrides = {
        "model.n_layers": 1,
        "model.d_model": 32,
        "model.d_ff": 64,
        "train.epochs": 2,
        "train.batch_size": 32,
        "window.max_len": max_len,
    }
    return demo_config().with_overrides(overrides)
