"""Metrics against the reference implementation, sklearn.metrics, on random and edge-case inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from logbert.evaluation.metrics import (
    best_f1,
    binary_metrics,
    evaluation_report,
    pr_curve,
    ranking_metrics,
    roc_curve,
)
from logbert.results import TIE_TOLERANCE, exceeds, tie_band


def _random_case(seed: int, n: int = 200, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < rng.uniform(0.05, 0.5)).astype(int)
    y[0], y[1] = 0, 1  # both classes present
    s = rng.normal(size=n) + 1.5 * y
    if ties:
        s = np.round(s, 1)  # many equal scores across classes
    return y, s


def _brute_best_f1(y: np.ndarray, s: np.ndarray) -> float:
    """F1 at every candidate threshold at once (sklearn.f1_score per threshold is too slow here)."""
    cuts = np.r_[np.unique(s), s.min() - 1.0]
    pred = s[None, :] > cuts[:, None]  # (C, N)
    tp = (pred & (y == 1)).sum(axis=1)
    fp = (pred & (y == 0)).sum(axis=1)
    fn = (y == 1).sum() - tp
    return float(np.max(2 * tp / (2 * tp + fp + fn)))


CASES = [(seed, ties) for seed in range(6) for ties in (False, True)]


@pytest.mark.parametrize(("seed", "ties"), CASES)
def test_binary_metrics_match_sklearn(seed: int, ties: bool) -> None:
    y, s = _random_case(seed, ties=ties)
    pred = (s > np.median(s)).astype(int)
    m = binary_metrics(y, pred)
    tn, fp, fn, tp = skm.confusion_matrix(y, pred, labels=[0, 1]).ravel()
    assert (m["tp"], m["fp"], m["tn"], m["fn"]) == (tp, fp, tn, fn)
    assert m["precision"] == pytest.approx(skm.precision_score(y, pred, zero_division=0))
    assert m["recall"] == pytest.approx(skm.recall_score(y, pred, zero_division=0))
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred, zero_division=0))
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["fpr"] == pytest.approx(fp / (fp + tn))


@pytest.mark.parametrize(("seed", "ties"), CASES)
def test_ranking_metrics_and_curves_match_sklearn(seed: int, ties: bool) -> None:
    y, s = _random_case(seed, ties=ties)
    r = ranking_metrics(y, s)
    assert r["auroc"] == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert r["auprc"] == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)
    assert r["ranking_note"] is None

    for ours, ref in zip(pr_curve(y, s), skm.precision_recall_curve(y, s), strict=True):
        np.testing.assert_allclose(ours, ref)
    for ours, ref in zip(roc_curve(y, s), skm.roc_curve(y, s, drop_intermediate=False), strict=True):
        np.testing.assert_allclose(ours, ref)


@pytest.mark.parametrize(("seed", "ties"), CASES)
def test_best_f1_is_the_maximum_over_all_thresholds(seed: int, ties: bool) -> None:
    y, s = _random_case(seed, ties=ties)
    f1, threshold = best_f1(y, s)
    brute = _brute_best_f1(y, s)
    assert f1 == pytest.approx(brute)
    # the returned threshold reproduces the F1 with the project's decision rule
    assert skm.f1_score(y, exceeds(np.asarray(s), threshold)) == pytest.approx(f1)


def test_best_f1_threshold_sits_between_the_classes() -> None:
    assert best_f1([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == (1.0, 0.5)
    # everything flagged is best: the threshold falls just below the lowest score
    f1, t = best_f1([1, 1], [0.3, 0.3])
    assert f1 == 1.0 and t < 0.3
    # no anomaly: F1 0 and nothing flagged
    assert best_f1([0, 0], [0.1, 0.7]) == (0.0, 0.7)


def test_zero_division_gives_zero_like_sklearn() -> None:
    y = np.array([0, 1, 1, 0])
    nothing = np.zeros(4, dtype=int)
    m = binary_metrics(y, nothing)
    assert m["precision"] == skm.precision_score(y, nothing, zero_division=0) == 0.0
    assert m["f1"] == 0.0 and m["recall"] == 0.0 and m["fpr"] == 0.0
    only_normal = binary_metrics([0, 0], [1, 0])
    assert only_normal["recall"] == 0.0 and only_normal["fpr"] == 0.5
    only_abnormal = binary_metrics([1, 1], [1, 0])
    assert only_abnormal["fpr"] == 0.0 and only_abnormal["recall"] == 0.5
    empty = binary_metrics([], [])
    assert empty["tp"] == 0 and empty["accuracy"] == 0.0


def test_bool_labels_are_accepted() -> None:
    assert binary_metrics(np.array([True, False]), np.array([True, True]))["fp"] == 1


def test_one_class_gives_nan_with_a_reason() -> None:
    r = ranking_metrics([0, 0, 0], [0.1, 0.2, 0.3])
    assert math.isnan(r["auroc"]) and math.isnan(r["auprc"])  # type: ignore[arg-type]
    assert "no anomalous" in str(r["ranking_note"])
    r = ranking_metrics([1, 1], [0.1, 0.2])
    assert math.isnan(r["auroc"]) and r["auprc"] == 1.0  # type: ignore[arg-type]
    assert "no normal" in str(r["ranking_note"])
    assert math.isnan(ranking_metrics([], [])["auroc"])  # type: ignore[arg-type]


def test_an_evaluation_of_one_class_reports_undefined_rates_not_zeros() -> None:
    """80 normal sessions and no alarm said precision, recall and F1 0.0000; anomalous ones alone said FPR 0.0000."""
    normal_only = evaluation_report([0] * 80, [0.1] * 80, threshold=0.5)
    assert all(math.isnan(normal_only[k]) for k in ("precision", "recall", "f1")) and normal_only["fpr"] == 0.0
    assert math.isnan(evaluation_report([0, 0], [0.9, 0.1], threshold=0.5)["f1"])
    assert evaluation_report([0, 0], [0.9, 0.1], threshold=0.5)["precision"] == 0.0  # its one alarm is false
    anomalous_only = evaluation_report([1, 1], [0.9, 0.1], threshold=0.5)
    assert math.isnan(anomalous_only["fpr"]) and anomalous_only["recall"] == 0.5 and anomalous_only["precision"] == 1
    both = evaluation_report([0, 1], [0.1, 0.2], threshold=0.5)  # both classes: no alarm is precision 0, as before
    assert both["precision"] == both["recall"] == both["f1"] == 0.0 and both["fpr"] == 0.0


def test_constant_scores_are_chance() -> None:
    y = np.array([0, 1, 0, 1, 0])
    s = np.full(5, 0.3)
    r = ranking_metrics(y, s)
    assert r["auroc"] == pytest.approx(skm.roc_auc_score(y, s)) == 0.5
    assert r["auprc"] == pytest.approx(skm.average_precision_score(y, s))


@pytest.mark.parametrize(
    ("y", "s", "match"),
    [
        ([0, 2], [0.1, 0.2], "0/1"),
        ([0, 1], [0.1], "entries"),
        ([0, 1], [0.1, float("nan")], "NaN"),
        ([[0, 1]], [[0.1, 0.2]], "1-D"),
    ],
)
def test_bad_input_raises_value_error(y: object, s: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ranking_metrics(y, s)  # type: ignore[arg-type]


def test_pr_and_roc_curves_need_the_classes() -> None:
    with pytest.raises(ValueError, match="anomalous"):
        pr_curve([0, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="both"):
        roc_curve([1, 1], [0.1, 0.2])


def test_evaluation_report_is_consistent() -> None:
    y, s = _random_case(7, ties=True)
    rep = evaluation_report(y, s, threshold=0.5)
    for key in (
        "precision", "recall", "f1", "threshold", "auroc", "auprc", "best_f1",
        "best_f1_threshold", "n_normal", "n_abnormal", "fpr",
    ):  # fmt: skip
        assert key in rep
    pred = s > 0.5
    assert rep["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert rep["precision"] == pytest.approx(skm.precision_score(y, pred))
    assert rep["auroc"] == pytest.approx(skm.roc_auc_score(y, s))
    assert rep["n_normal"] + rep["n_abnormal"] == rep["n"] == len(y)
    assert rep["best_f1"] >= rep["f1"]  # the oracle is an upper bound
    with pytest.raises(ValueError, match="NaN"):
        evaluation_report(y, s, threshold=float("nan"))


def test_evaluation_report_on_empty_split() -> None:
    rep = evaluation_report([], [], threshold=0.0)
    assert rep["n"] == 0 and math.isnan(rep["auroc"]) and math.isnan(rep["best_f1"])


def test_a_score_that_ties_with_the_threshold_up_to_float_noise_is_not_an_alarm() -> None:
    """The stored threshold is usually a calibration session's own score: a session with the same keys,
    scored by other kernels (fused or not, CPU or GPU), lands a few float32 ulps away and must decide alike."""
    threshold = 0.684329
    for noise in (0.0, 2e-6, -2e-6, 5e-6):
        assert not exceeds(threshold + noise, threshold)
    assert exceeds(threshold + 1e-4, threshold)
    assert tie_band(250.0) == pytest.approx(250.0 * TIE_TOLERANCE)  # relative for large scores
    report = evaluation_report([0, 1, 1], [threshold, threshold + 1e-6, 0.9], threshold)
    assert (report["tp"], report["fp"], report["fn"]) == (1, 0, 1)
