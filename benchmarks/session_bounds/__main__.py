"""Issue 9, whole-session modelling: LogBERT with and without session bounds (start/end keys), in one run.

    nice -n 10 .venv/bin/python -m benchmarks.session_bounds --out benchmarks/results/session_bounds

The benchmark's realistic protocol (``logbert.bench``: split whole sessions, train on normal ones,
threshold from normal validation sessions by the one calibration rule, test on held-back normal and
anomalous sessions, nothing tuned on test labels), once with ``window.session_bounds = false`` and
once with ``true``; the simple detectors of the same run beside them. F1, recall and the realised
false-positive rate at the automatic threshold, AUROC; mean +- std over the seeds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch
from benchmarks._report import header

from logbert.bench.config import BenchConfig
from logbert.bench.datasets import builtin_datasets
from logbert.bench.runner import aggregate, run_dataset

ROOT = Path(__file__).resolve().parents[2]
DATA = (ROOT / ".." / "shared" / "datasets").resolve()
DATASETS = ("devstack", "hdfs_2pct", "hdfs_deeplog_keys")
BASELINES = ("new_event", "count_nearest")
METRICS = ("f1", "recall", "fpr", "auroc")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/session_bounds"))
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--max-train-sessions", type=int, default=2000)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    specs = builtin_datasets(DATA)
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    for name in args.datasets:
        if specs[name].missing_files():
            print(f"skipping {name}: its files are not in {DATA}", file=sys.stderr)
            continue
        for bounds in (False, True):
            bench = BenchConfig(
                seeds=tuple(args.seeds),
                epochs=args.epochs,
                max_train_sessions=args.max_train_sessions,
                detectors=("logbert", *BASELINES) if bounds else ("logbert",),
                num_threads=1,
                overrides={"window.session_bounds": bounds},
            )
            result = run_dataset(specs[name], bench, say=lambda m: print(m, file=sys.stderr))
            if result.error:
                print(f"{name}: {result.error}", file=sys.stderr)
                continue
            for detector, agg in aggregate(result.runs).items():
                label = f"logbert, bounds {'on' if bounds else 'off'}" if detector == "logbert" else detector
                row = {"dataset": name, "detector": label, "n_seeds": agg["n_seeds"]}
                for metric in METRICS:
                    if metric in agg:
                        row[metric] = agg[metric]
                rows.append(row)
                print(json.dumps(row), file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "session_bounds.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    lines = header(
        "LogBERT with and without session bounds (issue 9)", "benchmarks.session_bounds", argv, "CPU only, 1 thread"
    )
    lines += [
        "",
        f"Realistic protocol, automatic threshold, seeds {args.seeds}, at most {args.max_train_sessions} training "
        f"sessions, LogBERT {args.epochs} epochs; {time.perf_counter() - started:.0f} s in all.",
        "",
        "| dataset | detector | F1 | recall | FPR | AUROC |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = [f"{row[m]['mean']:.3f} ± {row[m]['std']:.3f}" if m in row else "n/a" for m in METRICS]
        lines.append(f"| {row['dataset']} | {row['detector']} | " + " | ".join(cells) + " |")
    (args.out / "session_bounds.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
