"""What `logbert train` tells a user about the threshold it stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from logbert.config import LogBertConfig
from logbert.pipeline.fit import TrainResult, _warnings
from logbert.records import ReadReport


def _result(threshold: float, n_train_windows: int = 10_000) -> TrainResult:
    return TrainResult(Path("."), threshold, 10, 2, 3, n_train_windows, 2, 5, 1, 0.1, ReadReport(), [])


@pytest.mark.parametrize(
    ("score", "threshold", "says"),
    [
        ("miss_ratio", 1.0, "nothing will ever be flagged"),
        ("miss_ratio", 0.0, "a single key outside"),
        ("mean_nll", 20.0, "the score cap"),
        ("miss_ratio", 0.25, None),
        ("mean_nll", 3.0, None),
    ],
)
def test_degenerate_thresholds_are_said(score: str, threshold: float, says: str | None) -> None:
    config = LogBertConfig().with_overrides({"scoring.score": score})
    warnings = _warnings(_result(threshold), config)
    if says is None:
        assert warnings == []
    else:
        assert len(warnings) == 1 and says in warnings[0]


def test_too_few_optimiser_steps_are_said() -> None:
    config = LogBertConfig().with_overrides({"scoring.score": "mean_nll"})
    few = _warnings(_result(3.0, n_train_windows=35), config)  # 35 windows, batch 64, 1 epoch: 1 step
    assert len(few) == 1 and "only 1 optimiser steps" in few[0]
    assert _warnings(_result(3.0), config) == []
