"""Present evaluation reports: rich tables, JSON files and PNG plots.

A *report* is the flat dict returned by :func:`logbert.evaluation.metrics.evaluation_report`.
Plots use matplotlib's object API with the Agg canvas directly (no ``pyplot``), so they work
headless, in threads, and never touch the global backend another part of the program chose.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from rich.console import Console
from rich.table import Table

from logbert.evaluation.metrics import _as_labels, _as_scores, pr_curve, ranking_metrics
from logbert.files import write_file

__all__ = [
    "DEFAULT_COLUMNS",
    "report_table",
    "comparison_table",
    "table_to_text",
    "to_jsonable",
    "write_json",
    "plot_pr_curves",
    "plot_score_histogram",
]

#: Metrics shown by default, in order. The oracle ``best_f1`` is labelled as such in the header.
DEFAULT_COLUMNS: tuple[str, ...] = (
    "precision",
    "recall",
    "f1",
    "fpr",
    "auroc",
    "auprc",
    "best_f1",
    "threshold",
    "best_f1_threshold",
    "tp",
    "fp",
    "tn",
    "fn",
    "n_normal",
    "n_abnormal",
)

_LABELS: dict[str, str] = {
    "best_f1": "best F1 (oracle)",
    "best_f1_threshold": "oracle threshold",
    "fpr": "FPR",
    "auroc": "AUROC",
    "auprc": "AUPRC",
    "f1": "F1",
}


def _fmt(value: Any) -> str:
    """Human formatting: ints as is, floats with 4 decimals (3 significant digits when large), NaN as n/a."""
    if value is None:
        return "-"
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        v = float(value)
        if math.isnan(v):
            return "n/a"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:.4f}" if abs(v) < 1e4 else f"{v:.3g}"
    return str(value)


def report_table(report: Mapping[str, Any], title: str | None = None) -> Table:
    """One detector's report as a two-column (metric, value) rich table.

    Args:
        report: an :func:`~logbert.evaluation.metrics.evaluation_report` dict (other keys are
            shown too, after the default ones).
        title: table title, e.g. the detector name.
    """
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    keys = [k for k in DEFAULT_COLUMNS if k in report]
    keys += [k for k in report if k not in DEFAULT_COLUMNS]
    for key in keys:
        table.add_row(_LABELS.get(key, key), _fmt(report[key]))
    return table


def comparison_table(
    reports: Mapping[str, Mapping[str, Any]],
    columns: Sequence[str] = ("precision", "recall", "f1", "fpr", "auroc", "auprc", "best_f1", "threshold"),
    title: str | None = None,
) -> Table:
    """Several detectors side by side: one row per detector, one column per metric.

    Args:
        reports: detector name -> report dict.
        columns: metric keys to show; a key missing from a report shows as ``-``.
        title: table title, e.g. the dataset name.
    """
    table = Table(title=title)
    table.add_column("detector")
    for col in columns:
        table.add_column(_LABELS.get(col, col), justify="right")
    for name, report in reports.items():
        table.add_row(name, *(_fmt(report.get(col)) for col in columns))
    return table


def table_to_text(table: Table, width: int = 120) -> str:
    """Render a rich table to plain text (for logs, files and tests)."""
    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system=None).print(table)
    return buffer.getvalue()


def to_jsonable(value: Any) -> Any:
    """Convert a report (nested dicts/lists, numpy scalars and arrays) to strict-JSON values.

    NaN and infinities become ``None`` (JSON has no NaN; the report's ``ranking_note`` says
    why a value is missing).
    """
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(data: Mapping[str, Any], path: str | Path) -> Path:
    """Write a report (or ``{detector: report}``) as indented strict JSON; creates parent dirs.

    Returns:
        The path written.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    write_file(p, (json.dumps(to_jsonable(data), indent=2, allow_nan=False) + "\n").encode("utf-8"))  # errors name p
    return p


def _save(fig: Figure, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)  # attaches the Agg canvas to the figure
    fig.savefig(p, format="png", dpi=120)
    return p


def plot_pr_curves(
    y_true: npt.ArrayLike,
    scores_by_detector: Mapping[str, npt.ArrayLike],
    path: str | Path,
    title: str = "Precision-recall",
) -> Path:
    """One precision-recall curve per detector, all on the same labelled split, saved as PNG.

    Args:
        y_true: shape (N,), 1 = anomalous; needs at least one anomaly.
        scores_by_detector: detector name -> scores of shape (N,), higher = more anomalous.
        path: where the PNG goes (parent directories are created).
        title: plot title.

    Returns:
        The path written.

    Raises:
        ValueError: no anomaly in ``y_true``, or scores of the wrong length.
    """
    labels = _as_labels(y_true)
    fig = Figure(figsize=(6.0, 5.0))
    ax = fig.add_subplot()
    for name, scores in scores_by_detector.items():
        precision, recall, _ = pr_curve(labels, scores)
        auprc = ranking_metrics(labels, scores)["auprc"]
        ax.step(recall, precision, where="post", label=f"{name} (AP={_fmt(auprc)})")
    base_rate = float(labels.mean())
    ax.axhline(base_rate, color="grey", linestyle=":", linewidth=1, label=f"chance ({base_rate:.3f})")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.set_title(title)
    ax.legend(loc="lower left", fontsize="small")
    return _save(fig, path)


def plot_score_histogram(
    y_true: npt.ArrayLike,
    scores: npt.ArrayLike,
    path: str | Path,
    threshold: float | None = None,
    title: str = "Anomaly scores",
    bins: int = 50,
) -> Path:
    """Histograms of the scores of normal vs anomalous sequences (density, shared bins), as PNG.

    Args:
        y_true: shape (N,), 1 = anomalous.
        scores: shape (N,), higher = more anomalous; must be finite.
        path: where the PNG goes (parent directories are created).
        threshold: drawn as a vertical line when given.
        title: plot title.
        bins: number of shared bins.

    Returns:
        The path written.
    """
    labels = _as_labels(y_true)
    s = _as_scores(scores, labels.shape[0])
    if not np.isfinite(s).all():
        raise ValueError("plot_score_histogram needs finite scores")
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    fig = Figure(figsize=(6.0, 4.0))
    ax = fig.add_subplot()
    if s.size:
        lo, hi = float(s.min()), float(s.max())
        edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
        for mask, name, color in ((~labels, "normal", "tab:blue"), (labels, "anomalous", "tab:red")):
            if mask.any():
                label = f"{name} (n={int(mask.sum())})"
                ax.hist(s[mask], bins=edges.tolist(), density=True, alpha=0.5, color=color, label=label)
    if threshold is not None:
        ax.axvline(threshold, color="black", linestyle="--", linewidth=1, label=f"threshold {_fmt(threshold)}")
    ax.set_xlabel("anomaly score (higher = more anomalous)")
    ax.set_ylabel("density")
    ax.set_title(title)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small")
    return _save(fig, path)
