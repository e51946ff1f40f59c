"""Thresholds chosen on validation scores only."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from logbert.evaluation.thresholds import f1_threshold, quantile_threshold

from .test_metrics import _brute_best_f1


def test_quantile_threshold_is_the_split_conformal_rank() -> None:
    rng = np.random.default_rng(0)
    normal = rng.normal(size=1000)
    ordered = np.sort(normal)
    for q in (0.5, 0.9, 0.99, 0.995):
        t = quantile_threshold(normal, q)
        k = int(np.ceil(1001 * q))  # the ceil((n + 1) q)-th smallest score
        assert t == ordered[k - 1]
        assert np.mean(normal > t) <= 1 - q + 1e-12
    assert quantile_threshold(normal, 1.0) == normal.max()
    assert quantile_threshold(normal, 1.0, margin=0.5) == normal.max() + 0.5
    # the example from the issue where two rules disagreed (1.0 vs 0.3): one rule now
    assert quantile_threshold([0.0, 0.1, 0.2, 0.3, 1.0], q=0.8) == 1.0
    assert quantile_threshold([1.0, 0.3, 0.2, 0.1, 0.0], q=0.6) == 0.3  # order does not matter
    # too few scores for the quantile (k > n): the maximum, and the bound does not hold
    assert quantile_threshold([0.2, 0.1], q=0.995) == 0.2


def test_quantile_threshold_false_alarm_rate_holds_on_fresh_normal_data() -> None:
    """The finite-sample promise: a fresh normal score is above the threshold at most 1 - q of the time."""
    rng = np.random.default_rng(1)
    q, n, trials = 0.9, 30, 4000
    exceed = [rng.normal() > quantile_threshold(rng.normal(size=n), q) for _ in range(trials)]
    # expected rate 1 - ceil(31 * 0.9) / 31 = 3 / 31 = 0.097; allow three standard errors
    assert np.mean(exceed) <= 1 - q + 3 * np.sqrt(0.1 * 0.9 / trials)


@pytest.mark.parametrize(
    ("scores", "q", "margin", "match"),
    [
        ([], 0.9, 0.0, "non-empty"),
        ([0.1], 0.0, 0.0, "q must"),
        ([0.1], 1.5, 0.0, "q must"),
        ([0.1], 0.9, -1.0, "margin"),
        ([0.1, float("nan")], 0.9, 0.0, "NaN"),
    ],
)
def test_quantile_threshold_rejects_bad_input(scores: list[float], q: float, margin: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        quantile_threshold(scores, q, margin)


def test_f1_threshold_maximises_validation_f1() -> None:
    rng = np.random.default_rng(1)
    labels = (rng.random(300) < 0.2).astype(int)
    scores = rng.normal(size=300) + 2.0 * labels
    t = f1_threshold(scores, labels)
    best = _brute_best_f1(labels, scores)
    assert skm.f1_score(labels, scores > t) == pytest.approx(best)


def test_f1_threshold_separates_separable_data() -> None:
    assert f1_threshold([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 0.5


@pytest.mark.parametrize("labels", [[0, 0, 0], [1, 1, 1], []])
def test_f1_threshold_needs_both_classes(labels: list[int]) -> None:
    with pytest.raises(ValueError, match="both"):
        f1_threshold([0.1] * len(labels), labels)
