"""The decision threshold: one rule for ``logbert train``, ``evaluate``'s baselines and the benchmark.

Always on validation data, never on the test split, and always on *session* scores (a session
scores its worst window), because the decision a user sees is per session:

* ``scoring.threshold = "normal_quantile"``: the split-conformal quantile of the normal
  validation sessions' scores (:func:`logbert.evaluation.thresholds.quantile_threshold`);
* ``"labelled_f1"``: the F1-best threshold on normal + labelled anomalous validation sessions
  (:func:`logbert.evaluation.thresholds.f1_threshold`).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from logbert.config import ScoringConfig, TrainConfig
from logbert.errors import InputDataError, UnknownArtifact
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


#: The artifact file that records how the threshold was chosen and the validation scores behind it.
CALIBRATION_FILE = "calibration.json"


@dataclass(frozen=True, slots=True)
class Calibration:
    """How a threshold was chosen, and the normal validation session scores it came from.

    With exchangeable normal sessions, a new one scores above the ``k``-th smallest of ``n`` normal
    validation scores with probability at most ``1 - k / (n + 1)`` (split conformal). The same scores
    give :meth:`p_value` (how rare a score is among normal sessions) and :meth:`threshold_for` (the
    threshold for a false-alarm target), by the one quantile rule.
    """

    method: str  # "normal_quantile" or "labelled_f1"
    threshold: float
    quantile: float
    margin: float
    normal_scores: tuple[float, ...]  # sorted, finite: the normal validation sessions' scores

    @property
    def n(self) -> int:
        return len(self.normal_scores)

    @property
    def fpr_bound(self) -> float | None:
        """The false-alarm rate the threshold guarantees on new normal sessions, when one holds.

        None when it does not: a ``labelled_f1`` threshold, or too few validation sessions for the
        quantile (the threshold is then their maximum).
        """
        if self.method != "normal_quantile" or not self.normal_scores:
            return None
        k = math.ceil((self.n + 1) * self.quantile - 1e-9)
        return None if k > self.n else 1.0 - k / (self.n + 1)

    def p_value(self, score: float) -> float:
        """Conformal p-value: the share of normal sessions (validation ones plus this one) scoring at
        least ``score``; small = rare among normal sessions. ``1 / (n + 1)`` is the smallest."""
        at_least = self.n - bisect.bisect_left(self.normal_scores, score)
        return (1 + at_least) / (self.n + 1)

    def threshold_for(self, target_fpr: float) -> float:
        """The threshold whose false-alarm rate on new normal sessions is at most ``target_fpr``.

        Raises:
            InputDataError: no validation scores, or ``target_fpr`` outside (0, 1).
        """
        if not 0.0 < target_fpr < 1.0:
            raise InputDataError(f"target false-alarm rate must be in (0, 1), got {target_fpr}")
        if not self.normal_scores:
            raise InputDataError("this artifact kept no validation scores: a target false-alarm rate needs them")
        return quantile_threshold(np.asarray(self.normal_scores), 1.0 - target_fpr, self.margin)

    def describe(self) -> str:
        """One line for people: how the threshold was chosen and what it promises."""
        if self.method == "labelled_f1":
            return f"F1-best on labelled validation sessions ({self.n} normal)"
        bound = self.fpr_bound
        base = f"quantile {self.quantile} of {self.n} normal validation sessions"
        if bound is None:
            need = math.ceil(self.quantile / (1 - self.quantile)) if self.quantile < 1 else None
            more = f"; at least {need} are needed for that guarantee" if need else ""
            return f"{base}: their maximum, no false-alarm guarantee{more}"
        return f"{base}: a new normal session is flagged with probability <= {bound:.2%}"

    def to_dict(self) -> dict[str, object]:
        return {
            "method": self.method,
            "threshold": self.threshold,
            "quantile": self.quantile,
            "margin": self.margin,
            "fpr_bound": self.fpr_bound,
            "normal_scores": list(self.normal_scores),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        """Raises: UnknownArtifact on a malformed record."""
        try:
            scores = tuple(sorted(float(s) for s in data["normal_scores"]))
            if not all(math.isfinite(s) for s in scores):
                raise ValueError("non-finite score")
            return cls(
                str(data["method"]), float(data["threshold"]), float(data["quantile"]), float(data["margin"]), scores
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UnknownArtifact(f"{CALIBRATION_FILE} is malformed: {exc}") from None


def calibration(scoring: ScoringConfig, threshold: float, normal_scores: npt.ArrayLike) -> Calibration:
    """The record of a threshold chosen by :func:`choose_threshold` from these normal session scores."""
    scores = np.asarray(normal_scores, dtype=np.float64)
    finite = np.sort(scores[np.isfinite(scores)])
    return Calibration(
        scoring.threshold,
        float(threshold),
        scoring.threshold_quantile,
        scoring.threshold_margin,
        tuple(float(s) for s in finite),
    )
