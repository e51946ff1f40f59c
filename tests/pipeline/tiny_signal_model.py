"""The tiny time- and value-aware LogBERT that the pipeline's signal tests train (one shape, one fit)."""

from __future__ import annotations

from collections.abc import Sequence

from logbert.config import LogBertConfig
from logbert.pipeline.estimator import LogBertDetector
from logbert.records import SessionSignals

KEYS = [10, 11, 12, 13, 14]


def tiny_signal_config(signals: str, epochs: int, min_steps: int) -> LogBertConfig:
    """An 8-key, one-layer model with 4 gap and 4 value buckets."""
    return LogBertConfig().with_overrides(
        {
            "window.max_len": 8,
            "model.max_len": 8,
            "model.d_model": 32,
            "model.d_ff": 64,
            "model.n_heads": 2,
            "model.n_layers": 1,
            "model.gap_buckets": 4,
            "model.value_buckets": 4,
            "train.epochs": epochs,
            "train.min_steps": min_steps,
            "train.batch_size": 16,
            "train.lr": 3e-3,
            "model.signals": signals,
        }
    )


def fit_on_keys(
    config: LogBertConfig, train: Sequence[SessionSignals], normal: Sequence[SessionSignals]
) -> LogBertDetector:
    """Trained on sessions of :data:`KEYS` with these signals, validated on 24 more of ``normal``'s."""
    return LogBertDetector(config).fit(
        [KEYS] * len(train), [KEYS] * 24, signals=list(train), val_signals=list(normal), progress=False
    )
