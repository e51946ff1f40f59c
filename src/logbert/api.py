"""The public facade: what the CLI, the service and the benchmarks call.

The flow for a raw log file::

    read + header-parse every line            (parsing.reader)
    find session ids, group lines to sessions (windowing.windows)   -- or sliding / time windows
    split whole sessions: train / val / test  (normal only in train and val; before any windowing)
    mine templates on the training lines only, then freeze the parser (unseen -> UNK_KEY)
    cut sessions into windows of at most max_len keys
    fit LogBERT, pick the threshold on validation windows, save the artifact

A session's score is the highest score of its windows, so a session is flagged exactly when one of
its windows is. Pre-parsed key-sequence files skip the parser and go straight to the split.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from logbert.config import LogBertConfig, load_config
from logbert.datasets.keyfile import detect_input_kind, read_key_sequences
from logbert.datasets.labels import Labels, read_labels
from logbert.errors import InputDataError, UnknownArtifact
from logbert.evaluation.metrics import evaluation_report
from logbert.evaluation.thresholds import quantile_threshold
from logbert.parsing.headers import line_text_for_sessions
from logbert.parsing.parser import LogParser
from logbert.parsing.reader import LineReader, read_log
from logbert.records import UNK_KEY, InputKind, KeySequence, LineProblem, LogLine, ReadReport
from logbert.results import ExpectedKey, ParsedLine, PositionExplanation, SequenceScore, SessionResult
from logbert.scoring.detector import LogBertDetector, pick_score
from logbert.windowing.dataset import TokenVocab
from logbert.windowing.windows import (
    SkippedSequence,
    find_session_ids,
    group_sessions,
    session_id_pattern,
    sliding_windows,
    split_all,
    split_sessions,
    time_windows,
)

logger = logging.getLogger(__name__)

SPLIT_FILE = "split.json"
TRAIN_REPORT_FILE = "train_report.json"

# --------------------------------------------------------------------------------------------
# Result and explanation types (the contract the service, the CLI and the benchmarks use)
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Corpus:
    """Sequences read from one input, before the split.

    For raw logs ``lines`` holds every parsed line and each sequence's ``key_ids`` are still
    *indices into lines* until :func:`_assign_keys` replaces them with the parser's key ids.
    """

    kind: InputKind
    sequences: list[KeySequence]
    report: ReadReport
    lines: list[LogLine] = field(default_factory=list)
    n_unlabelled: int = 0  # sessions a labels file did not name (left out of training and evaluation)


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
    warnings: list[str] = field(default_factory=list)  # things a user should act on


@dataclass(slots=True)
class EvaluationResult:
    report: dict[str, Any]  # precision, recall, f1, threshold, auroc, auprc, best_f1, n_normal, n_abnormal ...
    sessions: list[SessionResult]
    baselines: dict[str, dict[str, Any]]  # name -> the same metrics, same sessions, same protocol
    baseline_scores: dict[str, np.ndarray]  # name -> session scores (order of `sessions`)


# --------------------------------------------------------------------------------------------
# Reading inputs
# --------------------------------------------------------------------------------------------


def input_kind(path: str | Path) -> InputKind:
    """``"keys"`` for a pre-parsed key-sequence file, ``"raw"`` for a raw log.

    Raises:
        InputDataError: the file does not exist or is a directory.
    """
    p = Path(path)
    if not p.is_file():
        raise InputDataError(f"input file not found: {p}")
    return detect_input_kind(p)


def read_corpus(
    path: str | Path,
    config: LogBertConfig,
    *,
    labels: str | Path | Labels | None = None,
    label: int | None = None,
) -> Corpus:
    """Read a raw log or a key-sequence file into labelled sequences (one per session or window).

    Args:
        path: the input file.
        config: parser and window settings.
        labels: a labels file (session CSV, id list or per-line labels) or loaded ``Labels``.
        label: label every sequence with this value (e.g. a file of abnormal sessions).

    Raises:
        InputDataError: missing, empty, or unusable input.
    """
    kind = input_kind(path)
    loaded = read_labels(labels) if isinstance(labels, str | Path) else labels
    if kind == "keys":
        sequences, report = read_key_sequences(path, label=label)
        corpus = Corpus("keys", sequences, report)
    else:
        corpus = _read_raw(path, config)
        if label is not None:
            for seq in corpus.sequences:
                seq.label = label
    if loaded is not None and label is None:
        _apply_labels(corpus, loaded)
    return corpus


def _read_raw(path: str | Path, config: LogBertConfig) -> Corpus:
    lines, report = read_log(path, config.parser)
    indices = list(range(len(lines)))
    line_nos = [ln.line_no for ln in lines]
    stamps = [ln.timestamp for ln in lines]
    window = config.window
    if window.mode == "session":
        pattern = session_id_pattern(window)
        ids = [find_session_ids(line_text_for_sessions(ln), pattern) for ln in lines]
        grouped = group_sessions(ids, indices, line_nos, stamps)
        report.n_without_session = grouped.n_without_session
        sequences = grouped.sessions
        if not sequences:
            raise InputDataError(
                f"{path}: no line names a session id (pattern {pattern.pattern!r}); "
                "set window.session_pattern or use window.mode = 'sliding'"
            )
    elif window.mode == "sliding":
        sequences = sliding_windows(
            indices, window.window_size, window.stride, line_nos=line_nos, timestamps=stamps, session_id="w"
        )
        for seq in sequences:  # each window is its own unit for the split and for evaluation
            seq.session_id = f"w{seq.window_index}"
            seq.window_index = 0
    else:
        sequences = time_windows(indices, stamps, window.time_window_s, line_nos=line_nos, session_id="t")
        for seq in sequences:
            seq.session_id = f"t{seq.window_index}"
            seq.window_index = 0
    _label_from_header(sequences, lines)
    return Corpus("raw", sequences, report, lines)


def _label_from_header(sequences: list[KeySequence], lines: list[LogLine]) -> None:
    """BGL/Thunderbird carry a per-line label as their first header field ("-" = normal)."""
    if not lines or "Label" not in lines[0].fields:
        return
    for seq in sequences:
        seq.label = int(any(lines[i].fields.get("Label", "-") != "-" for i in seq.key_ids))


def _apply_labels(corpus: Corpus, labels: Labels) -> None:
    if labels.format == "line_labels":
        by_line = {int(k): v for k, v in labels.by_id.items()}
        for seq in corpus.sequences:
            seq.label = int(any(by_line.get(n, 0) for n in seq.line_nos))
        return
    n_missing = 0
    for seq in corpus.sequences:
        seq.label = labels.get(seq.session_id)
        n_missing += seq.label is None
    corpus.n_unlabelled = n_missing
    if n_missing:
        logger.warning("%d sessions are not named in %s: left out of training and evaluation", n_missing, labels.source)
        corpus.sequences = [s for s in corpus.sequences if s.label is not None]
    if not corpus.sequences:
        raise InputDataError(f"no session of the input is named in the labels file {labels.source}")


def _assign_keys(corpus: Corpus, parser: LogParser | None) -> list[KeySequence]:
    """Replace line indices by key ids (raw logs); key files are returned as they are."""
    if corpus.kind == "keys" or parser is None:
        return corpus.sequences
    # only lines that belong to a sequence are looked up (e.g. not lines without a session id)
    used = sorted({i for s in corpus.sequences for i in s.key_ids})
    used_keys = parser.transform([corpus.lines[i].content for i in used])
    keys = dict(zip(used, used_keys, strict=True))
    corpus.report.n_unknown_template = sum(k == UNK_KEY for k in used_keys)
    return [
        KeySequence(
            session_id=s.session_id,
            key_ids=[keys[i] for i in s.key_ids],
            label=s.label,
            line_nos=list(s.line_nos),
            start_time=s.start_time,
            window_index=s.window_index,
        )
        for s in corpus.sequences
    ]


def _windows(
    sequences: Iterable[KeySequence], config: LogBertConfig
) -> tuple[list[KeySequence], list[SkippedSequence]]:
    return split_all(sequences, config.window.max_len, config.window.min_len)


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


def train(
    data: str | Path,
    out_dir: str | Path,
    config: LogBertConfig | None = None,
    *,
    labels: str | Path | Labels | None = None,
    resume: bool = False,
    progress: bool = True,
    on_step: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train LogBERT on the normal sessions of ``data`` and save an artifact in ``out_dir``.

    Whole sessions are split before windowing: train and validation hold normal sessions only,
    and ``config.train.test_fraction`` of the normal sessions plus every labelled anomalous one
    are held back (their ids are saved in ``split.json`` so that :func:`evaluate` on the same data
    never scores a training session). The parser is mined on training lines only.

    Args:
        data: a raw log (format from ``config.parser``) or a key-sequence file.
        out_dir: artifact directory (created).
        config: settings; default ``LogBertConfig()``.
        labels: optional labels file; without one every session counts as normal.
        resume: continue an interrupted run from ``out_dir/checkpoint``.
        progress: show progress bars.
        on_step: called with a one-line description as each stage starts.

    Raises:
        InputDataError: unusable input, or too few normal sessions to train and validate.
    """
    say = on_step or (lambda _msg: None)
    config = config or LogBertConfig()
    say(f"reading {data}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    corpus = read_corpus(data, config, labels=labels)
    split = split_sessions(
        corpus.sequences,
        val_fraction=config.train.val_fraction,
        test_fraction=config.train.test_fraction,
        seed=config.train.seed,
        chronological=config.train.chronological_split,
    )
    val_abnormal_ids = _labelled_val_anomalies(split.test, config)
    if not split.train or not split.val:
        raise InputDataError(
            f"{data}: need normal sessions for both training and validation, got {len(split.train)} train and "
            f"{len(split.val)} validation sessions out of {len(corpus.sequences)}"
        )
    parser: LogParser | None = None
    if corpus.kind == "raw":
        train_lines = sorted({i for s in split.train for i in s.key_ids})
        say(f"mining templates on the {len(train_lines)} lines of {len(split.train)} training sessions")
        parser = LogParser(config.parser).fit(corpus.lines[i].content for i in train_lines)
        keyed = {(s.session_id, s.window_index): s for s in _assign_keys(corpus, parser)}
        train_seqs = [keyed[(s.session_id, s.window_index)] for s in split.train]
        val_seqs = [keyed[(s.session_id, s.window_index)] for s in split.val]
        val_abnormal_seqs = [
            keyed[(s.session_id, s.window_index)] for s in split.test if s.session_id in val_abnormal_ids
        ]
    else:
        train_seqs, val_seqs = split.train, split.val
        val_abnormal_seqs = [s for s in split.test if s.session_id in val_abnormal_ids]
    train_windows, skipped = _windows(train_seqs, config)
    val_windows, skipped_val = _windows(val_seqs, config)
    skipped += skipped_val
    if not train_windows or not val_windows:
        raise InputDataError(f"{data}: no training or validation window is at least window.min_len keys long")

    # Every epoch is checkpointed so an interrupted run can go on with resume=True; a fresh run
    # starts from scratch, and the checkpoints go once the artifact is complete.
    say(f"training LogBERT on {len(train_windows)} windows, validating on {len(val_windows)}")
    checkpoint_dir = out / "checkpoint"
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
    if val_abnormal_seqs:
        # labelled_f1: whole anomalous sessions, scored like evaluation does (max over windows)
        say(f"threshold from {len(val_seqs)} normal + {len(val_abnormal_seqs)} anomalous validation sessions")
        detector.threshold_ = _labelled_threshold(detector, val_seqs, val_abnormal_seqs, config)
    detector.save(out, parser_state=parser.to_dict() if parser is not None else None)
    shutil.rmtree(checkpoint_dir, ignore_errors=True)
    _write_json(
        out / SPLIT_FILE,
        {
            "data": Path(data).name,
            "kind": corpus.kind,
            "chronological": split.chronological,
            "train": sorted({s.session_id for s in split.train}),
            "val": sorted({s.session_id for s in split.val} | val_abnormal_ids),
            "threshold": config.scoring.threshold,
        },
    )
    result = TrainResult(
        artifact_dir=out,
        threshold=float(detector.threshold_),
        n_train_sessions=len({s.session_id for s in split.train}),
        n_val_sessions=len({s.session_id for s in split.val}),
        n_test_sessions=len({s.session_id for s in split.test} - val_abnormal_ids),
        n_train_windows=len(train_windows),
        n_val_windows=len(val_windows),
        n_templates=len(parser.templates_) if parser is not None else len(detector.vocab_) - 4,
        epochs_run=len(detector.history_),
        train_seconds=train_seconds,
        read_report=corpus.report,
        skipped=skipped,
    )
    if config.scoring.score == "miss_ratio" and result.threshold >= 1.0:
        result.warnings.append(
            "the threshold is the highest possible miss ratio (1.0), so nothing will ever be flagged: some normal "
            "validation windows miss every key. Train longer, give more normal data, or raise scoring.top_g."
        )
    if skipped:
        result.warnings.append(
            f"{len(skipped)} windows shorter than window.min_len were left out (see train_report.json)"
        )
    _write_json(
        out / TRAIN_REPORT_FILE,
        {
            "threshold": result.threshold,
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
            "history": [_plain(h) for h in detector.history_],
        },
    )
    return result


def _labelled_val_anomalies(test: Sequence[KeySequence], config: LogBertConfig) -> set[str]:
    """labelled_f1: a seeded share of the anomalous sessions, moved from test to validation."""
    if config.scoring.threshold != "labelled_f1":
        return set()
    anomalous = sorted({s.session_id for s in test if s.label == 1})
    if len(anomalous) < 2:
        raise InputDataError(
            "scoring.threshold = 'labelled_f1' needs at least 2 labelled anomalous sessions; "
            f"found {len(anomalous)} (give --labels, or use 'normal_quantile')"
        )
    n = max(1, round(len(anomalous) * config.scoring.val_anomaly_fraction))
    rng = np.random.default_rng(config.train.seed)
    return {anomalous[i] for i in rng.choice(len(anomalous), size=n, replace=False)}


class _Scorer(Protocol):
    def decision_function(self, seqs: Sequence[Sequence[int]]) -> np.ndarray: ...


def _best_window_scores(
    model: _Scorer, sessions: Sequence[KeySequence], config: LogBertConfig
) -> tuple[dict[str, float], list[SkippedSequence]]:
    """Session id -> the highest score of its windows (sessions without a window are absent)."""
    windows, skipped = _windows(sessions, config)
    scores = model.decision_function([w.key_ids for w in windows]) if windows else np.zeros(0)
    best: dict[str, float] = {}
    for w, s in zip(windows, scores, strict=True):
        best[w.session_id] = max(best.get(w.session_id, -np.inf), float(s))
    return best, skipped


def _max_per_session(model: _Scorer, sessions: Sequence[KeySequence], config: LogBertConfig) -> np.ndarray:
    """One score per session (in order): the highest score of its windows."""
    best, _ = _best_window_scores(model, sessions, config)
    return np.array([best[s.session_id] for s in sessions if s.session_id in best])


def _labelled_threshold(
    model: LogBertDetector, normal: Sequence[KeySequence], abnormal: Sequence[KeySequence], config: LogBertConfig
) -> float:
    from logbert.evaluation.thresholds import f1_threshold

    normal_scores = _max_per_session(model, normal, config)
    abnormal_scores = _max_per_session(model, abnormal, config)
    scores = np.concatenate([normal_scores, abnormal_scores])
    labels = np.concatenate([np.zeros(len(normal_scores), int), np.ones(len(abnormal_scores), int)])
    return float(f1_threshold(scores, labels))


# --------------------------------------------------------------------------------------------
# The loaded artifact
# --------------------------------------------------------------------------------------------


class Detector:
    """A loaded artifact: frozen parser, vocabulary, model, centre and threshold.

    The service, ``logbert tail`` and ``logbert score`` use these methods. ``parse_lines`` and
    ``score_sequences`` may run on different threads; neither is run concurrently with itself.
    """

    def __init__(self, model: LogBertDetector, parser: LogParser | None, directory: Path) -> None:
        self.model = model
        self.parser = parser
        self.directory = directory
        self.config: LogBertConfig = model.config
        self.threshold: float = float(model.threshold_)
        self._pattern = session_id_pattern(self.config.window) if self.config.window.mode == "session" else None

    def template(self, key_id: int) -> str | None:
        """The template of a key id (``"key <id>"`` for key-file artifacts; None for UNK)."""
        if key_id == UNK_KEY:
            return None
        if self.parser is None:
            return f"key {key_id}"
        templates = self.parser.templates_
        return templates[key_id] if 0 <= key_id < len(templates) else None

    def parse_lines(
        self, lines: Sequence[str | bytes], start_line_no: int = 1
    ) -> tuple[list[ParsedLine | LineProblem], ReadReport]:
        """Parse raw lines with the frozen parser, by the reader's line rule (``LineReader.read_line``).

        Returns one entry per input line, in order: a :class:`ParsedLine` (``line_no`` is
        ``start_line_no`` + its index), or why the line gave none (``"empty"``, ``"malformed"``);
        and the report, which also counts binary and truncated lines and unseen templates.

        Raises:
            UnknownArtifact: the artifact was trained on key-sequence files and has no parser.
        """
        if self.parser is None:
            raise UnknownArtifact(f"{self.directory} was trained on key sequences and cannot parse raw lines")
        reader = LineReader(self.config.parser)
        out: list[ParsedLine | LineProblem] = []
        for index, raw in enumerate(lines):
            parsed = reader.read_line(raw)
            if isinstance(parsed, str):
                out.append(parsed)
                continue
            key = self.parser.transform_one(parsed.content)
            if key == UNK_KEY:
                reader.report.n_unknown_template += 1
            ids = find_session_ids(line_text_for_sessions(parsed), self._pattern) if self._pattern else ()
            out.append(
                ParsedLine(
                    line_no=start_line_no + index,
                    raw=raw if isinstance(raw, str) else raw.decode("utf-8", errors="replace"),
                    session_ids=ids,
                    key_id=key,
                    template=self.template(key),
                    timestamp=parsed.timestamp,
                )
            )
        return out, reader.report

    def score_sequences(self, sequences: Sequence[KeySequence], explain: bool = False) -> list[SequenceScore]:
        """Score key sequences (each at most ``config.window.max_len`` keys) in micro-batches.

        Scores are deterministic and do not depend on which other sequences share the batch.
        """
        if not sequences:
            return []
        keys = [list(s.key_ids) for s in sequences]
        out = self.model.scores(keys, details=explain)
        chosen = pick_score(out, self.config.scoring.score)
        threshold = self.threshold
        results: list[SequenceScore] = []
        vocab = self.model.vocab_
        for i, seq in enumerate(sequences):
            score = float(chosen[i])
            misses: tuple[PositionExplanation, ...] = ()
            if explain and out.details is not None:
                misses = tuple(
                    PositionExplanation(
                        position=d.position,
                        key_id=d.key_id,
                        template=self.template(d.key_id),
                        expected=tuple(
                            ExpectedKey(self.template(k) or "<unknown>", round(float(p), 6))
                            for k, p in zip(d.top_key_ids, d.top_probs, strict=True)
                        ),
                        line_no=seq.line_nos[d.position] if d.position < len(seq.line_nos) else None,
                    )
                    for d in out.details[i]
                    if d.missed
                )
            results.append(
                SequenceScore(
                    session_id=seq.session_id,
                    anomaly_score=score,
                    miss_ratio=float(out.miss_ratio[i]),
                    dist_score=float(out.dist[i]),
                    threshold=threshold,
                    is_anomaly=score > threshold,
                    n_keys=len(seq.key_ids),
                    n_misses=int(out.n_misses[i]),
                    n_unknown=_n_unknown(vocab, seq.key_ids),
                    misses=misses,
                )
            )
        return results

    def read(self, data: str | Path, *, labels: str | Path | Labels | None = None, label: int | None = None) -> Corpus:
        """Read an input with this artifact's frozen parser: sequences carry key ids."""
        corpus = read_corpus(data, self.config, labels=labels, label=label)
        if corpus.kind == "raw" and self.parser is None:
            raise UnknownArtifact(f"{self.directory} was trained on key sequences; {data} is a raw log")
        corpus.sequences = _assign_keys(corpus, self.parser)
        return corpus

    def score_sessions(self, sequences: Sequence[KeySequence], *, progress: bool = False) -> list[SessionResult]:
        """Score whole sessions: windows of at most max_len keys, session score = max over its windows."""
        best, skipped = _best_window_scores(self.model, sequences, self.config)
        if skipped:
            logger.info("%d windows shorter than window.min_len were not scored", len(skipped))
        vocab = self.model.vocab_
        results = []
        for seq in sequences:
            if seq.session_id not in best:
                continue
            score = best[seq.session_id]
            results.append(
                SessionResult(
                    session_id=seq.session_id,
                    label=seq.label,
                    score=score,
                    is_anomaly=score > self.threshold,
                    n_keys=len(seq.key_ids),
                    n_unknown=_n_unknown(vocab, seq.key_ids),
                )
            )
        return results


def load_detector(path: str | Path, *, need_parser: bool = False) -> Detector:
    """Load an artifact directory written by :func:`train`.

    Args:
        path: the artifact directory.
        need_parser: refuse an artifact trained on key-sequence files (it has no log parser, so
            it cannot read raw lines: the streaming service and ``tail`` ask for this).

    Raises:
        UnknownArtifact: missing directory or files, pieces that do not belong together, or no
            parser where ``need_parser`` asks for one.
    """
    directory = Path(path)
    model = LogBertDetector.load(directory)
    state = model.parser_state_
    if state is None and need_parser:
        raise UnknownArtifact(
            f"{path} was trained on pre-parsed key sequences and has no log parser; "
            "the streaming service and tail need an artifact trained on a raw log"
        )
    parser = LogParser.from_dict(state) if state is not None else None
    return Detector(model, parser, directory)


# --------------------------------------------------------------------------------------------
# Scoring and evaluation
# --------------------------------------------------------------------------------------------


def score(artifact: str | Path | Detector, data: str | Path) -> list[SessionResult]:
    """Score every session (or window) of ``data``; higher score = more anomalous."""
    detector = artifact if isinstance(artifact, Detector) else load_detector(artifact)
    return detector.score_sessions(detector.read(data).sequences)


def _split_ids(directory: Path) -> dict[str, Any]:
    path = directory / SPLIT_FILE
    if not path.is_file():
        return {"train": [], "val": [], "data": None}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def evaluate(
    artifact: str | Path | Detector,
    data: str | Path | None = None,
    *,
    labels: str | Path | Labels | None = None,
    normal: str | Path | None = None,
    abnormal: str | Path | None = None,
    baselines: Sequence[str] = ("new_event",),
    report_path: str | Path | None = None,
) -> EvaluationResult:
    """Evaluate at the stored threshold on sessions never used in training or validation.

    Either ``data`` (+ ``labels``) or ``normal`` and/or ``abnormal`` files (all sessions of
    ``abnormal`` count as anomalous). Sessions listed in the artifact's ``split.json`` as train or
    validation are left out. Baselines are fitted on those same training sessions (read from the
    same input) and thresholded on its validation sessions with the same quantile, so they follow
    the same realistic protocol.

    Returns:
        The report (precision, recall, f1, threshold, auroc, auprc, best_f1 — the last one peeks
        at the labels and is named as such —, n_normal, n_abnormal ...), per-session results and
        baseline reports.

    Raises:
        InputDataError: nothing to evaluate, or an input without labels.
    """
    detector = artifact if isinstance(artifact, Detector) else load_detector(artifact)
    split = _split_ids(detector.directory)
    seen = set(split.get("train", [])) | set(split.get("val", []))
    sequences: list[KeySequence] = []
    fit_pool: list[KeySequence] = []
    reports: list[ReadReport] = []
    inputs: list[tuple[str | Path, int | None, str | Path | Labels | None]] = []
    if data is not None:
        inputs.append((data, None, labels))
    if normal is not None:
        inputs.append((normal, 0, None))
    if abnormal is not None:
        inputs.append((abnormal, 1, None))
    if not inputs:
        raise InputDataError("evaluate needs data (with labels) or normal/abnormal files")
    for path, label, lab in inputs:
        corpus = detector.read(path, labels=lab, label=label)
        reports.append(corpus.report)
        for seq in corpus.sequences:
            if seq.session_id in seen:
                fit_pool.append(seq)
            else:
                sequences.append(seq)
    if any(s.label is None for s in sequences):
        if data is not None and labels is None:
            for seq in sequences:  # no labels file: everything counts as normal (an FPR check)
                seq.label = 0 if seq.label is None else seq.label
        else:
            raise InputDataError("some sessions have no label")
    if not sequences:
        raise InputDataError("every session of the input was used for training or validation: nothing to evaluate")

    started = time.perf_counter()
    sessions = detector.score_sessions(sequences)
    score_seconds = time.perf_counter() - started
    y = np.array([s.label for s in sessions], dtype=int)
    scores = np.array([s.score for s in sessions], dtype=float)
    report = evaluation_report(y, scores, detector.threshold)
    report.update(
        {
            "protocol": "realistic: threshold chosen on normal validation data only; best_f1 peeks at test labels",
            "n_sessions": len(sessions),
            "n_excluded_training_sessions": len({s.session_id for s in fit_pool}),
            "score_seconds": round(score_seconds, 3),
            "read_report": [r.as_dict() for r in reports],
        }
    )
    baseline_reports, baseline_scores = _evaluate_baselines(baselines, detector, fit_pool, split, sessions, sequences)
    report["baselines"] = baseline_reports
    result = EvaluationResult(report, sessions, baseline_reports, baseline_scores)
    if report_path is not None:
        _write_json(Path(report_path), report)
    return result


def _evaluate_baselines(
    names: Sequence[str],
    detector: Detector,
    fit_pool: list[KeySequence],
    split: Mapping[str, Any],
    sessions: list[SessionResult],
    sequences: list[KeySequence],
) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray]]:
    from logbert.baselines import make_baseline

    reports: dict[str, dict[str, Any]] = {}
    scores_out: dict[str, np.ndarray] = {}
    if not names:
        return reports, scores_out
    val_ids = set(split.get("val", []))
    train_pool = [s for s in fit_pool if s.session_id not in val_ids]
    val_pool = [s for s in fit_pool if s.session_id in val_ids]
    if not train_pool or not val_pool:
        note = "training sessions of this artifact are not in the evaluated input: baselines skipped"
        return {name: {"skipped": note} for name in names}, scores_out
    train_w, _ = _windows(train_pool, detector.config)
    by_id = {s.session_id: s for s in sequences}
    test_sessions = [by_id[s.session_id] for s in sessions]
    y = np.array([s.label for s in sessions], dtype=int)
    scoring = detector.config.scoring
    val_normal = [s for s in val_pool if s.label != 1]
    val_abnormal = [s for s in val_pool if s.label == 1]
    for name in names:
        started = time.perf_counter()
        model = make_baseline(name).fit([w.key_ids for w in train_w])
        if scoring.threshold == "labelled_f1" and val_abnormal:
            from logbert.evaluation.thresholds import f1_threshold

            val_scores = np.concatenate(
                [
                    _max_per_session(model, val_normal, detector.config),
                    _max_per_session(model, val_abnormal, detector.config),
                ]
            )
            val_y = np.array([0] * len(val_normal) + [1] * len(val_abnormal))
            threshold = f1_threshold(val_scores, val_y)
        else:  # same quantile as LogBERT, of normal validation window scores
            val_w, _ = _windows(val_normal, detector.config)
            threshold = quantile_threshold(
                model.decision_function([w.key_ids for w in val_w]), scoring.threshold_quantile
            )
        best, _ = _best_window_scores(model, test_sessions, detector.config)
        session_scores = np.array([best.get(s.session_id, -np.inf) for s in sessions])
        rep = evaluation_report(y, session_scores, threshold)
        rep["seconds"] = round(time.perf_counter() - started, 3)
        reports[name] = rep
        scores_out[name] = session_scores
    return reports, scores_out


# --------------------------------------------------------------------------------------------
# Demo
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class DemoResult:
    out_dir: Path
    log_path: Path
    artifact_dir: Path
    report_path: Path
    train: TrainResult
    evaluation: EvaluationResult
    seconds: float


def demo_config() -> LogBertConfig:
    """Settings for the simulated nova log: loghub OpenStack format, sessions by instance id."""
    return load_config(
        None,
        {
            "parser.format": "openstack",
            "window.mode": "session",
            "window.session_preset": "openstack_instance",
            "train.epochs": 20,
            "train.patience": 4,
        },
    )


def demo(
    out_dir: str | Path = "logbert-demo",
    *,
    n_instances: int = 400,
    anomaly_ratio: float = 0.15,
    seed: int = 0,
    config: LogBertConfig | None = None,
    progress: bool = True,
    on_step: Callable[[str], None] | None = None,
) -> DemoResult:
    """Simulate OpenStack nova logs with injected faults, train, evaluate; all in ``out_dir``."""
    from logbert.datasets.simulator import write_simulated

    say = on_step or (lambda _msg: None)
    started = time.perf_counter()
    out = Path(out_dir)
    say(f"simulating {n_instances} VM lifecycles ({anomaly_ratio:.0%} with injected faults)")
    files = write_simulated(out / "data", n_instances=n_instances, anomaly_ratio=anomaly_ratio, seed=seed)
    cfg = config or demo_config()
    trained = train(files.log, out / "artifact", cfg, labels=files.labels, progress=progress, on_step=say)
    say("evaluating on held-out sessions")
    report_path = out / "report.json"
    evaluation = evaluate(
        trained.artifact_dir,
        files.log,
        labels=files.labels,
        baselines=("new_event", "count_nearest"),
        report_path=report_path,
    )
    seconds = time.perf_counter() - started
    return DemoResult(out, files.log, trained.artifact_dir, report_path, trained, evaluation, seconds)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _n_unknown(vocab: TokenVocab, key_ids: Sequence[int]) -> int:
    """Keys the vocabulary maps to UNK: templates the parser never saw, or keys absent from training."""
    return sum(1 for t in vocab.encode(key_ids) if t == vocab.UNK)


def _plain(obj: Any) -> Any:
    if hasattr(obj, "__dataclass_fields__"):
        return {k: _plain(getattr(obj, k)) for k in obj.__dataclass_fields__}
    if isinstance(obj, float | int | str | bool) or obj is None:
        return obj
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    return str(obj)


def _write_json(path: Path, data: Any) -> None:
    from logbert.evaluation.report import write_json

    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(data, path)


def results_table(result: EvaluationResult, title: str = "held-out sessions, threshold from validation") -> Any:
    """A rich table: LogBERT and each baseline side by side (same sessions, same protocol)."""
    from logbert.evaluation.report import comparison_table

    rows: dict[str, Mapping[str, Any]] = {"LogBERT": result.report}
    rows.update({name: rep for name, rep in result.baselines.items() if "skipped" not in rep})
    return comparison_table(rows, title=title)


@dataclass(slots=True)
class ParseSummary:
    templates: list[str]  # index = key id
    counts: list[int]  # lines per key id
    report: ReadReport


def parse(data: str | Path, config: LogBertConfig) -> ParseSummary:
    """Mine templates from every parsable line of a raw log (no training, no split)."""
    lines, report = read_log(data, config.parser)
    parser = LogParser(config.parser)
    keys = parser.fit_transform([ln.content for ln in lines])
    counts = [0] * len(parser.templates_)
    for k in keys:
        counts[k] += 1
    return ParseSummary(list(parser.templates_), counts, report)


def templates_table(summary: ParseSummary, top: int = 20) -> Any:
    from rich.table import Table

    table = Table(title=f"{len(summary.templates)} templates (top {min(top, len(summary.templates))} by lines)")
    table.add_column("key", justify="right")
    table.add_column("lines", justify="right")
    table.add_column("template", overflow="fold")
    order = sorted(range(len(summary.templates)), key=lambda k: -summary.counts[k])[:top]
    for k in order:
        table.add_row(str(k), str(summary.counts[k]), summary.templates[k])
    return table


def write_parse_summary(summary: ParseSummary, path: str | Path) -> None:
    _write_json(
        Path(path),
        {
            "templates": [
                {"key_id": k, "template": t, "lines": c}
                for k, (t, c) in enumerate(zip(summary.templates, summary.counts, strict=True))
            ],
            "read_report": summary.report.as_dict(),
        },
    )
