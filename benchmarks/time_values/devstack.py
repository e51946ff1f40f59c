"""No-regression check (issue 13): key-only LogBERT against the time- and value-aware one on DevStack
(and, with ``--dataset hdfs_2pct``, on the HDFS 2 % sample: timestamps and block sizes, preset ``hdfs``).

    nice -n 10 .venv/bin/python -m benchmarks.time_values.devstack --out benchmarks/results/time_values
    nice -n 10 .venv/bin/python -m benchmarks.time_values.devstack --dataset hdfs_2pct   # -> hdfs_2pct.md

``openstack/kalaki_devstack/openstack-nova-sample.log`` (no timestamps: the time channel switches
off, the values stay) with its instance labels, through ``logbert train`` (preset
``openstack_devstack``; anomalous sessions and 20 % of the normal ones held back) and ``logbert
evaluate`` at the stored threshold, per seed and ``model.signals``. ``scoring.calibration = "split"``
for both (one training per run instead of six: the comparison is between the models, on one
protocol). Skips, with the reason, without the dataset.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._report import header

from logbert.config import load_config
from logbert.pipeline.detector import load_detector
from logbert.pipeline.evaluate import evaluate
from logbert.pipeline.fit import train

ROOT = Path(__file__).resolve().parents[2]
DATA = (ROOT / ".." / "shared" / "datasets").resolve()
LOG = Path("openstack") / "kalaki_devstack" / "openstack-nova-sample.log"
LABELS = Path("openstack") / "kalaki_devstack" / "openstack-nova-sample.instance_labels.csv"
#: dataset -> (log, labels, preset, title, what the signals are there)
DATASETS = {
    "devstack": (LOG, LABELS, "openstack_devstack", "DevStack",
                 "`openstack-nova-sample.log` (no timestamps: `model.signals=all` keeps the values only)"),
    "hdfs_2pct": (Path("hdfs/loglead_2pct/HDFS_2pct.log"), Path("hdfs/loglead_2pct/anomaly_label_2pct.csv"), "hdfs",
                  "HDFS 2 %", "`HDFS_2pct.log` (timestamps to the second and block sizes: time and values)"),
}


def run(
    data: Path,
    modes: list[str],
    seeds: list[int],
    epochs: int,
    threads: int,
    work: Path,
    dataset: str = "devstack",
    signal_settings: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """``signal_settings``: more settings for the time- and value-aware arms (``--set``), e.g.
    ``{"model.keys_see_signals": False}``."""
    log, labels, preset = DATASETS[dataset][:3]
    rows = []
    for seed in seeds:
        for mode in modes:
            overrides: dict[str, Any] = {
                "model.signals": mode,
                "train.seed": seed,
                "train.epochs": epochs,
                "train.num_threads": threads,
                "scoring.calibration": "split",
            }
            if mode != "off":  # runs of masked keys are for key-only models: key-only keeps its preset's mask_span
                overrides["scoring.mask_span"] = 1
                overrides.update(signal_settings or {})
            config = load_config(preset=preset).with_overrides(overrides)
            started = time.perf_counter()
            result = train(data / log, work / f"{mode}-{seed}", config, labels=data / labels, progress=False)
            train_s = time.perf_counter() - started
            detector = load_detector(result.artifact_dir)
            started = time.perf_counter()
            ev = evaluate(detector, data / log, labels=data / labels, baselines=())
            rep = ev.report
            rows.append(
                {
                    "seed": seed,
                    "model.signals": mode,
                    "channels used": detector.config.model.signals,
                    "f1": rep.get("f1"),
                    "precision": rep.get("precision"),
                    "recall": rep.get("recall"),
                    "auroc": rep.get("auroc"),
                    "n_normal": rep.get("n_normal"),
                    "n_abnormal": rep.get("n_abnormal"),
                    "train_seconds": round(train_s, 1),
                    "evaluate_seconds": round(time.perf_counter() - started, 1),
                    "warnings": result.warnings,
                }
            )
            print(json.dumps({k: rows[-1][k] for k in ("seed", "model.signals", "f1", "auroc")}), file=sys.stderr)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/time_values"))
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--dataset", choices=sorted(DATASETS), default="devstack")
    ap.add_argument("--modes", default="off,all")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
        help="a setting for the time- and value-aware arms only (JSON value), e.g. model.keys_see_signals=false",
    )
    args = ap.parse_args(argv)
    signal_settings = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.sets)}
    log, _, preset, title, what = DATASETS[args.dataset]
    if not (args.data / log).is_file():
        print(f"skipping: {args.data / log} is not there", file=sys.stderr)
        return 0
    modes, seeds = args.modes.split(","), [int(s) for s in args.seeds.split(",")]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="logbert-devstack-") as tmp:
        rows = run(args.data, modes, seeds, args.epochs, args.threads, Path(tmp), args.dataset, signal_settings)
    total = time.perf_counter() - started
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.dataset}.json").write_text(json.dumps({"rows": rows}, indent=1), encoding="utf-8")
    lines = header(
        f"{title}: key-only against time- and value-aware LogBERT (issue 13, no-regression)",
        "benchmarks.time_values.devstack",
        argv,
        f"CPU, {args.threads} thread",
    )
    lines += [
        "",
        f"{what}, `logbert train` "
        f"(preset `{preset}`, {args.epochs} epochs, split calibration) and `logbert evaluate` at the stored "
        f"threshold on the held-back sessions, seeds {', '.join(map(str, seeds))}. {total:.0f} s in all.",
        "",
        "| model.signals | channels used | seed | F1 | precision | recall | AUROC | train s |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model.signals']} | {r['channels used']} | {r['seed']} | {r['f1']:.3f} | {r['precision']:.3f} | "
            f"{r['recall']:.3f} | {r['auroc']:.3f} | {r['train_seconds']} |"
        )
    lines += ["", "| model.signals | F1 mean (sd) | AUROC mean (sd) |", "|---|---:|---:|"]
    for mode in modes:
        f1 = [r["f1"] for r in rows if r["model.signals"] == mode]
        auc = [r["auroc"] for r in rows if r["model.signals"] == mode]
        sd = statistics.stdev if len(f1) > 1 else (lambda _x: 0.0)
        lines.append(
            f"| {mode} | {statistics.mean(f1):.3f} ({sd(f1):.3f}) | {statistics.mean(auc):.3f} ({sd(auc):.3f}) |"
        )
    (args.out / f"{args.dataset}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out / f'{args.dataset}.md'} ({total:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
