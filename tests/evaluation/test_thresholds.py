"""Thresholds chosen on validation scores only."""

from __future__ import annotations

import doctest
import math
import sys

import numpy as np
import pytest
from sklearn import metrics as skm

from logbert.evaluation.thresholds import (
    contamination_threshold,
    f1_threshold,
    fit_gpd,
    miss_ratio_floor,
    pot_threshold,
    quantile_threshold,
)
from logbert.results import exceeds

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


# -- peaks over threshold ------------------------------------------------------------------------


def test_pot_extrapolates_past_the_maximum_to_about_the_target_rate() -> None:
    # exponential scores: the exact 1 - 1e-4 quantile is ln(1e4); the conformal quantile of 2,000 scores
    # cannot pass their maximum, so it promises nothing below 1/2001 ~ 5e-4
    rates = []
    for seed in range(5):
        s = np.random.default_rng(seed).exponential(1.0, 2000)
        threshold = pot_threshold(s, 0.9999)
        assert threshold > s.max() == quantile_threshold(s, 0.9999)
        rates.append(math.exp(-threshold))
    assert 1e-5 < float(np.mean(rates)) < 3e-4  # target 1e-4


def test_pot_falls_back_to_the_quantile_inside_the_body_and_keeps_the_cap() -> None:
    s = np.random.default_rng(1).exponential(1.0, 400)
    assert pot_threshold(s, 0.9) == quantile_threshold(s, 0.9)  # 40 scores above: no extrapolation needed
    assert pot_threshold(s[:15], 0.999) == quantile_threshold(s[:15], 0.999)  # too few scores for a tail
    assert pot_threshold(s, 0.99999, upper=2.0) == 2.0
    assert pot_threshold(s, 0.9999, margin=0.5) == pytest.approx(pot_threshold(s, 0.9999) + 0.5)
    assert pot_threshold(np.zeros(400), 0.9999) == 0.0  # no spread at all: the maximum
    with pytest.raises(ValueError, match="q < 1"):
        pot_threshold(s, 1.0)


def test_gpd_fit_recovers_the_shape_with_and_without_scipy(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(2)
    xi_true, sigma_true = 0.2, 1.5
    y = sigma_true / xi_true * (rng.uniform(size=5000) ** -xi_true - 1)  # inverse CDF of the GPD
    xi, sigma = fit_gpd(y)  # scipy (installed with scikit-learn): maximum likelihood
    assert xi == pytest.approx(xi_true, abs=0.05) and sigma == pytest.approx(sigma_true, rel=0.1)
    monkeypatch.setitem(sys.modules, "scipy.stats", None)  # as if scipy were missing: method of moments
    xi_m, sigma_m = fit_gpd(y)
    assert (xi_m, sigma_m) != (xi, sigma)
    assert xi_m == pytest.approx(xi_true, abs=0.1) and sigma_m == pytest.approx(sigma_true, rel=0.15)
    with pytest.raises(ValueError):
        fit_gpd([1.0])


# -- contamination_threshold: the share of training sessions taken to be anomalous ----------------------------------


def _above(scores: np.ndarray, threshold: float) -> int:
    return int(exceeds(scores, threshold).sum())


@pytest.mark.parametrize("seed", range(5))
def test_contamination_puts_exactly_its_share_above_distinct_scores(seed: int) -> None:
    scores = np.random.default_rng(seed).normal(size=600)
    for contamination, m in ((0.0, 0), (0.01, 6), (0.04, 24), (0.1, 60)):
        assert _above(scores, contamination_threshold(scores, contamination)) == m
    assert _above(scores, contamination_threshold(scores, 0.04, margin=0.5)) < 24  # the margin raises it


def test_a_tied_group_at_the_boundary_goes_above_unless_it_is_too_large() -> None:
    normal = np.linspace(0.0, 1.0, 589)
    failures = np.full(11, 0.7465 + 2.0)  # one kind of failure: the same score
    scores = np.concatenate([normal, failures])
    # asked for 9 (0.015 x 600), the tied 11 go above together: none of them is left under the threshold
    assert _above(scores, contamination_threshold(scores, 0.015)) == 11
    # float noise within the decision rule's tie band is one group too
    noisy = np.concatenate([normal, failures + np.linspace(0.0, 2e-6, 11)])
    assert _above(noisy, contamination_threshold(noisy, 0.015)) == 11
    # asked for 3 (0.005 x 600), 11 would be more than twice that: the group stays under, none above
    assert _above(scores, contamination_threshold(scores, 0.005)) == 0
    with pytest.raises(ValueError, match="contamination"):
        contamination_threshold(scores, 1.0)


def test_when_the_lowest_scores_tie_in_a_large_group_all_above_them_go_above() -> None:
    # 589 normal sessions the model is sure of (the same score) and 11 failures: 0.03 asks for 18, 11 can be
    scores = np.concatenate([np.full(589, 0.0027), np.full(11, 0.7465)])
    threshold = contamination_threshold(scores, 0.03)
    assert threshold == 0.0027 and _above(scores, threshold) == 11
    assert _above(np.full(50, 1.0), contamination_threshold(np.full(50, 1.0), 0.1)) == 0  # never below every score


# -- the keys' miss rate under a short calibration (scoring.key_rate_floor) ------------------------------------


def test_the_miss_ratio_floor_examples_hold() -> None:
    import logbert.evaluation.thresholds as module

    assert doctest.testmod(module).failed == 0


def _flag_rate(lengths: list[list[int]], misses: int, threshold: float, novel_sessions: int = 0) -> float:
    """The floor's rate by simulation: keys missing independently at a rate drawn from the Jeffreys posterior, and
    with the Jeffreys posterior mean of ``novel_sessions`` among all calibration sessions, one never-seen key more,
    in the window that allows the fewest misses."""
    rng = np.random.default_rng(0)
    keys = sum(map(sum, lengths))
    draws = 40_000
    p = rng.beta(misses + 0.5, keys - misses + 0.5, size=draws)
    novel = rng.random(draws) < (novel_sessions + 0.5) / (len(lengths) + novel_sessions + 1)
    session = rng.integers(len(lengths), size=draws)
    flagged = np.zeros(draws, dtype=bool)
    for i in range(draws):
        shape = lengths[session[i]]
        window_misses = rng.binomial(shape, p[i])
        if novel[i]:
            window_misses[int(np.argmin([np.floor(threshold * n + 1e-9) for n in shape]))] += 1
        flagged[i] = any(exceeds(m / n, threshold) for m, n in zip(window_misses, shape, strict=True))
    return float(flagged.mean())


def test_the_floor_is_the_lowest_ratio_whose_rate_is_within_alpha_and_states_that_rate() -> None:
    lengths = [[17]] * 20 + [[11]] * 10 + [[32, 9]] * 5  # sessions of one window and of two
    threshold, rate = miss_ratio_floor(lengths, misses=1, alpha=0.005)
    assert rate <= 0.005 and threshold > 0
    assert _flag_rate(lengths, 1, threshold) == pytest.approx(rate, abs=0.002)
    candidates = sorted({m / n for n in (9, 11, 17, 32) for m in range(n + 1)})
    below = candidates[candidates.index(threshold) - 1]
    assert _flag_rate(lengths, 1, below) > 0.005  # the candidate just under it flags too many


def test_more_misses_or_fewer_keys_raise_the_floor_and_many_quiet_keys_take_it_to_0() -> None:
    floors = [miss_ratio_floor([[17]] * n, misses, 0.005)[0] for n, misses in ((500, 0), (50, 0), (25, 0), (50, 5))]
    assert floors[0] == 0.0  # 8,500 keys, none missed: one miss in 17 is rare enough
    assert 0.0 < floors[1] <= floors[2] <= floors[3]
    assert miss_ratio_floor([[17]] * 50, 0, 0.05)[0] == 0.0  # a looser target needs no floor


def test_templates_never_seen_are_misses_the_floor_expects() -> None:
    """100 sessions of 17 keys, none missed (DevStack with 100 training sessions): the known keys alone would flag
    one miss in 0.45 % of such sessions, within 0.005, and the floor was 0; a new session also brings a template the
    100 lacked about 0.5 % of the time (Jeffreys, none of them did), so together one miss is too common to flag."""
    from scipy.stats import betabinom

    lengths = [[17]] * 100
    known_only = 1 - betabinom.cdf(0, 17, 0.5, 1700.5)  # P(one miss or more) from the keys alone
    assert 0.004 < known_only < 0.005
    assert miss_ratio_floor(lengths, 0, 0.005)[0] == pytest.approx(1 / 17)  # above one miss: it takes two
    assert miss_ratio_floor([[17]] * 500, 0, 0.005)[0] == 0.0  # 500 without a template of their own: one miss is rare
    floors = [miss_ratio_floor([[17]] * 500, 0, 0.005, novel_sessions=u)[0] for u in (0, 5, 100)]
    assert floors[0] == 0.0 and floors[1] == pytest.approx(1 / 17) and floors[2] >= floors[1]
    mixed = [[17]] * 30 + [[11]] * 10 + [[32, 9]] * 5
    threshold, rate = miss_ratio_floor(mixed, 0, 0.005, novel_sessions=3)
    assert rate <= 0.005 and _flag_rate(mixed, 0, threshold, novel_sessions=3) == pytest.approx(rate, abs=0.002)


@pytest.mark.parametrize(
    ("lengths", "misses", "alpha", "match"),
    [([], 0, 0.005, "no calibration session"), ([[3, 0]], 0, 0.005, "at least one"), ([[3]], 4, 0.005, "misses"),
     ([[3]], 0, 0.0, "alpha")],
)
def test_the_floor_refuses_what_it_cannot_read(lengths: list[list[int]], misses: int, alpha: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        miss_ratio_floor(lengths, misses, alpha)
