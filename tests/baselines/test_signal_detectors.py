"""The time- and value-aware baselines (issue 13) and the optional ``signals`` side channel."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest

import logbert.baselines.duration as duration_module
import logbert.baselines.params as params_module
from logbert.baselines import BASELINES, make_baseline
from logbert.baselines.duration import SessionDurationDetector, TimeGapDetector
from logbert.baselines.params import ParamOutlierDetector
from logbert.errors import InputDataError, NotFittedError
from logbert.parsing.params import infer_slot_schema
from logbert.records import SessionSignals

SIGNAL_BASELINES = ("param_outlier", "session_duration", "time_gap")


def _session(took: float, duration: float, wait: float = 13.0, state: str = "ACTIVE") -> SessionSignals:
    """Keys [0, 1, 2]: key 1 carries a spawn time (s) and a state; key 2 comes `wait` s after key 1."""
    return SessionSignals(
        gaps=(0.0, 1.0, wait),
        values=((None,), (None, took, state), ()),
        elapsed=duration,
    )


KEYS = [0, 1, 2]
RNG = np.random.default_rng(0)
TRAIN = [_session(20.0 + RNG.normal(0, 0.5), 44.0 + RNG.normal(0, 1.0), 13.0 + RNG.normal(0, 0.3)) for _ in range(60)]


def test_doctests() -> None:
    assert doctest.testmod(params_module).failed == 0
    assert doctest.testmod(duration_module).failed == 0


def test_registered() -> None:
    assert set(SIGNAL_BASELINES) <= set(BASELINES)
    for name in SIGNAL_BASELINES:
        assert make_baseline(name).name == name


def test_param_outlier_scores_and_explains() -> None:
    det = ParamOutlierDetector().fit([KEYS] * len(TRAIN), TRAIN)
    normal, slow, odd_state = _session(20.2, 44.0), _session(42.0, 44.0), _session(20.0, 44.0, state="ERROR")
    scores = det.decision_function([KEYS] * 3, [normal, slow, odd_state])
    assert scores[0] < 3 < det.category_score == scores[2] < scores[1]
    finding = det.explain(KEYS, slow)
    assert finding is not None and (finding.position, finding.key_id, finding.slot, finding.value) == (1, 1, 1, 42.0)
    text = finding.describe()
    assert text.startswith("key 1 (key 1, slot 1): 42; training median 19.9") or text.startswith(
        "key 1 (key 1, slot 1): 42; training median 20"
    )
    state_finding = det.explain(KEYS, odd_state)
    assert (
        state_finding is not None and "never seen" in state_finding.describe() and "ACTIVE" in state_finding.describe()
    )


def test_param_outlier_describe_with_the_slot_type() -> None:
    schema = infer_slot_schema(
        ["[instance:<*>] Took <*> seconds to build instance."],
        [(0, ["b9000564-fe1a-409b-b8cc-1e88b294cd1d", f"{20 + 0.1 * i:.2f}"]) for i in range(30)],
    )
    train = [SessionSignals((0.0,), (schema.convert(0, ["x", f"{20 + 0.1 * (i % 7):.2f}"]),)) for i in range(30)]
    det = ParamOutlierDetector().fit([[0]] * 30, train)
    slow = SessionSignals((0.0,), (schema.convert(0, ["x", "42.13"]),))
    finding = det.explain([0], slow)
    assert finding is not None
    text = finding.describe(schema.slots[0][finding.slot])
    assert text.startswith("Took <*> seconds to build instance. (key 0, slot 1): 42.1 s; training median 20.3 s")


def test_range_method_is_zero_inside_the_training_range() -> None:
    det = ParamOutlierDetector(method="range").fit([KEYS] * len(TRAIN), TRAIN)
    scores = det.decision_function([KEYS] * 2, [_session(20.0, 44.0), _session(60.0, 44.0)])
    assert scores[0] == 0.0 and scores[1] > 5


def test_session_duration() -> None:
    det = SessionDurationDetector().fit([KEYS] * len(TRAIN), TRAIN)
    short, usual, long = _session(20.0, 20.0), _session(20.0, 44.0), _session(20.0, 70.0)
    scores = det.decision_function([KEYS] * 3, [short, usual, long])
    assert scores[0] == 0.0  # side="upper": only longer than the median scores
    assert scores[1] < 3 < scores[2]
    both = SessionDurationDetector(side="both").fit([KEYS] * len(TRAIN), TRAIN)
    assert both.decision_function([KEYS], [short])[0] > 3
    no_time = SessionSignals((math.nan,) * 3, ((),) * 3, None)
    assert det.decision_function([KEYS], [no_time]).tolist() == [0.0]


def test_time_gap() -> None:
    det = TimeGapDetector().fit([KEYS] * len(TRAIN), TRAIN)
    scores = det.decision_function([KEYS] * 2, [_session(20.0, 44.0, wait=13.1), _session(20.0, 44.0, wait=35.0)])
    assert scores[0] < 3 < scores[1]
    worst = det.worst_gap(KEYS, _session(20.0, 44.0, wait=35.0))
    assert worst is not None and worst[:2] == (2, 35.0)


@pytest.mark.parametrize("name", SIGNAL_BASELINES)
def test_without_signals_they_switch_off(name: str) -> None:
    det = make_baseline(name).fit([KEYS] * len(TRAIN))
    assert det.decision_function([KEYS, [5, 6]]).tolist() == [0.0, 0.0]
    det = make_baseline(name).fit([KEYS] * len(TRAIN), TRAIN)
    assert det.decision_function([KEYS]).tolist() == [0.0]  # scored without signals
    assert det.decision_function([KEYS], [None]).tolist() == [0.0]


@pytest.mark.parametrize("name", SIGNAL_BASELINES)
def test_signal_errors(name: str) -> None:
    with pytest.raises(NotFittedError):
        make_baseline(name).decision_function([KEYS], [TRAIN[0]])
    with pytest.raises(InputDataError, match="signals"):
        make_baseline(name).fit([KEYS, KEYS], [TRAIN[0]])  # one signal for two sequences
    with pytest.raises(InputDataError, match="positions"):
        make_baseline(name).fit([[0, 1]], [TRAIN[0]])  # 3 positions for 2 keys
    with pytest.raises(ValueError):
        make_baseline(name, method="bogus").fit([KEYS], [TRAIN[0]])


@pytest.mark.parametrize("name", ["new_event", "sequence_length", "count_nearest", "pca"])
def test_key_only_detectors_ignore_signals(name: str) -> None:
    train = [[0, 1, 2], [0, 1, 2, 2], [0, 2, 1]] * 5
    a = make_baseline(name).fit(train).decision_function([KEYS, [0, 9]])
    b = make_baseline(name).fit(train, [None] * len(train)).decision_function([KEYS, [0, 9]], [TRAIN[0], None])
    np.testing.assert_array_equal(a, b)
