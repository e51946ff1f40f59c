"""``logbert train``: read, split then parse, window, fit LogBERT, choose the threshold, save.

The flow for a raw log::

    read + header-parse every line, group lines into sessions    (pipeline.corpus)
    split whole sessions: train / val / test, normal only in train and val; mine templates on
    the training lines only, then freeze the parser                (pipeline.split)
    cut sessions into windows of at most max_len keys, fit LogBERT (pipeline.estimator)
    threshold on normal session scores the model never trained on  (pipeline.calibrate)
    save the artifact, calibration.json, split.json and train_report.json

The threshold's scores come from the validation split (``scoring.calibration = "split"``) or, on
small data, from k-fold cross-fitting over every normal training + validation session
(``"cross_fit"``; ``"auto"`` picks, see :func:`logbert.pipeline.calibrate.resolve_calibration`):
k fold models each score the sessions they did not train on, then the final model trains on all of
them. The parser is then mined on the validation lines too, so fold and final models share one
parser and one vocabulary. :func:`fit_sessions` is that step on keyed sessions (``train`` calls
it; so does ``benchmarks/small_data``).
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from logbert.artifact import CALIBRATION_FILE, CHECKPOINT_DIR, META_FILE, SPLIT_FILE, TRAIN_REPORT_FILE
from logbert.config import LogBertConfig, ScoringConfig, WindowConfig, as_config
from logbert.datasets.labels import LabelsLike
from logbert.errors import InputDataError
from logbert.evaluation.report import to_jsonable
from logbert.files import writable_dir
from logbert.parsing.params import SlotSchema, attach_schema, joined_numbers_hint
from logbert.parsing.vocab import Vocab
from logbert.pipeline.calibrate import (
    Calibration,
    KeyMisses,
    Scheme,
    calibration,
    choose_threshold,
    fold_ids,
    labelled_val_anomalies,
    reads_key_misses,
    resolve_calibration,
    score_cap,
)
from logbert.pipeline.corpus import Corpus, read_corpus
from logbert.pipeline.estimator import (
    NLL_SCORES,
    LogBertDetector,
    channel_scales,
    combine_channels,
    leave_one_out_rate,
    scale_floors,
)
from logbert.pipeline.parse import template_parser
from logbert.pipeline.sessions import (
    Unit,
    reads_signals,
    session_channels,
    session_misses,
    session_scores,
    session_windows,
    unseen_category_sessions,
    unseen_key_sessions,
)
from logbert.pipeline.signals import corpus_signals, fit_slot_schema, line_rows, merged_state_words_warning
from logbert.pipeline.split import KeyedSplit, key_sessions, n_unseen_test_keys, split_and_key
from logbert.records import InputKind, KeySequence, ReadReport, SessionSignals, n_log_keys
from logbert.results import exceeds, tie_band
from logbert.scoring.capture import CaptureEdge
from logbert.training.checkpoint import is_checkpoint_dir
from logbert.training.distributed import env_world_size, is_main_process
from logbert.training.trainer import MIN_USEFUL_STEPS, precision_warning, steps_per_epoch
from logbert.windowing.dataset import TokenVocab
from logbert.windowing.windows import SkippedSequence

#: Keys of a session that :func:`session_mark` reads.
MARK_KEYS = 8


def session_mark(seq: KeySequence) -> str:
    """What tells a training session from another session of the same id in another input: its first time (or,
    without times, its first line number) and its first keys. ``split.json`` keeps one per training and validation
    session, so that ``evaluate`` on another file leaves out only the sessions that are these ones (the training
    log again, or a longer copy of it), not every session whose id recurs (a package installed again, a client
    that comes back)."""
    if seq.start_time is not None:
        start = repr(round(seq.start_time, 3))
    else:
        start = f"line {seq.line_nos[0]}" if seq.line_nos else ""
    return f"{start}|{' '.join(map(str, seq.key_ids[:MARK_KEYS]))}"


def is_marked_session(seq: KeySequence, mark: str) -> bool:
    """Whether ``seq`` is the session ``mark`` (:func:`session_mark`) was taken of: the same start and the same first
    keys, or more of them (the session went on after the training log ended: a longer copy of that log)."""
    start, _, keys = session_mark(seq).partition("|")
    marked_start, _, marked_keys = mark.partition("|")
    theirs, ours = marked_keys.split(), keys.split()
    return start == marked_start and ours[: len(theirs)] == theirs



@dataclass(slots=True)
class TrainResult:
    artifact_dir: Path
    threshold: float
    n_train_sessions: int
    n_val_sessions: int
    n_test_sessions: int
    n_train_windows: int
    n_val_windows: int
    n_templates: int
    epochs_run: int
    train_seconds: float
    read_report: ReadReport
    skipped: list[SkippedSequence]
    threshold_basis: str = ""  # how the threshold was chosen and what it promises (Calibration.describe)
    warnings: list[str] = field(default_factory=list)  # things a user should act on
    notes: list[str] = field(default_factory=list)  # things a user may want to know (nothing is wrong)
    calibration: str = "split"  # where the threshold's normal scores came from: "split" or "cross_fit"
    n_calibration: int = 0  # normal sessions whose scores set the threshold
    n_unseen: int = 0  # normal calibration sessions left out: a key the scoring model never trained on
    all_unseen: bool = False  # every normal calibration session had one: the threshold came from them anyway
    # the calibration sessions scoring above the threshold, most anomalous first: (session id, score)
    above_threshold: list[tuple[str, float]] = field(default_factory=list)
    # and those scoring the threshold itself (within the decision rule's tie band), which are not flagged
    at_threshold: list[tuple[str, float]] = field(default_factory=list)
    # scoring.contamination, cross-fit: the sessions above the out-of-fold threshold, left out of the final model
    trimmed: int = 0


@dataclass(slots=True)
class FittedSessions:
    """What :func:`fit_sessions` returns: the final model (threshold set) and how the threshold was chosen."""

    detector: LogBertDetector
    record: Calibration
    n_train_windows: int  # windows the final model trained on
    n_val_windows: int  # windows it early-stopped on (split); cross-fit: 0, it watches its training windows
    skipped: list[SkippedSequence]  # windows shorter than window.min_len, left out
    all_unseen: bool = False  # every normal calibration session held an unseen key: all were used regardless
    above_threshold: list[tuple[str, float]] = field(default_factory=list)  # see TrainResult
    at_threshold: list[tuple[str, float]] = field(default_factory=list)  # see TrainResult
    trimmed: int = 0  # see TrainResult


def train(
    data: str | Path,
    out_dir: str | Path,
    config: LogBertConfig | None = None,
    *,
    labels: LabelsLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
    kind: InputKind | None = None,
    progress: bool = True,
    on_step: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train LogBERT on the normal sessions of ``data`` and save an artifact in ``out_dir``.

    Whole sessions are split before windowing: train and validation hold normal sessions only,
    and ``config.train.test_fraction`` of the normal sessions plus every labelled anomalous one
    are held back (their ids are saved in ``split.json`` so that evaluating on the same data
    never scores a training session). The parser is mined on training lines only (cross-fit
    calibration: on the training and validation lines, which the final model then trains on).

    Args:
        data: a raw log (format from ``config.parser``) or a key-sequence file.
        out_dir: artifact directory (created).
        config: settings; default ``LogBertConfig()``.
        labels: optional labels (a labels file, a mapping of session id to 1/0, or the anomalous ids); without
            them every session counts as normal.
        resume: continue an interrupted run from ``out_dir/checkpoint``.
        overwrite: replace a finished artifact in ``out_dir`` (otherwise that is an error).
        kind: ``"raw"`` or ``"keys"``; None sniffs the file (see :func:`~logbert.pipeline.corpus.input_kind`).
        progress: show progress bars.
        on_step: called with a one-line description as each stage starts.

    Raises:
        InputDataError: unusable input, or too few normal sessions to train and validate; ``out_dir``
            holds a finished artifact (without ``overwrite``), or nothing to resume (with ``resume``).
    """
    say = on_step or (lambda _msg: None)
    config = as_config(config)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputDataError(f"{out} is a file; the artifact is a folder: choose another path for -o")
    finished = (out / META_FILE).is_file()
    if resume and finished and not (out / CHECKPOINT_DIR).is_dir():
        raise InputDataError(f"{out} holds a finished artifact: there is nothing to resume")
    if finished and not (resume or overwrite):
        raise InputDataError(f"{out} already holds a trained artifact; choose another folder or replace it (--force)")
    if resume and not (out / CHECKPOINT_DIR).is_dir():  # said, not silent: a user may have named the wrong folder
        say(f"resume: {out} holds no checkpoint to go on from; training from the start")
    checkpoint_dir = out / CHECKPOINT_DIR
    if checkpoint_dir.exists() and not is_checkpoint_dir(checkpoint_dir):  # it is removed once the artifact is saved
        raise InputDataError(
            f"{checkpoint_dir} holds files logbert did not write; training would delete it: move it away, or "
            "choose another folder for -o"
        )
    writable_dir(out, "-o")  # now, not after the first epoch
    say(f"reading {data}")
    corpus = read_corpus(data, config, labels=labels, kind=kind)
    # what reading found (most lines in no session, a header format that looks wrong, latin-1 lines): said now, and
    # with the other warnings at the end. Said only then, it came after six cross-fit trainings (44 s) on the quarter
    # of a log that its session pattern read, where the user would have stopped to fix the pattern
    for warning in corpus.report.warnings:
        say(warning)
    if corpus.kind == "raw":
        say(f"splitting {config.window.unit_noun}, then mining templates on the training lines only")
    split = split_and_key(corpus, config, what=str(data))
    scheme = resolve_calibration(config.scoring, len(split.train) + len(split.val), len(split.val))
    if scheme == "cross_fit" and corpus.kind == "raw":
        say("cross-fit calibration: mining templates on the training and validation lines")
        split = rekey_normal_sessions(corpus, split, config)
    signal_warnings: list[str] = []
    merged = merged_state_words_warning(corpus, split.train, split.parser)
    if merged:  # said now too: a user may rather stop, set the words and train again
        say(merged)
        signal_warnings.append(merged)
    schema: SlotSchema | None = None
    parser_state = split.parser.to_dict() if split.parser is not None else None
    if config.model.signals != "off":
        if split.parser is not None and (
            joined := joined_numbers_hint(split.parser.templates_, split.parser.settings_.extra_delimiters)
        ):  # the values this model is trained to read, lost in one token
            say(joined)
            signal_warnings.append(joined)
        split, config, schema, why = with_signals(corpus, split, config, pool_val=scheme == "cross_fit")
        if why:
            say(why)
            signal_warnings.append(why)
        if schema is not None and parser_state is not None:
            parser_state = attach_schema(parser_state, schema)  # explanations read units and contexts from it
    val_abnormal_ids = labelled_val_anomalies(split.test, config.scoring, config.train)
    val_abnormal = [s for s in split.test if s.session_id in val_abnormal_ids]

    # Every epoch is checkpointed so an interrupted run can go on with resume=True; a fresh run
    # starts from scratch, and the checkpoints go once the artifact is complete.
    main = is_main_process()  # torchrun: every rank trains, rank 0 alone writes
    if not resume and checkpoint_dir.exists():
        # torchrun: every rank clears it before it could load a stale one (rank 0 writes a new one only once all
        # ranks train); they race to remove the same files, so a file already gone is no error there
        shutil.rmtree(checkpoint_dir, ignore_errors=env_world_size() > 1)
    started = time.perf_counter()
    durations = duration_slots_of(schema) if config.model.signals != "off" and schema is not None else ()
    fitted = fit_sessions(
        split.train,
        split.val,
        config,
        scheme=scheme,
        abnormal_val=val_abnormal,
        checkpoint_dir=checkpoint_dir,
        progress=progress,
        say=say,
        what=str(data),
        duration_slots=durations,
    )
    train_seconds = time.perf_counter() - started
    detector, record, skipped = fitted.detector, fitted.record, fitted.skipped
    record = replace(record, unit=config.window.unit_noun)  # its words name what was scored
    message = getattr(detector, "signal_message_", None)  # what fit switched off for want of data
    if message:
        signal_warnings.append(message)
    normal_val = {s.session_id for s in split.val}
    detector.capture_edge_ = capture_edge(corpus, [*split.train, *split.val], config)
    split_record = {
        "data": Path(data).name,
        "kind": corpus.kind,
        "chronological": split.chronological,
        "train": sorted({s.session_id for s in split.train}),
        "val": sorted(normal_val | val_abnormal_ids),
        # session id -> session_mark: which session of that id it was (evaluate reads it)
        "marks": {s.session_id: session_mark(s) for s in (*split.train, *split.val, *val_abnormal)},
        "threshold": config.scoring.threshold,
        # cross_fit: the final model trained on "val" too; each of those sessions was scored out of fold
        "calibration": scheme,
    }
    n_train, n_val = len({s.session_id for s in split.train}), len(normal_val)
    result = TrainResult(
        artifact_dir=out,
        threshold=float(detector.threshold_),
        n_train_sessions=n_train + n_val if scheme == "cross_fit" else n_train,
        n_val_sessions=n_train + n_val if scheme == "cross_fit" else n_val,
        n_test_sessions=len({s.session_id for s in split.test} - val_abnormal_ids),
        n_train_windows=fitted.n_train_windows,
        n_val_windows=fitted.n_val_windows,
        n_templates=split.n_templates if split.parser is not None else _n_key_templates(detector.vocab_),
        epochs_run=len(detector.history_),
        train_seconds=train_seconds,
        read_report=corpus.report,
        skipped=skipped,
        threshold_basis=record.describe(),
        calibration=scheme,
        n_calibration=record.n,
        n_unseen=record.n_unseen,
        all_unseen=fitted.all_unseen,
        above_threshold=fitted.above_threshold,
        at_threshold=fitted.at_threshold,
        trimmed=fitted.trimmed,
    )
    n_keys = len(detector.vocab_) - detector.vocab_.N_SPECIAL
    result.warnings.extend(_warnings(result, detector.config, n_keys))
    result.warnings.extend(signal_warnings)
    result.warnings.extend(blind_channel_warnings(detector))
    slow_precision = precision_warning(detector.config.train)
    result.warnings.extend([slow_precision] if slow_precision else [])
    _, score_note = score_for_vocabulary(config, n_keys)  # what fit_sessions chose, said again at the end
    if score_note is not None and detector.config.scoring.score != config.scoring.score:
        result.notes.append(score_note)
    result.notes.extend(signal_notes(corpus, config))
    gap_note = session_gap_note(corpus, config)
    if gap_note is not None:
        result.notes.append(gap_note)
    if (volume := volume_note(detector)) is not None:
        result.notes.append(volume)
    extremes = calibration_extremes_note(result, detector.config, labelled=labels is not None)
    if extremes is not None:
        result.notes.append(extremes)
    report = to_jsonable(
        {
            "threshold": result.threshold,
            "threshold_basis": result.threshold_basis,
            "calibration": result.calibration,
            "n_calibration_sessions": result.n_calibration,
            "n_unseen_calibration_sessions": result.n_unseen,
            "n_train_sessions": result.n_train_sessions,
            "n_val_sessions": result.n_val_sessions,
            "n_test_sessions": result.n_test_sessions,
            "n_train_windows": result.n_train_windows,
            "n_val_windows": result.n_val_windows,
            "n_templates": result.n_templates,
            "epochs_run": result.epochs_run,
            "train_seconds": round(train_seconds, 2),
            "n_skipped_windows": len(skipped),
            # the calibration sessions the threshold leaves above it, most anomalous first (at most REPORTED)
            "n_calibration_above_threshold": len(result.above_threshold),
            "calibration_above_threshold": [
                {"session": sid, "score": score} for sid, score in result.above_threshold[:REPORTED_ABOVE]
            ],
            "n_calibration_at_threshold": len(result.at_threshold),
            "n_left_out_of_final_model": result.trimmed,
            "calibration_at_threshold": [
                {"session": sid, "score": score} for sid, score in result.at_threshold[:REPORTED_ABOVE]
            ],
            "warnings": result.warnings,
            "notes": result.notes,
            "read_report": corpus.report.as_dict(),
            "history": [asdict(h) for h in detector.history_],
        }
    )
    if main:
        # every file at once (logbert.artifact: all or nothing), then the checkpoints, which are no longer needed
        detector.save(
            out,
            parser_state=parser_state,
            records={CALIBRATION_FILE: to_jsonable(record.to_dict()), SPLIT_FILE: to_jsonable(split_record)},
            reports={TRAIN_REPORT_FILE: report},
        )
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return result


def interrupted_note(data: str | Path, out_dir: str | Path, command: str | None = None) -> str:
    """What to say of a training run into ``out_dir`` that was interrupted (Ctrl-C): whether ``--resume`` has a
    checkpoint to go on from (each finished epoch leaves one; a cross-fit run one per model). Before, the run
    ended with exit code 130 and not a word. ``command``: the command as it was typed (its ``--preset`` and
    ``--set`` options, which a note built from the paths alone dropped: pasted, it trained with the defaults)."""
    checkpoint_dir = Path(out_dir) / CHECKPOINT_DIR
    again = command or f"logbert train {data} -o {out_dir} [your settings]"
    if checkpoint_dir.is_dir() and any(checkpoint_dir.rglob("state.json")):
        return (
            f"training interrupted; {checkpoint_dir} holds the last finished epoch: `{again} --resume` with the same "
            "settings continues from it"
        )
    return (
        f"training interrupted before its first epoch finished: no checkpoint to resume from (`{again}` starts "
        "over)"
    )


#: train_report.json lists at most this many calibration sessions above the threshold; the note names fewer
REPORTED_ABOVE = 1000
NAMED_ABOVE = 5


#: A group of calibration sessions tied with the threshold is named when it is at least 2 and at most this share
#: of them: one kind of session that the threshold just leaves unflagged. A larger group is what the log mostly is
#: (a miss ratio of 0 on a very regular log), nothing to look at.
TIED_SHARE = 0.05


def calibration_extremes_note(result: TrainResult, config: LogBertConfig, labelled: bool = False) -> str | None:
    """The calibration sessions above the threshold (or a small group tied with it), and what to do when they are
    failures, or (``labelled``: the labels call them normal) a rare kind of normal session; None when there are
    none.

    Without labels every session of the training data counts as normal, failures included: the model learns them,
    and the threshold, a high quantile of the calibration scores, lies above them or on them (one kind of failure
    scores alike, so they tie). These sessions are where a user finds out (docs/benchmarks.md, "Training data with
    failures in it")."""
    scoring, unit = config.scoring, config.window.unit_noun
    above, at = result.above_threshold, result.at_threshold
    tied = 2 <= len(at) <= max(2, TIED_SHARE * result.n_calibration)
    if not above and not tied:
        return None

    def named(hits: list[tuple[str, float]]) -> str:
        more = f" and {len(hits) - NAMED_ABOVE} more" if len(hits) > NAMED_ABOVE else ""
        return ", ".join(f"{sid} ({score:.4g})" for sid, score in hits[:NAMED_ABOVE]) + more

    parts = []
    if above:
        parts.append(f"{len(above)} of the {result.n_calibration} calibration {unit} score above the threshold: "
                     f"{named(above)}")
    if tied:
        whose = "" if above else f" of the {result.n_calibration} calibration {unit}"
        parts.append(f"{len(at)}{whose} score the threshold itself and are not flagged (a score several {unit} "
                     f"share is one kind of {unit.removesuffix('s')}): {named(at)}")
    head = "; ".join(parts) + f" (all in {TRAIN_REPORT_FILE})"
    if scoring.contamination > 0:
        left = f"; the final model trained without the {result.trimmed} above it" if result.trimmed else ""
        return (
            f"{head}. Above it: the scoring.contamination share ({scoring.contamination:g}) taken to be anomalous"
            f"{left}"
        )
    # a kind of normal session logged rarely (a long request body at DEBUG in 2 % of requests) is learnt too little
    # and scores high; drawn more often in training it is not (docs/benchmarks.md, "Rare normal patterns drawn more
    # often"): on a new user's Spring pods the threshold fell from 7.24 to 2.61 and recall rose from 0.32 to 0.76
    power = config.train.pattern_power
    rare = (
        f"--set train.pattern_power=0.5 draws the rows of rare kinds of {unit} more often in training" if power >= 1
        else f"train.pattern_power is {power:g} already (0 draws every kind of {unit.removesuffix('s')} equally often)"
    )
    if labelled:
        return (
            f"{head}. The labels call them normal: most likely a kind of {unit.removesuffix('s')} rare in the "
            f"training data, which the model learnt too little and which now sets the threshold; {rare}"
        )
    return (
        f"{head}. The quantile leaves about {1 - scoring.quantile:.1%} of normal ones above it; if these are "
        f"failures, the training data is not all normal and {unit} like them will not be flagged: give --labels, "
        f"or set scoring.contamination to the share of failures it holds; if they are a rare kind of normal ones, "
        f"{rare}"
    )


def capture_edge(corpus: Corpus, sessions: Sequence[KeySequence], config: LogBertConfig) -> CaptureEdge | None:
    """What tells a session in flight at the capture start apart (:mod:`logbert.scoring.capture`), from the
    normal sessions the model trained (and validated) on: their first keys and the times of their lines.
    None (the rule stays off) for key-sequence files, windows that are not sessions, or lines without time."""
    if corpus.kind != "raw" or config.window.mode != "session":
        return None
    rows = line_rows(corpus)
    lines = corpus.lines
    return CaptureEdge.fit(
        ((s.key_ids, [lines[r].timestamp for r in rows.get(s.session_id, ())]) for s in sessions if s.label != 1),
        capture_start=corpus.report.first_time,  # read_corpus's, as score's
    )


def with_signals(
    corpus: Corpus, split: KeyedSplit, config: LogBertConfig, *, pool_val: bool
) -> tuple[KeyedSplit, LogBertConfig, SlotSchema | None, str | None]:
    """``split`` with every session's time and values attached (``KeySequence.signals``), for a time- or
    value-aware model (``model.signals``); the slot schema is typed from the training lines only (and
    the validation lines when ``pool_val``: cross-fit trains the final model on them).

    A key-sequence file has neither: ``model.signals`` is switched off, and the returned message says so.
    """
    if corpus.kind != "raw" or split.parser is None:
        why = (
            f"model.signals={config.model.signals!r}, but a key-sequence file has no timestamps and no parameter "
            "values: the extra inputs are switched off (model.signals='off', the key-only LogBERT)"
        )
        off = config.model.model_copy(update={"signals": "off"})
        return split, config.model_copy(update={"model": off}), None, why
    rows = line_rows(corpus)
    fit_on = [*split.train, *(split.val if pool_val else [])]
    schema = fit_slot_schema(corpus, [rows[s.session_id] for s in fit_on], split.parser)

    def attach(seqs: Sequence[KeySequence]) -> list[KeySequence]:
        sigs = corpus_signals(corpus, seqs, rows, split.parser, schema)
        return [replace(s, signals=g) for s, g in zip(seqs, sigs, strict=True)]

    keyed = KeyedSplit(
        attach(split.train),
        attach(split.val),
        attach(split.test),
        split.chronological,
        split.parser,
        split.n_test_unknown,
    )
    return keyed, config, schema, None


def rekey_normal_sessions(corpus: Corpus, split: KeyedSplit, config: LogBertConfig) -> KeyedSplit:
    """``split`` keyed by a parser mined on the training *and* validation lines (cross-fit calibration).

    Cross-fit trains the final model on the validation sessions too, so their templates must be in
    its parser; fold models share that parser and vocabulary. The test sessions never reach the miner.
    Key-sequence input (no parser) is returned unchanged.
    """
    if corpus.kind != "raw":
        n_unseen = n_unseen_test_keys(split.test, [*split.train, *split.val])
        return replace(split, n_test_unknown=n_unseen)
    by_id = {s.session_id: s for s in corpus.line_sessions}
    parts = [[by_id[s.session_id] for s in part] for part in (split.train, split.val, split.test)]
    rows = sorted({i for part in parts[:2] for s in part for i in s.rows})
    parser = template_parser(config).fit(corpus.lines[i].content for i in rows)
    (train, val, test), _ = key_sessions(corpus, parts, parser)
    return KeyedSplit(train, val, test, split.chronological, parser, n_unseen_test_keys(test, [*train, *val]))


def fit_sessions(
    train: Sequence[KeySequence],
    val: Sequence[KeySequence],
    config: LogBertConfig,
    *,
    scheme: Scheme | None = None,
    abnormal_val: Sequence[KeySequence] = (),
    checkpoint_dir: Path | None = None,
    progress: bool = False,
    say: Callable[[str], None] = lambda _msg: None,
    what: str = "input",
    duration_slots: Sequence[tuple[int, int]] = (),
) -> FittedSessions:
    """Fit LogBERT on normal sessions and set its threshold from normal scores it never trained on.

    ``scheme="split"``: the model trains on ``train``'s windows (early stopping on ``val``'s) and
    the threshold comes from the ``val`` sessions' scores. ``"cross_fit"``: the ``train`` and ``val``
    sessions are pooled and cut into ``scoring.calibration_folds`` seeded folds; each fold model
    (same vocabulary as the final model) trains on the other folds and scores its own, and the
    final model trains on the whole pool (fold and final models early-stop on their own training
    windows: nothing is held out of them). Either way a normal session with a key its scoring model
    never trained on is left out of the threshold and counted (``record.n_unseen``). None resolves
    ``scoring.calibration`` (``"auto"``) for these sessions.

    Args:
        abnormal_val: labelled anomalous validation sessions (``labelled_f1``; split only).
        checkpoint_dir: per-epoch checkpoints for resuming (cross-fit: one folder per model).
        duration_slots: time- and value-aware models: the number slots in seconds (:func:`duration_slots_of`).

    Raises:
        InputDataError: no window at least ``window.min_len`` keys long to train or calibrate on;
            fewer normal sessions than folds.
    """
    scoring = config.scoring
    if scheme is None:
        scheme = resolve_calibration(scoring, len(train) + len(val), len(val))
    # the score the keys allow, chosen on the vocabulary the model trains with (every fold model shares it)
    config, note = score_for_vocabulary(config, n_model_keys(train if scheme == "split" else [*train, *val], config))
    if note is not None:
        say(note)
    scoring = config.scoring
    if scheme == "split":
        return _fit_split(train, val, config, abnormal_val, checkpoint_dir, progress, say, what, duration_slots)
    if abnormal_val:
        raise InputDataError("cross-fit calibration scores normal sessions only: labelled_f1 needs calibration='split'")
    pool = [*train, *val]
    windows, skipped = session_windows(pool, config.window)
    if not windows:
        raise InputDataError(f"{what}: no normal window is at least window.min_len keys long")
    vocab = Vocab.fit([w.key_ids for w in windows])  # the final model's: every fold model shares it
    k = scoring.calibration_folds
    folds = fold_ids(len(pool), k, config.train.seed)
    oof = np.full(len(pool), -np.inf)
    oof_channels = np.full((len(pool), 3), -np.inf)  # time- and value-aware models: per channel
    oof_misses = np.zeros(len(pool), dtype=np.int64)  # key-only miss-ratio models: misses and window lengths
    lengths: list[tuple[int, ...]] = [() for _ in pool]
    unseen = np.zeros(len(pool), dtype=np.bool_)
    folds_read_signals = False
    units = config.window.unit_noun  # sessions, or the sliding / time windows that stand for them
    say(
        f"threshold: cross-fitting over {len(pool)} normal {units}, {k} fold models and the final "
        f"one (about {k + 1}x one training; --set scoring.calibration=split trains once, with a looser threshold)"
    )
    for j in range(k):
        held = np.flatnonzero(folds == j)
        rest_windows, _ = session_windows([pool[i] for i in np.flatnonzero(folds != j)], config.window)
        if not rest_windows:
            continue  # nothing to train this fold on: its sessions stay unscored (-inf, left out)
        say(f"cross-fit {j + 1}/{k}: training on {len(pool) - held.size} {units}, scoring the {held.size} held out")
        fold_model = LogBertDetector(config).fit(
            [w.key_ids for w in rest_windows],
            None,
            vocab=vocab,
            checkpoint_dir=None if checkpoint_dir is None else checkpoint_dir / f"fold{j + 1}",
            progress=progress,
            signals=_window_signals(rest_windows, config),
            duration_slots=duration_slots,
            offsets=[w.unit_offset for w in rest_windows],
        )
        held_sessions = [pool[i] for i in held]
        if reads_signals(fold_model):
            folds_read_signals = True
            oof_channels[held] = session_channels(fold_model, held_sessions, config.window)
        else:
            oof[held], held_misses = session_misses_of(fold_model, held_sessions, config.window)
            if held_misses is not None:
                oof_misses[held] = held_misses[0]
                for i, n in zip(held, held_misses[1], strict=True):
                    lengths[i] = n
        unseen[held] = unseen_key_sessions(held_sessions, {key for w in rest_windows for key in w.key_ids})
        unseen[held] |= unseen_category_sessions(held_sessions, fold_model.buckets_)
    final_windows, trimmed = windows, 0
    if scoring.contaminated:  # what scoring.contamination takes to be anomalous ...
        channels = oof_channels if folds_read_signals else None
        provisional, _ = _calibration_scores(scoring, oof, channels, unseen, scale_floors(config))
        record, all_unseen = _threshold(scoring, provisional, unseen, "cross_fit", what)
        anomalous = exceeds(provisional, record.threshold) & (all_unseen | ~unseen)
        trimmed = int(anomalous.sum())
        if trimmed:  # ... the final model does not learn as normal
            kept = [session for session, out in zip(pool, anomalous, strict=True) if not out]
            final_windows, _ = session_windows(kept, config.window)
            say(f"the final model leaves out the {trimmed} {units} above the out-of-fold threshold (contamination)")
    how_many = f"{len(pool) - trimmed} of the {len(pool)}" if trimmed else f"all {len(pool)}"
    say(f"training the final model on {how_many} normal {units} ({len(final_windows)} model inputs)")
    detector = LogBertDetector(config).fit(
        [w.key_ids for w in final_windows],
        None,
        vocab=vocab,
        checkpoint_dir=None if checkpoint_dir is None else checkpoint_dir / "final",
        progress=progress,
        signals=_window_signals(final_windows, config),
        duration_slots=duration_slots,
        offsets=[w.unit_offset for w in final_windows],
    )
    if scoring.calibrate_with_final:  # what new sessions of a calibration session's kind will get (see the setting)
        if reads_signals(detector):
            oof_channels = with_final_scores(oof_channels, session_channels(detector, pool, config.window))
        else:
            final_scores, final_misses = session_misses_of(detector, pool, config.window)
            if final_misses is not None:  # the misses of the model whose score the session keeps
                oof_misses = np.where(np.isfinite(oof) & (final_scores > oof), final_misses[0], oof_misses)
            oof = with_final_scores(oof, final_scores)
    floors = scale_floors(detector.config)
    if reads_signals(detector):
        # the channel scales from the out-of-fold scores too, then the threshold on their combination
        oof, scales = _calibration_scores(scoring, oof, oof_channels, unseen, floors)
        detector.scales_ = scales
    misses = (oof_misses, lengths) if counts_misses(detector) else None
    record, all_unseen = _threshold(scoring, oof, unseen, "cross_fit", what, misses)
    if reads_signals(detector):
        record = _with_loo_rate(record, scoring, oof_channels, unseen, all_unseen, floors)
    detector.threshold_ = record.threshold
    above, at = calibration_extremes(
        pool, oof, record.threshold, left_out=None if all_unseen else unseen,
        scale_owners=channel_scale_owners(oof_channels, detector.scales_) if reads_signals(detector) else None,
    )
    return FittedSessions(detector, record, len(final_windows), 0, skipped, all_unseen, above, at, trimmed)


def n_model_keys(sessions: Sequence[KeySequence], config: LogBertConfig) -> int:
    """How many keys a model trained on ``sessions``' windows predicts among (its vocabulary without the special
    tokens; the session bounds count)."""
    windows, _ = session_windows(sessions, config.window)
    return len(Vocab.fit([w.key_ids for w in windows])) - Vocab.N_SPECIAL


#: A model predicting among at most this many times ``scoring.top_g`` keys is scored by
#: ``scoring.score_for_few_keys`` (:func:`score_for_vocabulary`)
FEW_KEYS_PER_TOP_G = 2


def score_for_vocabulary(config: LogBertConfig, n_keys: int) -> tuple[LogBertConfig, str | None]:
    """``config`` with the score a model predicting among ``n_keys`` keys can use, and a note when it changed:
    the one place where the miss ratio gives way.

    Windows of a stream (``window.mode`` "sliding" or "time") are scored by ``scoring.score_for_windows``
    (``max_nll``, unless it is None or the miss ratio). Several programs write into one such window at once, so
    the order of its keys is mostly noise the miss ratio counts, and the lines of a template never seen in training
    are a few keys among many: on a generated syslog (two seeds, 500 and 4,000 training lines, sliding windows of 20
    and time windows of 30 s; ``benchmarks.interleaved``) the miss ratio found 13 of 48 injected bursts with 5 false
    alarms in about 1,650 normal windows, ``max_nll`` 25 with 8 (the stated rate, about 0.5 %), ``max_mean_nll`` 26
    with 4; on BGL 2k (docs/benchmarks.md, "Windows of an interleaved stream") the miss ratio's F1 was 0.341-0.455 on
    three seeds, either surprise score's 0.857 on each. ``max_nll``, because a time window of one line (a quiet
    spell, a line out of order) scores its key's surprise once: ``max_mean_nll`` counts it twice, and flagged 45 of
    200 such windows of a sparse syslog, ``max_nll`` none. Sessions keep the miss ratio.

    Otherwise:

    The miss ratio counts the keys outside the model's top-g predictions. Among at most ``top_g`` keys every
    known key is always in the top-g, so it could flag only templates never seen in training (what the
    new_event baseline does) and its threshold is 0. A few keys more leave it nearly as blind: at most
    ``n_keys - top_g`` keys are ever outside the top-g, so a rare known line is a miss only when it is among the
    very last. Such a model (at most :data:`FEW_KEYS_PER_TOP_G` x ``top_g`` keys) is scored by
    ``scoring.score_for_few_keys`` (``max_mean_nll``: how surprising each key is), unless that is None.
    Measured on generated logs of a few templates each (``benchmarks.few_templates``; docs/benchmarks.md, "Logs
    of a few templates"): the same decisions where the anomalies bring new templates, F1 0.65-0.73 instead of 0
    where they repeat or skip known lines; and a CI runner's log trained on without labels, its failures among
    the training jobs (7 keys, top-g 6: "Training data with failures in it"), AUROC 0.500 with the miss ratio,
    0.991 with ``max_mean_nll``. Every log of ``../shared`` scored by the miss ratio has 19 keys or more.

    >>> cfg, note = score_for_vocabulary(LogBertConfig(), 12)
    >>> cfg.scoring.score, note is not None, score_for_vocabulary(LogBertConfig(), 13)[0].scoring.score
    ('max_mean_nll', True, 'miss_ratio')
    """
    scoring = config.scoring
    if scoring.score != "miss_ratio":
        return config, None
    for_windows = config.window_score
    if for_windows is not None:
        note = (
            f"{config.window.unit_noun} are scored by {for_windows}, not the miss ratio: the order of an interleaved "
            "stream's lines is mostly noise, and a few lines never seen in training add little to a ratio "
            "(scoring.score_for_windows; \"miss_ratio\" or null keeps the miss ratio)"
        )
        return config.model_copy(update={"scoring": scoring.model_copy(update={"score": for_windows})}), note
    chosen = scoring.score_for_few_keys
    few = n_keys <= FEW_KEYS_PER_TOP_G * scoring.top_g
    if not few or chosen is None or chosen == "miss_ratio":
        return config, None
    note = (
        f"the model predicts among {n_keys} keys, at most {FEW_KEYS_PER_TOP_G} x scoring.top_g ({scoring.top_g}): "
        f"the miss ratio would flag little but templates never seen in training, so sessions are scored by {chosen} "
        "instead (scoring.score_for_few_keys; \"miss_ratio\" or null keeps the miss ratio)"
    )
    return config.model_copy(update={"scoring": scoring.model_copy(update={"score": chosen})}), note


def duration_slots_of(schema: SlotSchema) -> list[tuple[int, int]]:
    """(key_id, slot) of the number slots measured in seconds: durations, one-sided like time."""
    return [
        (k, i)
        for k, types in sorted(schema.slots.items())
        for i, t in enumerate(types)
        if t.kind == "number" and t.unit == "s"
    ]


def _window_signals(windows: Sequence[KeySequence], config: LogBertConfig) -> list[SessionSignals | None] | None:
    """The windows' signals for a time- or value-aware model (None for a key-only one: nothing to carry)."""
    return [w.signals for w in windows] if config.model.signals != "off" else None


class FitScorer(Protocol):
    """A detector the benchmark can fit on key sequences and score (the baselines, LogBERT's bench wrapper)."""

    def fit(self, train: Sequence[Sequence[int]], val: Sequence[Sequence[int]]) -> Any: ...

    def decision_function(self, seqs: Sequence[Sequence[int]]) -> npt.ArrayLike: ...


def calibrate_detector(
    build: Callable[[], FitScorer],
    train: Sequence[KeySequence],
    val: Sequence[KeySequence],
    config: LogBertConfig,
    *,
    scheme: Scheme,
    unit: Unit = "session",
    what: str = "input",
) -> tuple[FitScorer, Calibration]:
    """Any detector fitted on normal sessions, its threshold chosen by the rule of :func:`fit_sessions`.

    The same machinery as LogBERT's (``logbert train``), for the baselines of ``evaluate`` and the
    benchmarks: ``"split"`` fits on ``train`` and takes the threshold from the ``val`` session scores;
    ``"cross_fit"`` pools them, fits ``scoring.calibration_folds`` fold detectors that each score the
    sessions they did not see, then the returned detector on the whole pool. Either way a session with
    a key its scoring detector never saw is left out of the quantile and counted. ``build`` makes a new,
    unfitted detector; ``unit`` is what it reads (whole sessions or LogBERT's windows).

    Raises:
        InputDataError: no normal session could be scored; fewer normal sessions than folds.
    """

    def keys(sessions: Sequence[KeySequence]) -> list[list[int]]:
        units = list(sessions) if unit == "session" else session_windows(sessions, config.window)[0]
        return [list(u.key_ids) for u in units]

    scoring = config.scoring
    if scheme == "split":
        train_keys, val_keys = keys(train), keys(val)
        detector = build()
        detector.fit(train_keys, val_keys)
        scores = session_scores(detector, val, config.window, unit)
        unseen = unseen_key_sessions(val, {k for seq in train_keys for k in seq})
        record, _ = _threshold(scoring, scores, unseen, "split", what)
        return detector, record
    pool = [*train, *val]
    folds = fold_ids(len(pool), scoring.calibration_folds, config.train.seed)
    oof = np.full(len(pool), -np.inf)
    unseen = np.zeros(len(pool), dtype=np.bool_)
    for j in range(scoring.calibration_folds):
        held = np.flatnonzero(folds == j)
        rest = keys([pool[i] for i in np.flatnonzero(folds != j)])
        if not rest:
            continue
        fold_detector = build()
        fold_detector.fit(rest, rest)
        held_sessions = [pool[i] for i in held]
        oof[held] = session_scores(fold_detector, held_sessions, config.window, unit)
        unseen[held] = unseen_key_sessions(held_sessions, {k for seq in rest for k in seq})
    all_keys = keys(pool)
    detector = build()
    detector.fit(all_keys, all_keys)
    if scoring.calibrate_with_final:
        oof = with_final_scores(oof, session_scores(detector, pool, config.window, unit))
    record, _ = _threshold(scoring, oof, unseen, "cross_fit", what)
    return detector, record


def with_final_scores(oof: np.ndarray, final: np.ndarray) -> np.ndarray:
    """Cross-fit calibration scores (``scoring.calibrate_with_final``): per session (and channel, for (N, 3)
    channel scores) the larger of its out-of-fold score and the final model's score of it; a session its fold
    left unscored (``-inf``) stays so.

    Why: new sessions are scored by the final model, not by the fold models. A normal pattern that many training
    sessions share is scored alike by every fold model that saw the others, but the final model, trained on more
    steps, may score it a little higher, and then every new session of that pattern is flagged. A higher score
    only raises the threshold, so what the quantile promises about false alarms still holds.

    >>> with_final_scores(np.array([1.0, 2.0, -np.inf]), np.array([1.5, 1.0, 3.0])).tolist()
    [1.5, 2.0, -inf]
    """
    return np.where(np.isfinite(oof), np.fmax(oof, final), oof)  # fmax: a NaN final score changes nothing


def _fit_split(
    train: Sequence[KeySequence],
    val: Sequence[KeySequence],
    config: LogBertConfig,
    abnormal_val: Sequence[KeySequence],
    checkpoint_dir: Path | None,
    progress: bool,
    say: Callable[[str], None],
    what: str,
    duration_slots: Sequence[tuple[int, int]] = (),
) -> FittedSessions:
    train_windows, skipped = session_windows(train, config.window)
    val_windows, skipped_val = session_windows(val, config.window)
    if not train_windows or not val_windows:
        raise InputDataError(f"{what}: no training or validation window is at least window.min_len keys long")
    say(f"training LogBERT on {len(train_windows)} windows, validating on {len(val_windows)}")
    detector = LogBertDetector(config).fit(
        [w.key_ids for w in train_windows],
        [w.key_ids for w in val_windows],
        checkpoint_dir=checkpoint_dir,
        progress=progress,
        signals=_window_signals(train_windows, config),
        val_signals=_window_signals(val_windows, config),
        duration_slots=duration_slots,
        offsets=[w.unit_offset for w in train_windows],
        val_offsets=[w.unit_offset for w in val_windows],
    )
    how = f"{len(val)} normal" + (f" + {len(abnormal_val)} anomalous" if abnormal_val else "")
    say(f"threshold from the scores of {how} validation {config.window.unit_noun}")
    # sessions with a key or a category the model never trained on: their score says "new", not how normal
    unseen = unseen_key_sessions(val, {key for w in train_windows for key in w.key_ids})  # the vocabulary's keys
    unseen |= unseen_category_sessions(val, detector.buckets_)
    val_channels = None
    floors = scale_floors(detector.config)
    if reads_signals(detector):  # the channel scales from the validation sessions, as the threshold
        val_channels = session_channels(detector, val, config.window)
        detector.scales_ = _scales(config.scoring, val_channels, unseen, floors)
    normal_scores, misses = session_misses_of(detector, val, config.window)
    if abnormal_val:
        abnormal_scores = session_scores(detector, abnormal_val, config.window)
        detector.threshold_ = choose_threshold(config.scoring, normal_scores, abnormal_scores)
        record = calibration(config.scoring, detector.threshold_, normal_scores)
        return FittedSessions(detector, record, len(train_windows), len(val_windows), skipped + skipped_val)
    record, all_unseen = _threshold(config.scoring, normal_scores, unseen, "split", what, misses)
    if val_channels is not None:
        record = _with_loo_rate(record, config.scoring, val_channels, unseen, all_unseen, floors)
    detector.threshold_ = record.threshold
    above, at = calibration_extremes(
        val, normal_scores, record.threshold, left_out=None if all_unseen else unseen,
        scale_owners=None if val_channels is None else channel_scale_owners(val_channels, detector.scales_),
    )
    return FittedSessions(
        detector, record, len(train_windows), len(val_windows), skipped + skipped_val, all_unseen, above, at
    )


def calibration_extremes(
    sessions: Sequence[KeySequence],
    scores: npt.ArrayLike,
    threshold: float,
    left_out: np.ndarray | None = None,
    scale_owners: np.ndarray | None = None,
) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """(session id, score) of the calibration sessions that score above ``threshold`` by the decision rule
    (:func:`~logbert.results.exceeds`), the highest first; and of those that tie with it (within its band, so not
    flagged). Unscored sessions (``-inf``) are neither, nor those ``left_out`` of the threshold (an unseen key: they
    have a warning of their own, :func:`_warnings`). Nor is a session of ``scale_owners``
    (:func:`channel_scale_owners`) said to tie: its score is the threshold by construction, and the note on ties
    (:func:`calibration_extremes_note`) would read it as a score several sessions share."""
    above: list[tuple[str, float]] = []
    at: list[tuple[str, float]] = []
    skip = np.zeros(len(sessions), dtype=np.bool_) if left_out is None else left_out
    owner = np.zeros(len(sessions), dtype=np.bool_) if scale_owners is None else scale_owners
    for session, value, out, owns in zip(sessions, np.asarray(scores, dtype=np.float64), skip, owner, strict=True):
        if out:
            continue
        if exceeds(float(value), threshold):
            above.append((session.session_id, float(value)))
        elif abs(float(value) - threshold) <= tie_band(threshold) and not owns:
            at.append((session.session_id, float(value)))
    return sorted(above, key=lambda hit: -hit[1]), at


def channel_scale_owners(channels: np.ndarray, scales: Sequence[float] | None) -> np.ndarray:
    """(N,) of a time- or value-aware model's calibration sessions (``channels``: their (N, 3) channel scores): whether
    the session sits at some channel's scale, and alone at each channel's scale it sits at.

    Why: each channel's scale is a quantile of these very scores (:func:`~logbert.pipeline.estimator.channel_scales`),
    with fewer than 199 of them their largest, so the session it was taken from scores exactly 1.0 in that channel;
    and the threshold, the same quantile of the combined scores, is then 1.0 as well. Each channel's top session
    scored the threshold itself by construction, one to three of them, and train said "2 of the 30 calibration
    sessions score the threshold itself ... (a score several sessions share is one kind of session) ... if these are
    failures, the training data is not all normal" of a clean log. Sessions that share a channel's scale do share a
    score (one kind of session, scored alike, set it), as a key-only model's sessions tied at its threshold do: they
    are no owners, even where one of them also sets another channel's scale alone."""
    if scales is None:
        return np.zeros(len(channels), dtype=np.bool_)
    with np.errstate(invalid="ignore"):  # -inf (unscored) / a scale is -inf: never at the scale
        scaled = channels / np.asarray(scales, dtype=np.float64)[None, :]
    at_scale = np.abs(scaled - 1.0) <= tie_band(1.0)
    shared = at_scale.sum(axis=0) > 1  # per channel: several sessions at its scale
    owners: np.ndarray = at_scale.any(axis=1) & ~(at_scale & shared[None, :]).any(axis=1)
    return owners


def _calibration_scores(
    scoring: ScoringConfig,
    scores: np.ndarray,
    channels: np.ndarray | None,
    unseen: np.ndarray,
    floors: Sequence[float],
) -> tuple[np.ndarray, tuple[float, ...] | None]:
    """The calibration sessions' decision scores: ``scores``, or for a time- and value-aware model its ``channels``
    (N, 3) combined with scales fitted on them (:func:`_scales`), and those scales; ``-inf`` where a session is
    unscored."""
    if channels is None:
        return scores, None
    finite = np.isfinite(channels).all(axis=1)
    scales = _scales(scoring, channels, unseen, floors)
    combined: np.ndarray = np.where(finite, combine_channels(np.where(finite[:, None], channels, 0.0), scales), -np.inf)
    return combined, scales


def _scales(
    scoring: ScoringConfig, channels: np.ndarray, unseen: np.ndarray, floors: Sequence[float]
) -> tuple[float, ...]:
    """The channel scales from normal calibration sessions' channel scores (N, 3): those scored in every channel,
    without the sessions holding something their model never trained on (all of them if nothing else is left),
    by the rule the threshold follows (:func:`_threshold`)."""
    finite = np.isfinite(channels).all(axis=1)
    use = finite & ~unseen
    return channel_scales(scoring, channels[use] if use.any() else channels[finite], floors)


def _with_loo_rate(
    record: Calibration,
    scoring: ScoringConfig,
    channels: np.ndarray,
    unseen: np.ndarray,
    all_unseen: bool,
    floors: Sequence[float],
) -> Calibration:
    """A time- or value-aware model's record with the false-alarm rate its procedure has when a calibration session
    is left out (:func:`~logbert.pipeline.estimator.leave_one_out_rate`), over the sessions its scales and threshold
    came from (:func:`_scales`, :func:`_threshold`). Quantile thresholds only: the others state no rate."""
    if scoring.threshold != "normal_quantile":
        return record
    finite = np.isfinite(channels).all(axis=1)
    use = finite if all_unseen else finite & ~unseen
    return replace(record, fpr_estimate=leave_one_out_rate(scoring, channels[use], floors))


def _threshold(
    scoring: ScoringConfig,
    scores: np.ndarray,
    unseen: np.ndarray,
    scheme: Scheme,
    what: str,
    misses: SessionMisses | None = None,
) -> tuple[Calibration, bool]:
    """The threshold from normal session scores, sessions with unseen keys left out and counted; ``misses``: per
    session its misses and window lengths (a key-only miss-ratio model: :func:`session_misses_of`).

    When every scored session has an unseen key they are all used (the threshold is then likely
    the score cap); the second value says so.

    Raises:
        InputDataError: no normal session could be scored.
    """
    scored = np.isfinite(scores)
    if not scored.any():
        raise InputDataError(f"{what}: no normal calibration session could be scored: cannot choose a threshold")
    use = scored & ~unseen
    all_unseen = not use.any()
    if all_unseen:
        use = scored
    n_unseen = 0 if all_unseen else int((scored & unseen).sum())
    key_misses = None
    if misses is not None:
        counts, lengths = misses
        key_misses = KeyMisses(int(counts[use].sum()), tuple(lengths[i] for i in np.flatnonzero(use)), n_unseen)
    threshold = choose_threshold(scoring, scores[use], key_misses=key_misses)
    folds = scoring.calibration_folds if scheme == "cross_fit" else 0
    record = calibration(
        scoring, threshold, scores[use], scheme=scheme, folds=folds, n_unseen=n_unseen,
        with_final=scoring.calibrate_with_final, key_misses=key_misses,
    )
    return record, all_unseen


#: Per session (input order): its misses over all its windows, and the masked keys of each window.
SessionMisses = tuple[npt.NDArray[np.int64], list[tuple[int, ...]]]


def counts_misses(detector: LogBertDetector) -> bool:
    """The threshold of this model may read its calibration sessions' misses (:func:`reads_key_misses`): a key-only
    model scored by the miss ratio, whose outputs count them (``scores`` and ``score_of``, as LogBERT's)."""
    outputs = hasattr(detector, "scores") and hasattr(detector, "score_of")
    return outputs and not reads_signals(detector) and reads_key_misses(detector.config.scoring)


def session_misses_of(
    detector: LogBertDetector, sessions: Sequence[KeySequence], window: WindowConfig
) -> tuple[np.ndarray, SessionMisses | None]:
    """:func:`session_scores` of ``detector``, and where :func:`counts_misses`, the sessions' misses from the same
    pass."""
    if not counts_misses(detector):
        return session_scores(detector, sessions, window), None
    scores, counts, lengths = session_misses(detector, sessions, window)
    return scores, (counts, lengths)


def _share(fraction: float) -> str:
    """A share in words that never reads "0%" for a few sessions: 0.1% rather than 0%."""
    return f"{fraction:.1%}" if 0 < fraction < 0.01 else f"{fraction:.0%}"


def blind_channel_warnings(detector: LogBertDetector) -> list[str]:
    """A time or value channel whose scale is its floor (:func:`~logbert.pipeline.estimator.scale_floors`): its
    normal calibration sessions stayed below a blind guess's surprise, so on this log it learnt nothing sharp."""
    if not detector.reads_signals or detector.scales_ is None:
        return []
    model = detector.config.model
    floors = scale_floors(detector.config)
    out = []
    for c, name, used, other in ((1, "time", model.uses_time, "values"), (2, "value", model.uses_values, "time")):
        if used and detector.scales_[c] <= floors[c]:
            out.append(
                f"the {name} channel learnt nothing sharp on this log: the {name} surprises of the normal calibration "
                f"sessions stay below a blind guess's ({floors[c]:.2f} nats), so that floor is its scale and it flags "
                f"only far larger surprises. If this log's {name}s carry nothing, model.signals={other} leaves them out"
            )
    return out


#: Lines read to tell whether a log carries times (:func:`signal_notes`).
TIMED_SAMPLE = 2000


def signal_notes(corpus: Corpus, config: LogBertConfig) -> list[str]:
    """A key-only model trained on a log whose lines carry times: say that a time- and value-aware one exists. A
    slow step or an odd value in the right order (a query that took 20 s, a spawn that took twice as long) is
    invisible to key order, and ``model.signals`` is off by default (it costs training time and does not help
    every log: docs/time_values.md)."""
    if config.model.signals != "off" or corpus.kind != "raw" or not corpus.lines:
        return []
    head = corpus.lines[:TIMED_SAMPLE]
    if sum(1 for line in head if line.timestamp is not None) < 0.5 * len(head):
        return []
    # benchmarks.speed, an epoch against key-only's (benchmarks/results/speed_keys_alone.md): 1.5x with the key
    # channel reading the times and values, 2.8x with it reading the keys alone (two passes an epoch)
    longer = "about 1.5x" if config.model.keys_see_signals else "about 3x (its key channel reads the keys alone)"
    return [
        "the lines carry times, and this key-only model reads only which lines follow which. --set "
        "model.signals=all also reads the time between a session's lines and the numbers in them (a slow step, an "
        f"odd size), which key order cannot show; it trains {longer} longer. Compare the two with logbert evaluate "
        "on labelled data (docs/time_values.md)"
    ]


#: :func:`session_gap_note`: a pause inside a session this long (seconds) at least, and this many times the median
#: time between a session's lines, reads as an id that came back rather than one session going on.
LONG_PAUSE_S = 86400.0
LONG_PAUSE_RATIO = 100.0


def volume_note(detector: LogBertDetector) -> str | None:
    """What a time window must hold to be flagged by its volume alone (the volume surprise's margin, twice the busiest
    normal training window), said after training time windows; None without the volume surprise."""
    volumes = detector.volumes_
    if volumes is None or not volumes.volumes:
        return None
    return (
        f"a time window is also scored by its lines so far: past {volumes.margin:g} (twice the busiest of the "
        f"{len(volumes.volumes)} normal training windows) each doubling adds to its score, so a storm of known lines "
        "is flagged as it grows; busier hours than training's within that are not (scoring.volume_weight=0 turns it "
        "off)"
    )


def session_gap_note(corpus: Corpus, config: LogBertConfig) -> str | None:
    """Sessions by id whose lines pause for a day or more where they otherwise follow each other within seconds (a
    package installed again months later, a client address that comes back the next day): say that
    ``window.session_gap_s`` makes such a return a session of its own. None when the sessions have no such pauses
    (at least 3, and 2 % of the timed sessions), the rule is set already, or the sessions are not by id."""
    window = config.window
    if corpus.kind != "raw" or window.mode != "session" or window.session_gap_s is not None:
        return None
    steps: list[float] = []
    longest: list[tuple[float, str]] = []
    for s in corpus.line_sessions:
        times = [t for i in s.rows if (t := corpus.lines[i].timestamp) is not None]
        gaps = [b - a for a, b in zip(times, times[1:], strict=False) if b >= a]
        if gaps:
            steps.extend(gaps)
            longest.append((max(gaps), s.session_id))
    if not steps:
        return None
    typical = float(np.median(steps))
    pause = max(LONG_PAUSE_S, LONG_PAUSE_RATIO * typical)
    paused = sorted(((g, sid) for g, sid in longest if g >= pause), reverse=True)
    if len(paused) < 3 or len(paused) < 0.02 * len(longest):
        return None
    worst_gap, worst = paused[0]
    return (
        f"{len(paused)} of {len(longest)} sessions pause for {_duration(pause)} or more between two of their lines "
        f"(e.g. {worst}: {_duration(worst_gap)}), where a session's lines are typically {_duration(typical)} apart. "
        f"If such an id comes back as a new session (a package installed again, a returning client), --set "
        f"window.session_gap_s={int(pause)} starts a new one after a pause that long (README, \"Your own logs\")"
    )


def _duration(seconds: float) -> str:
    """A duration in the unit people would say it in: '0.4 s', '12 min', '3.5 h', '161 days'."""
    for unit, size in (("days", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            amount = f"{seconds / size:.3g}"
            return f"{amount} {'day' if unit == 'days' and amount == '1' else unit}"
    return f"{seconds:.2g} s"


def _n_key_templates(vocab: TokenVocab) -> int:
    """A key file's templates: the keys of the vocabulary, not its special tokens or the sessions' marks."""
    return n_log_keys([k for t in range(vocab.N_SPECIAL, len(vocab)) if (k := vocab.decode_token(t)) is not None])


def _one_miss_reach(threshold: float, config: LogBertConfig) -> str:
    """Which sessions one never-seen template (one miss) flags under a miss-ratio threshold: those where it is among
    fewer keys than ``1 / threshold``, a session's start and end marks counted with its lines ("" for other scores,
    and where one miss flags any session or none)."""
    if config.scoring.score != "miss_ratio" or not 0.0 < threshold < 1.0:
        return ""
    keys = math.floor(1.0 / threshold) + 1
    while keys > 1 and not exceeds(1.0 / keys, threshold):  # the decision rule's own comparison, tie band included
        keys -= 1
    if config.window.bounded:
        if keys <= 2:
            return ""
        reach = f"among {keys - 2} lines of a session or fewer"
    else:
        reach = f"among {keys} keys of a window or fewer"
    return f" where it is {reach} (the threshold is a miss ratio of {threshold:.4g}: one miss among more stays below)"


def _warnings(result: TrainResult, config: LogBertConfig, n_keys: int) -> list[str]:
    """What a user must know about the stored threshold and the data, in words they can act on; ``n_keys``: how many
    keys the model predicts among (the vocabulary without its special tokens)."""
    scoring = config.scoring
    warnings = list(result.read_report.warnings)
    every_key_in_top_g = scoring.score == "miss_ratio" and scoring.top_g >= n_keys
    if every_key_in_top_g:  # then a threshold of 0 is no surprise, and a higher top_g no remedy: said instead
        warnings.append(
            f"the model predicts among {n_keys} keys and scoring.top_g is {scoring.top_g}: every known key is always "
            "among its top-g, so the key score (the miss ratio) can flag only templates never seen in training (what "
            "the new_event baseline does). Set scoring.top_g well below the number of keys, or "
            "scoring.score=max_mean_nll, which reads how surprising each key is"
        )
    if config.model.signals != "off":
        pass  # a time- or value-aware model's threshold is on the combined scale (channels / their scales)
    elif scoring.score == "miss_ratio" and result.threshold >= 1.0:
        warnings.append(
            "the threshold is the highest possible miss ratio (1.0), so nothing will ever be flagged: some normal "
            "validation sessions miss every key. Train longer, give more normal data, or raise scoring.top_g."
        )
    elif scoring.score in NLL_SCORES and result.threshold >= (score_cap(scoring) or 0.0):
        # with scoring.length_weight a session far shorter than the normal ones can still go above the cap
        short_only = "only sessions far shorter than the normal ones can"
        what = short_only if scoring.length_weight > 0 else "nothing will ever"
        warnings.append(
            f"the threshold is the score cap ({score_cap(scoring)}), so {what} be flagged: a normal "
            "validation session is all surprise (often keys never seen in training). Give more normal data."
        )
    elif scoring.score == "miss_ratio" and result.threshold <= 0.0 and not every_key_in_top_g:
        warnings.append(
            "the threshold is 0: a single key outside the model's top-g predictions flags a session. Fine for very "
            "regular logs; with varied ones expect false alarms (more normal data, or a higher scoring.top_g)."
        )
    steps = result.epochs_run * steps_per_epoch(config.train, result.n_train_windows, config.model)
    if steps < MIN_USEFUL_STEPS:
        warnings.append(
            f"training made only {steps} optimiser steps ({result.n_train_windows} windows, batch "
            f"{config.train.batch_size}, {result.epochs_run} epochs): too few to learn the logs well. Give more normal "
            f"sessions, or raise train.min_steps (now {config.train.min_steps})"
        )
    where = "out-of-fold" if result.calibration == "cross_fit" else "validation"
    if result.all_unseen:
        warnings.append(
            f"every normal {where} session holds a template never seen in training, so the threshold comes from "
            "their scores, which mostly measure that surprise. Give more normal sessions"
        )
    elif result.n_unseen:
        total = result.n_unseen + result.n_calibration
        unseen = "never seen in training" if result.calibration == "split" else "their fold model never trained on"
        # most sessions with a template of their own: the usual cause is an id left in the lines, not rare events
        id_left = (
            ". A share this high usually means an id left in the lines (a session, request or queue id): `logbert "
            "parse` shows it in the templates; --set 'window.session_pattern=REGEX' masks a session id, "
            "parser.masks any other"
            if result.n_unseen > total / 2
            else ""
        )
        warnings.append(
            f"{result.n_unseen} of {total} normal {where} sessions hold a template {unseen} (or a state/status "
            "value never seen for its line): left out of the "
            f"threshold. Expect new normal sessions like them (about {_share(result.n_unseen / total)}) to be flagged "
            f"too{_one_miss_reach(result.threshold, config)}; more normal training data lowers that share{id_left}"
        )
    if result.skipped:
        n = len(result.skipped)
        warnings.append(f"{n} windows shorter than window.min_len were left out (see train_report.json)")
    return warnings
