"""Small training sets (issue 13, checked as issue 9 asks): key-only against time- and value-aware LogBERT when a
user has a few dozen normal HDFS blocks.

    nice -n 10 .venv/bin/python -m benchmarks.time_values.small_data --sizes 25,50 --seeds 0,1,2

A new user's run: ``N`` normal blocks of ``HDFS_2pct.log`` (seeded), their lines written as one log and
``logbert train --preset hdfs`` on it (``train.test_fraction = 0``: every block trains or calibrates; cross-fit
calibration at these sizes); then ``logbert evaluate`` at the stored threshold on a log of those blocks plus
1,000 other normal blocks and 150 anomalous ones (seeded; the training blocks are left out of the metrics), with
the new-event detector beside it. Arms (``--arms``):

* ``off``: key-only LogBERT (the preset);
* ``all``: the preset with ``model.signals = all`` (times and block sizes), as a user switches it on;
* ``all_steps_before``: ``all`` with ``train.min_steps = 150``, which makes the 300 optimiser steps every model made
  before a key channel that reads the keys alone got ``train.min_steps`` steps of its own rows
  (:func:`logbert.training.trainer.key_rows_share`).

Every (size, seed, arm) is cached as JSON in ``<work>/cache`` the moment it ends, so runs with disjoint seeds can
share the machine and a last run writes the table from the cache. Skips, with the reason, without the dataset.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks._report import header

from logbert.config import load_config
from logbert.pipeline.detector import load_detector
from logbert.pipeline.evaluate import evaluate
from logbert.pipeline.fit import train

ROOT = Path(__file__).resolve().parents[2]
DATA = (ROOT / ".." / "shared" / "datasets" / "hdfs" / "loglead_2pct").resolve()
LOG, LABELS = "HDFS_2pct.log", "anomaly_label_2pct.csv"
TEST_NORMAL, TEST_ANOMALOUS = 1000, 150
ARMS: dict[str, dict[str, Any]] = {
    "off": {"model.signals": "off"},
    "all": {"model.signals": "all"},
    "all_steps_before": {"model.signals": "all", "train.min_steps": 150},
}
BLOCK = re.compile(rb"(blk_-?\d+)")


def write_logs(data: Path, n: int, seed: int, work: Path) -> tuple[Path, Path]:
    """``train.log`` (``n`` normal blocks) and ``all.log`` (those, 1,000 other normal and 150 anomalous blocks),
    lines in the original order; the blocks drawn by ``seed``."""
    labels = {r["BlockId"]: r["Label"] for r in csv.DictReader((data / LABELS).open(encoding="utf-8"))}
    lines = (data / LOG).read_bytes().splitlines(keepends=True)
    block_of = [m.group(1).decode() if (m := BLOCK.search(line)) else None for line in lines]
    present = set(block_of) - {None}
    rng = random.Random(seed)
    normal = sorted(b for b in present if labels.get(b) == "Normal")
    anomalous = sorted(b for b in present if labels.get(b) == "Anomaly")
    rng.shuffle(normal)
    rng.shuffle(anomalous)
    train_blocks = set(normal[:n])
    every = train_blocks | set(normal[n : n + TEST_NORMAL]) | set(anomalous[:TEST_ANOMALOUS])
    work.mkdir(parents=True, exist_ok=True)
    paths = work / "train.log", work / "all.log"
    for path, keep in zip(paths, (train_blocks, every), strict=True):
        path.write_bytes(b"".join(line for line, b in zip(lines, block_of, strict=True) if b in keep))
    return paths


def run_cell(data: Path, n: int, seed: int, arm: str, work: Path) -> dict[str, Any]:
    train_log, all_log = write_logs(data, n, seed, work / f"logs-{n}-{seed}")
    overrides = {"train.test_fraction": 0.0, "train.num_threads": 1, "train.seed": seed, **ARMS[arm]}
    config = load_config(preset="hdfs").with_overrides(overrides)
    started = time.perf_counter()
    result = train(train_log, work / f"art-{n}-{seed}-{arm}", config, progress=False)
    train_s = time.perf_counter() - started
    detector = load_detector(result.artifact_dir)
    report = evaluate(detector, all_log, labels=data / LABELS, baselines=("new_event",)).report
    baseline = report["baselines"]["new_event"]
    calibration = json.loads((result.artifact_dir / "calibration.json").read_text(encoding="utf-8"))
    return {
        "size": n,
        "seed": seed,
        "arm": arm,
        **{k: report[k] for k in ("f1", "precision", "recall", "fpr", "auroc", "fp", "fn", "threshold")},
        # the false-alarm rate `train` states (time- and value-aware: left out one at a time; key-only: the quantile's)
        "stated_fpr": calibration.get("fpr_estimate") or calibration.get("fpr_nominal"),
        "new_event_f1": baseline["f1"],
        "new_event_fpr": baseline["fpr"],
        "train_seconds": round(train_s, 1),
        "warnings": result.warnings,
    }


def _mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {sd:.3f}"


def table(rows: list[dict[str, Any]], sizes: list[int], arms: list[str]) -> list[str]:
    lines = [
        "| N normal | arm | seeds | F1 | recall | FPR | stated FPR | AUROC | false alarms / misses per seed "
        "| new_event F1 | train s |",
        "|---:|---|---:|---|---|---|---|---|---|---|---:|",
    ]
    for n in sizes:
        for arm in arms:
            cell = sorted((r for r in rows if r["size"] == n and r["arm"] == arm), key=lambda r: r["seed"])
            if not cell:
                continue
            per_seed = ", ".join(f"{r['fp']} / {r['fn']}" for r in cell)
            lines.append(
                f"| {n} | {arm} | {len(cell)} | {_mean_sd([r['f1'] for r in cell])} | "
                f"{_mean_sd([r['recall'] for r in cell])} | {_mean_sd([r['fpr'] for r in cell])} | "
                f"{_mean_sd([r['stated_fpr'] for r in cell])} | "
                f"{_mean_sd([r['auroc'] for r in cell])} | {per_seed} | "
                f"{_mean_sd([r['new_event_f1'] for r in cell])} | "
                f"{statistics.mean(r['train_seconds'] for r in cell):.0f} |"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "time_values" / "small_data.md")
    ap.add_argument("--work", type=Path, default=Path("/tmp/logbert-tv-small"))
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--sizes", default="25,50")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--arms", default=",".join(ARMS))
    ap.add_argument("--table-only", action="store_true", help="write the table from the cache, train nothing")
    args = ap.parse_args(argv)
    if not (args.data / LOG).is_file():
        print(f"skipping: {args.data / LOG} is not there", file=sys.stderr)
        return 0
    sizes, seeds = [int(s) for s in args.sizes.split(",")], [int(s) for s in args.seeds.split(",")]
    arms = args.arms.split(",")
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        ap.error(f"unknown arms {unknown}; choose from {', '.join(ARMS)}")
    cache = args.work / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    for n in sizes:
        for seed in seeds:
            for arm in arms:
                path = cache / f"{n}-{seed}-{arm}.json"
                if path.exists() or args.table_only:
                    continue
                row = run_cell(args.data, n, seed, arm, args.work)
                path.write_text(json.dumps(row, indent=1), encoding="utf-8")
                print(json.dumps({k: row[k] for k in ("size", "seed", "arm", "f1", "fp", "fn")}), file=sys.stderr)
    rows = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(cache.glob("*.json"))]
    rows = [r for r in rows if r["size"] in sizes and r["seed"] in seeds and r["arm"] in arms]
    lines = header(
        "Small training sets: key-only against time- and value-aware LogBERT on HDFS 2 % (issue 13)",
        "benchmarks.time_values.small_data",
        argv,
        "CPU, 1 torch thread per run",
    )
    lines += [
        "",
        f"`logbert train --preset hdfs` on N normal blocks of `{LOG}` (seeded; cross-fit calibration), `logbert "
        f"evaluate` at the stored threshold on {TEST_NORMAL:,} other normal and {TEST_ANOMALOUS} anomalous blocks "
        "(seeded), new_event beside it. Mean ± sd over the seeds."
        + (" The cells come from the cache of earlier runs of this module with the same `--work`." if args.table_only
           else ""),
        "",
        *table(rows, sizes, arms),
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    args.out.with_suffix(".json").write_text(json.dumps({"rows": rows}, indent=1), encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
