"""What `logbert train` tells a user about the threshold it stored."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import logbert.pipeline.fit as fit_module
from logbert.config import LogBertConfig, ModelConfig, TrainConfig
from logbert.datasets.simulator import write_simulated
from logbert.errors import InputDataError
from logbert.parsing.vocab import Vocab
from logbert.pipeline.calibrate import CALIBRATION_FILE, Calibration
from logbert.pipeline.corpus import Corpus
from logbert.pipeline.fit import (
    TrainResult,
    _warnings,
    calibration_extremes_note,
    fit_sessions,
    score_for_vocabulary,
    signal_notes,
    train,
)
from logbert.pipeline.sessions import session_windows
from logbert.records import UNK_KEY, KeySequence, LogLine, ReadReport
from logbert.training.trainer import passes_per_epoch, steps_per_epoch, train_encoder

from .tiny import TINY_TRAINING

KEYS = 50  # keys the model predicts among: more than scoring.top_g


def _result(threshold: float, n_train_windows: int = 10_000, epochs_run: int = 1, **kw: object) -> TrainResult:
    return TrainResult(Path("."), threshold, 10, 2, 3, n_train_windows, 2, 5, epochs_run, 0.1, ReadReport(), [], **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("score", "threshold", "says"),
    [
        ("miss_ratio", 1.0, "nothing will ever be flagged"),
        ("miss_ratio", 0.0, "a single key outside"),
        ("mean_nll", 20.0, "the score cap"),
        ("miss_ratio", 0.25, None),
        ("mean_nll", 3.0, None),
    ],
)
def test_degenerate_thresholds_are_said(score: str, threshold: float, says: str | None) -> None:
    config = LogBertConfig().with_overrides({"scoring.score": score})
    warnings = _warnings(_result(threshold), config, KEYS)
    if says is None:
        assert warnings == []
    else:
        assert len(warnings) == 1 and says in warnings[0]


def test_a_top_g_that_holds_every_key_is_said_for_the_miss_ratio_only() -> None:
    # 4 templates and the session bounds: a top-6 always holds the true key, so nothing known can be a miss
    (warning,) = _warnings(_result(0.25), LogBertConfig(), 6)
    assert "predicts among 6 keys and scoring.top_g is 6" in warning and "never seen in training" in warning
    assert _warnings(_result(0.25), LogBertConfig(), 7) == []
    (alone,) = _warnings(_result(0.0), LogBertConfig(), 6)  # not also "a single key outside ... higher top_g"
    assert "predicts among 6 keys" in alone
    assert _warnings(_result(3.0), LogBertConfig().with_overrides({"scoring.score": "max_mean_nll"}), 6) == []


def test_a_key_only_model_on_timed_lines_gets_a_note_about_the_signals() -> None:
    def corpus(timed: int, untimed: int, kind: str = "raw") -> Corpus:
        lines = [LogLine(i + 1, "x", float(i) if i < timed else None) for i in range(timed + untimed)]
        return Corpus(kind, ReadReport(), lines=tuple(lines))  # type: ignore[arg-type]

    (note,) = signal_notes(corpus(6, 4), LogBertConfig())
    assert "--set model.signals=all" in note and "about 1.5x longer" in note
    (hdfs,) = signal_notes(corpus(6, 4), LogBertConfig().with_overrides({"model.keys_see_signals": False}))
    assert "about 3x" in hdfs  # the hdfs preset's key channel: two passes an epoch
    assert signal_notes(corpus(4, 6), LogBertConfig()) == []  # most lines without a time: nothing to read
    assert signal_notes(corpus(10, 0), LogBertConfig().with_overrides({"model.signals": "all"})) == []
    assert signal_notes(corpus(0, 0, "keys"), LogBertConfig()) == []


def test_a_cap_threshold_with_the_length_term_says_what_can_still_be_flagged() -> None:
    config = LogBertConfig().with_overrides({"scoring.score": "max_nll", "scoring.length_weight": 0.5})
    (warning,) = _warnings(_result(20.0), config, KEYS)
    assert "the score cap" in warning and "only sessions far shorter than the normal ones can be flagged" in warning


def test_too_few_optimiser_steps_are_said_by_the_trainers_own_rule() -> None:
    # 35 windows, batch 64: 1 step per pass; with train.min_steps = 0 one epoch is one pass
    off = LogBertConfig().with_overrides({"scoring.score": "mean_nll", "train.min_steps": 0})
    few = _warnings(_result(3.0, n_train_windows=35), off, KEYS)
    assert len(few) == 1 and "only 1 optimiser steps" in few[0] and "train.min_steps" in few[0]
    # the default min_steps (300) makes each of the 30 epochs 10 passes: a run that stopped early after
    # 1 epoch made 10 steps (still too few), one that ran its epochs made 300
    config = LogBertConfig().with_overrides({"scoring.score": "mean_nll"})
    assert "only 10 optimiser steps" in _warnings(_result(3.0, n_train_windows=35), config, KEYS)[0]
    assert _warnings(_result(3.0, n_train_windows=35, epochs_run=30), config, KEYS) == []
    assert _warnings(_result(3.0), config, KEYS) == []


def test_a_few_calibration_sessions_with_unseen_keys_are_never_said_to_be_0_percent() -> None:
    config = LogBertConfig().with_overrides({"scoring.score": "mean_nll"})
    (few,) = _warnings(_result(3.0, calibration="cross_fit", n_calibration=1758, n_unseen=2), config, KEYS)
    assert "(about 0.1%)" in few
    (many,) = _warnings(_result(3.0, calibration="cross_fit", n_calibration=80, n_unseen=20), config, KEYS)
    assert "(about 20%)" in many and "id left in the lines" not in many
    # most of them: the usual cause is an id kept in the templates (a new user's Postfix log: 1,097 of 1,103)
    (most,) = _warnings(_result(3.0, calibration="cross_fit", n_calibration=6, n_unseen=1097), config, KEYS)
    assert "(about 99%)" in most and "id left in the lines" in most and "window.session_pattern" in most


# -- issue 9: small-data training -----------------------------------------------------------------


def test_min_steps_adds_passes_so_tiny_data_gets_that_many_steps() -> None:
    cfg = TrainConfig(epochs=3, batch_size=8, min_steps=40, lr=5e-3, seed=1)
    assert passes_per_epoch(cfg, 10) == 7 and steps_per_epoch(cfg, 10) == 14  # 2 steps a pass, 7 passes
    assert passes_per_epoch(cfg, 1000) == 1 and steps_per_epoch(cfg.model_copy(update={"min_steps": 0}), 10) == 2
    seqs = [[4 + (s + i) % 5 for i in range(3 + s % 3)] for s in range(10)]
    vocab = Vocab.fit(seqs)
    model = ModelConfig(vocab_size=len(vocab), max_len=8, d_model=16, d_ff=32, n_heads=2, n_layers=1)
    result = train_encoder(model, cfg, vocab, seqs, seqs[:2], progress=False)
    assert result.epochs_run == 3 and result.steps_run == 3 * 14 >= cfg.min_steps  # steps, not epochs
    plain = train_encoder(model, cfg.model_copy(update={"min_steps": 0}), vocab, seqs, seqs[:2], progress=False)
    assert plain.epochs_run == 3 and plain.steps_run == 6


# -- issue 9: cross-fitted calibration and sessions with unseen keys ------------------------------

CAP = 1.0


class _Fake:
    """Stands in for LogBertDetector: records what each model trained on and scored. A window scores
    len / 100, or the cap when it holds a key the model never trained on (as UNK scores)."""

    made: list[_Fake] = []
    buckets_ = None  # key-only: no signal buckets, so no category is ever new

    def __init__(self, config: LogBertConfig) -> None:
        self.config = config
        self.scored: list[tuple[int, ...]] = []
        _Fake.made.append(self)

    def fit(self, train: list[list[int]], val: list[list[int]] | None, **_: object) -> _Fake:
        self.trained = [tuple(s) for s in train]
        self.known = {k for s in train for k in s}
        self.had_val, self.vocab_, self.history_, self.threshold_ = val is not None, None, [], math.nan
        return self

    def decision_function(self, seqs: list[list[int]]) -> np.ndarray:
        self.scored += [tuple(s) for s in seqs]
        return np.array([CAP if any(k not in self.known for k in s) else len(s) / 100 for s in seqs])


def _sessions(n: int, start: int = 0) -> list[KeySequence]:
    """Sessions of distinct lengths over three keys: a window's length says which session it is."""
    return [KeySequence(f"s{start + i}", [1 + j % 3 for j in range(3 + start + i)], label=0) for i in range(n)]


CF = LogBertConfig().with_overrides(
    {"window.max_len": 64, "model.max_len": 64, "scoring.calibration_folds": 4, "train.seed": 3}
)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> type[_Fake]:
    _Fake.made = []
    monkeypatch.setattr(fit_module, "LogBertDetector", _Fake)
    return _Fake


def test_cross_fit_scores_every_normal_session_exactly_once_out_of_fold(fake: type[_Fake]) -> None:
    train, val = _sessions(20), _sessions(3, start=20)
    fitted = fit_sessions(train, val, CF)  # auto: 3 validation sessions cannot support q = 0.995
    assert fitted.record.scheme == "cross_fit" and fitted.record.folds == 4
    *folds, final = fake.made
    assert len(folds) == 4 and all(not m.had_val for m in fake.made)  # nothing held out of any model
    windows = {s.session_id: tuple(w.key_ids) for s in train + val for w in session_windows([s], CF.window)[0]}
    scored = [w for m in folds for w in m.scored]
    assert sorted(scored) == sorted(windows.values())  # every session scored once, by one fold model
    for m in folds:
        assert not set(m.scored) & set(m.trained)  # ... a model that never trained on it
    assert sorted(final.trained) == sorted(windows.values()) and fitted.detector is final
    expected = sorted(len(w) / 100 for w in windows.values())
    assert list(fitted.record.normal_scores) == expected and fitted.record.n_unseen == 0
    assert fitted.detector.threshold_ == fitted.record.threshold == max(expected)  # n = 23 < 199: the maximum


def test_a_final_model_that_scores_the_training_sessions_higher_raises_the_threshold(
    fake: type[_Fake], monkeypatch: pytest.MonkeyPatch
) -> None:
    """New sessions are scored by the final model: where it scores a calibration session higher than its fold
    model did, that higher score is the session's calibration score (scoring.calibrate_with_final)."""
    train, val = _sessions(20), _sessions(3, start=20)
    plain = _Fake.decision_function

    def final_scores_higher(self: _Fake, seqs: list[list[int]]) -> np.ndarray:
        return plain(self, seqs) + (0.5 if len(self.trained) == 23 else 0.0)  # the final model trains on all 23

    monkeypatch.setattr(_Fake, "decision_function", final_scores_higher)
    lengths = [len(s.key_ids) + 2 for s in train + val]  # a whole session is one window, with its two bounds
    fitted = fit_sessions(train, val, CF)
    assert list(fitted.record.normal_scores) == sorted(n / 100 + 0.5 for n in lengths)
    assert fitted.record.threshold == max(lengths) / 100 + 0.5 and fitted.record.with_final
    assert "each at least the final model's score of its session" in fitted.record.describe()
    off = fit_sessions(train, val, CF.with_overrides({"scoring.calibrate_with_final": False}))
    assert off.record.threshold == max(lengths) / 100 and not off.record.with_final
    assert "final model" not in off.record.describe()


def test_sessions_with_unseen_keys_are_left_out_and_counted_not_the_threshold(fake: type[_Fake]) -> None:
    odd = [
        KeySequence("unk", [1, 2, UNK_KEY, 3], label=0),  # a template the parser never saw
        KeySequence("only-here", [1, 2, 99, 3], label=0),  # key 99: no other session, so no fold model, has it
    ]
    fitted = fit_sessions([*_sessions(20), odd[0]], [*_sessions(3, start=20), odd[1]], CF)
    assert fitted.record.n_unseen == 2 and fitted.record.n == 23
    assert fitted.record.threshold < CAP and CAP not in fitted.record.normal_scores
    assert "2 more held keys their fold model never trained on" in fitted.record.describe()
    listed = {sid for sid, _ in [*fitted.above_threshold, *fitted.at_threshold]}
    assert not listed & {"unk", "only-here"}  # they score the cap, but their warning is their own


def test_split_leaves_out_an_unseen_validation_session_and_says_so(fake: type[_Fake]) -> None:
    config = CF.with_overrides({"scoring.calibration": "split"})
    val = [*_sessions(4, start=20), KeySequence("new", [1, 2, 7], label=0)]
    fitted = fit_sessions(_sessions(20), val, config)
    assert len(fake.made) == 1 and fake.made[0].had_val  # one model, early-stopped on the validation split
    assert fitted.record.scheme == "split" and fitted.record.n == 4 and fitted.record.n_unseen == 1
    assert fitted.record.threshold < CAP  # before issue 9 this one session made the threshold the cap
    result = _result(fitted.record.threshold, 10_000, 30, calibration="split", n_calibration=4, n_unseen=1)
    [warning] = _warnings(result, config, KEYS)
    assert "1 of 5 normal validation sessions hold a template never seen in training" in warning


def test_when_every_calibration_session_is_unseen_they_are_used_and_that_is_said(fake: type[_Fake]) -> None:
    config = CF.with_overrides({"scoring.calibration": "split"})
    fitted = fit_sessions(_sessions(20), [KeySequence("new", [1, 2, 7], label=0)], config)
    assert fitted.all_unseen and fitted.record.threshold == CAP and fitted.record.n_unseen == 0
    result = _result(CAP, 10_000, 30, n_calibration=1, all_unseen=True)
    warnings = _warnings(result, config, KEYS)
    assert any("every normal validation session holds a template never seen" in w for w in warnings)


def test_train_records_the_calibration_and_round_trips_it(tmp_path: Path) -> None:
    files = write_simulated(tmp_path / "data", n_instances=40, anomaly_ratio=0.2, seed=5)
    config = LogBertConfig().with_overrides(
        {
            "parser.format": "openstack",
            "model.n_layers": 1,
            "model.d_model": 16,
            "model.d_ff": 32,
            "model.n_heads": 2,
            "train.epochs": 2,
            "train.min_steps": 6,
            "train.num_threads": 1,
            "scoring.calibration_folds": 3,
        }
    )
    result = train(files.log, tmp_path / "art", config, labels=files.labels, progress=False)
    assert result.calibration == "cross_fit" and "3-fold cross-fit" in result.threshold_basis
    stored = json.loads((tmp_path / "art" / CALIBRATION_FILE).read_text())
    assert stored["calibration"] == "cross_fit" and stored["folds"] == 3
    record = Calibration.from_dict(stored)
    assert record.threshold == result.threshold and record.n + record.n_unseen == result.n_val_sessions
    assert record.to_dict() == stored
    report = json.loads((tmp_path / "art" / "train_report.json").read_text())
    assert report["calibration"] == "cross_fit" and report["n_unseen_calibration_sessions"] == record.n_unseen
    assert not (tmp_path / "art" / "checkpoint").exists()
    # the records that change decisions are hashed with the model; the report for people is not
    hashed = json.loads((tmp_path / "art" / "meta.json").read_text())["sha256"]
    assert {CALIBRATION_FILE, "split.json"} <= set(hashed) and "train_report.json" not in hashed


def _small_log(tmp_path: Path) -> tuple[Path, Path]:
    files = write_simulated(tmp_path / "data", n_instances=40, anomaly_ratio=0.2, seed=5)
    return files.log, files.labels


def test_train_leaves_a_checkpoint_folder_it_did_not_write(tmp_path: Path) -> None:
    """`train -o DIR` removed DIR/checkpoint whatever it held: a user's own files went with it."""
    log, labels = _small_log(tmp_path)
    mine = tmp_path / "art" / "checkpoint" / "thesis.tex"
    mine.parent.mkdir(parents=True)
    mine.write_text("years of work")
    config = LogBertConfig().with_overrides({"parser.format": "openstack", **TINY_TRAINING})
    with pytest.raises(InputDataError, match=f"{mine.parent} holds files logbert did not write"):
        train(log, tmp_path / "art", config, labels=labels, progress=False)
    assert mine.read_text() == "years of work"


def test_train_checks_that_its_output_folder_is_writable_before_it_trains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`train -o` on a read-only folder failed only after its first epoch."""
    import errno

    log, labels = _small_log(tmp_path)
    said: list[str] = []

    def read_only(*_: object, **__: object) -> tuple[int, str]:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("logbert.files.tempfile.mkstemp", read_only)
    config = LogBertConfig().with_overrides({"parser.format": "openstack", **TINY_TRAINING})
    with pytest.raises(InputDataError, match=f"cannot write to {tmp_path / 'art'}: Read-only file system; .* -o"):
        train(log, tmp_path / "art", config, labels=labels, progress=False, on_step=said.append)
    assert not any(step.startswith("reading") for step in said)  # before any work


def test_an_interrupted_run_is_told_whether_it_can_resume(tmp_path: Path) -> None:
    assert "no checkpoint to resume from" in fit_module.interrupted_note("x.log", tmp_path)
    assert "[your settings]" in fit_module.interrupted_note("x.log", tmp_path)  # without the command: not the defaults
    (tmp_path / "checkpoint" / "fold1").mkdir(parents=True)  # cross-fit: a checkpoint per model
    (tmp_path / "checkpoint" / "fold1" / "state.json").write_text("{}")
    typed = f"logbert train x.log -o {tmp_path} --preset hdfs"
    assert f"`{typed} --resume`" in fit_module.interrupted_note("x.log", tmp_path, typed)


# -- a log of a few templates: the miss ratio could flag only unseen templates -----------------------------------


def test_every_model_of_a_few_keys_is_scored_by_its_surprise(fake: type[_Fake]) -> None:
    """One choice, on the vocabulary that every fold model and the final one share; said while fitting."""
    train, val = _sessions(20), _sessions(3, start=20)  # three keys: at most top_g (6)
    said: list[str] = []
    fit_sessions(train, val, CF, say=said.append)
    assert len(fake.made) == 5 and all(m.config.scoring.score == "max_mean_nll" for m in fake.made)
    assert any("scoring.score_for_few_keys" in s for s in said)
    for overrides, kept in (({"scoring.score_for_few_keys": "miss_ratio"}, "miss_ratio"),
                            ({"scoring.top_g": 1}, "miss_ratio"),  # 3 keys > 2 x top_g: the miss ratio can miss
                            ({"scoring.score": "max_nll"}, "max_nll")):  # a score the user chose is kept
        fake.made = []
        fit_sessions(train, val, CF.with_overrides(overrides))
        assert all(m.config.scoring.score == kept for m in fake.made), overrides


def test_windows_of_a_stream_are_scored_by_their_largest_key_surprise() -> None:
    """Sliding and time windows: the miss ratio gives way to scoring.score_for_windows (a few never-seen lines among
    20 keys of an interleaved syslog added too little to it; benchmarks/results/interleaved.md); sessions keep it,
    and so does a user who turns the setting off or chose another score."""
    many_keys = 100  # not the few-keys rule
    for mode in ("sliding", "time"):
        config = LogBertConfig().with_overrides({"window.mode": mode})
        chosen, note = score_for_vocabulary(config, many_keys)
        assert chosen.scoring.score == "max_nll" and config.window_score == "max_nll"
        assert note is not None and "scoring.score_for_windows" in note and f"{mode} windows" in note
        for off in ({"scoring.score_for_windows": None}, {"scoring.score_for_windows": "miss_ratio"}):
            assert score_for_vocabulary(config.with_overrides(off), many_keys)[0].scoring.score == "miss_ratio"
        chosen_by_user = config.with_overrides({"scoring.score": "mean_nll"})
        assert score_for_vocabulary(chosen_by_user, many_keys) == (chosen_by_user, None)
    sessions = LogBertConfig()
    assert sessions.window_score is None and score_for_vocabulary(sessions, many_keys) == (sessions, None)
    # a few keys in windows: the windows' rule, whatever it names, before the few keys' one
    few = LogBertConfig().with_overrides({"window.mode": "sliding", "scoring.score_for_windows": "max_nll"})
    assert score_for_vocabulary(few, 3)[0].scoring.score == "max_nll"


def test_train_stores_the_score_it_used_and_says_why(tmp_path: Path) -> None:
    lines = []
    for task in range(40):
        lines += [f"task={task} received", f"task={task} processed", f"task={task} acked"]
    (tmp_path / "worker.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = LogBertConfig().with_overrides({"window.session_pattern": r"task=(\d+)", **TINY_TRAINING})
    result = train(tmp_path / "worker.log", tmp_path / "art", config, progress=False)
    stored = json.loads((tmp_path / "art" / "config.json").read_text())
    assert stored["scoring"]["score"] == "max_mean_nll"  # what scoring reads later
    assert any("scoring.score_for_few_keys" in n for n in result.notes)
    assert not any("top_g" in w for w in result.warnings)
    kept = train(tmp_path / "worker.log", tmp_path / "kept", config.with_overrides(
        {"scoring.score_for_few_keys": None}), progress=False)
    assert json.loads((tmp_path / "kept" / "config.json").read_text())["scoring"]["score"] == "miss_ratio"
    assert not kept.notes or not any("score_for_few_keys" in n for n in kept.notes)
    assert any("scoring.top_g is 6" in w for w in kept.warnings)  # then the warning of before
    report = json.loads((tmp_path / "art" / "train_report.json").read_text())
    listed = [(e["session"], e["score"]) for e in report["calibration_above_threshold"]]
    assert listed == result.above_threshold[:1000] and report["n_calibration_above_threshold"] == len(listed)


def test_an_alert_of_a_few_keys_model_names_the_key_it_did_not_expect(tmp_path: Path) -> None:
    """With three keys every known key is in the top-g (6), so no key is ever a miss: an alert of a session that skips
    a step named nothing. A key the model gave less than even odds is named, with what it expected there."""
    from logbert.pipeline.detector import score

    lines = []
    for task in range(60):
        lines += [f"task={task} received", f"task={task} processed", f"task={task} acked"]
    (tmp_path / "worker.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = LogBertConfig().with_overrides(
        {"window.session_pattern": r"task=(\d+)", **TINY_TRAINING, "model.d_model": 32, "train.min_steps": 400,
         "train.lr": 3e-3}
    )
    train(tmp_path / "worker.log", tmp_path / "art", config, progress=False)
    (tmp_path / "new.log").write_text("task=900 received\ntask=900 acked\n", encoding="utf-8")
    (skipped,) = score(tmp_path / "art", tmp_path / "new.log", explain=True)
    assert skipped.is_anomaly and skipped.misses
    for named in skipped.misses:
        expected = named.expected[0]
        assert expected.probability > 0.5 and expected.template != named.template  # here: the session's end, early


def test_the_few_keys_score_covers_up_to_twice_top_g_keys() -> None:
    """7 keys and a top-6: at most one key is ever a miss, so a rare known line is all but never one."""
    for n_keys, score in ((7, "max_mean_nll"), (12, "max_mean_nll"), (13, "miss_ratio"), (19, "miss_ratio")):
        assert score_for_vocabulary(LogBertConfig(), n_keys)[0].scoring.score == score, n_keys
    wide = LogBertConfig().with_overrides({"scoring.top_g": 10})
    assert score_for_vocabulary(wide, 19)[0].scoring.score == "max_mean_nll"


# -- training data with failures in it: scoring.contamination, and the sessions above the threshold ------------------


def test_contamination_lowers_the_quantile_and_names_the_sessions_above_it(fake: type[_Fake]) -> None:
    train, val = _sessions(20), _sessions(3, start=20)  # window length / 100: the longest sessions score highest
    clean = fit_sessions(train, val, CF)
    assert clean.record.quantile == 0.995 and clean.above_threshold == []  # 23 scores: the threshold is their max
    fake.made = []
    fitted = fit_sessions(train, val, CF.with_overrides({"scoring.contamination": 0.2}))
    assert fitted.record.quantile == 0.8 and fitted.record.contamination == 0.2
    assert [sid for sid, _ in fitted.above_threshold] == ["s22", "s21", "s20", "s19"]  # floor(0.2 x 23) = 4
    # the final model never learns them as normal: it trains on the other 19 (a session's window length names it)
    final = fake.made[-1]
    assert fitted.trimmed == 4 and len(final.trained) == 19
    assert max(map(len, final.trained)) == len(train[18].key_ids) + 2  # s18's keys and the two bounds
    assert clean.trimmed == 0 and len(fake.made) == 5  # 4 folds and the final model, as without the setting
    assert all(score > fitted.record.threshold for _, score in fitted.above_threshold)
    assert "scoring.contamination share (0.2)" in fitted.record.describe()
    assert "no false-alarm guarantee for normal" in fitted.record.describe() and fitted.record.fpr_bound is None
    restored = Calibration.from_dict(json.loads(json.dumps(fitted.record.to_dict())))
    assert restored.contamination == 0.2 and restored.describe() == fitted.record.describe()
    # a threshold_quantile below 1 - contamination is the one used, and the record does not blame contamination
    lower = {"scoring.contamination": 0.01, "scoring.threshold_quantile": 0.8}
    low = fit_sessions(train, val, CF.with_overrides(lower))
    assert low.record.quantile == 0.8 and low.record.contamination == 0.0


def test_the_note_on_sessions_above_the_threshold_says_what_to_do_about_failures() -> None:
    above = [(f"job-{i}", 9.0 - i) for i in range(7)]
    result = _result(1.0, above_threshold=above, n_calibration=300)
    note = calibration_extremes_note(result, LogBertConfig())
    assert note is not None
    assert note.startswith("7 of the 300 calibration sessions score above the threshold: job-0 (9), job-1 (8)")
    assert "and 2 more" in note and "job-5" not in note and "scoring.contamination" in note and "--labels" in note
    said = calibration_extremes_note(result, LogBertConfig().with_overrides({"scoring.contamination": 0.02}))
    assert said is not None and "--labels" not in said
    assert said.endswith("the scoring.contamination share (0.02) taken to be anomalous")
    left = calibration_extremes_note(_result(1.0, above_threshold=above, n_calibration=300, trimmed=7),
                                     LogBertConfig().with_overrides({"scoring.contamination": 0.02}))
    assert left is not None and left.endswith("; the final model trained without the 7 above it")
    assert calibration_extremes_note(_result(1.0, n_calibration=300), LogBertConfig()) is None


def test_sessions_the_labels_call_normal_at_the_threshold_are_said_to_be_a_rare_kind() -> None:
    """Trained with --labels, the note told the user to "give --labels" (a new user's Spring pods: two normal
    sessions holding a long request body logged at DEBUG, rare in training, set the threshold and 17 of 25 failures
    fell under it). Labelled normal, they are a kind of session the model learnt too little: rare patterns drawn
    more often in training (train.pattern_power) is what to try."""
    tied = [("7eb86c57a81100a1", 7.236), ("5e73252bfd914b0e", 7.236)]
    result = _result(7.236, at_threshold=tied, n_calibration=202)
    note = calibration_extremes_note(result, LogBertConfig(), labelled=True)
    assert note is not None and "--labels" not in note and "scoring.contamination" not in note
    assert "The labels call them normal" in note and "--set train.pattern_power=0.5" in note
    unlabelled = calibration_extremes_note(result, LogBertConfig())
    assert unlabelled is not None and "give --labels" in unlabelled and "train.pattern_power=0.5" in unlabelled
    drawn = calibration_extremes_note(result, LogBertConfig().with_overrides({"train.pattern_power": 0.5}), True)
    assert drawn is not None and "train.pattern_power is 0.5 already" in drawn


def test_a_small_group_tied_with_the_threshold_is_named_a_large_one_is_not() -> None:
    tied = [(f"t{i}", 0.75) for i in range(11)]  # one kind of failure, scored alike, the threshold on them
    note = calibration_extremes_note(_result(0.75, at_threshold=tied, n_calibration=600), LogBertConfig())
    assert note is not None
    assert note.startswith("11 of the 600 calibration sessions score the threshold itself and are not flagged")
    assert "t0 (0.75)" in note and "and 6 more" in note and "scoring.contamination" in note
    most = [(f"s{i}", 0.0) for i in range(500)]  # a miss ratio of 0 on a very regular log: what the log is
    assert calibration_extremes_note(_result(0.0, at_threshold=most, n_calibration=600), LogBertConfig()) is None
    alone = [("s1", 0.75)]
    assert calibration_extremes_note(_result(0.75, at_threshold=alone, n_calibration=600), LogBertConfig()) is None


def test_fit_names_the_sessions_tied_with_the_threshold(fake: type[_Fake]) -> None:
    same = [KeySequence(f"fail{i}", [1, 2, 3] * 10, label=0) for i in range(3)]  # the longest: they score highest
    fitted = fit_sessions(_sessions(20), same, CF)
    assert fitted.above_threshold == [] and sorted(sid for sid, _ in fitted.at_threshold) == ["fail0", "fail1", "fail2"]


def test_a_channels_own_top_session_is_not_said_to_share_the_threshold(tmp_path: Path) -> None:
    """model.signals=all on a clean log with fewer than 199 calibration sessions: each channel's scale is its largest
    score, so the session it came from scores exactly the threshold, 1.0. Train said "2 of the 30 calibration
    sessions score the threshold itself ... (a score several sessions share is one kind of session) ... if these are
    failures, the training data is not all normal"."""
    from tests.conftest import tiny_nova_config

    files = write_simulated(tmp_path / "sim", n_instances=80, anomaly_ratio=0.0, seed=1)
    config = tiny_nova_config(32).with_overrides(
        {"model.signals": "all", "scoring.calibration": "split"}
    )
    result = train(files.log, tmp_path / "art", config, progress=False)
    assert result.threshold == 1.0 and result.n_calibration < 199  # each channel scaled by its own largest score
    assert result.at_threshold == [] and not any("threshold itself" in note for note in result.notes), result.notes


def test_sessions_sharing_a_channels_scale_still_tie_with_the_threshold() -> None:
    """Only a session alone at a channel's scale scores the threshold by construction; several there share a score,
    one kind of session (e.g. a failure in the training data), and are still named."""
    from logbert.pipeline.estimator import channel_scales, combine_channels
    from logbert.pipeline.fit import calibration_extremes, channel_scale_owners

    rng = np.random.default_rng(0)
    channels = rng.uniform(0.1, 2.0, size=(30, 3))
    channels[[4, 9, 17], 0] = 3.0  # one kind of session, the highest key surprise: it sets the key channel's scale
    channels[9, 1] = 2.5  # one of them alone sets the time channel's
    channels[22, 2] = 2.5  # another session alone sets the value channel's
    scoring = LogBertConfig().scoring
    scales = channel_scales(scoring, channels, (0.0, 0.0, 0.0))  # 30 scores: each channel's largest
    scores = combine_channels(channels, scales)
    sessions = [KeySequence(f"s{i}", [1]) for i in range(30)]
    owners = channel_scale_owners(channels, scales)
    assert np.flatnonzero(owners).tolist() == [22]
    _, at = calibration_extremes(sessions, scores, 1.0, scale_owners=owners)
    assert [sid for sid, _ in at] == ["s4", "s9", "s17"]
    _, before = calibration_extremes(sessions, scores, 1.0)
    assert [sid for sid, _ in before] == ["s4", "s9", "s17", "s22"]


class _MissFake(_Fake):
    """A key-only miss-ratio LogBERT that misses nothing: its outputs count the masked keys (one per key)."""

    def scores(self, seqs: list[list[int]]) -> SimpleNamespace:
        self.scored += [tuple(s) for s in seqs]
        return SimpleNamespace(n_misses=np.zeros(len(seqs), dtype=np.int64), n_masked=np.array([len(s) for s in seqs]))

    def score_of(self, out: SimpleNamespace) -> np.ndarray:
        return np.asarray(out.n_misses / out.n_masked, dtype=np.float64)

    def decision_function(self, seqs: list[list[int]]) -> np.ndarray:
        return self.score_of(self.scores(seqs))


@pytest.mark.parametrize("scheme", ["cross_fit", "split"])
def test_a_short_calibration_that_misses_nothing_keeps_its_threshold_above_one_miss(
    monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    """23 calibration sessions that miss no key put the quantile (their maximum) at 0; their keys' miss rate raises
    it (scoring.key_rate_floor), the record keeps what it read, and the setting off gives 0 again."""
    monkeypatch.setattr(fit_module, "LogBertDetector", _MissFake)
    config = CF.with_overrides({"scoring.calibration": scheme})
    # over 20 keys, so the miss ratio stays the score (a few keys would be scored by their surprise)
    sessions = [KeySequence(f"s{i}", [1 + (i + j) % 20 for j in range(10 + i)], label=0) for i in range(43)]
    train, val = sessions[:20], sessions[20:]
    fitted = fit_sessions(train, val, config)
    calibrated = train + val if scheme == "cross_fit" else val
    lengths = sorted((len(s.key_ids) + 2,) for s in calibrated)  # one window a session, with its two bounds
    assert fitted.record.key_misses is not None and sorted(fitted.record.key_misses.window_lengths) == lengths
    assert fitted.record.normal_scores[-1] == 0.0 and fitted.record.threshold > 0.0
    assert fitted.detector.threshold_ == fitted.record.threshold and fitted.record.raised_by_keys
    off = fit_sessions(train, val, config.with_overrides({"scoring.key_rate_floor": False}))
    assert off.record.threshold == 0.0 and off.record.key_misses is None


def test_calibration_sessions_with_a_key_of_their_own_count_in_the_keys_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    """A calibration session holding a key no other fold has is left out of the scores and counted: the floor reads
    that count as how often a new session brings a never-seen template (a miss), and the record keeps it."""
    monkeypatch.setattr(fit_module, "LogBertDetector", _MissFake)
    sessions = [KeySequence(f"s{i}", [1 + (i + j) % 20 for j in range(10 + i)], label=0) for i in range(43)]
    own = [KeySequence(f"own{i}", [1 + j % 20 for j in range(15)] + [30 + i], label=0) for i in range(2)]
    fitted = fit_sessions(sessions[:20], sessions[20:] + own, CF.with_overrides({"scoring.calibration": "cross_fit"}))
    assert fitted.record.n_unseen == 2
    assert fitted.record.key_misses is not None and fitted.record.key_misses.novel_sessions == 2
    assert len(fitted.record.key_misses.window_lengths) == fitted.record.n == 43
    assert "2 of 45: such a template is a miss" in fitted.record.describe()


def test_the_unseen_template_warning_says_which_sessions_one_miss_flags() -> None:
    """Under a miss-ratio threshold one never-seen template (one miss) flags a session only where it is among fewer
    keys than 1 / threshold: the warning says so, at the decision rule's own comparison (1/19 flags 18 keys, not 19)."""
    config = CF.with_overrides({"scoring.score": "miss_ratio"})

    def said(threshold: float, cfg: LogBertConfig = config) -> str:
        result = _result(threshold, 10_000, 30, calibration="cross_fit", n_calibration=50, n_unseen=1)
        return " ".join(_warnings(result, cfg, KEYS))

    # 18 keys with the session's start and end marks: 16 lines
    assert "flagged too where it is among 16 lines of a session or fewer (the threshold is a miss ratio of 0.05263" in (
        said(1 / 19)
    )
    assert "among 18 keys of a window or fewer" in said(1 / 19, config.with_overrides({"window.session_bounds": False}))
    for threshold in (0.0, 0.4, 1.0):  # one miss flags every session, or (0.4: in 2 keys, the marks alone) none
        assert "to be flagged too;" in said(threshold) and " or fewer (" not in said(threshold)
    assert " or fewer (" not in said(3.0, CF.with_overrides({"scoring.score": "max_nll"}))


def test_what_reading_found_is_said_before_the_training(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Most lines naming no session id (a pattern that reads one line of a task's four) was said with the summary,
    after six cross-fit trainings on the lines it did read (44 s): said as the corpus is read, it lets the user stop
    and fix the pattern. Said again among the warnings at the end."""
    import uuid

    log = tmp_path / "celery.log"
    lines = []
    for n in range(40):
        task = uuid.UUID(int=n * 7919 + 12345)
        lines.append(f"2026-11-01 10:{n:02d}:00 Task app.resize[{task}] received")
        lines += [f"2026-11-01 10:{n:02d}:0{k} app.resize[{task}]: step {k}" for k in range(1, 4)]
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = LogBertConfig().with_overrides(
        {"parser.log_format": "<Date> <Time> <Content>", "window.session_pattern": r"Task \S+\[(\S+)\] received"}
    )

    class Trained(Exception):
        pass

    def fit_sessions(*args: object, **kwargs: object) -> None:
        raise Trained  # where the long work begins

    monkeypatch.setattr(fit_module, "fit_sessions", fit_sessions)
    said: list[str] = []
    with pytest.raises(Trained):
        fit_module.train(log, tmp_path / "art", config, progress=False, on_step=said.append)
    assert any(m.startswith("75% of the parsed lines (120 of 160) name no session id") for m in said), said
