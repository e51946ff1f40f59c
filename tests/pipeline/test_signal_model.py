"""The time- and value-aware LogBERT (issue 13) on a tiny synthetic corpus: a slow gap and an oversized value
score higher on their own channel than normal sessions; key-only stays bit-identical; artifacts round-trip."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from logbert.artifact import SIGNALS_FILE
from logbert.config import LogBertConfig, ModelConfig
from logbert.errors import UnknownArtifact
from logbert.pipeline.calibrate import Calibration, calibration, choose_threshold
from logbert.pipeline.detector import describe_signal
from logbert.pipeline.estimator import (
    LogBertDetector,
    channel_scales,
    combine_channels,
    leave_one_out_rate,
    leave_one_out_scores,
    scale_floors,
)
from logbert.pipeline.fit import blind_channel_warnings
from logbert.records import KeySequence, SessionSignals
from logbert.results import exceeds
from logbert.scoring.scorer import _tail_surprise, bucket_log_probs, uniform_surprise

from .tiny_signal_model import KEYS, fit_on_keys, tiny_signal_config

torch.set_num_threads(1)



def _session(rng: np.random.Generator, *, slow: float | None = None, value: float | None = None) -> SessionSignals:
    gaps = [0.0, 1.0 + 0.1 * rng.random(), slow if slow is not None else 5.0 + rng.random(), 1.0, 1.0 + rng.random()]
    v = value if value is not None else 20.0 + rng.random()
    values = ((), (), (v, "ok"), (), ())
    return SessionSignals(tuple(gaps), values, sum(gaps))


RNG = np.random.default_rng(0)
TRAIN = [_session(RNG) for _ in range(96)]
NORMAL = [_session(RNG) for _ in range(24)]
SLOW = _session(RNG, slow=40.0)
BIG = _session(RNG, value=200.0)
CONFIG = tiny_signal_config("all", epochs=4, min_steps=120)


@pytest.fixture(scope="module")
def model() -> LogBertDetector:
    return fit_on_keys(CONFIG, TRAIN, NORMAL)


def test_slow_gap_and_oversized_value_are_surprises_of_their_own_channel(model: LogBertDetector) -> None:
    assert model.reads_signals and model.scales_ is not None and model.buckets_ is not None
    normal = model.channel_scores([KEYS] * len(NORMAL), NORMAL)
    slow, big = model.channel_scores([KEYS, KEYS], [SLOW, BIG])
    assert slow[1] > normal[:, 1].max() + 1.0  # time channel
    assert big[2] > normal[:, 2].max() + 1.0  # value channel
    assert slow[0] == pytest.approx(normal[0, 0]) and big[0] == pytest.approx(normal[0, 0])  # the same keys
    combined = model.decision_function([KEYS] * len(NORMAL) + [KEYS, KEYS], [*NORMAL, SLOW, BIG])
    assert combined[-2] > model.threshold_ and combined[-1] > model.threshold_
    assert (combined[:-2] <= combined[-2:].min()).all()


def test_without_signals_the_signal_channels_score_zero(model: LogBertDetector) -> None:
    out = model.channel_scores([KEYS, KEYS])
    assert (out[:, 1:] == 0).all()


def test_artifact_round_trip_scores_identically(model: LogBertDetector, tmp_path: Path) -> None:
    model.save(tmp_path)
    assert (tmp_path / SIGNALS_FILE).is_file()
    again = LogBertDetector.load(tmp_path)
    assert again.buckets_ == model.buckets_ and again.scales_ == model.scales_
    seqs, sigs = [KEYS] * 3, [NORMAL[0], SLOW, BIG]
    np.testing.assert_array_equal(again.channel_scores(seqs, sigs), model.channel_scores(seqs, sigs))
    (tmp_path / SIGNALS_FILE).unlink()
    with pytest.raises(UnknownArtifact):
        LogBertDetector.load(tmp_path)


def test_explanations_name_the_time_and_the_value_and_what_was_expected(model: LogBertDetector) -> None:
    assert model.buckets_ is not None
    out = model.scores([KEYS, KEYS], details=True, signals=[SLOW, BIG])
    assert out.signal_details is not None
    slow_time = next(d for d in out.signal_details[0] if d.channel == "time")
    big_value = next(d for d in out.signal_details[1] if d.channel == "value")
    # the slow gap makes the whole session slow too: the worst time is the gap or the session's elapsed time
    assert slow_time.position in (-1, 2) and big_value.position == 2
    templates = {12: "Took <*> seconds"}

    def name(key: int) -> str | None:
        return templates.get(key, f"key {key}")

    window = KeySequence("s", KEYS, signals=SLOW)
    text = describe_signal(replace(slow_time, position=2), window, model.buckets_, None, name)
    assert text.startswith("40 s before 'Took <*> seconds' (key 12); expected") and "(p " in text
    text = describe_signal(replace(slow_time, position=-1), window, model.buckets_, None, name)
    assert text.startswith("the session lasted 43") and "; training range " in text
    text = describe_signal(big_value, KeySequence("b", KEYS, signals=BIG), model.buckets_, None, name)
    assert text.startswith("'Took <*> seconds' slot 0 (key 12): 200; expected") and "training range 20" in text


def test_key_only_model_is_bit_identical_with_or_without_signals() -> None:
    off = CONFIG.with_overrides({"model.signals": "off"})
    keys = [KEYS] * len(TRAIN)
    a = LogBertDetector(off).fit(keys, [KEYS] * 8, progress=False)
    b = LogBertDetector(off).fit(keys, [KEYS] * 8, signals=TRAIN, val_signals=NORMAL[:8], progress=False)
    assert not any("gap" in k or "value" in k for k in a.model_.state_dict())
    for k, v in a.model_.state_dict().items():
        assert torch.equal(v, b.model_.state_dict()[k]), k
    np.testing.assert_array_equal(a.decision_function([KEYS]), b.decision_function([KEYS], [SLOW]))
    assert b.signals_state() is None and b.buckets_ is None


def test_channel_combination_divides_by_each_scale_then_takes_the_maximum() -> None:
    channels = np.array([[0.5, 2.0, 0.0], [1.0, 0.0, 9.0]])
    np.testing.assert_allclose(combine_channels(channels, (0.5, 1.0, 3.0)), [2.0, 3.0])
    normal = np.array([[0.0, 1.0, 0.0]] * 10)
    scales = channel_scales(CONFIG.scoring, normal, (0.0, 0.0, 0.0))
    assert scales[0] == scales[2] == 1e-6 and scales[1] == 1.0
    assert math.isinf(combine_channels(np.array([[-np.inf] * 3]), scales)[0])


def test_time_and_value_tails_leave_the_key_channels_threshold_where_it_alone_would_put_it() -> None:
    """1,000 normal calibration sessions whose times and values vary on their own (HDFS 2 %'s: nothing to do with
    the failures). At the key channel's quantile the combined threshold is 1.0, so every new session is decided as
    by the key channel alone unless its time or value lies beyond every calibration session's (`scoring.signal_quantile
    = 1.0`, the `hdfs` preset's); with each extra channel at the threshold's quantile (the default) their tails lift
    the combined threshold above 1, and a session just above the key channel's own threshold goes unflagged."""
    rng = np.random.default_rng(3)
    normal = np.column_stack([rng.gamma(4.0, 2.0, 1000), rng.gamma(3.0, 1.0, 1000), rng.gamma(3.0, 1.0, 1000)])
    floors = (0.0, 0.0, 0.0)
    scoring = CONFIG.scoring.model_copy(update={"signal_quantile": 1.0})  # the `hdfs` preset's
    scales = channel_scales(scoring, normal, floors)
    assert scales[1:] == (normal[:, 1].max(), normal[:, 2].max())
    threshold = choose_threshold(scoring, combine_channels(normal, scales))
    key_alone = choose_threshold(scoring, normal[:, 0])
    assert threshold == pytest.approx(1.0) and scales[0] == pytest.approx(key_alone)
    new = np.array([[key_alone * 1.01, 1.0, 1.0], [key_alone * 0.99, normal[:, 1].max() * 1.01, 1.0]])
    assert (combine_channels(new, scales) > threshold).tolist() == [True, True]
    before = CONFIG.scoring  # the default: every channel at the threshold's quantile
    assert before.signal_quantile is None
    old_scales = channel_scales(before, normal, floors)
    assert old_scales[0] == scales[0] and old_scales[1] < scales[1]
    assert choose_threshold(before, combine_channels(normal, old_scales)) > 1.01
    # with up to about 400 calibration sessions the conformal 0.995 quantile is their largest already (k = ceil((n + 1)
    # q) >= n): small training sets (25-50 sessions, cross-fit) get the same scales under either rule
    assert channel_scales(before, normal[:50], floors) == channel_scales(scoring, normal[:50], floors)
    assert channel_scales(before, normal[:300], floors) == channel_scales(scoring, normal[:300], floors)


def test_a_blind_guess_surprise_is_the_least_scale_of_the_time_and_value_channels() -> None:
    """The floor is the largest surprise a head with the same probability for every bucket gives an inner bucket,
    by the scorer's own tail rule; a sharper head's surprises at other buckets are below it."""
    assert uniform_surprise(16, upper=True) == pytest.approx(math.log(9))
    assert uniform_surprise(8, upper=False) == pytest.approx(math.log(5))
    classes = 8 + 4
    sharp = bucket_log_probs(torch.tensor([[[0.0] * 3 + [9.0] + [0.0] * 8]]))  # sure of the first inner bucket
    assert float(_tail_surprise(sharp, torch.tensor([[classes - 2]]), None)) > uniform_surprise(8, upper=True)
    assert float(_tail_surprise(sharp, torch.tensor([[3]]), None)) < uniform_surprise(8, upper=True)
    floors = scale_floors(LogBertConfig(model=ModelConfig(signals="all", gap_buckets=16, value_buckets=8)))
    assert floors == pytest.approx((1e-6, math.log(9), math.log(5)))  # the miss ratio's least is MIN_SCALE


def test_a_channel_that_never_surprises_on_normal_sessions_does_not_decide_on_a_small_shift() -> None:
    """HDFS's value channel: block sizes that no line predicts, normal value scores of at most 0.5 nats. Scaled by
    that quantile, a later normal session at 0.8 nats beat the combined threshold; at the floor it does not, and a
    channel above its floor keeps its own quantile."""
    rng = np.random.default_rng(1)
    normal = np.column_stack([rng.uniform(2, 10, 200), rng.uniform(2, 5, 200), rng.uniform(0, 0.5, 200)])
    floors = scale_floors(LogBertConfig(model=ModelConfig(signals="all")))
    blind = channel_scales(CONFIG.scoring, normal, (0.0, 0.0, 0.0))
    floored = channel_scales(CONFIG.scoring, normal, floors)
    assert blind[2] < 0.5 and floored[2] == pytest.approx(floors[2])
    assert floored[:2] == blind[:2] and floored[1] > floors[1]  # time's quantile is above its floor
    shifted = np.array([[2.0, 2.0, 0.8]])
    assert combine_channels(shifted, blind)[0] > 1.0 >= combine_channels(shifted, floored)[0]


@pytest.mark.parametrize("score", ["mean_nll", "max_nll", "max_mean_nll"])
def test_a_key_surprise_below_even_odds_never_decides(score: str) -> None:
    """A log whose sessions run alike (the generated ZooKeeper log): every normal key at p 0.99, key surprises of
    0.01 nats, and their quantile as the scale flagged normal sessions at p 0.986 (1.01-1.06 times it). With a
    surprise score the key channel's scale is at least log 2; a key-channel anomaly (a key at p 0.001) still
    decides, and the miss ratio keeps its least of MIN_SCALE."""
    rng = np.random.default_rng(2)
    normal = np.column_stack([rng.uniform(0.005, 0.0135, 300), rng.uniform(0.5, 3.0, 300), rng.uniform(0, 2.0, 300)])
    config = LogBertConfig(model=ModelConfig(signals="all"), scoring={"score": score})
    floors = scale_floors(config)
    assert floors[0] == pytest.approx(math.log(2))
    blind = channel_scales(config.scoring, normal, (0.0, *floors[1:]))
    floored = channel_scales(config.scoring, normal, floors)
    assert blind[0] < 0.014 and floored[0] == pytest.approx(math.log(2)) and floored[1:] == blind[1:]
    noise = np.array([[0.0142, 0.5, 0.2]])  # keys at p 0.986
    assert combine_channels(noise, blind)[0] > 1.0 > combine_channels(noise, floored)[0]
    missing_key = np.array([[-math.log(0.001) / 2, 0.5, 0.2]])  # one of two masked keys at p 0.001
    assert combine_channels(missing_key, floored)[0] > 4.0
    assert scale_floors(LogBertConfig(model=ModelConfig(signals="all")))[0] == 1e-6  # the miss ratio


def test_train_says_when_a_channel_counts_from_its_floor(model: LogBertDetector) -> None:
    floors = scale_floors(model.config)
    saved = model.scales_
    assert saved is not None
    try:
        model.scales_ = (saved[0], floors[1] + 1.0, floors[2])  # the value channel at its floor, time above
        (said,) = blind_channel_warnings(model)
        assert said.startswith("the value channel learnt nothing sharp") and "model.signals=time" in said
        model.scales_ = (saved[0], floors[1] + 1.0, floors[2] + 1.0)
        assert blind_channel_warnings(model) == []
    finally:
        model.scales_ = saved


def test_leaving_one_out_counts_every_channels_maximum_as_a_false_alarm() -> None:
    """50 normal sessions, 3 channels with distinct scores, quantile 0.995 (more than 50 sessions allow: the
    threshold is the maximum). Each channel's largest session beats the others' maximum in its own channel once
    it is left out: 3 of 50 flagged, where the quantile alone states 1 / 51."""
    rng = np.random.default_rng(0)
    channels = rng.random((50, 3))
    for c in range(3):  # each channel's maximum in its own session, far above the rest
        channels[c, c] = 2.0 + c
    assert leave_one_out_rate(CONFIG.scoring, channels, (0.0, 0.0, 0.0)) == pytest.approx(3 / 50)
    assert leave_one_out_rate(CONFIG.scoring, channels[:1], (0.0, 0.0, 0.0)) is None
    record = calibration(CONFIG.scoring, 1.0, np.linspace(0, 1, 50))
    assert record.fpr_nominal == pytest.approx(1 / 51) and record.fpr_bound == pytest.approx(1 / 51)
    estimated = replace(record, fpr_estimate=3 / 50)
    assert estimated.fpr_bound is None and "about 6.00% of new normal sessions" in estimated.describe()
    assert Calibration.from_dict(estimated.to_dict()) == estimated


@pytest.mark.parametrize("seed", range(40))
def test_leaving_one_out_in_one_pass_equals_refitting_without_each_session(seed: int) -> None:
    """The one-pass leave-one-out (a quantile without one session is one of two order statistics) against refitting
    scales and threshold on the other sessions for each: ties, floors, margins, other quantiles and signal
    quantiles, small N."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 40))
    scoring = CONFIG.scoring.model_copy(
        update={
            "threshold_quantile": float(rng.choice([0.5, 0.9, 0.995, 1.0])),
            "signal_quantile": [None, 1.0, 0.8][seed % 3],
            "threshold_margin": float(rng.choice([0.0, 0.1])),
        }
    )
    channels = np.round(rng.random((n, 3)) * 3, int(rng.integers(0, 3)))  # rounded: many ties
    floors = (0.0, float(rng.choice([0.0, 1.5])), 0.0)
    scores, thresholds = leave_one_out_scores(scoring, channels, floors)
    flagged = 0
    for i in range(n):
        others = np.delete(channels, i, axis=0)
        scales = channel_scales(scoring, others, floors)
        threshold = choose_threshold(scoring, combine_channels(others, scales))
        score = combine_channels(channels[i : i + 1], scales)[0]
        assert scores[i] == pytest.approx(score) and thresholds[i] == pytest.approx(threshold)
        flagged += bool(exceeds(float(score), threshold))
    assert leave_one_out_rate(scoring, channels, floors) == pytest.approx(flagged / n)


@pytest.mark.parametrize("update", [{"contamination": 0.1}, {"threshold": "pot"}])
def test_leaving_one_out_refits_each_session_for_rules_that_are_no_order_statistic(update: dict[str, object]) -> None:
    """Contamination (tied groups move together) and a fitted tail: each session refitted without it."""
    rng = np.random.default_rng(3)
    channels = rng.gamma(2.0, 1.0, (60, 3))
    scoring = CONFIG.scoring.model_copy(update=update)
    floors = (0.0, 0.0, 0.0)
    scores, thresholds = leave_one_out_scores(scoring, channels, floors)
    for i in (0, 17, 59):
        others = np.delete(channels, i, axis=0)
        scales = channel_scales(scoring, others, floors)
        assert thresholds[i] == pytest.approx(choose_threshold(scoring, combine_channels(others, scales)))
        assert scores[i] == pytest.approx(combine_channels(channels[i : i + 1], scales)[0])


def test_train_and_score_carry_time_and_values_from_a_raw_log(tmp_path: Path) -> None:
    from logbert.datasets.simulator import write_simulated
    from logbert.parsing.params import schema_of
    from logbert.pipeline.detector import load_detector, score
    from logbert.pipeline.fit import train
    from tests.conftest import tiny_nova_config

    files = write_simulated(tmp_path / "sim", n_instances=80, anomaly_ratio=0.25, seed=1, time_value_faults=True)
    config = tiny_nova_config(32).with_overrides({"model.signals": "all", "scoring.calibration": "split"})
    result = train(files.log, tmp_path / "art", config, labels=files.labels, progress=False)
    assert (tmp_path / "art" / SIGNALS_FILE).is_file()
    detector = load_detector(tmp_path / "art")
    assert detector.model.reads_signals and detector.schema is not None
    assert schema_of(detector.model.parser_state_) is not None  # the slot types ride in parser.json
    assert result.threshold == detector.threshold
    # the scales are fitted on the threshold's own sessions: the record states the leave-one-out rate, no bound
    record = detector.calibration
    assert record is not None and record.fpr_estimate is not None and record.fpr_bound is None
    assert "left out one at a time" in result.threshold_basis
    sessions = score(detector, files.log, explain=True)
    flagged = [s for s in sessions if s.is_anomaly]
    assert flagged and any(s.surprises for s in flagged)
    text = next(t for s in flagged for t in s.surprises)
    assert "expected" in text and ("before" in text or "lasted" in text or "(key " in text)
    # evaluate passes each session's time and values to the signal baselines (they scored 0 there before)
    from logbert.pipeline.evaluate import evaluate

    ev = evaluate(detector, files.log, labels=files.labels, baselines=("param_outlier", "session_duration"))
    for name in ("param_outlier", "session_duration"):
        assert "skipped" not in ev.baselines[name], ev.baselines[name]
        assert ev.baseline_scores[name].max() > 0
    # streaming carries times and values (tests/streaming/test_signals.py): the service, tail and workers load it
    streaming = load_detector(tmp_path / "art", need_parser=True)
    assert streaming.reads_signals


def test_a_key_sequence_file_switches_the_signals_off_with_a_message(tmp_path: Path) -> None:
    from logbert.pipeline.fit import train

    data = tmp_path / "keys.txt"
    data.write_text("".join(f"s{i}," + " ".join(map(str, KEYS * 2)) + "\n" for i in range(60)), encoding="utf-8")
    config = CONFIG.with_overrides({"window.mode": "sliding", "window.window_size": 8, "scoring.calibration": "split"})
    result = train(data, tmp_path / "art", config, progress=False, kind="keys")
    assert any("key-sequence file has no timestamps" in w for w in result.warnings)
    assert not (tmp_path / "art" / SIGNALS_FILE).exists()
    assert not LogBertDetector.load(tmp_path / "art").reads_signals


def test_repeated_windows_share_a_score_only_when_their_signals_are_equal_too(model: LogBertDetector) -> None:
    sigs = [SLOW, NORMAL[0], SLOW, BIG, NORMAL[0]]
    together = model.channel_scores([KEYS] * len(sigs), sigs)
    alone = np.concatenate([model.channel_scores([KEYS], [s]) for s in sigs])
    np.testing.assert_array_equal(together, alone)
    assert together[0, 1] > together[1, 1]  # the same keys, another gap: not merged
