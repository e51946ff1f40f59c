"""Every baseline: the shared interface, unseen keys, empty input, registry."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from logbert.baselines import BASELINES, AnomalyScorer, BaselineDetector, KeyCounter, make_baseline
from logbert.errors import ConfigError, InputDataError, NotFittedError
from logbert.records import UNK_KEY

#: Small settings so the whole parametrised suite stays fast.
FAST: dict[str, dict[str, Any]] = {
    "deeplog": {"epochs": 2, "hidden_size": 8, "n_layers": 1, "embedding_dim": 4, "history_size": 3, "top_g": 2},
    "isolation_forest": {"n_estimators": 10},
}

TRAIN = [[0, 1, 2, 3], [0, 1, 2, 3, 3], [0, 2, 1, 3], [4, 0, 1, 2, 3], [0, 1, 3]]
TEST = [[0, 1, 2, 3], [0, 99, 2, UNK_KEY], [], [UNK_KEY], [7, 7, 7, 7, 7, 7, 7, 7]]


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _make(name: str) -> BaselineDetector:
    return make_baseline(name, **FAST.get(name, {}))


@pytest.mark.parametrize("name", BASELINES)
def test_interface_and_unseen_keys(name: str) -> None:
    detector = _make(name)
    assert detector.name == name
    assert detector.fit(TRAIN) is detector
    assert isinstance(detector, AnomalyScorer)
    scores = detector.decision_function(TEST)
    assert scores.shape == (len(TEST),) and scores.dtype == np.float64
    assert np.isfinite(scores).all()
    assert detector.decision_function([]).shape == (0,)
    np.testing.assert_array_equal(scores, detector.decision_function(TEST))  # deterministic scoring
    # numpy input scores the same as lists
    np.testing.assert_array_equal(scores, detector.decision_function([np.array(s, dtype=np.int32) for s in TEST]))


@pytest.mark.parametrize("name", BASELINES)
def test_same_seed_same_scores(name: str) -> None:
    a = _make(name).fit(TRAIN).decision_function(TEST)
    b = _make(name).fit(TRAIN).decision_function(TEST)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", BASELINES)
def test_errors(name: str) -> None:
    with pytest.raises(NotFittedError):
        _make(name).decision_function(TEST)
    with pytest.raises(InputDataError):
        _make(name).fit([])
    with pytest.raises(InputDataError):
        _make(name).fit([[0, 1.5]])  # type: ignore[list-item]
    with pytest.raises(InputDataError):
        _make(name).fit(["abc"])  # type: ignore[list-item]


def test_training_with_only_unknown_keys_does_not_crash() -> None:
    for name in BASELINES:
        scores = _make(name).fit([[UNK_KEY], [UNK_KEY, UNK_KEY]]).decision_function([[1, 2], [UNK_KEY]])
        assert np.isfinite(scores).all(), name


def test_registry_errors() -> None:
    with pytest.raises(ConfigError, match="unknown baseline"):
        make_baseline("nope")
    with pytest.raises(ConfigError, match="bad parameters"):
        make_baseline("pca", not_a_param=1)
    with pytest.raises(ValueError, match="score"):
        make_baseline("new_event", score="bogus").fit(TRAIN)


def test_key_counter_unknown_column() -> None:
    counter = KeyCounter().fit([[5, 7], [7, UNK_KEY]])
    np.testing.assert_array_equal(counter.keys_, [5, 7])
    x = counter.transform([[7, 7, 9, UNK_KEY], [], [5]])
    np.testing.assert_array_equal(x, [[0, 2, 2], [0, 0, 0], [1, 0, 0]])
    assert KeyCounter().fit([[UNK_KEY]]).transform([[3, UNK_KEY]]).tolist() == [[2.0]]
