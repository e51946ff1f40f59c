"""Write a benchmark result: ``results.json``, ``results.md`` and PNG plots in one folder."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
import platform
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from logbert.bench.datasets import InputFile
from logbert.bench.runner import BenchResult, DatasetResult, aggregate
from logbert.evaluation.report import plot_pr_curves, write_json
from logbert.threads import cpuinfo_field

__all__ = ["headline", "machine_info", "plot_score_grid", "render_markdown", "write_results"]

#: The detector the headline compares with the best baseline.
HEADLINE_DETECTOR = "logbert"
#: Metrics that need a realistic normal population in test (n/a on recall-only data).
_NEEDS_NORMALS = ("precision", "f1", "auprc", "paper_precision", "paper_recall", "paper_f1")


def machine_info() -> dict[str, Any]:
    """Python, library versions, OS and CPU of this machine."""
    versions = {}
    for pkg in ("logbert", "torch", "numpy", "scikit-learn", "drain3", "matplotlib"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    cpu = cpuinfo_field("model name") or platform.processor() or platform.machine()
    return {
        "python": sys.version.split()[0],
        "versions": versions,
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
    }


def _fmt(cell: Mapping[str, float] | None, digits: int = 3) -> str:
    if cell is None:
        return "n/a"
    mean, std = cell["mean"], cell["std"]
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if std > 0 else f"{mean:.{digits}f}"


def _mean(agg: Mapping[str, Any], metric: str) -> float:
    cell = agg.get(metric)
    return float(cell["mean"]) if cell is not None else math.nan


def headline(result: BenchResult) -> list[dict[str, Any]]:
    """Per dataset: LogBERT's realistic F1 / AUROC against the best baseline on each."""
    rows: list[dict[str, Any]] = []
    baselines = [n for n, s in result.detectors.items() if s.family == "baseline"]
    for ds in result.datasets:
        if ds.error is not None or not ds.runs:
            continue
        agg = aggregate(ds.runs)
        row: dict[str, Any] = {"dataset": ds.spec.name, "recall_only": ds.spec.recall_only}
        lb = agg.get(HEADLINE_DETECTOR)
        for metric in ("f1", "auroc"):
            if ds.spec.recall_only and metric == "f1":
                metric = "recall"
            scored = [(b, _mean(agg[b], metric)) for b in baselines if b in agg]
            scored = [(b, v) for b, v in scored if not math.isnan(v)]
            best = max(scored, key=lambda bv: bv[1]) if scored else (None, math.nan)
            mine = _mean(lb, metric) if lb is not None else math.nan
            row[metric] = {
                "logbert": mine,
                "best_baseline": best[0],
                "best_baseline_value": best[1],
                "logbert_at_least_best": bool(mine >= best[1] - 1e-12) if not math.isnan(mine) else None,
            }
        rows.append(row)
    return rows


def _dataset_table(ds: DatasetResult, agg: Mapping[str, Mapping[str, Any]]) -> list[str]:
    cols = [
        ("precision", "P"),
        ("recall", "R"),
        ("f1", "**F1**"),
        ("fpr", "FPR"),
        ("auroc", "AUROC"),
        ("auprc", "AUPRC"),
        ("paper_precision", "P"),
        ("paper_recall", "R"),
        ("paper_f1", "**F1**"),
        ("train_s", "train s"),
        ("score_s", "score s"),
    ]
    lines = [
        "| detector | " + " | ".join(label for _, label in cols) + " |",
        "|---|" + "---:|" * len(cols),
        "| | *realistic* | | | | *any* | | *paper (oracle)* | | | | |",
    ]
    for name, a in agg.items():
        cells = []
        for metric, _ in cols:
            if ds.spec.recall_only and metric in _NEEDS_NORMALS:
                cells.append("n/a")
            elif metric in ("train_s", "score_s"):
                cells.append(_fmt(a.get(metric), 1))
            else:
                cells.append(_fmt(a.get(metric)))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def _type_table(agg: Mapping[str, Mapping[str, Any]]) -> list[str]:
    types = sorted({t for a in agg.values() for t in a.get("type_recall", {})})
    if not types:
        return []
    lines = [
        "Recall per anomaly type (realistic threshold; paper-protocol threshold in brackets):",
        "",
        "| detector | " + " | ".join(types) + " |",
        "|---|" + "---:|" * len(types),
    ]
    for name, a in agg.items():
        cells = [
            f"{_fmt(a.get('type_recall', {}).get(t))} ({_fmt(a.get('type_recall_paper', {}).get(t))})" for t in types
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines + [""]


def render_markdown(
    result: BenchResult, command: str, machine: Mapping[str, Any], plots: Mapping[str, list[str]]
) -> str:
    """The whole report as Markdown (the table, per-dataset details, plot links)."""
    cfg = result.config
    v = machine["versions"]
    out = [
        "# Detection benchmark" + (" (QUICK smoke run: not the reference table)" if cfg.quick else ""),
        "",
        f"Command: `{command}`  ",
        f"Date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}; wall time {result.seconds / 60:.1f} min  ",
        f"Machine: {machine['cpu']} ({machine['cpu_count']} cores), {machine['platform']}, "
        f"Python {machine['python']}  ",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + "  ",
        f"Settings: seeds {list(cfg.seeds)}, LogBERT epochs {cfg.epochs} (patience {cfg.patience}), "
        f"DeepLog epochs {cfg.deeplog_epochs}, baselines see whole {cfg.baseline_unit}s, LogBERT windows; "
        f"at most {cfg.max_train_sessions} training sessions per dataset (seeded sample of the training split); "
        f"caps on the data normal={cfg.max_normal} anomalous={cfg.max_abnormal}; "
        f"torch threads {cfg.num_threads or 'auto'}" + (f"; overrides {cfg.overrides}" if cfg.overrides else ""),
        "",
        "Protocols. **realistic**: the threshold `logbert train` would store, by its own code for every detector "
        "(`logbert.pipeline.fit`): the `threshold_quantile` quantile of normal session scores from models that did "
        "not train on them, out-of-fold over every normal training and validation session (cross-fit) where "
        "`scoring.calibration = auto` finds the validation split too small, else the validation sessions' "
        "(split; the `calibration` column of the JSON says which); no label of the test set is used; "
        "sessions split before windowing, chronologically "
        "where timestamps exist. **paper (oracle)**: the threshold with the best F1 *on the test set*, as "
        "the LogBERT paper's code does; no deployment can reach it. AUROC and AUPRC use no threshold. "
        "Values are mean ± sample std over the seeds; a session scores the maximum of its windows.",
        "",
        "## Headline: realistic protocol, LogBERT (MLKP + VHM) against the best baseline",
        "",
        "| dataset | LogBERT F1 | best baseline F1 | LogBERT AUROC | best baseline AUROC | LogBERT >= every baseline |",
        "|---|---:|---|---:|---|---|",
    ]
    for row in headline(result):
        f1: dict[str, Any] = row["recall"] if row["recall_only"] else row["f1"]
        auroc: dict[str, Any] = row["auroc"]
        label = "recall" if row["recall_only"] else "F1"
        verdict = "yes" if f1["logbert_at_least_best"] and auroc["logbert_at_least_best"] else "**no**"
        out.append(
            f"| {row['dataset']} | {f1['logbert']:.3f}{' (' + label + ')' if row['recall_only'] else ''} | "
            f"{f1['best_baseline_value']:.3f} ({f1['best_baseline']}) | {auroc['logbert']:.3f} | "
            f"{auroc['best_baseline_value']:.3f} ({auroc['best_baseline']}) | {verdict} |"
        )
    out.append("")
    out.append("Detectors: " + "; ".join(f"`{n}` {s.description}" for n, s in result.detectors.items()) + ".")
    out.append("")
    for ds in result.datasets:
        out.append(f"## {ds.spec.name}: {ds.spec.title}")
        out.append("")
        if ds.error is not None:
            out += [f"Skipped: {ds.error}", ""]
            continue
        s = ds.stats
        calibration = s.get("calibration", "split")  # results written before the bench cross-fitted: split
        mined = "training and validation" if calibration == "cross_fit" else "training"
        out.append(
            f"{s['n_normal']} normal + {s['n_abnormal']} anomalous sessions; split "
            f"{'chronological' if s.get('chronological') else 'seeded shuffle'}: {s['n_train']} train, "
            f"{s['n_val']} validation (normal), test {s['n_test_normal']} normal + {s['n_test_abnormal']} anomalous; "
            f"{s['n_templates']} templates mined on {mined} lines, {s['n_unknown_test_keys']} test keys unseen; "
            f"LogBERT windows of at most {s['window_max_len']} keys ({s['n_train_windows']} training windows); "
            f"threshold quantile {s['threshold_quantile']}, calibration {calibration}; {s['seconds']:.0f} s."
        )
        out.append("")
        for note in ds.notes:
            out.append(f"- {note}")
        if ds.notes:
            out.append("")
        agg = aggregate(ds.runs)
        out += _dataset_table(ds, agg)
        out.append("")
        out += _type_table(agg)
        for path in plots.get(ds.spec.name, []):
            out.append(f"![{ds.spec.name} {Path(path).stem}]({Path(path).name})")
        out.append("")
    return "\n".join(out) + "\n"


def plot_score_grid(
    y_true: npt.ArrayLike,
    scores_by_detector: Mapping[str, tuple[npt.ArrayLike, float]],
    path: str | Path,
    title: str,
    bins: int = 30,
) -> Path:
    """Normal vs anomalous session-score histograms, one panel per detector, realistic threshold dashed."""
    labels = np.asarray(y_true).astype(bool)
    n = len(scores_by_detector)
    ncols = 3
    nrows = max(1, math.ceil(n / ncols))
    fig = Figure(figsize=(4.0 * ncols, 2.8 * nrows))
    for k, (name, (scores, threshold)) in enumerate(scores_by_detector.items()):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        s = np.asarray(scores, dtype=np.float64)
        finite = np.isfinite(s)
        s = np.where(finite, s, np.min(s[finite]) if finite.any() else 0.0)
        lo, hi = float(s.min()), float(s.max())
        edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
        for mask, label, color in ((~labels, "normal", "tab:blue"), (labels, "anomalous", "tab:red")):
            if mask.any():
                ax.hist(
                    s[mask], bins=edges.tolist(), density=True, alpha=0.5, color=color, label=f"{label} ({mask.sum()})"
                )
        if math.isfinite(threshold):
            ax.axvline(threshold, color="black", linestyle="--", linewidth=1)
        ax.set_title(name, fontsize="small")
        ax.tick_params(labelsize="x-small")
        if k == 0:
            ax.legend(fontsize="x-small")
    fig.suptitle(title, fontsize="medium")
    fig.tight_layout()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(p, format="png", dpi=100)
    return p


def _plots(ds: DatasetResult, out_dir: Path) -> list[str]:
    if ds.error is not None or not ds.plot_scores or ds.y_test.size == 0:
        return []
    files = []
    name = ds.spec.name
    if not ds.spec.recall_only and ds.y_test.any():
        files.append(
            str(
                plot_pr_curves(
                    ds.y_test,
                    {d: sc for d, (sc, _) in ds.plot_scores.items()},
                    out_dir / f"{name}_pr.png",
                    title=f"{name}: precision-recall, test sessions (seed {0})",
                )
            )
        )
    files.append(
        str(
            plot_score_grid(
                ds.y_test,
                ds.plot_scores,
                out_dir / f"{name}_scores.png",
                title=f"{name}: session scores, normal vs anomalous (first seed; dashed = realistic threshold)",
            )
        )
    )
    return files


def result_json(result: BenchResult, command: str, machine: Mapping[str, Any]) -> dict[str, Any]:
    """Everything of a run as JSON-ready data (per-seed runs, aggregates, headline)."""
    cfg = dataclasses.asdict(result.config)
    return {
        "command": command,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seconds": round(result.seconds, 1),
        "machine": machine,
        "config": cfg,
        "protocols": {
            "realistic": "the threshold logbert train would store (logbert.pipeline.fit): the "
            "scoring.threshold_quantile quantile of normal session scores, out of fold (cross_fit) or of the "
            "validation split (split), as scoring.calibration resolves for the data",
            "paper": "threshold with the best F1 on the test set (oracle, as the LogBERT paper's code)",
        },
        "detectors": {
            n: {"family": s.family, "unit": s.unit, "learned": s.learned, "description": s.description}
            for n, s in result.detectors.items()
        },
        "headline": headline(result),
        "datasets": [
            {
                "name": ds.spec.name,
                "title": ds.spec.title,
                "recall_only": ds.spec.recall_only,
                "inputs": [str(f.path) for f in ds.spec.inputs],
                "input_labels": [_labels_of(f) for f in ds.spec.inputs],  # what says which sessions are anomalous
                "preset": ds.spec.preset,
                "error": ds.error,
                "notes": ds.notes,
                "stats": ds.stats,
                "aggregate": aggregate(ds.runs),
                "runs": [dataclasses.asdict(r) for r in ds.runs],
            }
            for ds in result.datasets
        ],
    }


def write_results(result: BenchResult, out_dir: str | Path, command: str, *, plots: bool = True) -> dict[str, Path]:
    """Write ``results.json``, ``results.md`` and (with ``plots``) the PNGs into ``out_dir``.

    Returns:
        ``{"json": path, "markdown": path}``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    machine = machine_info()
    plot_files = {ds.spec.name: _plots(ds, out) for ds in result.datasets} if plots else {}
    json_path = write_json(result_json(result, command, machine), out / "results.json")
    md_path = out / "results.md"
    md_path.write_text(render_markdown(result, command, machine, plot_files), encoding="utf-8")
    return {"json": json_path, "markdown": md_path}


def _labels_of(f: InputFile) -> str | None:
    """An input's labels as results.json records them: the labels file, every session's label, or None (the log
    labels itself, as BGL's lines do, or everything is normal)."""
    if f.labels is not None:
        return str(f.labels)
    if f.label is not None:
        return "every session anomalous" if f.label == 1 else "every session normal"
    return None
