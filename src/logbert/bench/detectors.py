"""Every detector of the benchmark behind one ``fit(train, val)`` / ``decision_function`` interface.

Scores: **higher = more anomalous**, for every detector. ``val`` holds normal validation
sequences; only LogBERT uses them while fitting (early stopping), the thresholds are chosen
by the harness, identically for all.

Each detector sees either whole sessions (``unit = "session"``: the order-free baselines and
DeepLog, as loglizer and the DeepLog paper use them) or windows of at most
``window.max_len`` keys (``unit = "window"``: LogBERT, whose input length is fixed); a windowed
session scores the maximum of its windows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, Self

import numpy as np
import numpy.typing as npt

from logbert.baselines import make_baseline
from logbert.baselines.base import BaselineDetector
from logbert.baselines.deeplog import DEEPLOG_EPOCHS, DEEPLOG_PAPER_EPOCHS
from logbert.config import LogBertConfig, ScoreKind
from logbert.pipeline.estimator import LogBertDetector
from logbert.pipeline.sessions import Unit

__all__ = [
    "ALL_DETECTORS",
    "BenchDetector",
    "DetectorSpec",
    "LOGBERT_VARIANTS",
    "Unit",
    "detector_specs",
]

FloatArray = npt.NDArray[np.float64]


class BenchDetector(Protocol):
    """What the harness needs from a detector."""

    def fit(self, train: Sequence[Sequence[int]], val: Sequence[Sequence[int]]) -> Self: ...

    def decision_function(self, seqs: Sequence[Sequence[int]]) -> FloatArray:
        """(N,) float64, higher = more anomalous."""
        ...


class _Baseline:
    """A :class:`BaselineDetector` with the two-argument ``fit`` (validation data unused)."""

    def __init__(self, model: BaselineDetector) -> None:
        self.model = model

    def fit(self, train: Sequence[Sequence[int]], val: Sequence[Sequence[int]]) -> Self:
        self.model.fit(train)
        return self

    def decision_function(self, seqs: Sequence[Sequence[int]]) -> FloatArray:
        return np.asarray(self.model.decision_function(seqs), dtype=np.float64)


class _LogBert:
    """``LogBertDetector`` without a progress bar; its own threshold is ignored by the harness."""

    def __init__(self, config: LogBertConfig) -> None:
        self.model = LogBertDetector(config)

    def fit(self, train: Sequence[Sequence[int]], val: Sequence[Sequence[int]]) -> Self:
        self.model.fit(train, val, progress=False)
        return self

    def decision_function(self, seqs: Sequence[Sequence[int]]) -> FloatArray:
        return np.asarray(self.model.decision_function(seqs), dtype=np.float64)

    @property
    def epochs_run(self) -> int:
        return len(self.model.history_)


@dataclass(frozen=True, slots=True)
class DetectorSpec:
    """How to build one detector for one dataset and seed.

    Attributes:
        name: table name.
        family: ``"baseline"`` or ``"logbert"``.
        learned: its result depends on the seed (weights, sampling); deterministic detectors
            still run on every seed because the split may change with it.
        unit: whole sessions or windows of ``window.max_len`` keys.
        build: ``(config, seed) -> unfitted detector``; ``config`` is the dataset's LogBERT config
            with the benchmark's training settings applied.
        description: one line for the report.
        configure: LogBERT variants: ``(config, seed) -> the variant's config``; the harness trains it as
            ``logbert train`` does (:func:`~logbert.pipeline.fit.fit_sessions`), ``build`` is for other callers.
    """

    name: str
    family: Literal["baseline", "logbert"]
    learned: bool
    unit: Unit
    build: Callable[[LogBertConfig, int], BenchDetector]
    description: str
    configure: Callable[[LogBertConfig, int], LogBertConfig] | None = None


#: LogBERT ablation: (name, use_mlkp, alpha, score, description).
#: ``score`` None = the dataset preset's ``scoring.score`` (miss ratio, or mean surprise for HDFS).
LOGBERT_VARIANTS: tuple[tuple[str, bool, float | None, ScoreKind | None, str], ...] = (
    ("logbert", True, None, None, "LogBERT, MLKP + VHM losses, score = the preset's masked-key score"),
    ("logbert_mlkp", True, 0.0, None, "LogBERT ablation: MLKP loss only (alpha = 0), the preset's masked-key score"),
    ("logbert_vhm", False, None, "dist", "LogBERT ablation: VHM loss only, score = distance to the hypersphere centre"),
)


def _logbert_configure(
    use_mlkp: bool, alpha: float | None, score: ScoreKind | None
) -> Callable[[LogBertConfig, int], LogBertConfig]:
    def configure(config: LogBertConfig, seed: int) -> LogBertConfig:
        train: dict[str, object] = {"use_mlkp": use_mlkp, "seed": seed}
        if alpha is not None:
            train["alpha"] = alpha
        scoring = config.scoring if score is None else config.scoring.model_copy(update={"score": score})
        return config.model_copy(update={"train": config.train.model_copy(update=train), "scoring": scoring})

    return configure


def _logbert_builder(
    configure: Callable[[LogBertConfig, int], LogBertConfig],
) -> Callable[[LogBertConfig, int], BenchDetector]:
    def build(config: LogBertConfig, seed: int) -> BenchDetector:
        return _LogBert(configure(config, seed))

    return build


def _baseline_builder(name: str, seeded: bool, **fixed: object) -> Callable[[LogBertConfig, int], BenchDetector]:
    def build(config: LogBertConfig, seed: int) -> BenchDetector:
        kwargs = dict(fixed)
        if seeded:
            kwargs["seed"] = seed
            if name == "deeplog":
                kwargs["num_threads"] = config.train.num_threads
        return _Baseline(make_baseline(name, **kwargs))

    return build


def detector_specs(
    *,
    baseline_unit: Unit = "session",
    deeplog_epochs: int = DEEPLOG_EPOCHS,
    deeplog_paper_epochs: int = DEEPLOG_PAPER_EPOCHS,
) -> dict[str, DetectorSpec]:
    """Every detector of the benchmark, by name, baselines first (cheapest first).

    Args:
        baseline_unit: what the baselines see: whole sessions (default) or LogBERT's windows.
        deeplog_epochs: DeepLog training epochs.
        deeplog_paper_epochs: training epochs of ``deeplog_paper``.
    """
    u = baseline_unit
    specs = [
        DetectorSpec(
            "new_event",
            "baseline",
            False,
            u,
            _baseline_builder("new_event", False),
            "count of keys never seen in training",
        ),
        DetectorSpec(
            "sequence_length",
            "baseline",
            False,
            u,
            _baseline_builder("sequence_length", False),
            "keys outside the training length range",
        ),
        DetectorSpec(
            "count_nearest",
            "baseline",
            False,
            u,
            _baseline_builder("count_nearest", False),
            "distance of the event-count vector to the nearest training vector",
        ),
        DetectorSpec(
            "pca",
            "baseline",
            False,
            u,
            _baseline_builder("pca", False),
            "loglizer PCA: squared prediction error of the TF-IDF count vector",
        ),
        DetectorSpec(
            "isolation_forest",
            "baseline",
            True,
            u,
            _baseline_builder("isolation_forest", True),
            "scikit-learn Isolation Forest on event-count vectors",
        ),
        DetectorSpec(
            "deeplog",
            "baseline",
            True,
            u,
            _baseline_builder("deeplog", True, epochs=deeplog_epochs),
            "DeepLog LSTM (h=10, g=9), score = share of keys outside the top-g",
        ),
        DetectorSpec(
            "deeplog_paper",
            "baseline",
            True,
            u,
            _baseline_builder("deeplog", True, epochs=deeplog_paper_epochs, protocol="paper"),
            "DeepLog at its paper's protocol (h=10, g=9, 2x64 LSTM; full histories only, a session shorter than "
            "h + 1 keys always misses, score = number of misses)",
        ),
    ]
    for name, use_mlkp, alpha, score, description in LOGBERT_VARIANTS:
        configure = _logbert_configure(use_mlkp, alpha, score)
        specs.append(
            DetectorSpec(
                name,
                "logbert",
                True,
                "window",
                _logbert_builder(configure),
                description,
                configure,
            )
        )
    return {s.name: s for s in specs}


#: Every detector name, in table order.
ALL_DETECTORS: tuple[str, ...] = tuple(detector_specs())
