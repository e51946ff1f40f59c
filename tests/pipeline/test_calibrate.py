"""The threshold record: its false-alarm promise, p-values and thresholds for a target rate."""

from __future__ import annotations

import numpy as np
import pytest

from logbert.config import ScoringConfig
from logbert.errors import InputDataError, UnknownArtifact
from logbert.evaluation.thresholds import quantile_threshold
from logbert.pipeline.calibrate import Calibration, calibration, choose_threshold


def _record(n: int, q: float) -> Calibration:
    scoring = ScoringConfig(threshold_quantile=q)
    scores = np.arange(n, dtype=float)
    return calibration(scoring, choose_threshold(scoring, scores), np.append(scores, -np.inf))


def test_the_promise_holds_only_with_enough_validation_sessions() -> None:
    many = _record(999, 0.99)  # k = ceil(1000 * 0.99) = 990 <= 999
    assert many.n == 999 and many.fpr_bound == pytest.approx(1 - 990 / 1000)
    assert "probability <= 1.00%" in many.describe()
    few = _record(34, 0.995)  # k = 35 > 34: the maximum, no guarantee
    assert few.threshold == 33.0 and few.fpr_bound is None
    assert "no false-alarm guarantee" in few.describe() and "at least 199" in few.describe()


def test_p_values_and_targets_use_the_same_scores_and_rule() -> None:
    record = _record(99, 0.99)
    assert record.p_value(1000.0) == pytest.approx(1 / 100)  # above every validation score
    assert record.p_value(-1.0) == 1.0
    assert record.p_value(89.0) == pytest.approx(11 / 100)  # 89..98 score at least as high, plus itself
    assert record.threshold_for(0.05) == quantile_threshold(np.arange(99.0), 0.95)
    with pytest.raises(InputDataError):
        record.threshold_for(0.0)


def test_round_trip_and_malformed_records() -> None:
    record = _record(10, 0.9)
    assert Calibration.from_dict(record.to_dict()) == record
    with pytest.raises(UnknownArtifact):
        Calibration.from_dict({"method": "normal_quantile"})
    with pytest.raises(UnknownArtifact):
        Calibration.from_dict({**record.to_dict(), "normal_scores": [0.1, float("nan")]})
