"""Pure evaluation metrics for binary anomaly detection (numpy only, no state).

Conventions used everywhere in this module:

* ``y_true`` holds 1 (or ``True``) for anomalous and 0 (or ``False``) for normal.
* ``scores`` follow the project rule: **higher score = more anomalous**.
* A sequence is predicted anomalous when its score exceeds the threshold by more than a float-noise
  tie band (:func:`logbert.results.exceeds`: ``score > threshold + 1e-5 * max(1, |threshold|)``).

The curve-based metrics are computed here rather than delegated, and the tests check them
against ``sklearn.metrics`` as the reference implementation. Zero divisions give 0.0 (like
sklearn's ``zero_division=0``); ranking metrics that need both classes give NaN and say why.

Example:
    >>> m = binary_metrics([0, 1, 1, 0], [0, 1, 0, 1])
    >>> (m["tp"], m["fp"], m["fn"], m["tn"], m["f1"])
    (1, 1, 1, 1, 0.5)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from logbert.results import exceeds, tie_band

__all__ = [
    "binary_metrics",
    "ranking_metrics",
    "pr_curve",
    "roc_curve",
    "best_f1",
    "evaluation_report",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def _as_labels(y_true: npt.ArrayLike, name: str = "y_true") -> BoolArray:
    """Validate binary labels (0/1 or bool, 1-D) and return them as a bool array."""
    arr = np.asarray(y_true)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.dtype == np.bool_:
        return arr
    if arr.size and not np.isin(arr, (0, 1)).all():
        bad = np.unique(arr[~np.isin(arr, (0, 1))])[:5].tolist()
        raise ValueError(f"{name} must hold only 0/1 (or bool), got values such as {bad}")
    return arr.astype(np.bool_)


def _as_scores(scores: npt.ArrayLike, n: int) -> FloatArray:
    """Validate real-valued scores of length ``n`` (no NaN; +-inf allowed)."""
    arr = np.asarray(scores, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"scores must be 1-D, got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"scores has {arr.shape[0]} entries but y_true has {n}")
    if np.isnan(arr).any():
        raise ValueError(f"scores hold {int(np.isnan(arr).sum())} NaN value(s)")
    return arr


def _div(num: float, den: float) -> float:
    """``num / den``, or 0.0 when ``den`` is 0 (sklearn's ``zero_division=0``)."""
    return float(num) / float(den) if den else 0.0


def _f1(tp: float, fp: float, fn: float) -> float:
    # 2TP / (2TP + FP + FN) equals the harmonic mean of precision and recall, and is 0 when TP = 0.
    return _div(2.0 * tp, 2.0 * tp + fp + fn)


def binary_metrics(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> dict[str, float | int]:
    """Confusion counts and rates for hard predictions (1 = predicted anomalous).

    Args:
        y_true: shape (N,), 1 = anomalous, 0 = normal.
        y_pred: shape (N,), 1 = predicted anomalous, 0 = predicted normal.

    Returns:
        ``tp``, ``fp``, ``tn``, ``fn`` (int) and ``precision``, ``recall``, ``f1``, ``fpr``,
        ``accuracy`` (float). A rate whose denominator is 0 is 0.0: precision with no positive
        prediction, recall with no anomaly, fpr with no normal sequence, accuracy with N = 0.

    Raises:
        ValueError: the arrays are not 1-D binary arrays of the same length.
    """
    t = _as_labels(y_true)
    p = _as_labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.shape[0]} entries but y_pred has {p.shape[0]}")
    tp = int(np.count_nonzero(t & p))
    fp = int(np.count_nonzero(~t & p))
    fn = int(np.count_nonzero(t & ~p))
    tn = int(np.count_nonzero(~t & ~p))
    return {
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "precision": _div(tp, tp + fp),
        "recall": _div(tp, tp + fn),
        "f1": _f1(tp, fp, fn),
        "fpr": _div(fp, fp + tn),
        "accuracy": _div(tp + tn, t.shape[0]),
    }


def _clf_curve(t: BoolArray, s: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Cumulative (fps, tps, cut) for every distinct score, highest first.

    Entry k counts the sequences with ``score >= cut[k]``: predicting those anomalous is the
    k-th operating point. Same construction as sklearn's private ``_binary_clf_curve``.
    """
    order = np.argsort(-s, kind="mergesort")
    s_sorted = s[order]
    t_sorted = t[order]
    # last index of each run of equal scores: the operating points.
    distinct = np.flatnonzero(np.diff(s_sorted)) if s_sorted.size > 1 else np.empty(0, dtype=np.int64)
    ends = np.r_[distinct, s_sorted.size - 1] if s_sorted.size else np.empty(0, dtype=np.int64)
    tps = np.cumsum(t_sorted, dtype=np.float64)[ends]
    fps = (ends + 1).astype(np.float64) - tps
    return fps, tps, s_sorted[ends]


def pr_curve(y_true: npt.ArrayLike, scores: npt.ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Precision-recall curve, same output as ``sklearn.metrics.precision_recall_curve``.

    Args:
        y_true: shape (N,), 1 = anomalous.
        scores: shape (N,), higher = more anomalous.

    Returns:
        ``(precision, recall, cuts)``: precision and recall have one more entry than ``cuts``
        (the final point precision=1, recall=0); recall is decreasing. Point k predicts
        anomalous every sequence with ``score >= cuts[k]`` (cuts increasing).

    Raises:
        ValueError: bad shapes, non-binary labels, NaN scores, or no anomaly in ``y_true``.
    """
    t = _as_labels(y_true)
    s = _as_scores(scores, t.shape[0])
    if not t.any():
        raise ValueError("pr_curve needs at least one anomalous sequence (recall is undefined otherwise)")
    fps, tps, cuts = _clf_curve(t, s)
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    # reverse so recall decreases, then append the (recall=0, precision=1) end point.
    return (
        np.r_[precision[::-1], 1.0],
        np.r_[recall[::-1], 0.0],
        cuts[::-1].copy(),
    )


def roc_curve(y_true: npt.ArrayLike, scores: npt.ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """ROC curve ``(fpr, tpr, cuts)`` over every distinct score, starting at (0, 0), cut = +inf.

    Args:
        y_true: shape (N,), 1 = anomalous; both classes must be present.
        scores: shape (N,), higher = more anomalous.

    Raises:
        ValueError: bad input, or only one class present.
    """
    t = _as_labels(y_true)
    s = _as_scores(scores, t.shape[0])
    if t.all() or not t.any():
        raise ValueError("roc_curve needs both normal and anomalous sequences")
    fps, tps, cuts = _clf_curve(t, s)
    return np.r_[0.0, fps / fps[-1]], np.r_[0.0, tps / tps[-1]], np.r_[np.inf, cuts]


def ranking_metrics(y_true: npt.ArrayLike, scores: npt.ArrayLike) -> dict[str, float | str | None]:
    """Threshold-free metrics: ``auroc`` and ``auprc`` (average precision).

    ``auprc`` is average precision, ``sum_k (R_k - R_{k-1}) P_k`` over distinct scores, as in
    ``sklearn.metrics.average_precision_score`` (no trapezoidal interpolation, which would be
    optimistic). Ties in scores count as one operating point.

    Args:
        y_true: shape (N,), 1 = anomalous.
        scores: shape (N,), higher = more anomalous.

    Returns:
        ``{"auroc": float, "auprc": float, "ranking_note": str | None}``. When a class is absent
        the undefined metric is NaN and ``ranking_note`` says why (AUPRC is still defined when
        only anomalies are present: it is then 1.0).

    Raises:
        ValueError: bad shapes, non-binary labels or NaN scores.
    """
    t = _as_labels(y_true)
    s = _as_scores(scores, t.shape[0])
    n_abnormal = int(t.sum())
    n_normal = int(t.shape[0] - n_abnormal)
    if n_abnormal == 0:
        return {
            "auroc": math.nan,
            "auprc": math.nan,
            "ranking_note": f"no anomalous sequence among {n_normal}: AUROC and AUPRC are undefined",
        }
    fps, tps, _ = _clf_curve(t, s)
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    auprc = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
    if n_normal == 0:
        return {
            "auroc": math.nan,
            "auprc": auprc,
            "ranking_note": f"no normal sequence among {n_abnormal}: AUROC is undefined",
        }
    fpr = np.r_[0.0, fps / fps[-1]]
    tpr = np.r_[0.0, tps / tps[-1]]
    auroc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1])) / 2.0)  # trapezoids (numpy 1.x has no trapezoid)
    return {"auroc": auroc, "auprc": auprc, "ranking_note": None}


def _cut_below(upper: float, lower: float | None) -> float:
    """A threshold ``t`` that ``upper`` exceeds and ``lower`` does not (:func:`exceeds` keeps ``upper`` only).

    The midpoint generalises better to unseen scores than ``lower`` itself; fall back to
    ``lower`` when rounding or infinities make the midpoint unusable.
    """
    if lower is None:  # below upper by more than the tie band
        return float(upper - 2.0 * tie_band(upper))
    mid = lower + (upper - lower) / 2.0
    if not math.isnan(mid) and lower <= mid and exceeds(upper, mid):
        return float(mid)
    return float(lower)  # upper and lower tie under the decision rule: they cannot be told apart


def best_f1(y_true: npt.ArrayLike, scores: npt.ArrayLike) -> tuple[float, float]:
    """The best F1 over every threshold, **chosen by peeking at the labels of these very scores**.

    On a test split this is an optimistic upper bound (an oracle threshold), reported next to
    the honest F1 at the validation-chosen threshold, never instead of it. To *choose* a
    threshold use :func:`logbert.evaluation.thresholds.f1_threshold` on validation data.

    Args:
        y_true: shape (N,), 1 = anomalous.
        scores: shape (N,), higher = more anomalous.

    Returns:
        ``(f1, threshold)`` where predicting ``exceeds(scores, threshold)`` gives exactly ``f1`` on this
        data. Among equal F1 values the highest threshold (fewest alarms) wins. With no anomaly
        the F1 is 0.0 and the threshold is the highest score (nothing flagged).

    Raises:
        ValueError: bad shapes, non-binary labels, NaN scores, or N = 0.

    Example:
        >>> best_f1([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
        (1.0, 0.5)
    """
    t = _as_labels(y_true)
    s = _as_scores(scores, t.shape[0])
    if t.shape[0] == 0:
        raise ValueError("best_f1 needs at least one score")
    if not t.any():
        return 0.0, float(s.max())
    fps, tps, cuts = _clf_curve(t, s)
    n_abnormal = tps[-1]
    f1 = 2.0 * tps / (tps + fps + n_abnormal)  # 2TP / (2TP + FP + FN), FN = n_abnormal - TP
    k = int(np.argmax(f1))  # first maximum = highest cut
    lower = float(cuts[k + 1]) if k + 1 < cuts.shape[0] else None
    return float(f1[k]), _cut_below(float(cuts[k]), lower)


def evaluation_report(
    y_true: npt.ArrayLike, scores: npt.ArrayLike, threshold: float, predicted: npt.ArrayLike | None = None
) -> dict[str, Any]:
    """Everything reported for one detector on one labelled split.

    Args:
        y_true: shape (N,), 1 = anomalous.
        scores: shape (N,), higher = more anomalous.
        threshold: chosen beforehand on validation data; predicted anomalous when
            ``exceeds(score, threshold)``.
        predicted: shape (N,) bool, the decisions when they are not all ``exceeds(score, threshold)``
            (a session in flight at the capture start is never flagged: ``SessionResult.partial``). The
            precision, recall, F1 and counts read them; the ranking metrics read the scores.

    Returns:
        A flat dict: ``threshold``, ``precision``, ``recall``, ``f1``, ``fpr``, ``accuracy``,
        ``tp``/``fp``/``tn``/``fn``, ``auroc``, ``auprc``, ``ranking_note``, ``best_f1`` and
        ``best_f1_threshold`` (oracle, label-peeking; see :func:`best_f1`), ``n``,
        ``n_normal``, ``n_abnormal``. Undefined values are NaN (see ``ranking_note``): the ranking metrics, and
        recall, F1 (and precision without an alarm) where no session is anomalous, the false-positive rate where
        none is normal.

    Raises:
        ValueError: bad shapes, labels, NaN scores or a NaN threshold.
    """
    t = _as_labels(y_true)
    s = _as_scores(scores, t.shape[0])
    if math.isnan(threshold):
        raise ValueError("threshold is NaN")
    n_abnormal = int(t.sum())
    report: dict[str, Any] = {"threshold": float(threshold)}
    decided = exceeds(s, threshold) if predicted is None else np.asarray(predicted, dtype=bool)
    if decided.shape != t.shape:
        raise ValueError(f"predicted has shape {decided.shape}, y_true {t.shape}")
    report.update(binary_metrics(t, decided))
    # where a class is absent its rates are undefined, not 0 (binary_metrics' zero_division=0 is for aggregating
    # runs that hold both): an evaluation of normal sessions alone has no recall or F1, and no precision
    # without an alarm; one of anomalous sessions alone has no false-positive rate
    if n_abnormal == 0:
        report["recall"] = report["f1"] = math.nan
        if report["fp"] == 0:
            report["precision"] = math.nan
    if n_abnormal == t.shape[0]:
        report["fpr"] = math.nan
    report.update(ranking_metrics(t, s))
    if t.shape[0]:
        report["best_f1"], report["best_f1_threshold"] = best_f1(t, s)
    else:
        report["best_f1"], report["best_f1_threshold"] = math.nan, math.nan
    report["n"] = int(t.shape[0])
    report["n_normal"] = int(t.shape[0]) - n_abnormal
    report["n_abnormal"] = n_abnormal
    return report
