"""``model.key_counts``: a session made of normal lines, one of them logged far more often than in any normal
session, is flagged through the count head, and its explanation names the key and its count."""

from __future__ import annotations

import random
from pathlib import Path

from logbert.config import LogBertConfig


def _keys_file(path: Path, sessions: list[list[int]]) -> Path:
    path.write_text("".join(f"s{i}," + " ".join(map(str, keys)) + "\n" for i, keys in enumerate(sessions)))
    return path


def test_a_key_logged_six_times_is_a_count_surprise_named_in_the_explanation(tmp_path: Path) -> None:
    from logbert.pipeline.detector import load_detector, score
    from logbert.pipeline.fit import train

    rng = random.Random(0)
    normal = [[5, 6] + [7] * rng.randint(1, 2) + [8, 9] for _ in range(300)]
    config = LogBertConfig().with_overrides(
        {
            "model.key_counts": True,
            "model.positions": False,  # order-free: six 7s in a row predict a 7, only the count is odd
            "model.d_model": 32,
            "model.d_ff": 64,
            "model.n_layers": 1,
            "model.max_len": 16,
            "window.max_len": 16,
            "train.epochs": 30,
            "scoring.score": "max_nll",
            "scoring.calibration": "split",
            "train.num_threads": 1,
        }
    )
    train(_keys_file(tmp_path / "train.txt", normal), tmp_path / "art", config, progress=False)
    detector = load_detector(tmp_path / "art")
    assert detector.model.model_.count_head is not None  # the weights came back with the artifact
    test = _keys_file(tmp_path / "test.txt", [[5, 6, 7, 8, 9], [5, 6, 7, 7, 8, 9], [5, 6] + [7] * 6 + [8, 9]])
    results = {s.session_id: s for s in score(detector, test, explain=True)}
    assert not results["s0"].is_anomaly and not results["s1"].is_anomaly
    looped = results["s2"]
    assert looped.is_anomaly
    assert any("'key 7' 6 times in this window" in text for text in looped.surprises), looped.surprises
