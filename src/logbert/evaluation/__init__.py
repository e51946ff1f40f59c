"""Metrics (pure), validation-only thresholds, and reports (tables, JSON, plots in ``report``)."""

from logbert.evaluation.metrics import (
    best_f1,
    binary_metrics,
    evaluation_report,
    pr_curve,
    ranking_metrics,
    roc_curve,
)
from logbert.evaluation.thresholds import f1_threshold, quantile_threshold

__all__ = [
    "best_f1",
    "binary_metrics",
    "evaluation_report",
    "pr_curve",
    "ranking_metrics",
    "roc_curve",
    "f1_threshold",
    "quantile_threshold",
]
