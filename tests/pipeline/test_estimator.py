import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from logbert.config import LogBertConfig
from logbert.errors import NotFittedError
from logbert.evaluation.thresholds import quantile_threshold
from logbert.pipeline.detector import Detector
from logbert.pipeline.estimator import LogBertDetector
from logbert.records import KeySequence
from logbert.scoring.lengths import SESSION_END_KEY as END
from logbert.scoring.lengths import SESSION_START_KEY as START
from logbert.streaming.memo import ScoreMemo

torch.set_num_threads(1)

CYCLE = [10, 11, 12, 13, 14, 15, 16, 17]
NORMAL = [[CYCLE[i % 8] for i in range(6 + s % 7)] for s in range(160)]  # repetitive: prefixes of one cycle
ANOMALIES = [[17, 16, 15, 14, 13, 12, 11, 10], [10, 12, 14, 16, 11, 13, 15, 17], [10, 11, 12, 99, 13, 14, 15, 16]]
CONFIG = LogBertConfig().with_overrides(
    {
        "window.max_len": 12,
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


@pytest.fixture(scope="module")
def detector() -> LogBertDetector:
    return LogBertDetector(CONFIG).fit(NORMAL[:128], NORMAL[128:], progress=False)


def test_fit_sets_vocab_size_threshold_and_returns_self(detector: LogBertDetector) -> None:
    assert detector.config.model.vocab_size == len(detector.vocab_) == 4 + len(CYCLE)
    assert np.isfinite(detector.threshold_) and detector.center_.shape == (32,)


def test_an_injected_anomaly_scores_higher_than_normal_sequences(detector: LogBertDetector) -> None:
    normal = detector.decision_function(NORMAL[128:])
    abnormal = detector.decision_function(ANOMALIES)
    assert abnormal.min() > np.median(normal)
    assert detector.predict(ANOMALIES).all()
    assert np.array_equal(detector.predict(NORMAL[128:]), normal > detector.threshold_)
    both = detector.scores(ANOMALIES)
    assert both.dist.shape == both.miss_ratio.shape == (3,)
    surprise = detector.scores(NORMAL[128:]).mean_nll
    assert both.mean_nll is not None and surprise is not None
    assert both.mean_nll.min() > np.median(surprise)  # the same direction without the top-g cut


def test_save_load_round_trip_gives_identical_scores(detector: LogBertDetector, tmp_path: Path) -> None:
    detector.save(tmp_path / "art", parser_state={"templates": ["a <*>"]})
    loaded = LogBertDetector.load(tmp_path / "art")
    assert isinstance(loaded, LogBertDetector) and loaded.parser_state_ == {"templates": ["a <*>"]}
    assert loaded.threshold_ == detector.threshold_ and loaded.config == detector.config
    seqs = NORMAL[120:] + ANOMALIES
    assert np.array_equal(loaded.decision_function(seqs), detector.decision_function(seqs))
    assert np.array_equal(loaded.scores(seqs).dist, detector.scores(seqs).dist)


def test_an_order_free_detector_round_trips_and_finds_an_unknown_key_but_not_a_reordering(tmp_path: Path) -> None:
    """model.positions = False: a missing or unknown key is still a surprise, the same keys in another order are not
    (the reversed cycle scores as its forward self); the artifact keeps the setting."""
    config = CONFIG.with_overrides({"model.positions": False})
    order_free = LogBertDetector(config).fit(NORMAL[:128], NORMAL[128:], progress=False)
    order_free.save(tmp_path / "art")
    loaded = LogBertDetector.load(tmp_path / "art")
    assert loaded.config.model.positions is False and loaded.model_.pos_emb is None
    seqs = NORMAL[120:] + ANOMALIES
    assert np.array_equal(loaded.decision_function(seqs), order_free.decision_function(seqs))
    forward, reversed_, unknown = loaded.scores([CYCLE, ANOMALIES[0], ANOMALIES[2]]).mean_nll  # type: ignore[misc]
    assert reversed_ == pytest.approx(forward, abs=1e-4) and unknown > forward + 1.0


def test_a_detector_with_the_last_key_marked_round_trips_and_scores_any_order_of_its_keys_alike(
    tmp_path: Path,
) -> None:
    """model.mark_last: the artifact keeps the mark's weights and the setting, and scores as before saving. With one
    key per pass (mask_stride >= the window) the keys' order before the last one changes no score, bit for bit, and
    the score memo (by the detector's memo_key) scores the orders once."""
    config = CONFIG.with_overrides(
        {"model.positions": False, "model.mark_last": True, "train.cut_ratio": 0.5, "scoring.mask_stride": 12}
    )
    marked = LogBertDetector(config).fit(NORMAL[:128], NORMAL[128:], progress=False)
    marked.save(tmp_path / "art")
    loaded = LogBertDetector.load(tmp_path / "art")
    assert loaded.config.model.mark_last is True and loaded.model_.last_emb is not None
    torch.testing.assert_close(loaded.model_.last_emb, marked.model_.last_emb)
    seqs = NORMAL[120:] + ANOMALIES
    assert np.array_equal(loaded.decision_function(seqs), marked.decision_function(seqs))

    orders = [[12, 10, 11, 10, 13], [10, 10, 11, 12, 13], [11, 10, 12, 10, 13]]  # the marked last key stays last
    moved = [10, 10, 11, 13, 12]  # another key last
    scores = loaded.scores([*orders, moved])
    for name in ("miss_ratio", "dist", "mean_nll", "max_nll"):
        values = getattr(scores, name)
        assert values[0] == values[1] == values[2], name
    assert scores.dist[3] != scores.dist[0]
    keys = {loaded.memo_key(order) for order in orders}
    assert len(keys) == 1 and loaded.memo_key(moved) not in keys
    # the short-session term reads a window's bounds: a whole session is not its keys in another order
    assert loaded.memo_key([START, 10, 11, END]) != loaded.memo_key([10, START, 11, END])

    detector, memo = Detector(loaded, None, tmp_path / "art"), ScoreMemo(100)
    windows = [KeySequence(f"s{i}", keys, line_nos=list(range(len(keys)))) for i, keys in enumerate([*orders, moved])]
    assert memo.score(detector, windows) == detector.score_sequences(windows)
    assert (memo.hits, memo.misses) == (2, 2)
    explained = memo.score(detector, windows, explain=True)  # explanations name positions: each order alone
    assert explained == detector.score_sequences(windows, explain=True)


def test_explain_names_the_missed_keys(detector: LogBertDetector) -> None:
    [details] = detector.explain([ANOMALIES[2]])
    assert [d.position for d in details] == list(range(8))
    assert details[3].key_id == 99 and details[3].missed and len(details[3].top_key_ids) == 1


def test_fit_sets_the_threshold_by_the_shared_quantile_rule(detector: LogBertDetector) -> None:
    scoring = CONFIG.scoring
    val_scores = detector.decision_function(NORMAL[128:])
    assert detector.threshold_ == quantile_threshold(val_scores, scoring.threshold_quantile, scoring.threshold_margin)
    assert not detector.predict(NORMAL[128:]).any()  # q = 0.995 over 32 sequences: the maximum


def test_bad_input_and_unfitted_use() -> None:
    with pytest.raises(NotFittedError):
        LogBertDetector(CONFIG).predict([[10]])
    with pytest.raises(ValueError, match="13 keys"):
        LogBertDetector(CONFIG).fit([[10] * 13], [[10]])
    with pytest.raises(ValueError, match="empty"):
        LogBertDetector(CONFIG).fit([[10], []], [[10]])


def test_an_artifact_trained_on_a_gpu_scores_where_its_model_is(detector: LogBertDetector, tmp_path: Path) -> None:
    """train.device=cuda is where training ran; the loaded model is on the CPU and must score there."""
    detector.save(tmp_path / "art")
    loaded = LogBertDetector.load(tmp_path / "art")
    loaded.config = loaded.config.with_overrides({"train.device": "cuda"})  # as saved by a GPU run
    assert next(loaded.model_.parameters()).device.type == "cpu"
    np.testing.assert_array_equal(loaded.decision_function(NORMAL[:5]), detector.decision_function(NORMAL[:5]))


def test_mask_span_forgives_a_swapped_pair_but_not_an_unseen_key_and_survives_save_load(
    detector: LogBertDetector, tmp_path: Path
) -> None:
    import copy

    spanned = copy.copy(detector)
    spanned.config = detector.config.model_copy(
        update={"scoring": detector.config.scoring.model_copy(update={"mask_span": 2})}
    )
    swapped, unseen = [10, 11, 13, 12, 14, 15, 16], [10, 11, 12, 99, 13, 14]
    one_key, runs = detector.scores([swapped, unseen]), spanned.scores([swapped, unseen])
    assert one_key.max_nll is not None and runs.max_nll is not None
    cap = detector.config.scoring.nll_cap
    assert runs.max_nll[0] < 1.0 < 3.0 < one_key.max_nll[0]  # two adjacent keys in the other order: about log 2
    assert runs.max_nll[1] == one_key.max_nll[1] == pytest.approx(cap)  # an unseen key is the cap either way
    spanned.save(tmp_path / "spanned")
    loaded = LogBertDetector.load(tmp_path / "spanned")
    assert loaded.config.scoring.mask_span == 2
    both = [swapped, unseen]
    np.testing.assert_array_equal(loaded.decision_function(both), spanned.decision_function(both))


def test_a_fit_warning_is_said_once_however_many_models_a_cross_fit_fits(caplog: pytest.LogCaptureFixture) -> None:
    """model.signals='all' on a log without times said its warning once per fold model and once for the final one."""
    from logbert.pipeline.estimator import _warn_once

    with caplog.at_level(logging.DEBUG, logger="logbert.pipeline.estimator"):
        for _ in range(6):
            _warn_once("model.signals='all' but the data has no time: using 'values' (a test's words)")
    levels = [r.levelno for r in caplog.records if "a test's words" in r.getMessage()]
    assert levels == [logging.WARNING] + [logging.DEBUG] * 5
