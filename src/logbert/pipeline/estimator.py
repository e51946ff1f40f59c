"""``LogBertDetector``: fit on normal key sequences, score, threshold, explain, save, load.

The interface follows pyod's ``BaseDetector``: ``fit`` returns ``self`` and sets the fitted
attributes (trailing underscore), ``decision_function`` returns one score per sequence with
**higher = more anomalous**, and ``predict`` is ``exceeds(decision_function(seqs), threshold_)``.

Time- and value-aware models (``model.signals``, issue 13) take, beside the key sequences, one
:class:`~logbert.records.SessionSignals` per sequence (``signals=``). They score three *channels*
per sequence: the key score (``scoring.score``), the time surprise and the value surprise
(:mod:`logbert.scoring.scorer`). :func:`combine_channels` makes them one score: each channel divided
by its own calibrated scale, then the largest (see there for why); the scales come from the same
normal calibration scores as the threshold (:func:`channel_scales`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Self, TypeVar

import numpy as np
from torch import Tensor

from logbert.artifact import CALIBRATION_FILE, load_artifact, save_artifact
from logbert.config import LogBertConfig, ScoringConfig
from logbert.errors import NotFittedError, UnknownArtifact
from logbert.model.encoder import LogBertEncoder
from logbert.parsing.vocab import Vocab
from logbert.pipeline.calibrate import choose_threshold
from logbert.records import SESSION_END_KEY, SESSION_START_KEY, SessionSignals
from logbert.results import exceeds
from logbert.scoring.capture import CaptureEdge
from logbert.scoring.lengths import LengthReference, whole_session_length
from logbert.scoring.scorer import (
    PositionDetail,
    ScoreOutput,
    canonical_order,
    order_matters,
    pick_score,
    score_sequences,
    uniform_surprise,
)
from logbert.scoring.volume import VolumeReference, piece_volumes, window_totals
from logbert.threads import resolve_device, torch_threads
from logbert.training.checkpoint import EpochStats
from logbert.training.trainer import train_encoder
from logbert.windowing.dataset import TokenVocab
from logbert.windowing.signals import SignalBuckets, SignalRow, encode_signals, resolve_signals

logger = logging.getLogger(__name__)
_Reference = TypeVar("_Reference")  # a normal-data reference read from meta.json
_SAID: set[str] = set()  # warnings said once a process: a cross-fit fits six models on the same data


def _warn_once(message: str) -> None:
    """Log ``message`` as a warning the first time, at debug level after (``train`` shows it once more, at its end)."""
    logger.log(logging.DEBUG if message in _SAID else logging.WARNING, "%s", message)
    _SAID.add(message)

#: The score channels of a time- and value-aware model, in the order of :meth:`LogBertDetector.channel_scores`.
CHANNELS = ("key", "time", "value")
#: A channel scale is never below this: a channel whose normal scores are all 0 (no signal, or a key score
#: that never misses) then flags any positive score, as its own threshold of 0 would.
MIN_SCALE = 1e-6
#: The signals.json format (stored next to the weights): bucket edges, channel scales.
SIGNALS_VERSION = 1


#: The least scale of the key channel when its score is a surprise (``mean_nll``, ``max_nll``, ``max_mean_nll``):
#: log 2, the surprise of a key the model gave even odds. A miss ratio's least is :data:`MIN_SCALE`.
KEY_SURPRISE_FLOOR = math.log(2)
#: The key scores that are surprises (negative log-likelihoods, capped by ``scoring.nll_cap``), not counts of misses.
NLL_SCORES = ("mean_nll", "max_nll", "max_mean_nll")


def scale_floors(config: LogBertConfig) -> tuple[float, float, float]:
    """The least scale of each channel (key, time, value): for the key score :data:`KEY_SURPRISE_FLOOR` when it is a
    surprise, else :data:`MIN_SCALE`; for time and values the largest surprise a head that knows nothing (the same
    probability for every bucket) gives an inner bucket, :func:`~logbert.scoring.scorer.uniform_surprise` (2.20 nats
    for 16 gap buckets, 1.61 for 8 value ones).

    Why a floor: a channel's scale is the quantile of its normal calibration scores, so a head that is never sure
    of anything (HDFS block sizes: any size follows any line) gets a tiny scale, and dividing by it turns small
    shifts of a later period into alarms. Measured on HDFS 2 % (`logbert train --preset hdfs --set
    model.signals=all`, seed 0): value scale 0.52, 24 of the 29 false alarms decided by the value channel, whose
    AUROC was 0.38; and each such channel's tail lifted the combined threshold to 1.12, so the key channel had to
    reach 1.12 times its own scale (112 of 114 missed anomalies). A surprise no larger than a blind guess's is no
    evidence; on DeepLog OpenStack, where time and values decide, their scales (3.1-3.9) lie above the floors.

    The key channel's floor (stop 44): on a log of a few templates whose sessions run alike (a generated ZooKeeper log,
    ``benchmarks.zookeeper_log``, 4 templates) the model predicts every key of a normal session at p 0.99, so the
    key surprises of the normal calibration sessions were 0.01 nats and their quantile, the scale, 0.013: 13 of 1,378
    fresh normal sessions were flagged at 1.01-1.06 times it, keys at p 0.986 where calibration's were 0.987, and the
    alerts could name nothing surprising. Below even odds a key is no evidence; the key scales of every other time-
    and value-aware artifact measured (DeepLog OpenStack, HDFS 2 %, the simulator, PostgreSQL) are 2.2-12, above it.
    """
    model = config.model
    return (
        KEY_SURPRISE_FLOOR if config.scoring.score in NLL_SCORES else MIN_SCALE,
        uniform_surprise(model.gap_buckets, upper=True),  # time is one-sided: slowness
        uniform_surprise(model.value_buckets, upper=False),
    )


def channel_scales(scoring: ScoringConfig, channels: np.ndarray, floors: Sequence[float]) -> tuple[float, ...]:
    """One scale per channel (key, time, value), from its normal calibration scores (rows with a non-finite entry
    left out), at least its floor (:func:`scale_floors`, and :data:`MIN_SCALE`): the key channel's is their
    ``scoring.threshold_quantile`` quantile, the time and value channels' their ``scoring.signal_quantile`` one (by
    default the same; the ``hdfs`` preset takes 1.0, the largest).

    The quantile rule of the threshold itself (:func:`~logbert.pipeline.calibrate.choose_threshold`,
    ``normal_quantile``), so 1.0 is where each channel alone would flag. Why the extra channels' largest can pay: with
    every channel at the threshold's quantile, each one's normal tail took its share of the false-alarm budget, so the
    combined threshold rose above 1.0 and the key channel had to reach more than its own threshold. On HDFS 2 %
    (seed 0, 1,115 calibration sessions), where times and block sizes tell nothing about the labelled failures, that
    was 1.010, and 13 instead of 4 of 350 anomalies were missed. At their largest the extra channels leave the key
    channel's threshold where it alone would put it, and a time or value flags a session beyond every normal
    calibration session's: with n of them, for a new normal session about 1 / (n + 1) more per channel. Where the
    key channel is the noisy one (DeepLog OpenStack, whose failures are slow builds with normal key orders) the lifted
    threshold had held its false alarms back, and the largest let them through: hence a setting, not the rule.
    """
    rows = channels[np.isfinite(channels).all(axis=1)]
    return tuple(
        max(MIN_SCALE, floors[c], choose_threshold(rule, rows[:, c]) if rows.size else MIN_SCALE)
        for c, rule in enumerate(_scale_rules(scoring, channels.shape[1]))
    )


def _scale_rules(scoring: ScoringConfig, n_channels: int) -> list[ScoringConfig]:
    """The rule of each channel's scale (:func:`channel_scales`): the key channel's quantile, then the extra
    channels' (``scoring.signal_quantile``), without the threshold's margin."""
    quantile_only = scoring.model_copy(update={"threshold": "normal_quantile", "threshold_margin": 0.0})
    extra_quantile = scoring.threshold_quantile if scoring.signal_quantile is None else scoring.signal_quantile
    extra = quantile_only.model_copy(update={"threshold_quantile": extra_quantile})
    return [quantile_only] + [extra] * (n_channels - 1)


def combine_channels(channels: np.ndarray, scales: Sequence[float]) -> np.ndarray:
    """(N,) the combined score of (N, 3) channel scores: ``max_c channels[:, c] / scales[c]``.

    Weights: each channel counts in units of its own normal spread (its scale, the quantile of its
    normal calibration scores), none has a fixed weight. The maximum, not a sum: a session slow in
    one place and normal otherwise must not be averaged away by its normal keys, and the channel that
    decides is the one an explanation names. ``-inf`` (unscored) stays ``-inf``.
    """
    scaled = channels / np.asarray(scales, dtype=np.float64)[None, :]
    out: np.ndarray = scaled.max(axis=1)
    return out


#: With a quantile threshold the leave-one-out refits are exact for every session, in one pass
#: (:func:`_without_each`); otherwise (``scoring.contamination``: tied groups move together; ``pot``: a fitted tail)
#: each is a refit, of at most this many sessions (a seeded sample of them)
LOO_SESSIONS = 1000


def _without_each(rule: ScoringConfig, values: np.ndarray) -> np.ndarray:
    """(N,) ``choose_threshold(rule, values without values[i])`` for every ``i``, for a quantile rule without margin.

    Exact in O(N log N): the rule is an order statistic whose place is fixed by N - 1, so without ``values[i]`` it
    is one of two values: the one without the smallest value (``values[i]`` at or below the place) or the one
    without the largest (above it)."""
    without_lowest = choose_threshold(rule, np.delete(values, int(np.argmin(values))))
    without_highest = choose_threshold(rule, np.delete(values, int(np.argmax(values))))
    out: np.ndarray = np.where(values <= without_highest, without_lowest, without_highest)
    return out


def leave_one_out_scores(
    scoring: ScoringConfig, channels: np.ndarray, floors: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Each normal calibration session left out in turn (N, 3 channel scores, every one finite): its combined score
    with the channel scales fitted on the other sessions, and the threshold fitted on the other sessions (their
    combined scores with those scales, by ``scoring``'s threshold rule). Two (N,) arrays; a session is flagged
    when left out where ``exceeds(scores, thresholds)``. Other rules than the quantile: a seeded sample of at
    most :data:`LOO_SESSIONS` sessions, refitted one by one."""
    n, width = channels.shape
    if scoring.contaminated or scoring.threshold != "normal_quantile":
        picks = np.arange(n) if n <= LOO_SESSIONS else np.random.default_rng(0).choice(n, LOO_SESSIONS, replace=False)
        scores, thresholds = np.empty(len(picks)), np.empty(len(picks))
        for row, i in enumerate(picks):
            others = np.delete(channels, i, axis=0)
            scales = channel_scales(scoring, others, floors)
            thresholds[row] = choose_threshold(scoring, combine_channels(others, scales))
            scores[row] = combine_channels(channels[i : i + 1], scales)[0]
        return scores, thresholds
    scales_without = np.empty((n, width))
    for c, rule in enumerate(_scale_rules(scoring, width)):
        scales_without[:, c] = np.maximum(_without_each(rule, channels[:, c]), max(MIN_SCALE, floors[c]))
    unmargined = scoring.model_copy(update={"threshold_margin": 0.0})
    thresholds = np.empty(n)
    # each channel's scale without a session is one of two values (_without_each): at most 2 ** 3 distinct sets
    distinct, which = np.unique(scales_without, axis=0, return_inverse=True)
    which = which.reshape(-1)
    for d, scales in enumerate(distinct):
        members = which == d
        combined = combine_channels(channels, scales)
        thresholds[members] = _without_each(unmargined, combined)[members] + scoring.threshold_margin
    left_out: np.ndarray = (channels / scales_without).max(axis=1)  # combine_channels, one set of scales per row
    return left_out, thresholds


def _flagged(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """(N,) the decision rule (:func:`~logbert.results.exceeds`) of each score against its own threshold."""
    return np.array([exceeds(float(s), float(t)) for s, t in zip(scores, thresholds, strict=True)], dtype=np.bool_)


def leave_one_out_rate(scoring: ScoringConfig, channels: np.ndarray, floors: Sequence[float]) -> float | None:
    """The false-alarm rate a time- or value-aware model's threshold promises, estimated by leaving out each
    normal calibration session in turn (N, 3 channel scores, every one finite): the channel scales and the
    threshold refitted on the others, the left-out session flagged or not by the decision rule
    (:func:`leave_one_out_scores`).

    Why the quantile's own rate does not hold: each channel's scale is fitted on the same sessions as the
    threshold, so each channel's most extreme calibration session sits at the top of the combined scale,
    and a new session beats the threshold when it beats any channel's calibration maximum. On the simulator
    (218 calibration sessions, quantile 0.995) the quantile states 0.46 %, leaving one out gives 1.38 %
    (docs/time_values.md). An estimate over exchangeable sessions, not a finite-sample bound. None with
    fewer than 2 sessions.
    """
    if len(channels) < 2:
        return None
    scores, thresholds = leave_one_out_scores(scoring, channels, floors)
    return float(_flagged(scores, thresholds).mean())


#: ``fit(train, None)`` early-stops on at most this many of its training sequences (a forward pass per epoch).
SELF_VALIDATION_SEQUENCES = 512


class LogBertDetector:
    """LogBERT anomaly detector over key-id sequences.

    Args:
        config: every setting; ``config.model.vocab_size`` is filled in by :meth:`fit`.

    Attributes set by :meth:`fit` (or :meth:`load`):
        vocab_: the vocabulary. model_: the encoder (eval mode). center_: (C,) VHM centre.
        threshold_: decision threshold on :meth:`decision_function` scores.
        history_: training epochs (empty after :meth:`load`).
        records_: the artifact's record files (:data:`logbert.artifact.RECORD_FILES`; empty after :meth:`fit`).

    Example:
        >>> det = LogBertDetector(config).fit(train_seqs, val_seqs)  # doctest: +SKIP
        >>> det.predict([[5, 5, 9, 22]])  # doctest: +SKIP
        array([False])
    """

    vocab_: TokenVocab
    model_: LogBertEncoder
    center_: Tensor  # (C,)
    threshold_: float
    history_: list[EpochStats]
    parser_state_: dict[str, Any] | None
    # the artifact's record files (calibration.json, split.json) by name: what load read, what save writes back
    records_: dict[str, dict[str, Any]]
    buckets_: SignalBuckets | None = None  # signal bucket edges (time- and value-aware models)
    scales_: tuple[float, ...] | None = None  # channel scales (key, time, value), set with the threshold
    signal_message_: str | None = None  # what fit switched off for want of data (time, values)
    lengths_: LengthReference | None = None  # normal session lengths (scoring.length_weight > 0)
    volumes_: VolumeReference | None = None  # normal time-window volumes (time windows, scoring.volume_weight > 0)
    # sessions in flight at the capture start (logbert.scoring.capture), set by `logbert train` from the sessions'
    # times; None = the rule is off (no timestamps, not sessions, an artifact from before it)
    capture_edge_: CaptureEdge | None = None

    def __init__(self, config: LogBertConfig = LogBertConfig()) -> None:
        self.config = config

    # -- fitting ----------------------------------------------------------------------------

    def fit(
        self,
        train: Sequence[Sequence[int]],
        val: Sequence[Sequence[int]] | None,
        *,
        vocab: TokenVocab | None = None,
        checkpoint_dir: str | Path | None = None,
        progress: bool = True,
        signals: Sequence[SessionSignals | None] | None = None,
        val_signals: Sequence[SessionSignals | None] | None = None,
        duration_slots: Iterable[tuple[int, int]] = (),
        offsets: Sequence[int] | None = None,
        val_offsets: Sequence[int] | None = None,
    ) -> Self:
        """Train on normal sequences and set the threshold from the normal validation scores.

        Args:
            train: normal key-id sequences (each 1..``config.window.max_len`` keys).
            val: held-out normal sequences: early stopping, then the threshold
                (quantile ``scoring.threshold_quantile`` of their scores + ``threshold_margin``).
                None when nothing may be held out (the fold and final models of cross-fit
                calibration): early stopping then watches the masked loss of the training
                sequences themselves (at most :data:`SELF_VALIDATION_SEQUENCES` of them, evenly
                spaced), and ``threshold_`` stays NaN for the caller to set from out-of-fold scores.
            vocab: a fitted vocabulary; default ``Vocab.fit(train)``.
            checkpoint_dir: save after every epoch and resume from there (see ``train_encoder``).
            progress: show a progress bar.
            signals: ``model.signals`` on: per training sequence, its time and values (aligned with
                its keys; None = none). The bucket edges are fitted on them; a channel the data has
                nothing for is switched off (``signal_message_`` says which, and it is logged).
            val_signals: the same for ``val``.
            duration_slots: (key_id, slot) of the number slots in seconds (one-sided, like time; see
                ``logbert.windowing.signals``), from the slot schema (:func:`duration_slots_of`).
            offsets: time windows (:attr:`weighs_volume`): per training sequence, the keys of its time
                window before it (``KeySequence.unit_offset``; None = 0 each). The volume reference is
                fitted on each time window's lines (:func:`~logbert.scoring.volume.window_totals`: the
                pieces of a time window one after the other, as ``split_all`` cuts them).
            val_offsets: the same for ``val``.

        Returns:
            ``self``, fitted. ``self.config.model.vocab_size`` now equals ``len(vocab_)``.

        Raises:
            ValueError: empty inputs, or a sequence that is empty or longer than ``window.max_len``.
        """
        self._check(train, "train")
        held_out = val is not None
        if val is None:
            step = -(-len(train) // SELF_VALIDATION_SEQUENCES)
            val = train[::step]
            val_signals = None if signals is None else list(signals)[::step]
            val_offsets = None if offsets is None else list(offsets)[::step]
        self._check(val, "val")
        voc: TokenVocab = vocab if vocab is not None else Vocab.fit(train)
        self.buckets_, self.scales_, self.signal_message_ = None, None, None
        mode = self.config.model.signals
        train_rows: tuple[list[list[int]] | None, list[list[int]] | None] = (None, None)
        val_rows: tuple[list[list[int]] | None, list[list[int]] | None] = (None, None)
        if mode != "off":
            train_sig = list(signals) if signals is not None else [None] * len(train)
            cfg = self.config.model
            buckets = SignalBuckets.fit(train, train_sig, cfg.gap_buckets, cfg.value_buckets, duration_slots)
            mode, self.signal_message_ = resolve_signals(cfg, buckets)
            if self.signal_message_:
                _warn_once(self.signal_message_)
            if mode != "off":
                self.buckets_ = buckets
        model_cfg = self.config.model.model_copy(update={"vocab_size": len(voc), "signals": mode})
        if self.config.window.bounded and not any(SESSION_START_KEY in s or SESSION_END_KEY in s for s in train):
            # sequences given without session marks (a caller's own, not pipeline.sessions'): the saved artifact says
            # so, and whoever scores whole sessions with it (logbert score, the service) adds none either; it added
            # them, and a normal session scored 0.5 where this model gave it 0.125, above its threshold
            self.config = self.config.model_copy(
                update={"window": self.config.window.model_copy(update={"session_bounds": False})}
            )
        self.config = self.config.model_copy(update={"model": model_cfg})
        if self.buckets_ is not None:
            train_rows = _bucket_rows(self._signal_rows(train, signals))
            val_rows = _bucket_rows(self._signal_rows(val, val_signals))
        result = train_encoder(
            model_cfg,
            self.config.train,
            voc,
            train,
            val,
            checkpoint_dir=checkpoint_dir,
            progress=progress,
            train_signals=train_rows,
            val_signals=val_rows,
        )
        self.vocab_ = voc
        self.lengths_ = LengthReference.fit(train) if self.config.scoring.length_weight > 0 else None
        if self.weighs_volume:  # the training windows' lines, from their pieces (given in order, as split_all cuts)
            self.volumes_ = VolumeReference.fit(window_totals(_offsets(train, offsets), [len(s) for s in train]))
        else:
            self.volumes_ = None
        if self.lengths_ is not None and self.lengths_.n_sessions == 0:
            logger.warning(
                "scoring.length_weight is set but no training window is a whole session (window.mode 'session', "
                "session bounds): the short-session surprise stays 0"
            )
        self.model_ = result.model
        self.center_ = result.center
        self.history_ = result.history
        self.parser_state_ = None
        self.records_ = {}  # a new model: no calibration or split of its own until `logbert train` saves them
        self.threshold_ = math.nan  # fitted apart from the threshold, which needs the scores
        if held_out:
            # the one threshold rule, each validation sequence its own unit; `logbert train` re-sets it on sessions
            if self.reads_signals:
                self.scales_ = channel_scales(
                    self.config.scoring, self.channel_scores(val, val_signals, val_offsets), scale_floors(self.config)
                )
            self.threshold_ = choose_threshold(
                self.config.scoring, self.decision_function(val, val_signals, val_offsets)
            )
        return self

    @property
    def weighs_volume(self) -> bool:
        """True when the key score adds the volume surprise of a time window (``window.mode`` "time" and
        ``scoring.volume_weight`` above 0; :mod:`logbert.scoring.volume`): a sequence's score then depends on
        its time window's keys before it too (``offsets``)."""
        return self.config.window.mode == "time" and self.config.scoring.volume_weight > 0

    @property
    def reads_signals(self) -> bool:
        """True for a time- or value-aware model: its scores read each sequence's ``SessionSignals``."""
        return self.config.model.signals != "off"

    def memo_key(self, keys: Sequence[int], offset: int = 0) -> tuple[object, ...]:
        """What a key-only window's scores depend on, as a key for remembered scores: its keys, or for a row whose
        key order cannot change a score (:func:`~logbert.scoring.scorer.canonical_order`) a tag, what the
        short-session term reads (:func:`~logbert.scoring.lengths.whole_session_length`: its bounds), then its keys
        in the one order it is scored in. With the volume surprise (:attr:`weighs_volume`) the window's volume
        surprise comes first (``offset``: its time window's keys before it; 0 for most windows, which then share
        their scores as before)."""
        self._require_fitted()
        volume: tuple[object, ...] = ()
        if self.volumes_ is not None:
            volume = ("volume", self.volumes_.surprise_of(offset + len(keys)))
        if not keys or self.reads_signals or order_matters(self.model_, self.config.scoring, len(keys)):
            return (*volume, *keys)
        order = canonical_order(self.model_, self.config.scoring, keys) or range(len(keys))
        return (*volume, "any order", whole_session_length(keys), *(keys[j] for j in order))

    def _signal_rows(
        self, seqs: Sequence[Sequence[int]], signals: Sequence[SessionSignals | None] | None
    ) -> list[SignalRow]:
        """The signal inputs of each sequence (all NONE without signals), by the one rule of ``encode_signals``."""
        assert self.buckets_ is not None
        if signals is not None and len(signals) != len(seqs):
            raise ValueError(f"{len(signals)} signals for {len(seqs)} sequences")
        cfg = self.config.model
        sigs = signals if signals is not None else [None] * len(seqs)
        return [
            encode_signals(keys, sig, self.buckets_, time=cfg.uses_time, values=cfg.uses_values)
            for keys, sig in zip(seqs, sigs, strict=True)
        ]

    # -- scoring ----------------------------------------------------------------------------

    def scores(
        self,
        seqs: Sequence[Sequence[int]],
        *,
        details: bool = False,
        signals: Sequence[SessionSignals | None] | None = None,
        offsets: Sequence[int] | None = None,
    ) -> ScoreOutput:
        """Every score per sequence (key scores, ``dist``; the time and value surprises of a time- or
        value-aware model, from ``signals``; the volume surprise of a time window, from ``offsets``, each
        sequence's time window's keys before it, None = 0 each); higher = more anomalous."""
        self._require_fitted()
        self._check(seqs, "seqs", allow_empty_list=True)
        rows = self._signal_rows(seqs, signals) if self.buckets_ is not None else None
        with torch_threads(self.config.train.num_threads):
            out = score_sequences(
                self.model_,
                self.vocab_,
                seqs,
                self.center_,
                self.config.scoring,
                mask_ratio=self.config.train.mask_ratio,
                details=details,
                # where the model is: an artifact trained with train.device=cuda loads on the CPU and scores there
                device=next(self.model_.parameters()).device,
                signals=rows,
            )
        if self.lengths_ is not None:
            out = replace(out, length_surprise=self.lengths_.surprise(seqs))
        if self.volumes_ is not None:
            volumes = piece_volumes(_offsets(seqs, offsets), [len(s) for s in seqs])
            out = replace(out, volume_surprise=self.volumes_.surprise(volumes))
        return out

    def key_score_of(self, out: ScoreOutput) -> np.ndarray:
        """(N,) the key score: ``scoring.score``, plus ``scoring.length_weight`` x the short-session surprise and
        ``scoring.volume_weight`` x the volume surprise (where the model has their references)."""
        key = pick_score(out, self.config.scoring.score)
        if out.length_surprise is not None:
            key = key + self.config.scoring.length_weight * out.length_surprise
        if out.volume_surprise is not None:
            key = key + self.config.scoring.volume_weight * out.volume_surprise
        return key

    def channels_of(self, out: ScoreOutput) -> np.ndarray:
        """(N, 3) the channel scores (key, time, value) of a :class:`ScoreOutput`; 0 for a channel the model lacks."""
        zeros = np.zeros(len(out.miss_ratio), dtype=np.float64)
        key = self.key_score_of(out)
        time = out.time_nll if out.time_nll is not None else zeros
        value = out.value_nll if out.value_nll is not None else zeros
        return np.stack([key, time, value], axis=1)

    def channel_scores(
        self,
        seqs: Sequence[Sequence[int]],
        signals: Sequence[SessionSignals | None] | None = None,
        offsets: Sequence[int] | None = None,
    ) -> np.ndarray:
        """(N, 3) float64: the key, time and value scores of each sequence (see :data:`CHANNELS`)."""
        return self.channels_of(self.scores(seqs, signals=signals, offsets=offsets))

    def score_of(self, out: ScoreOutput) -> np.ndarray:
        """(N,) the decision score of a :class:`ScoreOutput`: ``scoring.score`` for a key-only model;
        :func:`combine_channels` for a time- or value-aware one (NaN until its scales are set)."""
        if not self.reads_signals:
            return self.key_score_of(out)
        if self.scales_ is None:
            return np.full(len(out.miss_ratio), np.nan)
        return combine_channels(self.channels_of(out), self.scales_)

    def decision_function(
        self,
        seqs: Sequence[Sequence[int]],
        signals: Sequence[SessionSignals | None] | None = None,
        offsets: Sequence[int] | None = None,
    ) -> np.ndarray:
        """Anomaly score per sequence, (N,) float64: higher = more anomalous.

        Key-only models: ``config.scoring.score``: ``"miss_ratio"`` (default), ``"mean_nll"``, ``"max_nll"``,
        ``"max_mean_nll"`` or ``"dist"``. Time- and value-aware models: :func:`combine_channels` of the
        three channels (``signals``: one per sequence, None = none). ``offsets``: see :meth:`scores`.
        """
        return self.score_of(self.scores(seqs, signals=signals, offsets=offsets))

    def predict(
        self,
        seqs: Sequence[Sequence[int]],
        signals: Sequence[SessionSignals | None] | None = None,
        offsets: Sequence[int] | None = None,
    ) -> np.ndarray:
        """(N,) bool: True where the anomaly score is above ``threshold_``."""
        scores = self.decision_function(seqs, signals, offsets)
        return exceeds(np.asarray(scores, dtype=np.float64), self.threshold_)

    def explain(self, seqs: Sequence[Sequence[int]]) -> list[list[PositionDetail]]:
        """Per sequence, per key: the key seen, whether it was a miss, and the top-g expected keys."""
        details = self.scores(seqs, details=True).details
        assert details is not None
        return details

    # -- persistence ------------------------------------------------------------------------

    def save(
        self,
        directory: str | Path,
        parser_state: dict[str, Any] | None = None,
        records: Mapping[str, dict[str, Any]] | None = None,
        reports: Mapping[str, dict[str, Any]] | None = None,
    ) -> Path:
        """Write the artifact directory (see :mod:`logbert.artifact`), all or nothing; returns its path.

        Args:
            directory: where.
            parser_state: the frozen parser's state (``parser.json``); None = none.
            records: the record files (``calibration.json``, ``split.json``) by name; None = the ones this
                detector was loaded with (:meth:`kept_records`).
            reports: ``train_report.json``, by name; None = none.
        """
        self._require_fitted()
        if not isinstance(self.vocab_, Vocab):
            raise TypeError(f"only a logbert Vocab can be saved, not {type(self.vocab_).__name__}")
        return save_artifact(
            directory,
            config=self.config,
            vocab=self.vocab_,
            model=self.model_,
            center=self.center_,
            threshold=self.threshold_,
            parser_state=parser_state,
            extra_meta={
                "score": self.config.scoring.score,
                **({} if self.lengths_ is None else {"session_lengths": self.lengths_.to_dict()}),
                **({} if self.volumes_ is None else {"window_volumes": self.volumes_.to_dict()}),
                **({} if self.capture_edge_ is None else {"capture_edge": self.capture_edge_.to_dict()}),
            },
            signals_state=self.signals_state(),
            records=self.kept_records() if records is None else records,
            reports=reports,
        )

    def kept_records(self) -> dict[str, dict[str, Any]]:
        """The record files this detector was loaded with, as far as they still hold for it: ``split.json``
        always (the same model trained on the same sessions), ``calibration.json`` while ``threshold_`` is the
        threshold it records. A threshold set by hand drops it, said in the log: its quantile and promise
        are about the calibrated threshold (``LogBertDetector.load(A); det.threshold_ = 1.0; det.save(A)`` kept
        it, and the artifact described 1.0 as "quantile 0.995 of 34 normal validation sessions"); without it
        ``--target-fpr`` asks for a retrain and p-values are null."""
        kept = dict(getattr(self, "records_", {}))  # a detector put together by hand has none
        calibration = kept.get(CALIBRATION_FILE)
        if calibration is not None and calibration.get("threshold") != self.threshold_:
            del kept[CALIBRATION_FILE]
            logger.warning(
                "threshold_ %s is not the calibrated threshold %s: %s is not saved (p-values and --target-fpr need "
                "one; `logbert train` makes it)",
                self.threshold_,
                calibration.get("threshold"),
                CALIBRATION_FILE,
            )
        return kept

    def signals_state(self) -> dict[str, Any] | None:
        """What a time- or value-aware model stores beside its weights (``signals.json``): the bucket
        edges and the channel scales. None for a key-only model (no file: its artifact is as before)."""
        if self.buckets_ is None:
            return None
        return {
            "version": SIGNALS_VERSION,
            "buckets": self.buckets_.to_dict(),
            "channels": list(CHANNELS),
            "scales": None if self.scales_ is None else list(self.scales_),
        }

    @classmethod
    def load(cls, directory: str | Path, device: str = "cpu") -> LogBertDetector:
        """Load a saved detector onto ``device`` (:func:`logbert.threads.resolve_device`; scoring runs
        there); the caller's parser state is in ``parser_state_``.

        Raises:
            UnknownArtifact: missing, corrupted or mismatched artifact files.
            ValueError: a device this machine does not have.
        """
        where = resolve_device(device)
        art = load_artifact(directory)
        det = cls(art.config)
        det.vocab_ = art.vocab
        det.model_ = art.model.to(where)
        det.center_ = art.center
        det.threshold_ = art.threshold
        det.history_ = []
        det.parser_state_ = art.parser_state
        det.records_ = art.records
        det.buckets_, det.scales_ = _read_signals_state(art.signals_state, det.reads_signals, directory)
        det.lengths_ = _read_lengths(art.meta, art.config.scoring.length_weight > 0, directory)
        det.volumes_ = _read_volumes(art.meta, det.weighs_volume, directory)
        det.capture_edge_ = _read_capture_edge(art.meta, directory)
        return det

    # -- checks -----------------------------------------------------------------------------

    def _require_fitted(self) -> None:
        if not (hasattr(self, "model_") and hasattr(self, "threshold_")):
            raise NotFittedError("LogBertDetector is not fitted: call fit() or LogBertDetector.load() first")

    def _check(self, seqs: Sequence[Sequence[int]], name: str, *, allow_empty_list: bool = False) -> None:
        """Raises: TypeError where ``seqs`` is not a list of key-id sequences (keys as text were each an unseen key,
        and scored 1.0 silently; a flat list or a 2-D array failed inside numpy); ValueError: none, or an empty or
        too long one."""
        if isinstance(seqs, str | bytes) or not isinstance(seqs, Sequence | np.ndarray):
            raise TypeError(f"{name} must be a list of key-id sequences (lists of int), got {type(seqs).__name__}")
        if len(seqs) == 0 and not allow_empty_list:
            raise ValueError(f"{name} holds no sequences")
        max_len = self.config.window.max_len
        for i, seq in enumerate(seqs):
            if isinstance(seq, str | bytes) or not isinstance(seq, Sequence | np.ndarray):
                raise TypeError(
                    f"{name}[{i}] must be a sequence of key ids (int), got {type(seq).__name__}: {name} is a list of "
                    "sequences, one per session or window"
                )
            if len(seq) == 0:
                raise ValueError(f"{name}[{i}] is an empty sequence")
            first = seq[0]  # the first key only: the check must not cost a pass over every key
            if isinstance(first, bool) or not isinstance(first, int | np.integer):
                raise TypeError(
                    f"{name}[{i}] holds {type(first).__name__} keys ({first!r}): keys are the vocabulary's int ids "
                    "(a key file's numbers, or ParsedLine.key_id)"
                )
            if len(seq) > max_len:
                raise ValueError(f"{name}[{i}] has {len(seq)} keys, more than window.max_len={max_len}")


def _bucket_rows(rows: Sequence[SignalRow]) -> tuple[list[list[int]], list[list[int]]]:
    return [r.gap_ids for r in rows], [r.value_ids for r in rows]


def _read_signals_state(
    state: dict[str, Any] | None, needed: bool, directory: str | Path
) -> tuple[SignalBuckets | None, tuple[float, ...] | None]:
    """The bucket edges and channel scales of ``signals.json``.

    Raises:
        UnknownArtifact: a time- or value-aware model without a readable ``signals.json``, or one where
            a key-only model needs none.
    """
    if state is None and not needed:
        return None, None
    if state is None or not needed:
        why = "has no signals.json" if state is None else "has a signals.json but config.json says model.signals='off'"
        raise UnknownArtifact(f"{directory}: {why}")
    try:
        if state.get("version") != SIGNALS_VERSION:
            raise ValueError(f"version {state.get('version')!r}")
        buckets = SignalBuckets.from_dict(state["buckets"])
        scales = state.get("scales")
        out = None if scales is None else tuple(float(x) for x in scales)
        if out is not None and (len(out) != len(CHANNELS) or not all(math.isfinite(x) and x > 0 for x in out)):
            raise ValueError("scales must be one positive number per channel")
    except (KeyError, TypeError, ValueError) as exc:
        raise UnknownArtifact(f"{directory}: signals.json is malformed ({exc})") from None
    return buckets, out


def _read_reference(
    meta: dict[str, Any], name: str, setting: str, read: Callable[[Any], _Reference], directory: str | Path
) -> _Reference:
    """A normal-data reference stored in ``meta.json`` under ``name`` (``read``: its ``from_dict``), needed because the
    config sets ``setting``.

    Raises:
        UnknownArtifact: meta.json has no such reference, or an unreadable one.
    """
    state = meta.get(name)
    if state is None:
        raise UnknownArtifact(f"{directory}: config.json sets {setting} but meta.json has no {name}")
    try:
        return read(state)
    except ValueError as exc:
        raise UnknownArtifact(f"{directory}: meta.json {name} is malformed ({exc})") from None


def _read_lengths(meta: dict[str, Any], needed: bool, directory: str | Path) -> LengthReference | None:
    """The session-length reference of ``meta.json`` (``scoring.length_weight > 0``)."""
    if not needed:
        return None
    return _read_reference(meta, "session_lengths", "scoring.length_weight", LengthReference.from_dict, directory)


def _read_volumes(meta: dict[str, Any], needed: bool, directory: str | Path) -> VolumeReference | None:
    """The time-window volume reference of ``meta.json`` (:attr:`LogBertDetector.weighs_volume`)."""
    if not needed:
        return None
    return _read_reference(meta, "window_volumes", "scoring.volume_weight", VolumeReference.from_dict, directory)


def _offsets(seqs: Sequence[Sequence[int]], offsets: Sequence[int] | None) -> Sequence[int]:
    """``offsets`` checked against ``seqs`` (None: 0 each, every sequence a window of its own)."""
    if offsets is not None and len(offsets) != len(seqs):
        raise ValueError(f"{len(offsets)} offsets for {len(seqs)} sequences")
    return [0] * len(seqs) if offsets is None else offsets


def _read_capture_edge(meta: dict[str, Any], directory: str | Path) -> CaptureEdge | None:
    """The capture-edge reference of ``meta.json`` (None when absent: the rule is off, as before it existed).

    Raises:
        UnknownArtifact: a reference that is there but malformed.
    """
    state = meta.get("capture_edge")
    if state is None:
        return None
    try:
        return CaptureEdge.from_dict(state)
    except ValueError as exc:
        raise UnknownArtifact(f"{directory}: meta.json capture_edge is malformed ({exc})") from None
