"""Issue 9: the false alarms and misses of the bench's LogBERT on one seed, next to count_nearest's.

    PYTHONPATH=. .venv/bin/python -m benchmarks.session_signal.bench_false_alarms --dataset hdfs_2pct --seed 0 \
        [--set train.pattern_power=0.5]

Trains LogBERT (the dataset's preset, the bench's split and calibration: ``logbert bench``) and count_nearest on one
seed and prints, for every normal test session above LogBERT's stored threshold and every anomalous one at or below
it: LogBERT's score, count_nearest's, how many training sessions hold the same keys (as a multiset), the keys that
fewer than 1 % of the training sessions hold, and the keys. Then the highest normal validation scores (the ones the
threshold is read from). The test labels are only counted: nothing is chosen here.
"""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

import numpy as np
import torch
from benchmarks.session_signal.__main__ import DATA

from logbert.bench.config import BenchConfig
from logbert.bench.datasets import builtin_datasets, load_dataset
from logbert.bench.detectors import detector_specs
from logbert.bench.runner import _logbert_config, _run_one, prepare_split
from logbert.evaluation.metrics import evaluation_report
from logbert.pipeline.calibrate import resolve_calibration
from logbert.pipeline.fit import fit_sessions, rekey_normal_sessions
from logbert.pipeline.sessions import session_scores
from logbert.results import exceeds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.session_signal.bench_false_alarms", description=__doc__)
    ap.add_argument("--dataset", default="hdfs_2pct")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one setting")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    datasets = builtin_datasets(DATA)
    if args.dataset not in datasets:
        ap.error(f"unknown dataset {args.dataset!r}: one of {', '.join(datasets)}")
    overrides: dict[str, Any] = dict(item.split("=", 1) for item in args.set)
    bench = BenchConfig(seeds=(args.seed,), max_train_sessions=2000, detectors=("logbert", "count_nearest"),
                        num_threads=1, overrides=overrides)
    data = load_dataset(datasets[args.dataset], max_normal=bench.max_normal, max_abnormal=bench.max_abnormal)
    config = _logbert_config(data.config, bench)
    split = prepare_split(data, config, args.seed, bench.max_train_sessions)
    scheme = resolve_calibration(config.scoring, len(split.train) + len(split.val), len(split.val))
    if scheme == "cross_fit":  # as the bench: templates mined on the training and validation lines
        split = rekey_normal_sessions(data.corpus, split, config)
    specs = detector_specs(baseline_unit=bench.baseline_unit, deeplog_epochs=bench.deeplog_epochs,
                           deeplog_paper_epochs=bench.deeplog_paper_epochs)
    logbert = specs["logbert"]
    assert logbert.configure is not None
    fitted = fit_sessions(split.train, split.val, logbert.configure(config, args.seed), scheme=scheme,
                          what=args.dataset)
    lb = session_scores(fitted.detector, split.test, config.window, logbert.unit)
    lt = float(fitted.record.threshold)
    record, cn, _ = _run_one(specs["count_nearest"], config, args.seed, split, scheme, data.anomaly_types, args.dataset)
    y = np.array([s.label for s in split.test])
    for name, report in (("logbert", evaluation_report(y, lb, lt)), ("count_nearest", record.metrics)):
        print(f"{name}: F1 {report['f1']:.4f}, {report['fp']} false alarms, {report['fn']} misses")
    print(f"LogBERT's threshold {lt:.3f} ({scheme}); its highest normal validation scores:",
          " ".join(f"{v:.2f}" for v in np.sort(session_scores(fitted.detector, split.val, config.window))[-10:]))
    held = Counter(tuple(sorted(s.key_ids)) for s in split.train)
    sessions_with = Counter(k for s in split.train for k in set(s.key_ids))
    flagged = exceeds(lb, lt)  # the one rule: a score within rounding of the threshold does not exceed it
    for title, rows in (("false alarms", np.where(flagged & (y == 0))[0]),
                        ("misses", np.where(~flagged & (y == 1))[0])):
        print(f"LogBERT's {title} ({len(rows)}):")
        for i in rows:
            keys = split.test[i].key_ids
            rare = sorted(k for k in set(keys) if sessions_with[k] < 0.01 * len(split.train))
            print(f"  {lb[i]:6.2f}  count_nearest {cn[i]:.2f}  same keys in training: {held[tuple(sorted(keys))]}"
                  f"  rare keys {rare}  |  {' '.join(map(str, keys))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
