"""Session bounds: a session that stops early has a mispredicted end (and nothing else changes shape)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from logbert.config import LogBertConfig, WindowConfig
from logbert.pipeline.estimator import LogBertDetector
from logbert.pipeline.sessions import session_scores, session_windows
from logbert.records import SESSION_END_KEY, SESSION_START_KEY, KeySequence

torch.set_num_threads(1)

CYCLE = [10, 11, 12, 13, 14, 15, 16, 17]
NORMAL = [KeySequence(f"n{i}", list(CYCLE), line_nos=list(range(1, 9))) for i in range(120)]
TRUNCATED = [KeySequence("t2", CYCLE[:2]), KeySequence("t3", CYCLE[:3])]  # an HDFS write that stops early


def _config(bounds: bool) -> LogBertConfig:
    return LogBertConfig().with_overrides(
        {
            "window.max_len": 12,
            "window.session_pattern": "x",
            "window.session_bounds": bounds,
            "model.max_len": 12,
            "model.d_model": 32,
            "model.d_ff": 64,
            "model.n_heads": 2,
            "model.n_layers": 1,
            "model.dropout": 0.0,
            "train.epochs": 8,
            "train.batch_size": 16,
            "train.lr": 1e-2,
            "scoring.top_g": 1,
        }
    )


def test_bounded_windows_start_and_end_with_the_pseudo_keys_and_keep_line_numbers() -> None:
    window = WindowConfig(mode="session", session_pattern="x", max_len=4)
    windows, _ = session_windows([KeySequence("a", [5, 6, 7, 8, 9], line_nos=[3, 4, 5, 6, 7])], window)
    assert [w.key_ids for w in windows] == [[SESSION_START_KEY, 5, 6, 7], [8, 9, SESSION_END_KEY]]
    assert [w.line_nos for w in windows] == [[3, 3, 4, 5], [6, 7, 7]]
    plain, _ = session_windows([KeySequence("a", [5, 6, 7, 8, 9])], window.model_copy(update={"session_bounds": False}))
    assert [w.key_ids for w in plain] == [[5, 6, 7, 8], [9]]
    sliding = WindowConfig(mode="sliding", window_size=4, stride=4, max_len=4)
    assert SESSION_START_KEY not in session_windows([KeySequence("a", [5, 6, 7])], sliding)[0][0].key_ids


@pytest.mark.parametrize("bounds", [True, False])
def test_a_session_that_stops_early_is_seen_only_with_session_bounds(bounds: bool) -> None:
    config = _config(bounds)
    train, _ = session_windows(NORMAL[:100], config.window)
    val, _ = session_windows(NORMAL[100:], config.window)
    detector = LogBertDetector(config).fit([w.key_ids for w in train], [w.key_ids for w in val], progress=False)
    normal = session_scores(detector, NORMAL[100:], config.window)
    truncated = session_scores(detector, TRUNCATED, config.window)
    if bounds:
        assert truncated.min() > normal.max()  # the end came too early: a miss
    else:
        assert truncated.max() <= normal.max()  # a prefix of a normal session: invisible without bounds


def test_an_artifact_from_before_session_bounds_loads_with_them_off(tmp_path: Path) -> None:
    config = _config(True)
    train, _ = session_windows(NORMAL[:40], config.window)
    detector = LogBertDetector(config).fit([w.key_ids for w in train], [w.key_ids for w in train[:8]], progress=False)
    detector.save(tmp_path / "a")
    stored = json.loads((tmp_path / "a" / "config.json").read_text())
    del stored["window"]["session_bounds"]  # as written before the setting existed
    (tmp_path / "a" / "config.json").write_text(json.dumps(stored))
    from logbert.artifact import _sha256  # re-hash, as an old artifact's meta.json would have it

    meta = json.loads((tmp_path / "a" / "meta.json").read_text())
    meta["sha256"]["config.json"] = _sha256(tmp_path / "a" / "config.json")
    meta.pop("meta_sha256", None)
    (tmp_path / "a" / "meta.json").write_text(json.dumps(meta))
    loaded = LogBertDetector.load(tmp_path / "a")
    assert loaded.config.window.session_bounds is False
    assert np.isfinite(loaded.threshold_)


def test_sessions_that_share_an_id_keep_their_own_scores() -> None:
    """Two lines of a key-sequence file (or two sequences of one request) may carry one id: each is its own session,
    scored by its own windows, never the other's (the worst window was looked up by id and took the last one's)."""

    class Longest:  # a scorer whose score of a window is its length
        def decision_function(self, seqs: list[list[int]]) -> np.ndarray:
            return np.array([float(len(s)) for s in seqs])

    window = WindowConfig(mode="session", max_len=4, min_len=1)
    sessions = [KeySequence("a", [1, 2, 3]), KeySequence("b", [4, 5]), KeySequence("a", [7])]
    alone = [float(session_scores(Longest(), [s], window)[0]) for s in sessions]
    assert list(session_scores(Longest(), sessions, window)) == alone
    assert alone[0] != alone[2]


def test_a_model_fitted_on_sequences_without_marks_is_saved_and_scored_without_them(tmp_path: Path) -> None:
    """A library user's own key sequences (no session marks) fitted and saved: ``logbert score`` added the marks its
    config promised, and a normal session scored 0.5 where the model gave it 0.125, above its threshold."""
    from logbert.pipeline.detector import load_detector

    config = _config(True)
    plain = [list(s.key_ids) for s in NORMAL[:60]]
    detector = LogBertDetector(config).fit(plain[:50], plain[50:], progress=False)
    assert not detector.config.window.session_bounds  # what it was trained on
    detector.save(tmp_path / "a")
    loaded = load_detector(tmp_path / "a")
    assert not loaded.config.window.bounded
    sessions = [KeySequence(f"s{i}", keys) for i, keys in enumerate(plain[50:])]
    np.testing.assert_allclose(
        [r.score for r in loaded.score_sessions(sessions)], detector.decision_function(plain[50:])
    )
    marked, _ = session_windows(NORMAL[:40], config.window)  # the pipeline's windows keep the setting
    assert (
        LogBertDetector(config)
        .fit([w.key_ids for w in marked], [w.key_ids for w in marked[:8]], progress=False)
        .config.window.session_bounds
    )
