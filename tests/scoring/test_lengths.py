"""The short-session surprise (scoring.length_weight): the rule, the detector's use of it, the artifact."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from logbert.config import LogBertConfig
from logbert.errors import UnknownArtifact
from logbert.pipeline.estimator import LogBertDetector
from logbert.pipeline.sessions import session_scores, session_windows
from logbert.records import SESSION_END_KEY, SESSION_START_KEY, KeySequence
from logbert.scoring.lengths import LengthReference, whole_session_length

torch.set_num_threads(1)

S, E = SESSION_START_KEY, SESSION_END_KEY


def test_only_a_window_with_both_bounds_is_a_whole_session() -> None:
    assert whole_session_length([S, 4, 5, E]) == 2
    assert whole_session_length([S, E]) == 0
    for window in ([S, 4, 5], [4, 5, E], [4, 5], [S], []):
        assert whole_session_length(window) is None


def test_surprise_is_the_lower_tail_conformal_surprise_and_zero_from_the_median_up() -> None:
    ref = LengthReference.fit([[S, *range(n), E] for n in range(10, 30)])  # 20 sessions of 10..29 keys
    lengths = [2, 10, 11, 19, 20, 40]
    got = ref.surprise([[S, *range(n), E] for n in lengths])
    top = math.log(21) - math.log(2)
    want = [top, top - math.log(2), top - math.log(3), max(0.0, top - math.log(11)), 0.0, 0.0]
    np.testing.assert_allclose(got, want)
    assert got[0] > got[1] > got[2] > 0.0  # shorter = more surprising, monotone
    assert ref.surprise([[4, 5], [S, 4, 5]]).tolist() == [0.0, 0.0]  # not whole sessions


def test_sessions_too_long_for_one_window_count_as_longer_than_every_whole_one() -> None:
    whole = [[S, 1, 2, 3, E]] * 4
    long_first_windows = [[S, 1, 2, 3, 4]] * 6  # their later windows do not open with the start key
    ref = LengthReference.fit([*whole, *long_first_windows, [5, 6, E]])
    assert ref == LengthReference((3, 3, 3, 3), 10)
    # a 3-key session: 4 of 10 sessions were this short -> log(11 / 2) - log(5)
    assert ref.surprise([[S, 1, 2, 3, E]])[0] == pytest.approx(math.log(11 / 2) - math.log(5))
    assert LengthReference.fit([[1, 2, 3]] * 5).surprise([[S, 1, E]]).tolist() == [0.0]  # sliding windows: off


def test_reference_round_trips_through_json_and_rejects_what_it_did_not_write() -> None:
    ref = LengthReference((3, 3, 5, 9), 7)
    assert LengthReference.from_dict(json.loads(json.dumps(ref.to_dict()))) == ref
    assert ref.to_dict() == {"n_sessions": 7, "histogram": [[3, 2], [5, 1], [9, 1]]}
    bad: list[object] = [
        None,
        [],
        {"n_sessions": -1, "histogram": []},
        {"n_sessions": True, "histogram": []},
        {"n_sessions": 3, "histogram": [[2, 1, 0]]},
        {"n_sessions": 3, "histogram": [[2.5, 1]]},
        {"n_sessions": 3, "histogram": [[2, -1]]},
        {"n_sessions": 1, "histogram": [[2, 2]]},  # more whole sessions than sessions
    ]
    for state in bad:
        with pytest.raises(ValueError):
            LengthReference.from_dict(state)


# -- the detector ---------------------------------------------------------------------------------

CYCLE = [10, 11, 12, 13, 14, 15, 16, 17]
NORMAL = [KeySequence(f"n{i}", CYCLE[: 6 + i % 3]) for i in range(90)]  # 6 to 8 keys, ending anywhere
SHORT = KeySequence("short", CYCLE[:2])


def _config(weight: float) -> LogBertConfig:
    return LogBertConfig().with_overrides(
        {
            "window.max_len": 12,
            "window.session_pattern": "x",
            "model.max_len": 12,
            "model.d_model": 32,
            "model.d_ff": 64,
            "model.n_heads": 2,
            "model.n_layers": 1,
            "model.dropout": 0.0,
            "train.epochs": 2,
            "train.min_steps": 0,
            "train.batch_size": 16,
            "train.seed": 3,
            "scoring.score": "max_nll",
            "scoring.length_weight": weight,
        }
    )


@pytest.fixture(scope="module")
def fitted() -> dict[float, LogBertDetector]:
    out = {}
    for weight in (0.0, 0.5):
        config = _config(weight)
        train, _ = session_windows(NORMAL[:80], config.window)
        val, _ = session_windows(NORMAL[80:], config.window)
        out[weight] = LogBertDetector(config).fit([w.key_ids for w in train], [w.key_ids for w in val], progress=False)
    return out


def test_the_weight_adds_its_share_of_the_surprise_to_the_key_score(fitted: dict[float, LogBertDetector]) -> None:
    off, on = fitted[0.0], fitted[0.5]
    assert off.lengths_ is None
    assert on.lengths_ == LengthReference(tuple(sorted(len(s.key_ids) for s in NORMAL[:80])), 80)
    window = _config(0.5).window
    sessions = [SHORT, *NORMAL[80:]]
    plain, weighted = session_scores(off, sessions, window), session_scores(on, sessions, window)
    # the same weights (same seed, the length term does not touch training): the difference is the length term
    surprise = on.lengths_.surprise([[S, *s.key_ids, E] for s in sessions])
    np.testing.assert_allclose(weighted - plain, 0.5 * surprise, atol=1e-9)
    assert surprise[0] == pytest.approx(math.log(81 / 2))  # shorter than all 80 normal sessions
    assert weighted[0] > on.threshold_ >= weighted[1:].max() - 1e-9  # the threshold saw the weighted scores


def test_an_alert_names_the_short_session(fitted: dict[float, LogBertDetector], tmp_path: Path) -> None:
    from logbert.pipeline.detector import Detector

    detector = Detector(LogBertDetector.load(fitted[0.5].save(tmp_path / "art")), None, tmp_path / "art")
    short, normal = detector.score_sequences(
        [KeySequence("short", [S, *SHORT.key_ids, E]), KeySequence("n", [S, *NORMAL[0].key_ids, E])], explain=True
    )
    assert short.is_anomaly and not normal.is_anomaly
    assert normal.surprises == ()
    # flagged by an unseen key, and only somewhat short (6 keys, as 27 of the 80): the length is not named
    (odd,) = detector.score_sequences([KeySequence("odd", [S, 10, 11, 99, 13, 14, 15, E])], explain=True)
    assert odd.is_anomaly and odd.n_unknown == 1 and odd.surprises == ()
    assert short.surprises[0] == "session of 2 keys: 0 of 80 normal training sessions were this short (shortest 6 keys)"


def test_the_reference_is_saved_and_an_artifact_without_it_is_refused(
    fitted: dict[float, LogBertDetector], tmp_path: Path
) -> None:
    on = fitted[0.5]
    art = on.save(tmp_path / "art")
    loaded = LogBertDetector.load(art)
    assert loaded.lengths_ == on.lengths_
    seqs = [[S, *s.key_ids, E] for s in [SHORT, *NORMAL[80:]]]
    np.testing.assert_array_equal(loaded.decision_function(seqs), on.decision_function(seqs))
    meta_path = art / "meta.json"
    meta = json.loads(meta_path.read_text())
    assert meta["session_lengths"] == on.lengths_.to_dict()  # type: ignore[union-attr]
    off_art = fitted[0.0].save(tmp_path / "off")
    assert "session_lengths" not in json.loads((off_art / "meta.json").read_text())  # key-only artifacts as before
    # a config that weighs lengths with a meta.json lacking them: refused (meta.json is hashed, so rewrite both)
    config = json.loads((off_art / "config.json").read_text())
    config["scoring"]["length_weight"] = 0.5
    (off_art / "config.json").write_text(json.dumps(config))
    with pytest.raises(UnknownArtifact):
        LogBertDetector.load(off_art)


def test_a_streaming_alert_keeps_the_surprise_through_the_store_the_terminal_and_the_webhook(
    fitted: dict[float, LogBertDetector], tmp_path: Path
) -> None:
    from logbert.pipeline.detector import Detector
    from logbert.service.alerts import AlertFilter, SQLiteAlertStore
    from logbert.service.webhook import alertmanager_payload
    from logbert.streaming.engine import _alert
    from logbert.streaming.tail import format_alert
    from logbert.streaming.windows import PendingWindow

    detector = Detector(LogBertDetector.load(fitted[0.5].save(tmp_path / "art")), None, tmp_path / "art")
    window = KeySequence("short", [S, *SHORT.key_ids, E], line_nos=[1, 1, 2, 2])
    (scored,) = detector.score_sequences([window], explain=True)
    pending = PendingWindow(window, ("a", "a", "b", "b"), (None, "t10", "t11", None), "src", "closed")
    alert = _alert(pending, scored, 0.0, None)  # mode session
    why = "session of 2 keys: 0 of 80 normal training sessions were this short (shortest 6 keys)"
    assert alert.surprises == (why,)
    store = SQLiteAlertStore(tmp_path / "alerts.sqlite3")
    store.add_alerts([alert])
    (stored,), _ = store.list_alerts(AlertFilter())
    assert stored.surprises == (why,)
    assert f"  surprise: {why}" in format_alert(alert, False, 3)
    assert json.loads(format_alert(alert, True, 3))["surprises"] == [why]
    assert why in alertmanager_payload([alert])[0]["annotations"]["description"]
