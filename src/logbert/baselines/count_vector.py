"""Baselines on event-count vectors (one column per training key + one "unknown" column).

These ignore the order of keys. The unknown column holds the number of keys unseen in
training, so a new key moves the vector away from everything seen in training.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from scipy.stats import norm
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import NearestNeighbors

from logbert.baselines.base import BaselineDetector, FloatArray, IntArray, KeyCounter
from logbert.errors import NotFittedError

__all__ = ["CountVectorNearestDetector", "PCADetector", "IsolationForestDetector"]


class CountVectorNearestDetector(BaselineDetector):
    """Distance from a sequence's count vector to the nearest training count vector.

    Training vectors are de-duplicated first (many normal sessions share a vector), then
    indexed with ``sklearn.neighbors.NearestNeighbors``. The default ball tree computes exact
    distances, so a vector identical to a training one scores exactly 0.

    Args:
        metric: ``"euclidean"`` or ``"manhattan"`` (the latter = number of differing key
            occurrences when ``normalize`` is off).
        normalize: divide each vector by its sequence length first (compare key shares,
            not counts, so long and short windows of the same mix match).
        algorithm: neighbour search algorithm passed to ``NearestNeighbors``.

    Scores: higher = more anomalous; 0 = some training sequence has the same counts.
    """

    name = "count_nearest"

    def __init__(
        self,
        metric: Literal["euclidean", "manhattan"] = "euclidean",
        normalize: bool = False,
        algorithm: Literal["ball_tree", "kd_tree", "brute", "auto"] = "ball_tree",
    ) -> None:
        self.metric = metric
        self.normalize = normalize
        self.algorithm = algorithm

    def _vectors(self, seqs: list[IntArray]) -> FloatArray:
        x = self.counter_.transform(seqs)
        if self.normalize:
            totals = x.sum(axis=1, keepdims=True)
            x = np.divide(x, totals, out=np.zeros_like(x), where=totals > 0)
        return x

    def _fit(self, seqs: list[IntArray]) -> None:
        if self.metric not in ("euclidean", "manhattan"):
            raise ValueError(f"metric must be 'euclidean' or 'manhattan', got {self.metric!r}")
        self.counter_ = KeyCounter().fit(seqs)
        self.train_vectors_: FloatArray = np.unique(self._vectors(seqs), axis=0)
        self.index_ = NearestNeighbors(n_neighbors=1, metric=self.metric, algorithm=self.algorithm, n_jobs=1)
        self.index_.fit(self.train_vectors_)
        self.fitted_ = True

    def _score(self, seqs: list[IntArray]) -> FloatArray:
        dist, _ = self.index_.kneighbors(self._vectors(seqs), n_neighbors=1)
        return np.asarray(dist[:, 0], dtype=np.float64)


class PCADetector(BaselineDetector):
    """loglizer-style PCA: squared prediction error (SPE, the Q statistic) off the normal subspace.

    Fit: count vectors are TF-IDF weighted (``idf = log((1 + N) / (1 + df)) + 1``, sklearn's
    smoothed idf), centred on the training mean, and PCA keeps the leading components. Score:
    ``SPE = ||(I - P P^T) y||^2`` for the weighted, centred vector ``y``.

    Unlike loglizer, whose idf ``log(N / df)`` is 0 for a key present in every training
    sequence (so its absence goes unnoticed) and which drops unseen keys, every column keeps a
    positive weight here and unseen keys count in the unknown column, which has no training
    variance and therefore lies wholly in the residual subspace.

    Args:
        n_components: a float in (0, 1] = keep the fewest components explaining that share of
            the training variance (loglizer uses 0.95); an int >= 0 = that many components.
        term_weighting: ``"tfidf"`` or ``"none"`` (raw counts).

    Scores: higher = more anomalous; :meth:`q_threshold` gives the classical Jackson-Mudholkar
    threshold, an alternative to a validation quantile.
    """

    name = "pca"

    def __init__(
        self,
        n_components: float | int = 0.95,
        term_weighting: Literal["tfidf", "none"] = "tfidf",
    ) -> None:
        self.n_components = n_components
        self.term_weighting = term_weighting

    def _weighted(self, seqs: list[IntArray]) -> FloatArray:
        return self.counter_.transform(seqs) * self.idf_ - self.mean_

    def _fit(self, seqs: list[IntArray]) -> None:
        if self.term_weighting not in ("tfidf", "none"):
            raise ValueError(f"term_weighting must be 'tfidf' or 'none', got {self.term_weighting!r}")
        nc = self.n_components
        if isinstance(nc, bool) or not (
            (isinstance(nc, int) and nc >= 0) or (isinstance(nc, float) and 0.0 < nc <= 1.0)
        ):
            raise ValueError(f"n_components must be an int >= 0 or a float in (0, 1], got {nc!r}")
        self.counter_ = KeyCounter().fit(seqs)
        x = self.counter_.transform(seqs)
        n = x.shape[0]
        if self.term_weighting == "tfidf":
            df = np.count_nonzero(x > 0, axis=0)
            self.idf_: FloatArray = np.log((1.0 + n) / (1.0 + df)) + 1.0
        else:
            self.idf_ = np.ones(x.shape[1], dtype=np.float64)
        xw = x * self.idf_
        self.mean_: FloatArray = xw.mean(axis=0)
        xc = xw - self.mean_
        eigvals, eigvecs = np.linalg.eigh(xc.T @ xc / n)  # ascending; (K+1,), (K+1, K+1)
        eigvals = np.clip(eigvals[::-1], 0.0, None)
        eigvecs = eigvecs[:, ::-1]
        total = float(eigvals.sum())
        if isinstance(nc, float):
            if total <= 0.0:
                k = 0  # all training vectors identical: no principal direction, SPE = distance to the mean
            else:
                ratio = np.cumsum(eigvals) / total
                k = int(np.searchsorted(ratio, nc - 1e-12) + 1)
        else:
            k = nc
        k = min(k, eigvals.shape[0])
        self.n_components_ = k
        self.components_: FloatArray = eigvecs[:, :k]  # (K+1, k)
        self.explained_variance_: FloatArray = eigvals[:k]
        self.residual_variance_: FloatArray = eigvals[k:]
        self.fitted_ = True

    def _score(self, seqs: list[IntArray]) -> FloatArray:
        y = self._weighted(seqs)  # (N, K+1)
        residual = y - (y @ self.components_) @ self.components_.T
        return np.asarray(np.einsum("ij,ij->i", residual, residual), dtype=np.float64)

    def q_threshold(self, confidence: float = 0.999) -> float:
        """Jackson-Mudholkar upper limit of the SPE for normal data at the given confidence.

        Assumes roughly Gaussian residuals; on log counts it is a rough guide. Returns 0.0 when
        the training data has no residual variance.

        Raises:
            ValueError: ``confidence`` outside (0, 1).
            NotFittedError: called before ``fit``.
        """
        if not 0.0 < confidence < 1.0:
            raise ValueError(f"confidence must be in (0, 1), got {confidence}")
        if not self._is_fitted():
            raise NotFittedError("PCADetector is not fitted; call fit(train_seqs) first")
        lam = self.residual_variance_
        theta1, theta2, theta3 = (float(np.sum(lam**i)) for i in (1, 2, 3))
        if theta1 <= 0.0 or theta2 <= 0.0:
            return 0.0
        h0 = 1.0 - 2.0 * theta1 * theta3 / (3.0 * theta2**2)
        c_alpha = float(norm.ppf(confidence))
        inner = c_alpha * math.sqrt(2.0 * theta2 * h0**2) / theta1 + 1.0 + theta2 * h0 * (h0 - 1.0) / theta1**2
        if inner <= 0.0 or h0 == 0.0:
            return 0.0  # degenerate residual spectrum: the approximation does not apply
        return float(theta1 * inner ** (1.0 / h0))


class IsolationForestDetector(BaselineDetector):
    """sklearn ``IsolationForest`` on raw count vectors, seeded.

    Score = ``-IsolationForest.score_samples(x)``, the anomaly score of the original paper,
    in (0, 1]; higher = more anomalous (sklearn's own sign runs the other way).

    Limitation: the unknown-key column is constant (0) in training, and isolation trees only
    split on features that vary in training, so unseen keys do not raise this score. Pair it
    with ``NewEventDetector`` when new keys matter.

    Args:
        n_estimators: number of trees.
        max_samples: samples per tree (``"auto"`` = min(256, N)).
        seed: ``random_state`` of the forest; same seed, same scores.
    """

    name = "isolation_forest"

    def __init__(self, n_estimators: int = 100, max_samples: int | float | str = "auto", seed: int = 42) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.seed = seed

    def _fit(self, seqs: list[IntArray]) -> None:
        if self.n_estimators < 1:
            raise ValueError(f"n_estimators must be >= 1, got {self.n_estimators}")
        self.counter_ = KeyCounter().fit(seqs)
        self.forest_ = IsolationForest(
            n_estimators=self.n_estimators, max_samples=self.max_samples, random_state=self.seed, n_jobs=1
        )
        self.forest_.fit(self.counter_.transform(seqs))
        self.fitted_ = True

    def _score(self, seqs: list[IntArray]) -> FloatArray:
        return -np.asarray(self.forest_.score_samples(self.counter_.transform(seqs)), dtype=np.float64)
