"""``logbert evaluate``: precision, recall, F1, AUROC at the stored threshold, beside baselines.

Only sessions never used for training or validation are scored (``split.json`` of the artifact
names those). Baselines are fitted on the same training sessions (read from the same input) and
thresholded by the same rule on the same validation sessions (:mod:`logbert.pipeline.calibrate`),
so every row of the table follows one protocol.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from logbert.artifact import SPLIT_FILE
from logbert.baselines import make_baseline
from logbert.datasets.labels import LabelsLike
from logbert.errors import InputDataError, UnknownArtifact
from logbert.evaluation.metrics import evaluation_report
from logbert.evaluation.report import write_json
from logbert.pipeline.calibrate import choose_threshold
from logbert.pipeline.detector import Detector, load_detector, shorter_than_calibration
from logbert.pipeline.fit import is_marked_session
from logbert.pipeline.sessions import session_scores, session_windows
from logbert.records import InputKind, KeySequence, ReadReport
from logbert.results import SessionResult, exceeds

logger = logging.getLogger(__name__)


def baselines_skipped(units: str) -> str:
    """Why a baseline row can be missing: it is fitted on the artifact's own training ``units`` (sessions, or the
    sliding or time windows that stand for them: ``window.unit_noun``)."""
    return (
        f"training {units} of this artifact are not in the evaluated input: baselines skipped (name the log it was "
        f"trained on, --training FILE, and they are fitted on its training {units})"
    )


NEEDS_SIGNALS = (
    "it reads times and values, and this input has none (a key-sequence file): it would score every session 0"
)
NEEDS_SCHEMA = (
    "it reads parameter values, whose slot types only a time- or value-aware artifact stores (train with "
    "--set model.signals=all): it would score every session 0"
)


def one_class_warning(n_normal: int, n_abnormal: int, units: str) -> str | None:
    """Why the metrics are n/a where the evaluated ``units`` (sessions, or windows) are all of one label, else None:
    evaluate printed an F1 of n/a and "180 normal and 0 anomalous sessions", and exited 0, where the labels file's
    anomalous ids named no session of the input (its warning says so above).

    >>> print(one_class_warning(3, 0, "sessions"))  # doctest: +ELLIPSIS
    none of the 3 sessions evaluated is labelled anomalous: recall, F1, AUROC and AUPRC are n/a ...
    """
    if n_abnormal and n_normal:
        return None
    if not n_abnormal:
        return (
            f"none of the {n_normal} {units} evaluated is labelled anomalous: recall, F1, AUROC and AUPRC are n/a "
            "(there is no anomaly to find), and only the false-alarm rate (FPR) is measured. If the input holds "
            f"anomalous {units}, its labels name them otherwise than the input does (write each id as the input names "
            "it)"
        )
    return (
        f"every one of the {n_abnormal} {units} evaluated is labelled anomalous: the false-alarm rate and AUROC are "
        f"n/a (there is no normal {units.removesuffix('s')} to flag wrongly); give normal {units} too (--normal FILE, "
        "or their labels)"
    )


@dataclass(slots=True)
class EvaluationResult:
    report: dict[str, Any]  # precision, recall, f1, threshold, auroc, auprc, best_f1, n_normal, n_abnormal ...
    sessions: list[SessionResult]
    baselines: dict[str, dict[str, Any]]  # name -> the same metrics, same sessions, same protocol
    baseline_scores: dict[str, np.ndarray]  # name -> session scores (order of `sessions`)


def read_split(detector: Detector) -> dict[str, Any]:
    """The artifact's ``split.json`` (read and hash-checked with the artifact): ids of the training and validation
    sessions, and their marks; empty, and said in the log, when the artifact has none.

    Raises:
        UnknownArtifact: a record that is not one (``[]``, ``{"train": 5}``), naming the file; before, a
            TypeError or AttributeError traceback.
    """
    path = detector.directory / SPLIT_FILE
    data: dict[str, Any] | None = getattr(detector.model, "records_", {}).get(SPLIT_FILE)
    if data is None:
        logger.warning(
            "%s has no %s: its training and validation sessions cannot be told from the others, and are scored too",
            detector.directory,
            SPLIT_FILE,
        )
        return {"train": [], "val": [], "data": None}
    for name in ("train", "val"):
        ids = data.get(name, [])
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise UnknownArtifact(f"{path}: {name!r} must be a list of session ids, got {_shown(ids)}; train again")
    marks = data.get("marks")
    if marks is not None and not (
        isinstance(marks, dict) and all(isinstance(m, str) for m in marks.values())
    ):
        raise UnknownArtifact(f"{path}: 'marks' must map session ids to marks, got {_shown(marks)}; train again")
    return data


def _shown(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def evaluate(
    artifact: str | Path | Detector,
    data: str | Path | None = None,
    *,
    labels: LabelsLike | None = None,
    normal: str | Path | None = None,
    abnormal: str | Path | None = None,
    baselines: Sequence[str] | str = ("new_event",),
    report_path: str | Path | None = None,
    kind: InputKind | None = None,
    training: str | Path | None = None,
) -> EvaluationResult:
    """Evaluate at the stored threshold on sessions never used in training or validation.

    Either ``data`` (+ ``labels``) or ``normal`` and/or ``abnormal`` files (all sessions of
    ``abnormal`` count as anomalous). ``data`` needs labels: a labels file, or per-line labels in
    the log itself (BGL, Thunderbird). The baselines are fitted and calibrated on the artifact's own
    training and validation sessions, found in the inputs or, when those are another file, in
    ``training`` (the log the artifact was trained on).

    Returns:
        The report (precision, recall, f1, threshold, auroc, auprc, best_f1 — the last one peeks
        at the labels and is named as such —, n_normal, n_abnormal ...), per-session results and
        baseline reports.

    Raises:
        InputDataError: nothing to evaluate, or sessions without a label.
        ConfigError: an unknown baseline name (before any work).
    """
    # one name or many; every name checked before any work (a time- and value-aware artifact skipped the check)
    baselines = [baselines] if isinstance(baselines, str) else list(baselines)
    known = {name: make_baseline(name) for name in baselines}  # ConfigError: an unknown name
    detector = artifact if isinstance(artifact, Detector) else load_detector(artifact)
    split = read_split(detector)
    seen = set(split.get("train", [])) | set(split.get("val", []))
    marks: dict[str, str] | None = split.get("marks")  # None: an artifact from before marks (ids alone decide)
    inputs: list[tuple[str | Path, int | None, LabelsLike | None]] = []
    if data is not None:
        inputs.append((data, None, labels))
    if normal is not None:
        inputs.append((normal, 0, None))
    if abnormal is not None:
        inputs.append((abnormal, 1, None))
    if not inputs:
        raise InputDataError("evaluate needs data (with labels) or normal/abnormal files")
    sequences: list[KeySequence] = []
    fit_pool: list[KeySequence] = []
    read_reports: list[ReadReport] = []
    starts: list[float | None] = []  # per scored sequence, the first timestamp of its input (sessions in flight)
    # the signal baselines (and a time- or value-aware model) read each session's time and values
    with_signals = detector.model.reads_signals or any(model.needs_signals for model in known.values())
    for path, label, lab in inputs:
        read, read_report = detector.read(path, labels=lab, label=label, kind=kind, with_signals=with_signals)
        read_reports.append(read_report)
        if label is None and lab is None and any(s.label is None for s in read):
            also = (
                f" (DATA and --normal are two inputs: to measure the false-alarm rate on {path} alone, give it as "
                "--normal and no DATA)"
                if normal is not None or abnormal is not None
                else ""
            )
            raise InputDataError(
                f"{path} has no labels, so precision and recall cannot be measured: give a labels file, "
                "or pass sessions you know to be normal as `normal` (--normal) to measure the false-alarm rate" + also
            )
        for seq in read:
            (fit_pool if _is_training_session(seq, seen, marks) else sequences).append(seq)
        starts.extend(read_report.first_time for _ in range(len(sequences) - len(starts)))
    # counted before the training log's sessions join the pool: they were never part of the inputs
    excluded = {s.session_id for s in fit_pool}
    if training is not None and baselines:  # the artifact's own sessions, where the inputs are other files
        read, _ = detector.read(training, kind=kind, with_signals=with_signals)
        fit_pool.extend(s for s in read if s.session_id not in excluded and _is_training_session(s, seen, marks))
    if any(s.label is None for s in sequences):
        raise InputDataError("some sessions have no label")
    if not sequences:
        raise InputDataError("every session of the input was used for training or validation: nothing to evaluate")

    started = time.perf_counter()
    sessions = _score_by_input(detector, sequences, starts)
    score_seconds = time.perf_counter() - started
    y = np.array([s.label for s in sessions], dtype=int)
    scores = np.array([s.score for s in sessions], dtype=float)
    # a session in flight at its input's first line is predicted normal whatever its score (logbert.scoring.capture)
    report = evaluation_report(y, scores, detector.threshold, predicted=[s.is_anomaly for s in sessions])
    in_flight = [s for s in sessions if s.partial is not None]
    report.update(
        {
            "protocol": "realistic: threshold chosen on normal validation data only; best_f1 peeks at test labels",
            "n_sessions": len(sessions),
            "unit": detector.config.window.unit_noun,  # what the sessions are: sessions, sliding windows ...
            # scored, but predicted normal: already running when their input's first line was written
            "n_in_flight": len(in_flight),
            "n_in_flight_abnormal": sum(s.label == 1 for s in in_flight),
            "n_in_flight_over_threshold": sum(bool(exceeds(s.score, s.threshold)) for s in in_flight),
            "n_excluded_training_sessions": len(excluded),
            "score_seconds": round(score_seconds, 3),
            # fewer keys than every calibration session: outside what the stated false-alarm rate is about
            "shorter_than_calibration": shorter_than_calibration(detector, sessions),
            "one_class": one_class_warning(report["n_normal"], report["n_abnormal"], detector.config.window.unit_noun),
            "read_report": [r.as_dict() for r in read_reports],
        }
    )
    if detector.config.window.mode == "session":
        # the id of a training session, but another session (another start): scored as the new session it is.
        # Sliding and time windows are named by position (w0, w1, ... in every file): their ids meet by
        # construction, and the count said nothing (every window of another file was "not the training one")
        report["n_same_id_new_sessions"] = sum(s.session_id in seen for s in sequences)
    scored = {s.session_id for s in sessions}
    test = [s for s in sequences if s.session_id in scored]
    baseline_reports, baseline_scores = _evaluate_baselines(baselines, detector, fit_pool, split, test)
    report["baselines"] = baseline_reports
    result = EvaluationResult(report, sessions, baseline_reports, baseline_scores)
    if report_path is not None:
        write_json(report, report_path)
    return result


def _is_training_session(seq: KeySequence, seen: set[str], marks: dict[str, str] | None) -> bool:
    """Whether ``seq`` is one of the artifact's training or validation sessions: its id is, and (for an artifact
    that kept them) so is its :func:`~logbert.pipeline.fit.session_mark`. Without marks the id alone decides."""
    if seq.session_id not in seen:
        return False
    mark = None if marks is None else marks.get(seq.session_id)
    return mark is None or is_marked_session(seq, mark)


def _score_by_input(
    detector: Detector, sequences: Sequence[KeySequence], starts: Sequence[float | None]
) -> list[SessionResult]:
    """``detector.score_sessions`` of each input's sequences with that input's first timestamp (each file is
    a capture of its own), in the order of ``sequences``."""
    out: list[SessionResult] = []
    i = 0
    while i < len(sequences):
        j = i
        while j < len(sequences) and starts[j] == starts[i]:
            j += 1
        out.extend(detector.score_sessions(sequences[i:j], capture_start=starts[i]))
        i = j
    return out


def _evaluate_baselines(
    names: Sequence[str],
    detector: Detector,
    fit_pool: list[KeySequence],
    split: dict[str, Any],
    test: list[KeySequence],
) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray]]:
    reports: dict[str, dict[str, Any]] = {}
    scores_out: dict[str, np.ndarray] = {}
    if not names:
        return reports, scores_out
    val_ids = set(split.get("val", []))
    train_pool = [s for s in fit_pool if s.session_id not in val_ids]
    val_pool = [s for s in fit_pool if s.session_id in val_ids]
    if not train_pool or not val_pool:
        return {name: {"skipped": baselines_skipped(detector.config.window.unit_noun)} for name in names}, scores_out
    window = detector.config.window
    scoring = detector.config.scoring
    train_windows, _ = session_windows(train_pool, window)
    # calibrated on the sessions the artifact's threshold came from: with labelled_f1 its labelled anomalies apart;
    # otherwise all of them, whatever the labels given now say. An artifact trained without labels calibrated on
    # its failures too (scoring.contamination), and a baseline told which validation sessions are anomalous would
    # be calibrated on cleaner data than the model it stands beside
    if scoring.threshold == "labelled_f1":
        val_normal = [s for s in val_pool if s.label != 1]
        val_abnormal = [s for s in val_pool if s.label == 1]
    else:
        val_normal, val_abnormal = val_pool, []
    y = np.array([s.label for s in test], dtype=int)
    for name in names:
        started = time.perf_counter()
        model = make_baseline(name)
        if model.needs_signals and any(s.signals is None for s in train_pool):
            reports[name] = {"skipped": NEEDS_SIGNALS}
            continue
        if name == "param_outlier" and detector.schema is None:
            reports[name] = {"skipped": NEEDS_SCHEMA}
            continue
        signals = [w.signals for w in train_windows] if model.needs_signals else None
        model.fit([w.key_ids for w in train_windows], signals)
        threshold = choose_threshold(
            scoring,
            session_scores(model, val_normal, window),
            session_scores(model, val_abnormal, window) if val_abnormal else None,
        )
        test_scores = session_scores(model, test, window)
        rep = evaluation_report(y, test_scores, threshold)
        rep["seconds"] = round(time.perf_counter() - started, 3)
        reports[name] = rep
        scores_out[name] = test_scores
    return reports, scores_out
