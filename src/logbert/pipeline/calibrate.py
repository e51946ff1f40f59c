"""The decision threshold: one rule for ``logbert train``, ``evaluate``'s baselines and the benchmark.

Always on validation data, never on the test split, and always on *session* scores (a session
scores its worst window), because the decision a user sees is per session:

* ``scoring.threshold = "normal_quantile"``: the split-conformal quantile of the normal
  validation sessions' scores (:func:`logbert.evaluation.thresholds.quantile_threshold`);
* ``"labelled_f1"``: the F1-best threshold on normal + labelled anomalous validation sessions
  (:func:`logbert.evaluation.thresholds.f1_threshold`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from logbert.config import ScoringConfig, TrainConfig
from logbert.errors import InputDataError
from logbert.evaluation.thresholds import f1_threshold, quantile_threshold
from logbert.records import KeySequence


def choose_threshold(
    scoring: ScoringConfig, normal_scores: npt.ArrayLike, abnormal_scores: npt.ArrayLike | None = None
) -> float:
    """The threshold from validation session scores (higher = more anomalous; ``-inf`` = unscored).

    With ``abnormal_scores`` (``labelled_f1``): the F1-best threshold on the mix; otherwise the
    ``threshold_quantile`` quantile of the normal scores plus ``threshold_margin``.

    Raises:
        InputDataError: no normal validation session has a score.
    """
    normal = np.asarray(normal_scores, dtype=np.float64)
    normal = normal[np.isfinite(normal)]
    if normal.size == 0:
        raise InputDataError("no normal validation session could be scored: cannot choose a threshold")
    if abnormal_scores is not None:
        abnormal = np.asarray(abnormal_scores, dtype=np.float64)
        abnormal = abnormal[np.isfinite(abnormal)]
        if abnormal.size:
            scores = np.concatenate([normal, abnormal])
            labels = np.concatenate([np.zeros(normal.size, dtype=np.int64), np.ones(abnormal.size, dtype=np.int64)])
            return float(f1_threshold(scores, labels))
    return quantile_threshold(normal, scoring.threshold_quantile, scoring.threshold_margin)


def labelled_val_anomalies(test: Sequence[KeySequence], scoring: ScoringConfig, train: TrainConfig) -> set[str]:
    """``labelled_f1``: a seeded share of the labelled anomalous sessions, moved from test to validation.

    Raises:
        InputDataError: fewer than two labelled anomalous sessions.
    """
    if scoring.threshold != "labelled_f1":
        return set()
    anomalous = sorted({s.session_id for s in test if s.label == 1})
    if len(anomalous) < 2:
        raise InputDataError(
            "scoring.threshold = 'labelled_f1' needs at least 2 labelled anomalous sessions; "
            f"found {len(anomalous)} (give --labels, or use 'normal_quantile')"
        )
    n = max(1, round(len(anomalous) * scoring.val_anomaly_fraction))
    rng = np.random.default_rng(train.seed)
    return {anomalous[i] for i in rng.choice(len(anomalous), size=n, replace=False)}
