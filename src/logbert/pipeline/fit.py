"""``logbert train``: read, split then parse, window, fit LogBERT, choose the threshold, save.

The flow for a raw log::

    read + header-parse every line, group lines into sessions    (pipeline.corpus)
    split whole sessions: train / val / test, normal only in train and val; mine templates on
    the training lines only, then freeze the parser                (pipeline.split)
    cut sessions into windows of at most max_len keys, fit LogBERT (pipeline.estimator)
    threshold on the validation sessions' scores                   (pipeline.calibrate)
    save the artifact, split.json and train_report.json
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from logbert.artifact import META_FILE
from logbert.config import LogBertConfig
from logbert.datasets.labels import Labels
from logbert.errors import InputDataError
from logbert.evaluation.report import write_json
from logbert.pipeline.calibrate import CALIBRATION_FILE, calibration, choose_threshold, labelled_val_anomalies
from logbert.pipeline.corpus import read_corpus
from logbert.pipeline.estimator import LogBertDetector
from logbert.pipeline.sessions import session_scores, session_windows
from logbert.pipeline.split import split_and_key
from logbert.records import InputKind, ReadReport
from logbert.windowing.windows import SkippedSequence

SPLIT_FILE = "split.json"
TRAIN_REPORT_FILE = "train_report.json"
CHECKPOINT_DIR = "checkpoint"
#: Fewer optimiser steps than this and train says the model has probably not learned enough (a rule
#: of thumb: the issue-9 case that failed had about 30; the demo learns its log in 80).
MIN_USEFUL_STEPS = 50


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


def train(
    data: str | Path,
    out_dir: str | Path,
    config: LogBertConfig | None = None,
    *,
    labels: str | Path | Labels | None = None,
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
    never scores a training session). The parser is mined on training lines only.

    Args:
        data: a raw log (format from ``config.parser``) or a key-sequence file.
        out_dir: artifact directory (created).
        config: settings; default ``LogBertConfig()``.
        labels: optional labels file; without one every session counts as normal.
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
    config = config or LogBertConfig()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputDataError(f"{out} is a file; the artifact is a folder: choose another path for -o")
    finished = (out / META_FILE).is_file()
    if resume and finished and not (out / CHECKPOINT_DIR).is_dir():
        raise InputDataError(f"{out} holds a finished artifact: there is nothing to resume")
    if finished and not (resume or overwrite):
        raise InputDataError(f"{out} already holds a trained artifact; choose another folder or replace it (--force)")
    say(f"reading {data}")
    out.mkdir(parents=True, exist_ok=True)
    corpus = read_corpus(data, config, labels=labels, kind=kind)
    if corpus.kind == "raw":
        say("splitting sessions, then mining templates on the training lines only")
    split = split_and_key(corpus, config, what=str(data))
    val_abnormal_ids = labelled_val_anomalies(split.test, config.scoring, config.train)
    val_abnormal = [s for s in split.test if s.session_id in val_abnormal_ids]
    train_windows, skipped = session_windows(split.train, config.window)
    val_windows, skipped_val = session_windows(split.val, config.window)
    skipped += skipped_val
    if not train_windows or not val_windows:
        raise InputDataError(f"{data}: no training or validation window is at least window.min_len keys long")

    # Every epoch is checkpointed so an interrupted run can go on with resume=True; a fresh run
    # starts from scratch, and the checkpoints go once the artifact is complete.
    say(f"training LogBERT on {len(train_windows)} windows, validating on {len(val_windows)}")
    checkpoint_dir = out / CHECKPOINT_DIR
    if not resume and checkpoint_dir.exists():
        shutil.rmtree(checkpoint_dir)
    started = time.perf_counter()
    detector = LogBertDetector(config).fit(
        [w.key_ids for w in train_windows],
        [w.key_ids for w in val_windows],
        checkpoint_dir=checkpoint_dir,
        progress=progress,
    )
    train_seconds = time.perf_counter() - started
    how = f"{len(split.val)} normal" + (f" + {len(val_abnormal)} anomalous" if val_abnormal else "")
    say(f"threshold from the scores of {how} validation sessions")
    normal_scores = session_scores(detector, split.val, config.window)
    abnormal_scores = session_scores(detector, val_abnormal, config.window) if val_abnormal else None
    detector.threshold_ = choose_threshold(config.scoring, normal_scores, abnormal_scores)
    record = calibration(config.scoring, detector.threshold_, normal_scores)
    detector.save(out, parser_state=split.parser.to_dict() if split.parser is not None else None)
    write_json(record.to_dict(), out / CALIBRATION_FILE)
    shutil.rmtree(checkpoint_dir, ignore_errors=True)
    write_json(
        {
            "data": Path(data).name,
            "kind": corpus.kind,
            "chronological": split.chronological,
            "train": sorted({s.session_id for s in split.train}),
            "val": sorted({s.session_id for s in split.val} | val_abnormal_ids),
            "threshold": config.scoring.threshold,
        },
        out / SPLIT_FILE,
    )
    result = TrainResult(
        artifact_dir=out,
        threshold=float(detector.threshold_),
        n_train_sessions=len({s.session_id for s in split.train}),
        n_val_sessions=len({s.session_id for s in split.val}),
        n_test_sessions=len({s.session_id for s in split.test} - val_abnormal_ids),
        n_train_windows=len(train_windows),
        n_val_windows=len(val_windows),
        n_templates=split.n_templates if split.parser is not None else len(detector.vocab_) - 4,
        epochs_run=len(detector.history_),
        train_seconds=train_seconds,
        read_report=corpus.report,
        skipped=skipped,
        threshold_basis=record.describe(),
    )
    result.warnings.extend(_warnings(result, config))
    write_json(
        {
            "threshold": result.threshold,
            "threshold_basis": result.threshold_basis,
            "n_train_sessions": result.n_train_sessions,
            "n_val_sessions": result.n_val_sessions,
            "n_test_sessions": result.n_test_sessions,
            "n_train_windows": result.n_train_windows,
            "n_val_windows": result.n_val_windows,
            "n_templates": result.n_templates,
            "epochs_run": result.epochs_run,
            "train_seconds": round(train_seconds, 2),
            "n_skipped_windows": len(skipped),
            "warnings": result.warnings,
            "read_report": corpus.report.as_dict(),
            "history": [asdict(h) for h in detector.history_],
        },
        out / TRAIN_REPORT_FILE,
    )
    return result


def _warnings(result: TrainResult, config: LogBertConfig) -> list[str]:
    """What a user must know about the stored threshold and the data, in words they can act on."""
    scoring = config.scoring
    warnings = list(result.read_report.warnings)
    if scoring.score == "miss_ratio" and result.threshold >= 1.0:
        warnings.append(
            "the threshold is the highest possible miss ratio (1.0), so nothing will ever be flagged: some normal "
            "validation sessions miss every key. Train longer, give more normal data, or raise scoring.top_g."
        )
    elif scoring.score == "mean_nll" and result.threshold >= scoring.nll_cap:
        warnings.append(
            f"the threshold is the score cap ({scoring.nll_cap}), so nothing will ever be flagged: a normal validation "
            "session is all surprise (often keys never seen in training). Give more normal data."
        )
    elif scoring.score == "miss_ratio" and result.threshold <= 0.0:
        warnings.append(
            "the threshold is 0: a single key outside the model's top-g predictions flags a session. Fine for very "
            "regular logs; with varied ones expect false alarms (more normal data, or a higher scoring.top_g)."
        )
    steps = result.epochs_run * -(-result.n_train_windows // config.train.batch_size)
    if steps < MIN_USEFUL_STEPS:
        warnings.append(
            f"training made only {steps} optimiser steps ({result.n_train_windows} windows, batch "
            f"{config.train.batch_size}, {result.epochs_run} epochs): too few to learn the logs well. Give more normal "
            "sessions, or raise train.epochs / lower train.batch_size"
        )
    if result.skipped:
        n = len(result.skipped)
        warnings.append(f"{n} windows shorter than window.min_len were left out (see train_report.json)")
    return warnings
