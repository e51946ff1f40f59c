"""The threshold record: its false-alarm promise, p-values and thresholds for a target rate."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from logbert.config import ScoringConfig
from logbert.errors import InputDataError, UnknownArtifact
from logbert.evaluation.thresholds import quantile_threshold
from logbert.pipeline.calibrate import (
    AUTO_CROSS_FIT_MAX_SESSIONS,
    Calibration,
    KeyMisses,
    calibration,
    choose_threshold,
    fold_ids,
    key_rate_floor,
    resolve_calibration,
)


def _record(n: int, q: float) -> Calibration:
    scoring = ScoringConfig(threshold_quantile=q)
    scores = np.arange(n, dtype=float)
    return calibration(scoring, choose_threshold(scoring, scores), np.append(scores, -np.inf))


def test_the_promise_holds_only_with_enough_validation_sessions() -> None:
    many = _record(999, 0.99)  # k = ceil(1000 * 0.99) = 990 <= 999
    assert many.n == 999 and many.fpr_bound == pytest.approx(1 - 990 / 1000)
    assert "probability <= 1.00%" in many.describe()
    few = _record(34, 0.995)  # k = 35 > 34: the maximum, which promises only 1 / (n + 1), and says so
    assert few.threshold == 33.0 and few.short and few.fpr_bound == pytest.approx(1 / 35)
    text = few.describe()
    assert "their maximum" in text and "<= 2.86%" in text and "not the 0.50% asked" in text and "199" in text


def test_where_scores_tie_the_rate_to_expect_counts_the_scores_above_the_threshold() -> None:
    """Identical sessions score alike (HDFS's 1,115 validation blocks: 44 distinct scores). The quantile's rate
    counts n + 1 - k scores above the k-th smallest; with a run of equal scores at the threshold fewer lie above,
    and the rate realised on new sessions is lower (0.22 % against 0.45 % stated). ``fpr_tied`` counts them."""
    scores = np.array([0.0] * 1000 + [5.0] * 110 + [9.0] * 2 + [11.0] * 3)  # 1,115 scores, 4 distinct
    scoring = ScoringConfig(threshold_quantile=0.995)  # k = 1111: the threshold is 9.0, 3 scores above it
    record = calibration(scoring, choose_threshold(scoring, scores), scores)
    assert record.threshold == 9.0 and record.n_above == 3
    assert record.fpr_nominal == pytest.approx(5 / 1116) and record.fpr_tied == pytest.approx(4 / 1116)
    assert record.fpr_bound == record.fpr_nominal  # the promise is unchanged
    text = record.describe()
    assert "<= 0.45%" in text and "about 0.36% to expect here: scores tie (4 distinct among 1115)" in text
    assert record.to_dict()["fpr_tied"] == pytest.approx(4 / 1116)
    untied = _record(1115, 0.995)  # distinct scores: the quantile's own rate, nothing more said
    assert untied.fpr_tied is None and "to expect here" not in untied.describe()
    short = _record(50, 0.995)  # the maximum: nothing lies above it, 1 / (n + 1) either way
    assert short.fpr_tied is None


def test_a_rate_just_short_of_the_one_asked_does_not_read_as_it() -> None:
    """198 scores at 0.995: their maximum states 1 / 199 = 0.5025 %, which read "about 0.50% ... (not the 0.50%
    asked: that needs at least 199 scores)", the same number met and not met (found by a new user)."""
    text = _record(198, 0.995).describe()
    assert "<= 0.503%" in text and "not the 0.500% asked" in text and "199" in text


def test_a_target_rate_is_described_by_the_rule_train_uses() -> None:
    """``score --target-fpr 0.001`` on 21 validation scores said "quantile 0.999 of 21 validation session scores",
    silent that the quantile is their maximum, which states about 4.5 %, not 0.1 %; train says so. Now both are
    one description (``Calibration.at_target``), and its threshold is ``threshold_for``'s."""
    record = _record(21, 0.9)
    at = record.at_target(0.001)
    assert at.threshold == record.threshold_for(0.001) == 20.0
    text = at.describe()
    assert "quantile 0.999" in text and "their maximum" in text and "<= 4.55%" in text
    assert "not the 0.10% asked: that needs at least 999 scores" in text
    plenty = _record(2000, 0.9).at_target(0.01)  # enough scores: the rate asked is the rate stated
    assert "probability <= 1.00%" in plenty.describe() and "asked" not in plenty.describe()


@pytest.mark.parametrize(("n", "q"), [(50, 0.995), (400, 0.99)])
def test_the_rate_one_draw_realises_is_stated_with_its_spread_over_draws(n: int, q: float) -> None:
    """The stated rate is an average over draws of n calibration sessions; ``fpr_spread`` is where 90 % of single
    draws land. Checked by drawing: n uniform normal scores, the record's own threshold, the mass above it."""
    record = _record(n, q)
    low, high = record.fpr_spread or (0.0, 0.0)
    assert low < record.fpr_bound < high  # type: ignore[operator]
    rng = np.random.default_rng(0)
    scoring = ScoringConfig(threshold_quantile=q)
    realised = np.array([1.0 - choose_threshold(scoring, rng.random(n)) for _ in range(4000)])  # uniform: F(t) = t
    assert np.mean(realised < low) == pytest.approx(0.05, abs=0.015)
    assert np.mean(realised > high) == pytest.approx(0.05, abs=0.015)
    assert f"{low:.2%}-{high:.2%} for 90 % of draws of {n} sessions" in record.describe()
    assert record.to_dict()["fpr_spread"] == [low, high]
    pot = calibration(ScoringConfig(threshold="pot"), 1.0, np.arange(300, dtype=float))
    assert pot.fpr_spread is None  # an extrapolation states no rate


def test_p_values_and_targets_use_the_same_scores_and_rule() -> None:
    record = _record(99, 0.99)
    assert record.p_value(1000.0) == pytest.approx(1 / 100)  # above every validation score
    assert record.p_value(-1.0) == 1.0
    assert record.p_value(89.0) == pytest.approx(11 / 100)  # 89..98 score at least as high, plus itself
    assert record.threshold_for(0.05) == quantile_threshold(np.arange(99.0), 0.95)
    with pytest.raises(InputDataError):
        record.threshold_for(0.0)


def test_round_trip_and_malformed_records() -> None:
    record = _record(10, 0.9)
    assert Calibration.from_dict(record.to_dict()) == record
    with pytest.raises(UnknownArtifact):
        Calibration.from_dict({"method": "normal_quantile"})
    with pytest.raises(UnknownArtifact):
        Calibration.from_dict({**record.to_dict(), "normal_scores": [0.1, float("nan")]})


# -- issue 9: where the scores come from ---------------------------------------------------------


def test_folds_cover_every_session_exactly_once_and_are_balanced() -> None:
    folds = fold_ids(23, 5, seed=7)
    assert folds.shape == (23,) and set(folds.tolist()) == set(range(5))
    assert sorted(np.bincount(folds).tolist()) == [4, 4, 5, 5, 5]
    assert np.array_equal(folds, fold_ids(23, 5, seed=7)) and not np.array_equal(folds, fold_ids(23, 5, seed=8))
    with pytest.raises(InputDataError, match="at least 5"):
        fold_ids(4, 5, seed=0)


@pytest.mark.parametrize(
    ("calibration", "threshold", "n_normal", "n_val", "expected"),
    [
        ("auto", "normal_quantile", 50, 5, "cross_fit"),  # 5 < 199 validation sessions: no split guarantee
        ("auto", "normal_quantile", 1_990, 199, "cross_fit"),  # a promise on 1 score above the threshold: loose
        ("auto", "normal_quantile", 2_855, 286, "cross_fit"),  # DeepLog's HDFS keys: 1.4 scores above it
        ("auto", "normal_quantile", 5_000, 999, "split"),  # 5 validation scores above the threshold
        ("auto", "normal_quantile", 5_000, 998, "cross_fit"),
        ("auto", "normal_quantile", AUTO_CROSS_FIT_MAX_SESSIONS + 1, 150, "split"),  # too costly to cross-fit
        ("auto", "normal_quantile", 4, 1, "split"),  # fewer sessions than folds
        ("auto", "labelled_f1", 50, 5, "split"),  # the F1 threshold needs the split's labelled anomalies
        ("split", "normal_quantile", 50, 5, "split"),
        ("cross_fit", "normal_quantile", 10_000, 1_000, "cross_fit"),
    ],
)
def test_auto_cross_fits_when_the_split_cannot_keep_its_promise(
    calibration: str, threshold: str, n_normal: int, n_val: int, expected: str
) -> None:
    scoring = ScoringConfig(calibration=calibration, threshold=threshold)  # type: ignore[arg-type]
    assert resolve_calibration(scoring, n_normal, n_val) == expected


def test_cross_fit_with_labelled_f1_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="labelled_f1"):
        ScoringConfig(calibration="cross_fit", threshold="labelled_f1")


def test_a_cross_fit_record_states_its_worst_case_and_round_trips() -> None:
    scoring = ScoringConfig(threshold_quantile=0.99)
    scores = np.arange(999, dtype=float)
    record = calibration(scoring, choose_threshold(scoring, scores), scores, scheme="cross_fit", folds=5, n_unseen=3)
    nominal = 1 - 990 / 1000
    assert record.fpr_nominal == pytest.approx(nominal)
    # Barber et al. 2021, Thm 4: 2a + min(2(1 - 1/K)/(n/K + 1), (1 - K/n)/(K + 1))
    slack = min(2 * (1 - 1 / 5) / (999 / 5 + 1), (1 - 5 / 999) / 6)
    assert record.fpr_bound == pytest.approx(2 * nominal + slack)
    text = record.describe()
    assert "5-fold cross-fit" in text and "worst case" in text and "Barber" in text and "3 more held keys" in text
    data = record.to_dict()
    assert data["calibration"] == "cross_fit" and data["folds"] == 5 and data["n_unseen"] == 3
    assert data["guarantee"] == text
    assert Calibration.from_dict(data) == record
    # the same scores, the same rule: p-values and targets do not depend on the scheme
    assert record.threshold_for(0.05) == quantile_threshold(scores, 0.95)


def test_a_record_from_before_cross_fit_reads_as_split() -> None:
    old = {"method": "normal_quantile", "threshold": 3.0, "quantile": 0.9, "margin": 0.0, "normal_scores": [1, 2, 3]}
    record = Calibration.from_dict(old)
    assert record.scheme == "split" and record.folds == 0 and record.n_unseen == 0
    with pytest.raises(UnknownArtifact):
        Calibration.from_dict({**old, "calibration": "bootstrap"})


def test_pot_threshold_is_chosen_by_the_same_rule_and_promises_nothing() -> None:
    scoring = ScoringConfig(threshold="pot", threshold_quantile=0.9999, score="dist")  # unbounded score
    scores = np.random.default_rng(0).exponential(1.0, 2000)
    threshold = choose_threshold(scoring, scores)
    assert threshold > scores.max()  # the plain quantile stops at the maximum
    record = calibration(scoring, threshold, scores)
    assert record.fpr_bound is None and "no finite-sample" in record.describe()
    capped = ScoringConfig(threshold="pot", threshold_quantile=0.9999, score="miss_ratio")
    assert choose_threshold(capped, np.clip(scores / 8, 0, 1)) <= 1.0  # never beyond the score's cap


def test_any_detector_is_calibrated_by_the_same_rule_split_and_cross_fit() -> None:
    from logbert.baselines import make_baseline
    from logbert.config import LogBertConfig
    from logbert.pipeline.fit import calibrate_detector
    from logbert.records import KeySequence

    class Fit:
        def __init__(self) -> None:
            self.model = make_baseline("count_nearest")

        def fit(self, train: list[list[int]], val: list[list[int]]) -> Fit:
            self.model.fit(train)
            return self

        def decision_function(self, seqs: list[list[int]]) -> np.ndarray:
            return np.asarray(self.model.decision_function(seqs), dtype=np.float64)

    normal = [KeySequence(f"s{i}", [1, 2, 3] * (1 + i % 3), 0) for i in range(40)]
    odd = KeySequence("odd", [1, 2, 3, 77], 0)  # a key no other session has
    config = LogBertConfig()
    det, record = calibrate_detector(Fit, normal[:30], [*normal[30:], odd], config, scheme="split")
    assert record.scheme == "split" and record.n == 10 and record.n_unseen == 1  # the unseen-key session left out
    assert record.threshold == 0.0  # every counted normal session has a count vector seen in training
    det, record = calibrate_detector(Fit, normal[:30], [*normal[30:], odd], config, scheme="cross_fit")
    assert record.scheme == "cross_fit" and record.folds == config.scoring.calibration_folds
    assert record.n + record.n_unseen == 41 and record.n_unseen >= 1
    assert det.decision_function([[1, 2, 3, 77]])[0] == 0.0  # the final detector saw every session


def test_the_guarantee_names_what_was_scored_and_old_records_read_as_sessions() -> None:
    record = Calibration("normal_quantile", 0.5, 0.995, 0.0, tuple(np.linspace(0, 1, 400)), unit="sliding windows")
    assert "400 normal validation sliding windows" in record.describe()
    assert "a new normal sliding window is flagged with probability <=" in record.describe()
    again = Calibration.from_dict(record.to_dict())
    assert again == record
    old = {k: v for k, v in record.to_dict().items() if k != "unit"}  # calibration.json from before the field
    assert Calibration.from_dict(old).unit == "sessions"
    crossed = replace(record, scheme="cross_fit", folds=5, with_final=True)
    assert "the final model's score of its sliding window)" in crossed.describe()  # it said "of its session"


# -- scoring.contamination: one quantile for every rule that takes one -----------------------------------------------


def test_contamination_is_the_quantile_wherever_a_quantile_is_taken() -> None:
    from logbert.pipeline.estimator import channel_scales

    assert ScoringConfig().quantile == 0.995
    assert ScoringConfig(contamination=0.04).quantile == pytest.approx(0.96)
    assert ScoringConfig(contamination=0.001).quantile == 0.995  # the lower of the two
    with pytest.raises(ValueError):
        ScoringConfig(contamination=0.5)
    # 96 normal sessions and 4 failures the model learnt as normal: the quantile of clean data lies above them
    scores = np.concatenate([np.linspace(0.0, 1.0, 96), np.full(4, 9.0)])
    assert choose_threshold(ScoringConfig(), scores) == 9.0
    threshold = choose_threshold(ScoringConfig(contamination=0.04), scores)
    assert threshold == 1.0 and int((scores > threshold).sum()) == 4
    # the channel scales of a time- and value-aware model follow the same quantile
    channels = np.stack([scores, scores, scores], axis=1)
    assert channel_scales(ScoringConfig(contamination=0.04), channels, (0.0, 0.0, 0.0)) == (1.0, 1.0, 1.0)
    # and the choice of calibration: with contamination `auto` scores every training session out of fold where it
    # can (to find, name and leave out all those taken to be anomalous), though 200 validation sessions would hold
    # 10 scores above a 0.95 quantile
    assert resolve_calibration(ScoringConfig(contamination=0.05), 2000, 200) == "cross_fit"
    assert resolve_calibration(ScoringConfig(contamination=0.05), 10_000, 1000) == "split"  # too many to cross-fit
    assert resolve_calibration(ScoringConfig(contamination=0.05, calibration="split"), 2000, 200) == "split"


# -- the keys' miss rate under a short calibration (scoring.key_rate_floor) ------------------------------------

QUIET = KeyMisses(0, ((17,),) * 50)  # 50 calibration sessions of 17 masked keys, none missed


def test_a_short_miss_ratio_calibration_is_raised_to_what_its_keys_allow() -> None:
    scoring = ScoringConfig()
    zeros = np.zeros(50)
    assert choose_threshold(scoring, zeros) == 0.0  # without the keys: their maximum, 0 (any one miss flags)
    threshold = choose_threshold(scoring, zeros, key_misses=QUIET)
    assert threshold == pytest.approx(1 / 17)  # above one miss in 17 keys: it takes two
    record = calibration(scoring, threshold, zeros, scheme="cross_fit", folds=5, key_misses=QUIET)
    assert record.raised_by_keys and record.key_floor is not None and record.key_floor[1] <= 0.005
    text = record.describe()
    assert "raised to 0.05882 by the miss rate of their 850 masked keys (0 missed)" in text
    assert "at most about 1.96% of new normal sessions flagged, as at their maximum" in text  # it still bounds it
    assert Calibration.from_dict(record.to_dict()) == record
    old = {k: v for k, v in record.to_dict().items() if k not in ("key_misses", "key_floor")}  # before the setting
    assert Calibration.from_dict(old).key_misses is None
    with pytest.raises(UnknownArtifact, match="key_misses"):
        Calibration.from_dict({**record.to_dict(), "key_misses": {"misses": 0, "window_lengths": [[]]}})


@pytest.mark.parametrize(
    "overrides",
    [
        {"key_rate_floor": False},
        {"score": "max_mean_nll"},
        {"threshold": "pot"},
        {"contamination": 0.05},
    ],
)
def test_the_keys_raise_only_a_miss_ratio_quantile_that_asked_for_it(overrides: dict[str, object]) -> None:
    scoring = ScoringConfig(**overrides)  # type: ignore[arg-type]
    assert key_rate_floor(scoring, 50, QUIET) is None
    record = calibration(scoring, 0.0, np.zeros(50), key_misses=QUIET)
    assert record.key_misses is None and record.key_floor is None and not record.raised_by_keys


def test_enough_sessions_for_the_quantile_keep_it_and_a_target_rate_follows_the_same_rule() -> None:
    scoring = ScoringConfig()
    many = KeyMisses(0, ((17,),) * 250)
    assert key_rate_floor(scoring, 250, many) is None  # 250 >= 199: the quantile states the rate itself
    assert choose_threshold(scoring, np.zeros(250), key_misses=many) == 0.0
    record = calibration(scoring, 0.0, np.zeros(250), key_misses=many)
    assert record.key_misses == many and record.key_floor is None
    assert record.threshold_for(0.01) == 0.0  # 250 scores hold the 0.99 quantile
    assert record.threshold_for(0.0005) == pytest.approx(1 / 17)  # they do not hold 0.9995: the keys decide
    assert record.threshold_for(0.0005) == choose_threshold(
        ScoringConfig(threshold_quantile=0.9995), np.zeros(250), key_misses=many
    )


def test_a_calibration_that_missed_a_key_keeps_its_maximum() -> None:
    """The keys speak where the sessions are silent (all 0); where one missed, its score is the maximum and stands."""
    scoring = ScoringConfig()
    one_miss = KeyMisses(1, ((17,),) * 50)
    scores = np.append(np.zeros(49), 1 / 17)
    assert key_rate_floor(scoring, 50, one_miss) is None
    assert choose_threshold(scoring, scores, key_misses=one_miss) == pytest.approx(1 / 17)
    record = calibration(scoring, 1 / 17, scores, key_misses=one_miss)
    assert record.key_floor is None and not record.raised_by_keys and record.threshold_for(0.001) == 1 / 17


def test_the_keys_record_keeps_its_novel_sessions_and_older_records_read_as_none() -> None:
    scoring = ScoringConfig()
    few = KeyMisses(0, ((17,),) * 150)  # 150 sessions: too few for 0.995; none missed, none with a template of its own
    novel = KeyMisses(0, ((17,),) * 150, novel_sessions=3)  # 3 more brought one: 2 % of new sessions will
    quiet_threshold = choose_threshold(scoring, np.zeros(150), key_misses=few)
    quiet = calibration(scoring, quiet_threshold, np.zeros(150), key_misses=few)
    threshold = choose_threshold(scoring, np.zeros(150), key_misses=novel)
    record = calibration(scoring, threshold, np.zeros(150), n_unseen=3, key_misses=novel)
    assert quiet.threshold == record.threshold == pytest.approx(1 / 17)  # one miss in 17 does not flag either way
    assert quiet.key_floor is not None and record.key_floor is not None
    assert record.key_floor[1] > 3 * quiet.key_floor[1]  # a template of their own is a miss new sessions will show
    assert record.threshold_for(0.005) == record.threshold  # a target at use time reads them by the same rule
    assert Calibration.from_dict(record.to_dict()) == record
    stored = record.to_dict()
    assert isinstance(stored["key_misses"], dict)
    old = {**stored, "key_misses": {k: v for k, v in stored["key_misses"].items() if k != "novel_sessions"}}
    assert Calibration.from_dict(old).key_misses == KeyMisses(0, ((17,),) * 150)
    with pytest.raises(UnknownArtifact, match="novel"):
        Calibration.from_dict({**stored, "key_misses": {**stored["key_misses"], "novel_sessions": -1}})


def test_sessions_shorter_than_every_calibration_session_are_said_to_be_outside_the_stated_rate() -> None:
    """A quiet spell or a line out of order makes time windows of one key, which score the largest miss ratio: a
    sparse syslog had 98 of 200 windows flagged under a stated rate of 0.47 %, and nothing said why."""
    from types import SimpleNamespace

    from logbert.config import LogBertConfig
    from logbert.pipeline.calibrate import KeyMisses
    from logbert.pipeline.detector import shorter_than_calibration
    from logbert.results import SessionResult

    lengths = ((7,), (12,), (9, 4))  # the fewest keys of a calibration window: 7; of a session: 13 in two windows
    calibration = Calibration(
        "normal_quantile", 0.5, 0.995, 0.0, (0.0, 0.1, 0.2), key_misses=KeyMisses(0, lengths), unit="time windows"
    )
    assert calibration.fewest_keys == 7
    config = LogBertConfig().with_overrides({"window.mode": "time"})
    detector: Any = SimpleNamespace(calibration=calibration, config=config)

    def result(n_keys: int, flagged: bool) -> SessionResult:
        return SessionResult(f"t{n_keys}", None, 1.0 if flagged else 0.0, flagged, n_keys, 0)

    said = shorter_than_calibration(detector, [result(1, True), result(3, False), result(7, False), result(20, True)])
    assert said is not None and said.startswith("2 of 4 time windows hold fewer keys than any of the time windows")
    assert "(fewest: 7), and 1 of them are flagged" in said
    assert shorter_than_calibration(detector, [result(7, True), result(30, False)]) is None
    unknown: Any = SimpleNamespace(calibration=Calibration("normal_quantile", 0.5, 0.995, 0.0, (0.0,)), config=config)
    assert shorter_than_calibration(unknown, [result(1, True)]) is None  # no lengths kept: nothing to say
