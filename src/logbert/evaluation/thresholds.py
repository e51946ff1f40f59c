"""Choose a decision threshold on **validation data only**.

Scores follow the project rule (higher = more anomalous) and a sequence is predicted
anomalous when its score exceeds the threshold (:func:`logbert.results.exceeds`). The
threshold a detector keeps (``threshold_``) must come from one of these functions applied to a
validation split: never pass test scores or test labels here. Tuning on the test split (as the
original LogBERT ``find_best_threshold`` does) reports numbers no deployment can reach;
:func:`logbert.evaluation.metrics.best_f1` exists to report that oracle number separately,
clearly labelled.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from logbert.evaluation.metrics import _as_labels, best_f1
from logbert.results import tie_band

__all__ = [
    "contamination_threshold",
    "f1_threshold",
    "fit_gpd",
    "miss_ratio_floor",
    "pot_threshold",
    "quantile_threshold",
]


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
        The threshold; predict anomalous when ``exceeds(score, threshold)``.

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
    k = min(n, conformal_rank(n, q))
    return float(np.partition(s, k - 1)[k - 1]) + float(margin)


def conformal_rank(n: int, q: float) -> int:
    """``k = ceil((n + 1) q)`` (at least 1): which smallest of ``n`` normal scores the ``q`` conformal quantile is
    (:func:`quantile_threshold`); ``k > n`` when there are too few for ``q`` (the maximum is used then)."""
    # the 1e-9 keeps (n + 1) * q that is a whole number in exact arithmetic from rounding up
    return max(1, math.ceil((n + 1) * q - 1e-9))


def miss_ratio_floor(
    window_lengths: Sequence[Sequence[int]], misses: int, alpha: float, novel_sessions: int = 0
) -> tuple[float, float]:
    """The lowest miss-ratio threshold that the calibration *keys* allow, where their sessions are too few to say.

    A session's miss ratio is the largest over its windows of misses / masked keys. With ``n`` calibration
    sessions the conformal quantile can state no false-alarm rate below ``1 / (n + 1)``, and with 25-100
    sessions that all miss nothing it is 0: any one miss flags a session. The keys say more than the sessions:
    ``misses`` in ``K`` masked calibration keys give each key a miss probability with the Jeffreys posterior
    ``Beta(misses + 1/2, K - misses + 1/2)``, and a window of ``L`` keys then misses a beta-binomial number of
    them (the posterior predictive; keys taken to miss independently). The floor is the smallest ``m / L``
    (``L`` a calibration window length) at which a session shaped like a calibration one (its ``window_lengths``,
    masked keys per window) would score above it with probability at most ``alpha``, averaged over the
    calibration sessions. It is an extrapolation: misses of a session cluster (a rare but normal shape misses
    several keys at once), so the rate it states is a lower estimate.

    A template never seen in training is a miss too, and new normal sessions bring them: ``novel_sessions`` more
    calibration sessions held a key their model never trained on (left out of the scores) among ``n +
    novel_sessions``, so a new session holds one with the Jeffreys posterior mean ``(novel_sessions + 1/2) / (n +
    novel_sessions + 1)``, and then misses one key more than its known keys do (in the window where that flags it
    soonest). Without that term the floor counted only known keys: on DevStack with 100 training sessions none of
    which missed a key it stayed at 0, and 26 of the 31 normal test sessions it flagged held a template the 100 lacked
    (docs/benchmarks.md, "A never-seen template is a miss too").

    Args:
        window_lengths: per calibration session, the masked keys of each of its windows (each at least 1).
        misses: the misses over all of those keys.
        alpha: the false-alarm rate asked, in (0, 1).
        novel_sessions: normal calibration sessions left out for holding a key their model never trained on.

    Returns:
        ``(threshold, rate)``: the floor (0 where one miss anywhere is already rare enough) and the rate it gives.

    Raises:
        ValueError: no window, a window of no key, negative misses or more misses than keys, alpha outside (0, 1).

    Example:
        >>> t, rate = miss_ratio_floor([[17]] * 50, misses=0, alpha=0.005)  # 850 keys, none missed
        >>> round(t, 4), rate <= 0.005  # one miss in 17 keys is 0.0588: above 1/17 takes two
        (0.0588, True)
        >>> miss_ratio_floor([[17]] * 500, misses=0, alpha=0.005)[0]  # 8,500 keys: one miss is rare enough
        0.0
        >>> round(miss_ratio_floor([[17]] * 500, misses=0, alpha=0.005, novel_sessions=5)[0], 4)  # 1 % new templates
        0.0588
    """
    # scipy is scikit-learn's dependency, imported where it is used (the CLI starts fast)
    from scipy.stats import betabinom

    shapes: dict[tuple[int, ...], int] = {}
    for lengths in window_lengths:
        shape = tuple(int(n) for n in lengths)
        if not shape or min(shape) < 1:
            raise ValueError(f"every calibration session needs windows of at least one masked key, got {shape}")
        shapes[shape] = shapes.get(shape, 0) + 1
    if not shapes:
        raise ValueError("no calibration session to take the key miss rate from")
    keys = sum(sum(shape) * count for shape, count in shapes.items())
    if not 0 <= misses <= keys:
        raise ValueError(f"misses must be between 0 and the {keys} masked keys, got {misses}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if novel_sessions < 0:
        raise ValueError(f"novel_sessions must be >= 0, got {novel_sessions}")
    a, b = misses + 0.5, keys - misses + 0.5
    # a new session holds a template never seen in training: Jeffreys, like the keys' rate
    novel = (novel_sessions + 0.5) / (len(window_lengths) + novel_sessions + 1)
    weights = np.array(list(shapes.values()), dtype=np.float64) / len(window_lengths)
    flat = np.array([n for shape in shapes for n in shape], dtype=np.float64)  # every window of every shape
    starts = np.cumsum([0] + [len(shape) for shape in shapes])[:-1]  # where each shape's windows begin in it

    def rate(threshold: float) -> float:
        """Mean over the sessions of P(some window's misses > threshold x its keys), a never-seen key among them
        with probability ``novel``."""
        allowed = np.floor(threshold * flat + 1e-9)  # misses a window may have without exceeding
        within = betabinom.cdf(allowed, flat, a, b)  # > 0: allowed >= 0
        quiet = np.multiply.reduceat(within, starts)  # per shape: no window exceeds
        # a never-seen key takes one of the allowed misses, in the window where that matters most
        spent = np.minimum.reduceat(betabinom.cdf(allowed - 1, flat, a, b) / within, starts)
        flagged = (1 - novel) * (1.0 - quiet) + novel * (1.0 - quiet * spent)
        return float(np.dot(weights, flagged))

    lengths_seen = sorted({n for shape in shapes for n in shape})
    candidates = sorted({m / n for n in lengths_seen for m in range(n + 1)})
    low, high = 0, len(candidates) - 1  # rate() falls as the threshold rises: the first candidate within alpha
    while low < high:
        middle = (low + high) // 2
        if rate(candidates[middle]) <= alpha:
            high = middle
        else:
            low = middle + 1
    return candidates[low], rate(candidates[low])


def contamination_threshold(scores: npt.ArrayLike, contamination: float, margin: float = 0.0) -> float:
    """Threshold from the scores of training sessions of which a share ``contamination`` is anomalous (pyod's
    ``contamination``): the ``m = floor(contamination * n)`` highest lie above it, plus ``margin``.

    Ties: sessions of one kind score alike, so the ``m``-th highest score is often shared with sessions below
    it. Put between them, the threshold would equal that score and leave the whole tied group *under* it: on a
    task worker's log whose 11 failures (1.8 %) score the same, contamination 0.015 then flagged none of them. So a
    tied group at the boundary goes above the threshold with the rest, unless that puts more than ``2 m`` above
    (then it stays under, and fewer than ``m`` lie above). When the lowest scores tie in a group so large that no
    threshold leaves ``m`` above, it is the lowest score: every session above that group. Above means what the
    decision rule says (:func:`logbert.results.exceeds`, whose tie band makes scores a few float digits apart one
    group).

    Not the conformal :func:`quantile_threshold` at ``1 - contamination`` either: its ``(n + 1)`` lands one place
    higher, on the lowest anomalous score when ``contamination`` is their exact share.

    Raises:
        ValueError: as :func:`quantile_threshold`; ``contamination`` outside [0, 1).

    Example:
        >>> contamination_threshold([0.0, 0.1, 0.2, 0.3, 5.0, 5.0], 1 / 3)  # the 2 highest lie above
        0.3
        >>> contamination_threshold([0.0, 0.1, 0.2, 0.3, 5.0, 5.0], 1 / 6)  # one, tied with another: both
        0.3
        >>> contamination_threshold([0.0, 0.1, 5.0, 5.0, 5.0, 5.0], 1 / 6)  # one, tied with three: none
        5.0
        >>> contamination_threshold([0.0, 0.0, 0.0, 0.0, 5.0, 6.0], 0.49)  # three, but the rest tie: two
        0.0
    """
    s = np.asarray(scores, dtype=np.float64)
    if not 0.0 <= contamination < 1.0:
        raise ValueError(f"contamination must be in [0, 1), got {contamination}")
    quantile_threshold(s, 1.0, margin)  # the same checks of the scores and the margin
    ordered = np.sort(s)
    n = ordered.shape[0]
    m = math.floor(contamination * n + 1e-9)
    # each score as a candidate threshold, and how many scores the decision rule puts above it (ties by its band)
    above = n - np.searchsorted(ordered, [t + tie_band(t) for t in ordered], side="right")
    enough = np.flatnonzero(above >= m)  # above falls as the candidate rises
    # none leaves m above when the lowest scores tie in a large group: the lowest score, never below every one
    best = int(enough[-1]) if enough.size else 0
    if above[best] > 2 * m and best + 1 < n:  # the tied group at the boundary is too large to go above
        best += 1
    return float(ordered[best]) + float(margin)


def fit_gpd(excesses: npt.ArrayLike) -> tuple[float, float]:
    """Shape ``xi`` and scale ``sigma`` of a generalized Pareto distribution (location 0) for ``excesses`` >= 0.

    Maximum likelihood with ``scipy.stats.genpareto`` when scipy is installed (scikit-learn brings
    it); otherwise, or when that fit fails, the method of moments (``xi = (1 - m^2 / v) / 2``,
    ``sigma = m (1 + m^2 / v) / 2`` for mean ``m`` and variance ``v``).

    Raises:
        ValueError: fewer than two excesses, or a negative or non-finite one.
    """
    y = np.asarray(excesses, dtype=np.float64)
    if y.ndim != 1 or y.size < 2 or not np.isfinite(y).all() or (y < 0).any():
        raise ValueError("fit_gpd needs at least two finite excesses >= 0")
    m, v = float(y.mean()), float(y.var(ddof=1))
    if m == 0.0:
        return 0.0, 0.0
    try:
        from scipy.stats import genpareto

        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            xi, _, sigma = genpareto.fit(y, floc=0.0)
        if math.isfinite(xi) and math.isfinite(sigma) and sigma > 0:
            return float(xi), float(sigma)
    except (ImportError, RuntimeError, ValueError):
        pass
    if v == 0.0:
        return 0.0, m
    ratio = m * m / v
    return 0.5 * (1.0 - ratio), 0.5 * m * (1.0 + ratio)


def pot_threshold(
    normal_scores: npt.ArrayLike,
    q: float,
    margin: float = 0.0,
    *,
    tail_fraction: float = 0.1,
    min_tail: int = 10,
    upper: float | None = None,
) -> float:
    """Peaks over threshold: the ``q`` quantile of normal scores from a generalized Pareto fit of their upper tail.

    The plain conformal quantile (:func:`quantile_threshold`) cannot go beyond the largest of ``n``
    scores, so a false-alarm target ``1 - q`` below ``1 / (n + 1)`` ends at their maximum. POT
    (Pickands 1975; as in SPOT, Siffer et al., KDD 2017) takes the ``t = max(min_tail,
    ceil(tail_fraction * n))`` highest scores, fits a generalized Pareto distribution to their
    excesses over the next one ``u`` (:func:`fit_gpd`), and extrapolates:
    ``u + sigma / xi * (((1 - q) * n / t) ** -xi - 1)`` (``u - sigma * log((1 - q) * n / t)`` for
    ``xi = 0``). A target inside the body (``(1 - q) * n >= t``), or too few scores for a tail
    (``n < 2 t``), falls back to :func:`quantile_threshold`. The result never exceeds ``upper`` (the
    score's cap). An extrapolation: no finite-sample guarantee, unlike the conformal quantile, and
    only as good as the tail fit: on exponential scores (true GPD shape 0) the realised rate for a
    1e-4 target averaged 2e-4 with n = 2,000 and 4e-4 with n = 1,000, but 1.7e-2 with n = 50 (ten
    excesses cannot pin the shape down), no better than the maximum.

    Never pass test scores here: validation (normal) data only.

    Raises:
        ValueError: as :func:`quantile_threshold`; ``q = 1`` (no finite quantile to extrapolate).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> s = rng.exponential(1.0, 2000)  # the exact 0.9999 quantile is ln(10_000) = 9.21
        >>> round(pot_threshold(s, 0.9999), 1), round(quantile_threshold(s, 0.9999), 1)  # the latter: the maximum
        (9.5, 8.2)
    """
    plain = quantile_threshold(normal_scores, q, margin)  # validates
    if q >= 1.0:
        raise ValueError("pot_threshold needs q < 1: a generalized Pareto tail has no finite 1-quantile")
    s = np.sort(np.asarray(normal_scores, dtype=np.float64))
    n, rate = s.size, 1.0 - q
    t = max(min_tail, math.ceil(tail_fraction * n - 1e-9))  # the 1e-9s keep float noise from moving t
    if n < 2 * t or rate * n >= t - 1e-9:
        return plain
    u = float(s[n - t - 1])
    xi, sigma = fit_gpd(s[n - t :] - u)
    if sigma == 0.0:
        z = float(s[-1])
    else:
        r = rate * n / t
        z = u - sigma * math.log(r) if abs(xi) < 1e-9 else u + sigma / xi * (r ** (-xi) - 1.0)
    if upper is not None:
        z = min(z, upper)
    return z + float(margin)


def f1_threshold(val_scores: npt.ArrayLike, val_labels: npt.ArrayLike) -> float:
    """Threshold that maximises F1 on a **labelled validation** mix of normal and anomalous sequences.

    The threshold lies halfway between the lowest flagged score and the next lower score, so
    unseen scores between the two are treated evenly. Ties in F1 go to the highest threshold.

    Never pass test scores or test labels here: that would be tuning on the test split.

    Args:
        val_scores: shape (N,), validation scores, higher = more anomalous.
        val_labels: shape (N,), 1 = anomalous, 0 = normal; both classes must be present.

    Returns:
        The threshold; predict anomalous when ``exceeds(score, threshold)``.

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
