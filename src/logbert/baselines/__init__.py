"""Simple detectors behind the same ``fit`` / ``decision_function`` interface as ``LogBertDetector``.

All are fitted on normal key-id sequences only and score higher = more anomalous.
"""

from logbert.baselines.base import AnomalyScorer, BaselineDetector, KeyCounter
from logbert.baselines.count_vector import CountVectorNearestDetector, IsolationForestDetector, PCADetector
from logbert.baselines.deeplog import DeepLogDetector
from logbert.baselines.duration import SessionDurationDetector, TimeGapDetector
from logbert.baselines.params import ParamOutlierDetector
from logbert.baselines.registry import BASELINES, BaselineName, make_baseline
from logbert.baselines.simple import NewEventDetector, SequenceLengthDetector

__all__ = [
    "AnomalyScorer",
    "BaselineDetector",
    "KeyCounter",
    "NewEventDetector",
    "SequenceLengthDetector",
    "CountVectorNearestDetector",
    "PCADetector",
    "IsolationForestDetector",
    "DeepLogDetector",
    "ParamOutlierDetector",
    "SessionDurationDetector",
    "TimeGapDetector",
    "BASELINES",
    "BaselineName",
    "make_baseline",
]
