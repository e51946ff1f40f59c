"""The decision threshold: one rule for ``logbert train``, ``evaluate``'s baselines and the benchmark.

Always on normal sessions the scoring model never trained on (never the test split), and always on
*session* scores (a session scores its worst window), because the decision a user sees is per session.

Where the normal scores come from (``scoring.calibration``):

* ``"split"``: the normal validation split, scored by the model trained on the training split
  (split conformal: with ``n`` validation sessions, a new normal session scores above the
  ``k = ceil((n + 1) q)``-th smallest with probability at most ``1 - k / (n + 1)``; it needs
  ``n >= q / (1 - q)``, 199 sessions for ``q = 0.995``);
* ``"cross_fit"``: every normal training + validation session, each scored *out of fold* by one of
  ``k`` fold models trained on the other folds, then a final model trained on them all (cross-
  conformal, the CV+ of Barber et al., "Predictive inference with the jackknife+", Ann. Statist.
  2021): ten times as many scores as the split gives, at the price of ``k`` extra trainings;
* ``"auto"``: ``cross_fit`` when the split's threshold would rest on fewer than :data:`SPLIT_MIN_ABOVE`
  validation scores above it (then the realised false-alarm rate swings widely from one split to the next)
  and there are at most :data:`AUTO_CROSS_FIT_MAX_SESSIONS` normal sessions, else ``split``.

Sessions holding a key the scoring model never trained on (an unseen template, ``UNK``; in
cross-fit also a key only the held-out fold has) score that key as pure surprise, whatever the
model learned: their score measures "something new", not "how normal". They are left out of the
quantile and counted (``Calibration.n_unseen``), so one of them can no longer drag the threshold to
the score cap; new sessions like them still score high, a signal of their own.

How the threshold is read from the normal scores (``scoring.threshold``):

* ``"normal_quantile"``: their conformal quantile (:func:`logbert.evaluation.thresholds.quantile_threshold`);
* ``"pot"``: a generalized Pareto fit of their upper tail (:func:`logbert.evaluation.thresholds.pot_threshold`),
  for target rates below ``1 / n``; an extrapolation, without a finite-sample guarantee;
* ``"labelled_f1"``: the F1-best threshold on normal + labelled anomalous validation sessions
  (:func:`logbert.evaluation.thresholds.f1_threshold`; split only).

Too few calibration sessions for the quantile (``n < q / (1 - q)``) and a miss-ratio score: the quantile is their
maximum, and where none of them misses a key, 0. ``scoring.key_rate_floor`` then raises it to what their *keys*
allow (:func:`key_rate_floor`, :func:`logbert.evaluation.thresholds.miss_ratio_floor`): the miss rate of every
masked calibration key, extrapolated to sessions of their lengths.

With ``scoring.contamination`` (training data that holds failures nobody labelled), the first two give way to
:func:`logbert.evaluation.thresholds.contamination_threshold`: that share of the calibration sessions, the highest,
lies above the threshold.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from logbert.artifact import CALIBRATION_FILE
from logbert.config import ScoringConfig, TrainConfig
from logbert.errors import InputDataError, UnknownArtifact
from logbert.evaluation.thresholds import (
    conformal_rank,
    contamination_threshold,
    f1_threshold,
    miss_ratio_floor,
    pot_threshold,
    quantile_threshold,
)
from logbert.records import KeySequence
from logbert.results import exceeds

#: What ``scoring.calibration`` resolves to.
Scheme = Literal["split", "cross_fit"]

#: ``scoring.calibration = "auto"`` cross-fits at most this many normal (training + validation) sessions. Up to
#: it the k extra trainings stay affordable for a one-off ``logbert train``: the demo's 272 normal sessions took
#: 30 s a model, 3 min for all six (one CPU thread, the default model); DeepLog's 2,855 normal HDFS key sessions
#: (`keys` preset) 540-570 s for all six on a loaded 2-core machine, against 65-68 s for one training
#: (`benchmarks/small_data`). Beyond it the cost grows with the data while the split's own validation sessions
#: (10 % of them) start to hold enough scores above the threshold.
AUTO_CROSS_FIT_MAX_SESSIONS = 5000
#: ``"auto"`` splits only when at least this many validation scores lie above the split's threshold
#: (``(n_val + 1)(1 - q)`` of them): the realised false-alarm rate of a quantile resting on m scores above it has
#: a relative spread of about ``1 / sqrt(m)``. With m = 1-2 (199-400 validation sessions at q = 0.995, the rule
#: before) it was 0.001-0.0085 for a stated 0.005 on DeepLog's HDFS keys, and recall went 0.84-0.97 with it;
#: cross-fit over the same 2,855 sessions gave 0.0025-0.006 and 0.95-0.97 (`benchmarks/small_data`, "all").
SPLIT_MIN_ABOVE = 5


def sessions_needed(q: float) -> int | None:
    """Fewest normal scores for which the ``q`` conformal quantile exists (``k = ceil((n + 1) q) <= n``), so that its
    false-alarm guarantee holds (None for q = 1). With up to about twice as many it is still their maximum (q = 0.995:
    199 scores give the guarantee, and the quantile is the largest score up to 398)."""
    return math.ceil(q / (1.0 - q) - 1e-9) if q < 1.0 else None


def resolve_calibration(scoring: ScoringConfig, n_normal: int, n_val: int) -> Scheme:
    """``scoring.calibration`` for this data: ``"split"`` or ``"cross_fit"``.

    Args:
        n_normal: normal sessions for training + validation.
        n_val: of them, the normal validation sessions of the split.

    ``"auto"`` needs at least one session per fold to cross-fit.
    """
    if scoring.threshold == "labelled_f1":
        return "split"  # the F1 threshold needs the labelled validation anomalies of the split
    if scoring.calibration != "auto":
        return scoring.calibration
    q = scoring.quantile
    too_few = q >= 1.0 or (n_val + 1) * (1.0 - q) < SPLIT_MIN_ABOVE
    # scoring.contamination: every training session scored out of fold, so that those taken to be anomalous are
    # all found, named, and left out of the final model (pipeline.fit.fit_sessions), not only the validation ones
    affordable = scoring.calibration_folds <= n_normal <= AUTO_CROSS_FIT_MAX_SESSIONS
    return "cross_fit" if (too_few or scoring.contaminated) and affordable else "split"


def fold_ids(n: int, k: int, seed: int) -> npt.NDArray[np.int64]:
    """(n,) the fold (0..k-1) of each of ``n`` sessions: seeded, fold sizes differ by at most one.

    Raises:
        InputDataError: fewer sessions than folds.
    """
    if n < k:
        raise InputDataError(
            f"cross-fit calibration needs at least {k} normal sessions (scoring.calibration_folds), got {n}"
        )
    return np.random.default_rng(seed).permutation(np.arange(n, dtype=np.int64) % k)


@dataclass(frozen=True, slots=True)
class KeyMisses:
    """What the normal calibration sessions' keys say (a key-only miss-ratio model): their misses in all, per
    session the masked keys of each of its windows (the sessions of the normal scores, in any order), and how many
    more sessions were left out for holding a key their model never trained on (``Calibration.n_unseen``: how often
    a new session brings a never-seen template, which is a miss)."""

    misses: int
    window_lengths: tuple[tuple[int, ...], ...]
    novel_sessions: int = 0

    @property
    def keys(self) -> int:
        return sum(sum(lengths) for lengths in self.window_lengths)

    def to_dict(self) -> dict[str, object]:
        return {
            "misses": self.misses,
            "window_lengths": [list(n) for n in self.window_lengths],
            "novel_sessions": self.novel_sessions,
        }


def key_rate_floor(
    scoring: ScoringConfig, n_scores: int, key_misses: KeyMisses | None, quantile: float | None = None
) -> tuple[float, float] | None:
    """``(floor, rate)``: the lowest threshold the calibration keys' miss rate allows for ``1 - quantile`` (default
    ``scoring.quantile``; :func:`~logbert.evaluation.thresholds.miss_ratio_floor`), where it applies: a miss-ratio
    quantile threshold (``scoring.key_rate_floor``, no contamination) from too few sessions for the quantile
    (``n_scores`` of them: it is their maximum, which states no rate below ``1 / (n + 1)``), none of which missed a
    key: their maximum is then 0 and says nothing of how often a normal session misses one, their keys do. Where a
    calibration session missed a key, their maximum stands: it is above 0 and read from the sessions themselves (a
    floor there would aim at the asked rate the maximum cannot state, and on the DeepLog keys scored by the miss
    ratio at top-9 it cost recall: F1 0.763 -> 0.503 on one seed of three, docs/benchmarks.md). None elsewhere, and
    where the keys are unknown (baselines, time- and value-aware models, records from before the setting).

    >>> from logbert.config import ScoringConfig
    >>> few = KeyMisses(0, ((17,),) * 50)  # 50 sessions of 17 keys, no miss: 0 is their maximum
    >>> round(key_rate_floor(ScoringConfig(), 50, few)[0], 4)  # above one miss in 17
    0.0588
    >>> key_rate_floor(ScoringConfig(), 250, KeyMisses(0, ((17,),) * 250)) is None  # enough for the quantile
    True
    >>> key_rate_floor(ScoringConfig(), 50, KeyMisses(1, ((17,),) * 50)) is None  # a miss: their maximum stands
    True
    """
    if not reads_key_misses(scoring):
        return None
    return _key_floor(n_scores, key_misses, scoring.quantile if quantile is None else quantile)


def reads_key_misses(scoring: ScoringConfig) -> bool:
    """The threshold may be raised by the keys' miss rate (:func:`key_rate_floor`): ``scoring.key_rate_floor`` on
    a miss-ratio quantile threshold without contamination."""
    return (
        scoring.key_rate_floor
        and scoring.score == "miss_ratio"
        and scoring.threshold == "normal_quantile"
        and not scoring.contaminated
    )


def _key_floor(n_scores: int, key_misses: KeyMisses | None, q: float) -> tuple[float, float] | None:
    """:func:`key_rate_floor` once its settings hold: where ``n_scores`` are too few for ``q`` and their keys are
    known, none missed."""
    if key_misses is None or not key_misses.window_lengths or key_misses.misses > 0:
        return None
    if q >= 1.0 or conformal_rank(n_scores, q) <= n_scores:
        return None
    return miss_ratio_floor(key_misses.window_lengths, key_misses.misses, 1.0 - q, key_misses.novel_sessions)


def choose_threshold(
    scoring: ScoringConfig,
    normal_scores: npt.ArrayLike,
    abnormal_scores: npt.ArrayLike | None = None,
    key_misses: KeyMisses | None = None,
) -> float:
    """The threshold from validation session scores (higher = more anomalous; ``-inf`` = unscored).

    With ``abnormal_scores`` (``labelled_f1``): the F1-best threshold on the mix; otherwise the
    ``threshold_quantile`` quantile of the normal scores (``pot``: of their fitted upper tail; with
    ``scoring.contamination``, that share of the highest above it) plus
    ``threshold_margin``, raised to :func:`key_rate_floor` where the normal sessions are too few for the quantile
    and ``key_misses`` (theirs) are given. Sessions with unseen keys are the caller's to leave out (see the module).

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
    if scoring.contaminated:  # the top share lies above
        return contamination_threshold(normal, scoring.contamination, scoring.threshold_margin)
    if scoring.threshold == "pot":
        return pot_threshold(normal, scoring.threshold_quantile, scoring.threshold_margin, upper=score_cap(scoring))
    threshold = quantile_threshold(normal, scoring.threshold_quantile, scoring.threshold_margin)
    floor = key_rate_floor(scoring, normal.size, key_misses)
    return threshold if floor is None else max(threshold, floor[0])


def score_cap(scoring: ScoringConfig) -> float | None:
    """The highest score ``scoring.score`` can give (None: unbounded)."""
    cap = scoring.nll_cap
    caps = {"miss_ratio": 1.0, "mean_nll": cap, "max_nll": cap, "max_mean_nll": 2 * cap}
    return caps.get(scoring.score)


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




@dataclass(frozen=True, slots=True)
class Calibration:
    """How a threshold was chosen, and the normal session scores it came from.

    ``scheme`` says where the scores come from: ``"split"`` (the normal validation sessions, scored
    by the model trained without them) or ``"cross_fit"`` (every normal training + validation
    session, scored out of fold by ``folds`` fold models). With ``n`` exchangeable normal scores and
    ``k = ceil((n + 1) q)``:

    * split conformal: a new normal session scores above the ``k``-th smallest with probability at
      most ``1 - k / (n + 1)`` (:attr:`fpr_nominal` = :attr:`fpr_bound`);
    * cross-conformal: about ``1 - k / (n + 1)`` in practice, and at most twice that plus a small
      term in the worst case (Barber et al. 2021, Theorem 4, for CV+). That theorem scores a new
      session with each fold model; logbert scores it with the final model trained on every fold,
      the usual shortcut, so read :attr:`fpr_bound` as the worst case of the procedure it
      approximates, not as a proof about this model.

    Both promises are about normal sessions whose keys the model has seen: the ``n_unseen``
    sessions with an unseen key were left out of the scores (they score high on their own).
    The same scores give :meth:`p_value` and :meth:`threshold_for`, by the one quantile rule.
    """

    method: str  # scoring.threshold: "normal_quantile", "pot" or "labelled_f1"
    threshold: float
    quantile: float
    margin: float
    normal_scores: tuple[float, ...]  # sorted, finite: the normal calibration sessions' scores
    scheme: str = "split"  # "split" or "cross_fit": where normal_scores come from
    folds: int = 0  # cross_fit: number of fold models (0 for split)
    n_unseen: int = 0  # normal calibration sessions left out: a key the scoring model never trained on
    unit: str = "sessions"  # what the scores are of, for people: window.unit_noun (sessions, sliding windows, ...)
    # the false-alarm rate estimated by leaving each calibration session out (time- and value-aware models, whose
    # channel scales are fitted on the same sessions as the threshold: logbert.pipeline.estimator.leave_one_out_rate);
    # None where the quantile's own rate holds
    fpr_estimate: float | None = None
    # cross_fit: each score is the larger of the session's out-of-fold score and the final model's score of it
    # (scoring.calibrate_with_final); False for records from before the setting
    with_final: bool = False
    # scoring.contamination, where it set the quantile: that share of the calibration sessions is taken to be
    # anomalous, so the rates below count sessions like the calibration ones, anomalies included
    contamination: float = 0.0
    # scoring.key_rate_floor in force: the calibration sessions' misses and window lengths (None: not read)
    key_misses: KeyMisses | None = None
    # where it applied (too few sessions for the quantile): (floor, the rate it states); the threshold is at least it
    key_floor: tuple[float, float] | None = None

    @property
    def n(self) -> int:
        return len(self.normal_scores)

    @property
    def fewest_keys(self) -> int | None:
        """The fewest masked keys of a calibration session (where ``key_misses`` were kept; else None): the stated
        false-alarm rate is about sessions like these, and says nothing of shorter ones."""
        if self.key_misses is None or not self.key_misses.window_lengths:
            return None
        return min(sum(lengths) for lengths in self.key_misses.window_lengths)

    @property
    def fpr_nominal(self) -> float | None:
        """``1 - k / (n + 1)``: the quantile's false-alarm rate on new normal sessions (seen keys).

        With too few scores for ``quantile`` (``k > n``) the threshold is their maximum, and the rate
        is what the maximum promises, ``1 / (n + 1)``: more than ``1 - quantile`` (see :attr:`short`).
        None for ``labelled_f1`` and ``pot``.
        """
        if self.method != "normal_quantile" or not self.normal_scores:
            return None
        return 1.0 - min(self.n, conformal_rank(self.n, self.quantile)) / (self.n + 1)

    @property
    def n_above(self) -> int:
        """Calibration scores the stored threshold flags (the decision rule, :func:`~logbert.results.exceeds`)."""
        scores = np.asarray(self.normal_scores, dtype=float)
        return int(np.count_nonzero(exceeds(scores, self.threshold))) if scores.size else 0

    @property
    def fpr_tied(self) -> float | None:
        """``(1 + a) / (n + 1)`` with ``a`` the calibration scores above the threshold, where that is below
        :attr:`fpr_nominal` (else None): the rate to expect from this threshold when scores tie.

        The quantile's rate counts ``n + 1 - k`` scores above the ``k``-th smallest, which holds for scores that
        do not tie. Identical sessions score alike, and where the threshold sits in a run of equal scores fewer
        lie above it: HDFS's 1,115 validation blocks took 44 distinct scores, 2 above the threshold where the
        quantile counts 5, and the normal test blocks realised 0.22 % against the 0.45 % stated (0.13 % and 0 on
        two more seeds, 0.27 % and 0.18 % by this rule). With untied scores it is the quantile's own rate. An
        estimate for this threshold, not a bound: :attr:`fpr_bound` is still the promise.
        """
        nominal = self.fpr_nominal
        if nominal is None or self.fpr_estimate is not None or self.contamination > 0:
            return None
        tied = (1 + self.n_above) / (self.n + 1)
        return tied if tied < nominal - 1e-12 else None

    @property
    def short(self) -> bool:
        """Too few scores for ``quantile``: the threshold is their maximum, which promises less."""
        return conformal_rank(self.n, self.quantile) > self.n

    @property
    def fpr_bound(self) -> float | None:
        """The worst-case false-alarm rate on new normal sessions (seen keys), when one holds.

        Split: the nominal rate itself. Cross-fit: ``2 a + min(2 (1 - 1/K) / (n/K + 1), (1 - K/n) / (K + 1))``
        with ``a`` the nominal rate and ``K`` folds (Barber et al. 2021, Theorem 4). None for
        ``labelled_f1`` and ``pot`` (no finite-sample guarantee).
        """
        a = self.fpr_nominal
        if self.fpr_estimate is not None:  # scores scaled on the calibration sessions themselves: no bound holds
            return None
        if self.contamination > 0:  # the calibration sessions were not all normal: no bound for normal sessions
            return None
        if a is None or self.scheme == "split":
            return a
        k, n = self.folds, self.n
        slack = min(2 * (1 - 1 / k) / (n / k + 1), (1 - k / n) / (k + 1)) if k >= 2 and n >= k else 1.0
        return min(1.0, 2 * a + slack)

    @property
    def fpr_spread(self) -> tuple[float, float] | None:
        """Where the false-alarm rate of *this* draw of calibration sessions lies, 90 % of draws: (5 %, 95 %) points.

        :attr:`fpr_nominal` is an average over draws of ``n`` calibration sessions. For one draw the rate is the
        probability mass above the ``k``-th smallest score, which for exchangeable continuous scores follows
        ``Beta(n + 1 - k, k)``: with 50 sessions and the maximum as threshold, nominal 1.96 %, 90 % of draws
        realise between 0.10 % and 5.7 %; with 1,115 at quantile 0.995, 0.18-0.82 %. So "within a factor of 2
        of the stated rate" holds for about half of all draws of 50 sessions, whatever the detector. None where
        :attr:`fpr_bound` holds no rate (``pot``, ``labelled_f1``, scaled channels, contamination).
        """
        if self.fpr_bound is None or not self.normal_scores:
            return None
        # scikit-learn's dependency, imported where it is used (the CLI starts fast)
        from scipy.special import betaincinv

        k = min(self.n, conformal_rank(self.n, self.quantile))
        above, below = self.n + 1 - k, k  # Beta parameters of the mass above the k-th smallest score
        low, high = betaincinv(above, below, [0.05, 0.95])
        return float(low), float(high)

    def p_value(self, score: float) -> float:
        """Conformal p-value: the share of normal sessions (calibration ones plus this one) scoring at
        least ``score``; small = rare among normal sessions. ``1 / (n + 1)`` is the smallest."""
        at_least = self.n - bisect.bisect_left(self.normal_scores, score)
        return (1 + at_least) / (self.n + 1)

    def threshold_for(self, target_fpr: float) -> float:
        """The threshold whose false-alarm rate on new normal sessions is at most ``target_fpr``
        (the conformal quantile ``1 - target_fpr`` of the stored scores; cross-fit: see the class).

        Raises:
            InputDataError: no calibration scores, or ``target_fpr`` outside (0, 1).
        """
        if not 0.0 < target_fpr < 1.0:
            raise InputDataError(f"target false-alarm rate must be in (0, 1), got {target_fpr}")
        if not self.normal_scores:
            raise InputDataError("this artifact kept no validation scores: a target false-alarm rate needs them")
        threshold = quantile_threshold(np.asarray(self.normal_scores), 1.0 - target_fpr, self.margin)
        floor = self.key_floor_for(target_fpr)
        return threshold if floor is None else max(threshold, floor)

    def at_target(self, target_fpr: float) -> Calibration:
        """This calibration with the quantile of ``target_fpr`` (the rule of :meth:`threshold_for`): its threshold,
        and :meth:`describe` saying what that promises, in the words ``train`` uses (a target that needs more scores
        than there are says so). Contamination is kept: its scores hold anomalies, so no guarantee is stated.

        Raises:
            InputDataError: as :meth:`threshold_for`.
        """
        q = 1.0 - target_fpr
        return replace(
            self,
            method="normal_quantile",  # threshold_for takes the quantile, whatever chose the stored threshold
            threshold=self.threshold_for(target_fpr),
            quantile=q,
            key_floor=_key_floor(self.n, self.key_misses, q),
        )

    def key_floor_for(self, target_fpr: float) -> float | None:
        """The floor the calibration keys' miss rate puts under :meth:`threshold_for` at ``target_fpr`` (the training
        rule, :func:`key_rate_floor`, at this target); None where it does not apply."""
        floor = _key_floor(self.n, self.key_misses, 1.0 - target_fpr)
        return None if floor is None else floor[0]

    @property
    def raised_by_keys(self) -> bool:
        """The keys' miss rate raised the threshold above the quantile of the scores (:func:`key_rate_floor`)."""
        if self.key_floor is None or not self.normal_scores:
            return False
        return self.key_floor[0] > quantile_threshold(np.asarray(self.normal_scores), self.quantile, self.margin)

    @property
    def source(self) -> str:
        """Which sessions the scores are, in words."""
        if self.scheme == "cross_fit":
            one = self.unit[:-1] if self.unit.endswith("s") else self.unit  # "session", "sliding window"
            final = f", each at least the final model's score of its {one}" if self.with_final else ""
            return (
                f"{self.n} out-of-fold scores ({self.folds}-fold cross-fit over the normal training + validation "
                f"{self.unit}{final})"
            )
        return f"{self.n} normal validation {self.unit}"

    def describe(self) -> str:
        """One line for people: how the threshold was chosen and what it promises."""
        never = "their fold model never trained on" if self.scheme == "cross_fit" else "never seen in training"
        unseen = (
            f"; {self.n_unseen} more held keys {never} and were left out (such {self.unit} score high on their own)"
            if self.n_unseen
            else ""
        )
        if self.method == "labelled_f1":
            return f"F1-best on labelled validation sessions ({self.n} normal){unseen}"
        if self.contamination > 0:
            return (
                f"{self.source}, the highest scoring.contamination share ({self.contamination:g}) of them taken to be "
                f"anomalous and left above it: about that share of new {self.unit} like them flagged, their anomalies "
                f"among them; no false-alarm guarantee for normal {self.unit}{unseen}"
            )
        if self.method == "pot":
            return (
                f"quantile {self.quantile} of a generalized Pareto fit of the upper tail of {self.source}: an "
                f"extrapolation, no finite-sample false-alarm guarantee{unseen}"
            )
        base = f"quantile {self.quantile} of {self.source}"
        nominal, bound = self.fpr_nominal, self.fpr_bound
        if self.fpr_estimate is not None:
            return (
                f"{base}, each channel scaled by its own quantile of them: about {self.fpr_estimate:.2%} of new "
                f"normal {self.unit} flagged (left out one at a time, scales and threshold refitted; the quantile "
                f"alone would state {nominal or 0.0:.2%}), no finite-sample guarantee{unseen}"
            )
        if nominal is None or bound is None:  # no scores
            return f"{base}: no false-alarm guarantee{unseen}"
        short = ""
        nominal_text = f"{nominal:.2%}"
        if self.short:
            need = sessions_needed(self.quantile)
            base += ": their maximum"
            digits = 2  # enough digits that the rate stated and the rate asked do not read the same (198 scores)
            while digits < 4 and f"{nominal:.{digits}%}" == f"{1 - self.quantile:.{digits}%}":
                digits += 1
            nominal_text = f"{nominal:.{digits}%}"
            asked = f"{1 - self.quantile:.{digits}%}"
            short = f" (not the {asked} asked: that needs at least {need} scores)" if need else ""
        if self.raised_by_keys and self.key_floor is not None and self.key_misses is not None:
            floor, rate = self.key_floor
            worst = f", {bound:.2%} in the cross-conformal worst case" if self.scheme == "cross_fit" else ""
            return (
                f"{base}, {self.normal_scores[-1]:.4g}, raised to {floor:.4g} by the miss rate of their "
                f"{self.key_misses.keys} masked keys ({self.key_misses.misses} missed): at most about {nominal_text} "
                f"of new normal {self.unit} flagged, as at their maximum{worst}; {rate:.2%} if keys missed "
                f"independently (they cluster) and new {self.unit} brought a template never seen in training as "
                f"often as these did ({self.key_misses.novel_sessions} of {self.n + self.key_misses.novel_sessions}: "
                f"such a template is a miss){unseen}"
            )
        spread = self.fpr_spread
        draw = "" if spread is None else f" ({spread[0]:.2%}-{spread[1]:.2%} for 90 % of draws of {self.n} {self.unit})"
        tied = self.fpr_tied
        if tied is not None:  # the promise stays the quantile's; what this threshold is likely to give is said too
            distinct = len(set(self.normal_scores))
            unseen = (
                f"; about {tied:.2%} to expect here: scores tie ({distinct} distinct among {self.n}) and "
                f"{self.n_above} {'lies' if self.n_above == 1 else 'lie'} above the threshold{unseen}"
            )
        if self.scheme == "cross_fit":
            return (
                f"{base}: about {nominal_text} of new normal {self.unit} flagged{draw}{short}, at most {bound:.2%} in "
                f"the worst case (cross-conformal, Barber et al. 2021){unseen}"
            )
        one = self.unit.removesuffix("s")  # "sessions" -> "session", "sliding windows" -> "sliding window"
        return f"{base}: a new normal {one} is flagged with probability <= {nominal_text}{draw}{short}{unseen}"

    def to_dict(self) -> dict[str, object]:
        return {
            "method": self.method,
            "calibration": self.scheme,
            "folds": self.folds,
            "threshold": self.threshold,
            "quantile": self.quantile,
            "margin": self.margin,
            "fpr_nominal": self.fpr_nominal,
            "fpr_bound": self.fpr_bound,
            "fpr_estimate": self.fpr_estimate,
            "fpr_spread": None if self.fpr_spread is None else list(self.fpr_spread),  # [5 %, 95 %] of draws
            "fpr_tied": self.fpr_tied,  # the rate to expect where scores tie at the threshold (None: the nominal)
            "guarantee": self.describe(),
            "n_unseen": self.n_unseen,
            "unit": self.unit,
            "with_final": self.with_final,
            "contamination": self.contamination,
            "key_misses": None if self.key_misses is None else self.key_misses.to_dict(),
            "key_floor": None if self.key_floor is None else list(self.key_floor),
            "normal_scores": list(self.normal_scores),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str | Path = CALIBRATION_FILE) -> Calibration:
        """The record of :meth:`to_dict`; ``where`` names it in errors (its file). Records from before cross-fit
        read as ``split``.

        Raises:
            UnknownArtifact: a malformed record.
        """
        try:
            scores = tuple(sorted(float(s) for s in data["normal_scores"]))
            if not all(math.isfinite(s) for s in scores):
                raise ValueError("non-finite score")
            scheme = str(data.get("calibration", "split"))
            if scheme not in ("split", "cross_fit"):
                raise ValueError(f"unknown calibration {scheme!r}")
            return cls(
                str(data["method"]),
                float(data["threshold"]),
                float(data["quantile"]),
                float(data["margin"]),
                scores,
                scheme,
                int(data.get("folds", 0)),
                int(data.get("n_unseen", 0)),
                str(data.get("unit", "sessions")),
                None if data.get("fpr_estimate") is None else float(data["fpr_estimate"]),
                bool(data.get("with_final", False)),
                float(data.get("contamination", 0.0)),
                _key_misses_from(data.get("key_misses")),
                None if data.get("key_floor") is None else (float(data["key_floor"][0]), float(data["key_floor"][1])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UnknownArtifact(f"{where} is malformed: {exc}") from None


def _key_misses_from(data: Any) -> KeyMisses | None:
    """A stored :class:`KeyMisses` (None: none stored). Raises: KeyError, TypeError, ValueError when malformed."""
    if data is None:
        return None
    lengths = tuple(tuple(int(n) for n in window) for window in data["window_lengths"])
    novel = int(data.get("novel_sessions", 0))  # records from before it: none counted
    if any(not window or min(window) < 1 for window in lengths) or int(data["misses"]) < 0 or novel < 0:
        raise ValueError("key_misses: a session without masked keys, or negative misses or novel sessions")
    return KeyMisses(int(data["misses"]), lengths, novel)


def calibration(
    scoring: ScoringConfig,
    threshold: float,
    normal_scores: npt.ArrayLike,
    *,
    scheme: Scheme = "split",
    folds: int = 0,
    n_unseen: int = 0,
    with_final: bool = False,
    key_misses: KeyMisses | None = None,
) -> Calibration:
    """The record of a threshold chosen by :func:`choose_threshold` from these normal session scores
    (``-inf``, unscored, is dropped; sessions with unseen keys are the caller's to leave out and count) and, where
    :func:`reads_key_misses`, those sessions' ``key_misses``."""
    scores = np.asarray(normal_scores, dtype=np.float64)
    finite = np.sort(scores[np.isfinite(scores)])
    if not reads_key_misses(scoring):
        key_misses = None
    return Calibration(
        scoring.threshold,
        float(threshold),
        scoring.quantile,
        scoring.threshold_margin,
        tuple(float(s) for s in finite),
        scheme,
        folds if scheme == "cross_fit" else 0,
        n_unseen,
        with_final=with_final and scheme == "cross_fit",
        contamination=scoring.contamination if scoring.contaminated else 0.0,
        key_misses=key_misses,
        key_floor=key_rate_floor(scoring, finite.size, key_misses),
    )
