"""`logbert train` on the whole of HDFS 2 % with the `hdfs` preset and extra overrides (issue 9), then `logbert
evaluate` on the held-back sessions: the protocol of ``benchmarks.time_values.devstack`` (10 epochs, split
calibration), one JSON line per seed.

    nice -n 5 .venv/bin/python -m benchmarks.session_signal.whole_log NAME SEEDS OVERRIDES_JSON [WORK] [BASELINES]
    e.g. ... whole_log nopos_spread 0,1,2 '{"model.positions": false, "train.val_sampling": "spread"}'

Skips, with the reason, without the dataset. Artifacts go to WORK (default: a temporary folder; "" = that too).
BASELINES (comma-separated, e.g. ``new_event,count_nearest,deeplog``): ``logbert evaluate``'s simple detectors, fitted
on each artifact's own training sessions and calibrated by the same machinery, one more JSON line each per seed.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from logbert.config import load_config
from logbert.pipeline.detector import load_detector
from logbert.pipeline.evaluate import evaluate
from logbert.pipeline.fit import train

ROOT = Path(__file__).resolve().parents[2]
DATA = (ROOT / ".." / "shared" / "datasets" / "hdfs" / "loglead_2pct").resolve()


def main(argv: list[str]) -> int:
    if not 3 <= len(argv) <= 5 or argv[0] in ("-h", "--help"):  # the usage, not a traceback
        print(__doc__, file=sys.stderr)
        return 2
    name, seeds, extra = argv[0], [int(s) for s in argv[1].split(",")], json.loads(argv[2])
    if not (DATA / "HDFS_2pct.log").is_file():
        print(f"skipping: {DATA / 'HDFS_2pct.log'} is not there", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory(prefix="logbert-whole-log-") as tmp:
        work = Path(argv[3]) if len(argv) > 3 and argv[3] else Path(tmp)
        baselines = tuple(b for b in argv[4].split(",") if b) if len(argv) > 4 else ()
        for seed in seeds:
            overrides = {"train.seed": seed, "train.epochs": 10, "train.num_threads": 1,
                         "scoring.calibration": "split", **extra}
            config = load_config(preset="hdfs").with_overrides(overrides)
            started = time.perf_counter()
            artifact = work / f"{name}-{seed}"
            train(DATA / "HDFS_2pct.log", artifact, config, labels=DATA / "anomaly_label_2pct.csv", progress=False)
            result = evaluate(load_detector(artifact), DATA / "HDFS_2pct.log",
                              labels=DATA / "anomaly_label_2pct.csv", baselines=baselines)
            seconds = round(time.perf_counter() - started)
            for who, report in [(name, result.report), *result.baselines.items()]:
                metrics = {k: round(float(report[k]), 4) for k in ("f1", "precision", "recall", "fpr", "auroc")}
                print(json.dumps({"name": who, "seed": seed, **metrics, "s": seconds}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
