"""Choose a decision threshold on **validation data only**.

Scores follow the project rule (higher = more anomalous) and a sequence is predicted
anomalous when ``score > threshold``. The threshold a detector keeps (``threshold_``) must come
from one of these functions applied to a validation split: never pass test scores or test
labels here. Tuning on the test split (as the original LogBERT ``find_best_threshold`` does)
reports numbers no deployment can reach; :func:`logbert.evaluation.metrics.best_f1` exists to
report that oracle number separately, clearly labelled.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from logbert.evaluation.metrics import _as_labels, best_f1

__all__ = ["quantile_threshold", "f1_threshold"]


def quantile_threshold(normal_scores: npt.ArrayLike, q: float, margin: float = 0.0) -> float:
    """Threshold from normal-only validation scores: their split-conformal ``q`` quantile plus ``margin``.

    The threshold is the k-th smallest of the n scores with ``k = ceil((n + 1) * q)``. When
    ``k <= n`` and a new normal score is exchangeable with the validation ones (same
    distribution, independent sessions), it lies above the threshold with probability at most
    ``1 - q``: a false-alarm rate the user can read off the setting. When ``k > n`` (too few
    validation scores for that ``q``: ``n < q / (1 - q)``) the maximum is used and the bound
    does not hold. ``q = 1`` always gives the maximum. This is the one quantile rule of the
    project: training, evaluation's baselines and the benchmark all call it.

    Never pass test scores here: validation (normal) data only.

    Args:
        normal_scores: shape (N,), validation scores of normal sequences, higher = more anomalous.
        q: quantile in (0, 1], e.g. ``ScoringConfig.threshold_quantile``.
        margin: non-negative amount added to the quantile, e.g. ``ScoringConfig.threshold_margin``.

    Returns:
        The threshold; predict anomalous when ``score > threshold``.

    Raises:
        ValueError: empty or non-1-D scores, NaN or infinite scores, q outside (0, 1],
            negative or non-finite margin.

    Example:
        >>> quantile_threshold([0.0, 0.1, 0.2, 0.3, 1.0], q=0.8)  # k = ceil(6 * 0.8) = 5
        1.0
        >>> quantile_threshold([0.0, 0.1, 0.2, 0.3, 1.0], q=0.6)  # k = ceil(6 * 0.6) = 4
        0.3
    """
    s = np.asarray(normal_scores, dtype=np.float64)
    if s.ndim != 1 or s.shape[0] == 0:
        raise ValueError(f"normal_scores must be a non-empty 1-D array, got shape {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError(f"normal_scores hold {int((~np.isfinite(s)).sum())} NaN or infinite value(s)")
    if not 0.0 < q <= 1.0:
        raise ValueError(f"q must be in (0, 1], got {q}")
    if not (math.isfinite(margin) and margin >= 0.0):
        raise ValueError(f"margin must be a finite number >= 0, got {margin}")
    n = s.shape[0]
    # the 1e-9 keeps (n + 1) * q that is a whole number in exact arithmetic from rounding up
    k = min(n, max(1, math.ceil((n + 1) * q - 1e-9)))
    return float(np.partition(s, k - 1)[k - 1]) + float(margin)


def f1_threshold(val_scores: npt.ArrayLike, val_labels: npt.ArrayLike) -> float:
    """Threshold that maximises F1 on a **labelled validation** mix of normal and anomalous sequences.

    The threshold lies halfway between the lowest flagged score and the next lower score, so
    unseen scores between the two are treated evenly. Ties in F1 go to the highest threshold.

    Never pass test scores or test labels here: that would be tuning on the test split.

    Args:
        val_scores: shape (N,), validation scores, higher = more anomalous.
        val_labels: shape (N,), 1 = anomalous, 0 = normal; both classes must be present.

    Returns:
        The threshold; predict anomalous when ``score > threshold``.

    Raises:
        ValueError: bad shapes, NaN scores, non-binary labels, or a class missing (F1 would
            then pick "flag everything" or be undefined).

    Example:
        >>> f1_threshold([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])
        0.5
    """
    labels = _as_labels(val_labels, "val_labels")
    n_abnormal = int(labels.sum())
    if n_abnormal == 0 or n_abnormal == labels.shape[0]:
        raise ValueError(
            "f1_threshold needs both normal and anomalous validation sequences, got "
            f"{n_abnormal} anomalous of {labels.shape[0]}"
        )
    _, threshold = best_f1(labels, val_scores)
    return threshold
