"""Each baseline on small hand-made inputs whose right answer is known."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from logbert.baselines import (
    CountVectorNearestDetector,
    DeepLogDetector,
    IsolationForestDetector,
    NewEventDetector,
    PCADetector,
    SequenceLengthDetector,
)
from logbert.records import UNK_KEY


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def test_new_event_counts_and_shares_unseen_keys() -> None:
    train = [[1, 2, 3], [2, 3, 4]]
    test = [[1, 2, 3, 4], [1, 9], [9, 9, UNK_KEY, 1], []]
    np.testing.assert_array_equal(NewEventDetector().fit(train).decision_function(test), [0, 1, 3, 0])
    shares = NewEventDetector(score="share").fit(train).decision_function(test)
    np.testing.assert_allclose(shares, [0, 0.5, 0.75, 0])
    # UNK_KEY is new even when it was in the training data
    assert NewEventDetector().fit([[UNK_KEY, 1]]).decision_function([[UNK_KEY]])[0] == 1.0


def test_sequence_length_range_and_zscore() -> None:
    train = [[1] * 4, [1] * 6]  # lengths 4 and 6: mean 5, std 1
    test = [[1] * 5, [1] * 2, [1] * 10]
    np.testing.assert_array_equal(SequenceLengthDetector().fit(train).decision_function(test), [0, 2, 4])
    np.testing.assert_allclose(SequenceLengthDetector(mode="zscore").fit(train).decision_function(test), [0, 3, 5])
    # constant training length: std floored at 1, scores stay finite
    flat = SequenceLengthDetector(mode="zscore").fit([[1, 2], [3, 4]])
    np.testing.assert_allclose(flat.decision_function([[1, 2], [1]]), [0, 1])


def test_count_nearest_identical_vector_scores_zero() -> None:
    train = [[1, 2, 2], [3, 3, 1], [1, 2, 3]]
    det = CountVectorNearestDetector().fit(train)
    scores = det.decision_function([[2, 1, 2], [1, 3, 3], [1, 2, 2, 2], [1, 2, 2, 9]])
    assert scores[0] == 0.0 and scores[1] == 0.0  # same counts, any order
    assert scores[2] == pytest.approx(1.0)  # one extra "2"
    assert scores[3] == pytest.approx(1.0)  # one extra unseen key: the unknown column
    manhattan = CountVectorNearestDetector(metric="manhattan").fit(train)
    assert manhattan.decision_function([[1, 1, 2, 2, 9]])[0] == pytest.approx(2.0)
    shares = CountVectorNearestDetector(normalize=True).fit(train)
    assert shares.decision_function([[1, 1, 2, 2, 2, 2]])[0] == pytest.approx(0.0)  # same mix as [1, 2, 2]


def test_pca_flags_a_vector_off_the_principal_subspace() -> None:
    rng = np.random.default_rng(0)
    # normal: key 0 and key 1 always occur equally often (one direction), key 2 once
    train = [[0] * n + [1] * n + [2] for n in rng.integers(1, 10, size=60)]
    det = PCADetector().fit(train)
    assert det.n_components_ == 1
    on_subspace = [[0] * 20 + [1] * 20 + [2]]  # far along the normal direction: still normal
    off_subspace = [[0] * 5 + [1] + [2]]  # breaks the 0/1 balance
    new_key = [[0, 1, 2, 42]]
    s_on, s_off, s_new = det.decision_function(on_subspace + off_subspace + new_key)
    assert s_on == pytest.approx(0.0, abs=1e-9)
    assert s_off > 1.0 and s_new > 1.0
    train_scores = det.decision_function(train)
    assert train_scores.max() < 1e-9 < s_off
    assert det.q_threshold() == 0.0  # no residual variance in training
    raw = PCADetector(n_components=1, term_weighting="none").fit(train)
    assert raw.decision_function(off_subspace)[0] > 1.0


def test_pca_q_threshold_with_noisy_training() -> None:
    rng = np.random.default_rng(1)
    train = [list(rng.integers(0, 5, size=int(rng.integers(5, 15)))) for _ in range(200)]
    det = PCADetector(n_components=2).fit(train)
    train_scores = det.decision_function(train)
    q = det.q_threshold(0.99)
    assert 0.0 < q and np.mean(train_scores > q) < 0.2


def test_isolation_forest_ranks_an_outlier_highest() -> None:
    rng = np.random.default_rng(2)
    train = [[0] * int(rng.integers(3, 6)) + [1] * int(rng.integers(3, 6)) for _ in range(100)]
    det = IsolationForestDetector(n_estimators=50, seed=3).fit(train)
    scores = det.decision_function([[0, 0, 0, 0, 1, 1, 1, 1], [0] * 40 + [1] * 40])
    assert scores[1] > scores[0]
    other = IsolationForestDetector(n_estimators=50, seed=4).fit(train).decision_function([[0, 1]])
    assert other[0] != det.decision_function([[0, 1]])[0]  # the seed matters


def test_deeplog_flags_an_out_of_pattern_sequence() -> None:
    pattern = [0, 1, 2, 3, 4] * 4
    det = DeepLogDetector(
        history_size=4, top_g=1, embedding_dim=8, hidden_size=16, n_layers=1, epochs=40, lr=0.02, seed=0
    ).fit([pattern] * 10)
    assert det.train_losses_[-1] < det.train_losses_[0]
    test = [pattern, [4, 3, 2, 1, 0] * 4, [0, 1, 2, 3, 4, 0, 1, 3, 2, 4, 0, 1, 2, 3, 4], [0, 1, 2, 99, 4]]
    scores = det.decision_function(test)
    assert scores[0] == 0.0  # the training pattern is predicted perfectly
    assert scores[1] == scores.max() and scores[1] > 0.5  # reversed order: nearly every key is a miss
    assert 0.0 < scores[2] < scores[1]  # one swap: a few misses
    assert scores[3] >= 0.2  # an unseen key is always a miss
    same = DeepLogDetector(
        history_size=4, top_g=1, embedding_dim=8, hidden_size=16, n_layers=1, epochs=40, lr=0.02, seed=0
    ).fit([pattern] * 10)
    np.testing.assert_array_equal(scores, same.decision_function(test))


def test_deeplog_leaves_the_global_rng_alone() -> None:
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    DeepLogDetector(epochs=1, hidden_size=4, n_layers=1, embedding_dim=2).fit([[1, 2, 3]])
    assert torch.equal(torch.rand(1), expected)


def test_deeplog_top_g_covering_every_key_never_misses_a_known_key() -> None:
    det = DeepLogDetector(epochs=1, hidden_size=4, n_layers=1, embedding_dim=2, top_g=3).fit([[1, 2, 3]])
    np.testing.assert_array_equal(det.decision_function([[3, 2, 1], [3, 2, 7]]), [0.0, 1 / 3])


def test_deeplog_paper_protocol_counts_misses_and_a_too_short_session_always_misses() -> None:
    pattern = [0, 1, 2, 3, 4] * 4
    kw = {"history_size": 4, "top_g": 1, "embedding_dim": 8, "hidden_size": 16, "n_layers": 1, "epochs": 40}
    det = DeepLogDetector(**kw, lr=0.02, seed=0, protocol="paper").fit([pattern] * 10 + [[0, 1]])  # type: ignore[arg-type]
    scores = det.decision_function([pattern, [0, 1, 2], [0, 1, 2, 3, 4, 0, 1, 3, 2, 4, 0, 1, 2, 3, 4], []])
    assert scores[0] == 0.0  # the training pattern: no miss
    assert scores[1] == 1.0  # shorter than h + 1 keys: padded at its end, the pad is never a prediction
    assert scores[2] >= 2.0 and float(scores[2]).is_integer()  # a swap: a count of misses, not a share
    assert scores[3] == 0.0
    # the first h keys are never a target: len - h predictions, one for a short non-empty session
    np.testing.assert_array_equal(det._paper_pairs(np.array([20, 5, 3, 0])), [16, 1, 1, 0])
    with pytest.raises(ValueError, match="protocol"):
        DeepLogDetector(protocol="nope").fit([pattern])  # type: ignore[arg-type]
