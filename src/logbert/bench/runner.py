"""Run every detector on every dataset with the same splits, under both protocols.

Per dataset and seed, once for all detectors:

1. split whole sessions (:func:`~logbert.windowing.windows.split_sessions`): train and
   validation hold normal sessions only, test holds the held-out normal sessions and every
   anomalous one; chronological where every session has a timestamp, else a seeded shuffle;
2. mine templates on the training lines only and freeze the parser (unseen -> ``UNK_KEY``);
3. every detector is fitted on the training sessions (or their windows), scores the validation
   and test sessions (a windowed session scores the maximum of its windows), and is judged
   under two protocols:

   * **realistic**: the threshold ``logbert train`` would store, for every detector by the same code
     (:mod:`logbert.pipeline.fit`): ``scoring.calibration`` resolved for the split (``auto``: out-of-fold
     scores of every normal training and validation session when the validation split alone is too small,
     else the validation sessions), the ``scoring.threshold_quantile`` quantile of those normal session
     scores, sessions holding a key their scoring detector never trained on left out. LogBERT is trained
     by :func:`~logbert.pipeline.fit.fit_sessions` itself (fold models, the final model, the score a small
     vocabulary allows), the baselines by :func:`~logbert.pipeline.fit.calibrate_detector`;
   * **paper**: the threshold with the best F1 on the test set itself, as the LogBERT paper's
     code does (``find_best_threshold`` on test results): an oracle no deployment can reach.

AUROC and AUPRC do not depend on a threshold. Identical sequences are scored once (every
detector here is deterministic at scoring time), which changes no score, only the time.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from logbert.bench.config import BenchConfig
from logbert.bench.datasets import BenchData, DatasetSpec, load_dataset
from logbert.bench.detectors import DetectorSpec, detector_specs
from logbert.config import LogBertConfig
from logbert.errors import InputDataError
from logbert.evaluation.metrics import binary_metrics, evaluation_report
from logbert.pipeline.calibrate import Scheme, resolve_calibration
from logbert.pipeline.fit import calibrate_detector, fit_sessions, rekey_normal_sessions
from logbert.pipeline.sessions import Unit, session_scores, session_windows
from logbert.pipeline.split import KeyedSplit, split_and_key
from logbert.records import KeySequence
from logbert.results import exceeds

__all__ = [
    "BenchResult",
    "DatasetResult",
    "RunRecord",
    "aggregate",
    "prepare_split",
    "run_benchmark",
    "run_dataset",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Per-run metrics averaged over seeds (mean and std) in the tables.
METRICS: tuple[str, ...] = (
    "precision",
    "recall",
    "f1",
    "fpr",
    "auroc",
    "auprc",
    "paper_precision",
    "paper_recall",
    "paper_f1",
    "train_s",
    "score_s",
)


@dataclass(slots=True)
class RunRecord:
    """One detector, one seed: every metric under both protocols."""

    detector: str
    seed: int
    metrics: dict[str, Any]  # see METRICS, plus thresholds, confusion counts, epochs_run
    type_recall: dict[str, float] = field(default_factory=dict)  # realistic protocol
    type_recall_paper: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class DatasetResult:
    spec: DatasetSpec
    stats: dict[str, Any]
    runs: list[RunRecord]
    # first seed only, for the plots: labels, and per detector (session scores, realistic threshold)
    y_test: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    plot_scores: dict[str, tuple[FloatArray, float]] = field(default_factory=dict)
    error: str | None = None  # set when the dataset could not be run (e.g. files missing)
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class BenchResult:
    config: BenchConfig
    datasets: list[DatasetResult]
    seconds: float
    detectors: dict[str, DetectorSpec]


def prepare_split(
    data: BenchData, config: LogBertConfig, seed: int, max_train_sessions: int | None = None
) -> KeyedSplit:
    """The split of ``split_and_key`` (the one ``logbert train`` uses) for one seed of the benchmark.

    Raises:
        InputDataError: no normal session for training or validation.
    """
    return split_and_key(data.corpus, config, seed=seed, max_train_sessions=max_train_sessions, what=data.spec.name)


def _windows(sessions: Sequence[KeySequence], unit: Unit, config: LogBertConfig) -> list[KeySequence]:
    return list(sessions) if unit == "session" else session_windows(sessions, config.window)[0]


def _type_recall(
    types: dict[str, str], sessions: Sequence[KeySequence], predicted: npt.NDArray[np.bool_]
) -> dict[str, float]:
    if not types:
        return {}
    hits: dict[str, list[bool]] = {}
    for seq, flag in zip(sessions, predicted, strict=True):
        if seq.label == 1 and seq.session_id in types:
            hits.setdefault(types[seq.session_id], []).append(bool(flag))
    return {t: float(np.mean(v)) for t, v in sorted(hits.items())}


def _run_one(
    spec: DetectorSpec,
    config: LogBertConfig,
    seed: int,
    split: KeyedSplit,
    scheme: Scheme,
    types: dict[str, str],
    what: str,
) -> tuple[RunRecord, FloatArray, float]:
    """One detector, fitted and calibrated as ``logbert train`` would (``scheme``: the resolved calibration)."""
    started = time.perf_counter()
    epochs: int | None
    if spec.configure is not None:  # LogBERT: logbert train's own fit, fold models and final model
        fitted = fit_sessions(split.train, split.val, spec.configure(config, seed), scheme=scheme, what=what)
        detector: Any = fitted.detector
        calibration = fitted.record
        epochs = len(fitted.detector.history_)
    else:
        detector, calibration = calibrate_detector(
            lambda: spec.build(config, seed), split.train, split.val, config, scheme=scheme, unit=spec.unit, what=what
        )
        epochs = getattr(detector, "epochs_run", None)
    train_s = time.perf_counter() - started
    started = time.perf_counter()
    test_scores = session_scores(detector, split.test, config.window, spec.unit)
    score_s = time.perf_counter() - started
    threshold = float(calibration.threshold)
    y = np.array([s.label for s in split.test], dtype=np.int64)
    report = evaluation_report(y, test_scores, threshold)
    paper_threshold = float(report["best_f1_threshold"])
    paper = binary_metrics(y, test_scores > paper_threshold)
    metrics: dict[str, Any] = {
        key: report[key] for key in ("precision", "recall", "f1", "fpr", "auroc", "auprc", "tp", "fp", "tn", "fn")
    }
    metrics.update(
        {
            "threshold": threshold,
            "calibration": scheme,
            "n_calibration": calibration.n,
            "n_val_unseen": calibration.n_unseen,
            "paper_precision": paper["precision"],
            "paper_recall": paper["recall"],
            "paper_f1": paper["f1"],
            "paper_threshold": paper_threshold,
            "train_s": train_s,
            "score_s": score_s,
        }
    )
    if epochs is not None:
        metrics["epochs_run"] = int(epochs)
    record = RunRecord(
        spec.name,
        seed,
        metrics,
        _type_recall(types, split.test, exceeds(test_scores, threshold)),
        _type_recall(types, split.test, test_scores > paper_threshold),
    )
    return record, test_scores, threshold


# --------------------------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------------------------


def _logbert_config(base: LogBertConfig, bench: BenchConfig) -> LogBertConfig:
    overrides: dict[str, Any] = {
        "train.epochs": bench.epochs,
        "train.patience": bench.patience,
        "train.num_threads": bench.num_threads,
    }
    overrides.update(bench.overrides)
    return base.with_overrides(overrides)


def run_dataset(
    spec: DatasetSpec,
    bench: BenchConfig,
    detectors: dict[str, DetectorSpec] | None = None,
    *,
    say: Callable[[str], None] = lambda _m: None,
) -> DatasetResult:
    """Every selected detector on one dataset, for every seed.

    Raises:
        InputDataError: unusable data (missing files, nothing to train on, no anomaly).
    """
    detectors = detectors or detector_specs(
        baseline_unit=bench.baseline_unit,
        deeplog_epochs=bench.deeplog_epochs,
        deeplog_paper_epochs=bench.deeplog_paper_epochs,
    )
    selected = [detectors[name] for name in bench.detectors]
    started = time.perf_counter()
    data = load_dataset(spec, max_normal=bench.max_normal, max_abnormal=bench.max_abnormal)
    config = _logbert_config(data.config, bench)
    n_abnormal = sum(s.label == 1 for s in data.sequences)
    stats: dict[str, Any] = {
        "n_sessions": len(data.sequences),
        "n_normal": len(data.sequences) - n_abnormal,
        "n_abnormal": n_abnormal,
        "n_subsampled_out": data.n_subsampled_out,
        "n_duplicate_sessions": data.n_duplicate_sessions,
        "kind": data.corpus.kind,
        "preset": spec.preset,
        "window_max_len": config.window.max_len,
        "threshold_quantile": config.scoring.threshold_quantile,
        "anomaly_types": _count(data.anomaly_types.values()),
        "read_s": round(time.perf_counter() - started, 2),
    }
    say(f"{spec.name}: {stats['n_normal']} normal + {n_abnormal} anomalous sessions")
    result = DatasetResult(spec, stats, [], notes=list(data.notes))
    for k, seed in enumerate(bench.seeds):
        split = prepare_split(data, config, seed, bench.max_train_sessions)
        # the calibration logbert train would choose for this split (cross-fit: templates mined on training and
        # validation lines, as it does); every detector of the seed gets the same sessions and the same scheme
        scheme = resolve_calibration(config.scoring, len(split.train) + len(split.val), len(split.val))
        if scheme == "cross_fit":
            split = rekey_normal_sessions(data.corpus, split, config)
        if k == 0:
            stats.update(
                {
                    "chronological": split.chronological,
                    "n_train": len(split.train),
                    "n_val": len(split.val),
                    "n_test_normal": sum(s.label != 1 for s in split.test),
                    "n_test_abnormal": sum(s.label == 1 for s in split.test),
                    "n_templates": split.n_templates,
                    "n_unknown_test_keys": split.n_test_unknown,
                    "n_train_windows": len(_windows(split.train, "window", config)),
                    "calibration": scheme,
                }
            )
            result.y_test = np.array([s.label for s in split.test], dtype=np.int64)
        for det in selected:
            record, scores, threshold = _run_one(det, config, seed, split, scheme, data.anomaly_types, spec.name)
            result.runs.append(record)
            if k == 0:
                result.plot_scores[det.name] = (scores, threshold)
            m = record.metrics
            say(
                f"{spec.name} seed {seed} {det.name}: F1 {m['f1']:.3f} (paper {m['paper_f1']:.3f}) "
                f"AUROC {_num(m['auroc'])} train {m['train_s']:.1f}s score {m['score_s']:.1f}s"
            )
    stats["seconds"] = round(time.perf_counter() - started, 1)
    return result


def _num(value: Any) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{float(value):.3f}"


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))


def run_benchmark(
    bench: BenchConfig,
    datasets: Sequence[DatasetSpec],
    *,
    say: Callable[[str], None] | None = None,
    on_dataset: Callable[[BenchResult], None] | None = None,
) -> BenchResult:
    """Run the benchmark; a dataset that cannot be read is reported with its error, not fatal.

    Args:
        bench: run settings.
        datasets: the datasets, in report order.
        say: progress messages; without it, a skipped dataset is a logged warning.
        on_dataset: called with the partial result after every dataset (e.g. to write files as
            the run goes, so a long run can be inspected before it ends).
    """
    started = time.perf_counter()
    detectors = detector_specs(
        baseline_unit=bench.baseline_unit,
        deeplog_epochs=bench.deeplog_epochs,
        deeplog_paper_epochs=bench.deeplog_paper_epochs,
    )
    result = BenchResult(bench, [], 0.0, {name: detectors[name] for name in bench.detectors})
    for spec in datasets:
        try:
            result.datasets.append(run_dataset(spec, bench, detectors, say=say or (lambda _m: None)))
        except InputDataError as exc:
            if say is None:
                logger.warning("dataset %s skipped: %s", spec.name, exc)
            else:  # the reason once, where a caller lists the skipped datasets (`logbert bench` does, at the end)
                say(f"{spec.name}: skipped (why: at the end of the run and in the results)")
            result.datasets.append(DatasetResult(spec, {}, [], error=str(exc), notes=list(spec.notes)))
        result.seconds = time.perf_counter() - started
        if on_dataset is not None:
            on_dataset(result)
    result.seconds = time.perf_counter() - started
    return result


# --------------------------------------------------------------------------------------------
# aggregation over seeds
# --------------------------------------------------------------------------------------------


def _mean_std(values: Sequence[float]) -> tuple[float, float] | None:
    xs = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not xs:
        return None
    return float(np.mean(xs)), float(np.std(xs, ddof=1)) if len(xs) > 1 else 0.0


def aggregate(runs: Sequence[RunRecord]) -> dict[str, dict[str, Any]]:
    """Per detector (first-seen order): ``{metric: {"mean", "std", "n"}}`` over seeds, and type recall.

    Missing or NaN values (e.g. AUROC without normal test sessions) are left out; a metric with
    no value at all is absent. ``std`` is the sample standard deviation (0 for one seed).
    """
    by_detector: dict[str, list[RunRecord]] = {}
    for run in runs:
        by_detector.setdefault(run.detector, []).append(run)
    out: dict[str, dict[str, Any]] = {}
    for name, recs in by_detector.items():
        agg: dict[str, Any] = {"n_seeds": len(recs)}
        for metric in METRICS:
            ms = _mean_std([r.metrics.get(metric, math.nan) for r in recs])
            if ms is not None:
                agg[metric] = {"mean": ms[0], "std": ms[1]}
        for key in ("type_recall", "type_recall_paper"):
            types = sorted({t for r in recs for t in getattr(r, key)})
            per_type: dict[str, Any] = {}
            for t in types:
                ms = _mean_std([getattr(r, key).get(t, math.nan) for r in recs])
                if ms is not None:
                    per_type[t] = {"mean": ms[0], "std": ms[1]}
            if per_type:
                agg[key] = per_type
        out[name] = agg
    return out
