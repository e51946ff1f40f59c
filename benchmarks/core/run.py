"""Issue-2 figures: LogBERT on real data, realistic protocol, with wall times.

    .venv/bin/python -m benchmarks.core [--only openstack,hdfs,hdfs_keys] [--out benchmarks/results/core]

For each dataset: ``api.train`` (normal sessions only; threshold from normal validation data),
then ``api.evaluate`` on held-out sessions (never a training or validation session) next to
baselines thresholded the same way. Nothing is tuned on test labels.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from logbert import __version__, api
from logbert.config import load_config

ROOT = Path(__file__).resolve().parents[2]
DATA = (ROOT / ".." / "shared" / "datasets").resolve()
BASELINES = ("new_event", "count_nearest", "pca")
# one torch thread: on a shared 2-core machine, more threads per process oversubscribe the cores and
# epochs slow down by an order of magnitude; wall times below are for this setting
THREADS = {"train.num_threads": 1}
KEYS = ("precision", "recall", "f1", "fpr", "auroc", "auprc", "best_f1", "threshold", "n_normal", "n_abnormal")


def _summary(rep: dict[str, Any]) -> dict[str, Any]:
    return {k: rep.get(k) for k in KEYS}


def run_openstack(out: Path) -> dict[str, Any]:
    d = DATA / "openstack" / "kalaki_devstack"
    log, labels = d / "openstack-nova-sample.log", d / "openstack-nova-sample.instance_labels.csv"
    cfg = load_config(preset="openstack_devstack", overrides=THREADS)
    return _train_eval("openstack_devstack", log, labels, cfg, out)


def run_hdfs(out: Path) -> dict[str, Any]:
    d = DATA / "hdfs" / "loglead_2pct"
    cfg = load_config(preset="hdfs", overrides=THREADS)
    return _train_eval("hdfs_2pct", d / "HDFS_2pct.log", d / "anomaly_label_2pct.csv", cfg, out)


def _train_eval(name: str, log: Path, labels: Path, cfg: Any, out: Path) -> dict[str, Any]:
    art = out / f"artifact-{name}"
    t0 = time.perf_counter()
    trained = api.train(log, art, cfg, labels=labels, overwrite=True, progress=False)
    t1 = time.perf_counter()
    ev = api.evaluate(art, log, labels=labels, baselines=BASELINES)
    t2 = time.perf_counter()
    return {
        "data": str(log.relative_to(DATA)),
        "logbert": _summary(ev.report),
        "baselines": {n: _summary(r) for n, r in ev.baselines.items()},
        "train": {
            "sessions": trained.n_train_sessions,
            "val_sessions": trained.n_val_sessions,
            "test_sessions": trained.n_test_sessions,
            "windows": trained.n_train_windows,
            "templates": trained.n_templates,
            "epochs": trained.epochs_run,
        },
        "wall_s": {"train_incl_parse": round(t1 - t0, 1), "evaluate": round(t2 - t1, 1), "total": round(t2 - t0, 1)},
    }


def run_hdfs_keys(out: Path) -> dict[str, Any]:
    d = DATA / "hdfs" / "deeplog_keys"
    cfg = load_config(preset="keys", overrides=THREADS)
    art = out / "artifact-hdfs_keys"
    t0 = time.perf_counter()
    trained = api.train(d / "hdfs_train", art, cfg, overwrite=True, progress=False)
    t1 = time.perf_counter()
    normal = api.evaluate(art, normal=d / "hdfs_train", baselines=())  # held-back normal sessions only
    abnormal = api.evaluate(art, abnormal=d / "hdfs_test_abnormal", baselines=())
    t2 = time.perf_counter()
    return {
        "data": "hdfs/deeplog_keys",
        "logbert": {
            "recall_on_hdfs_test_abnormal": abnormal.report["recall"],
            "n_abnormal": abnormal.report["n_abnormal"],
            "fpr_on_held_back_normal": normal.report["fpr"],
            "n_held_back_normal": normal.report["n_normal"],
            "threshold": normal.report["threshold"],
        },
        "train": {
            "sessions": trained.n_train_sessions,
            "val_sessions": trained.n_val_sessions,
            "windows": trained.n_train_windows,
            "epochs": trained.epochs_run,
        },
        "wall_s": {"train": round(t1 - t0, 1), "evaluate": round(t2 - t1, 1), "total": round(t2 - t0, 1)},
    }


RUNS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "hdfs": run_hdfs,
    "openstack": run_openstack,
    "hdfs_keys": run_hdfs_keys,
}


def to_markdown(results: dict[str, Any], command: str) -> str:
    lines = [
        "# Core LogBERT figures (issue 2)",
        "",
        f"Command: `{command}`  ",
        f"Machine: {results['machine']}; "
        f"logbert {results['versions']['logbert']}, torch {results['versions']['torch']}",
        "",
        "Realistic protocol: sessions split before windowing; train/validation normal only; parser mined on "
        "training lines; threshold = split-conformal quantile of normal validation session scores (a session "
        "scores its worst window), the same rule for LogBERT and the baselines; evaluated on held-out sessions. "
        "`best F1` peeks at test labels and is shown for reference only.",
        "",
        "| dataset | detector | precision | recall | F1 | AUROC | AUPRC | best F1 (oracle) | normal / anomalous |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def f(x: Any) -> str:
        return "-" if x is None else f"{x:.4f}" if isinstance(x, float) else str(x)

    for name, r in results["datasets"].items():
        if "logbert" not in r or "f1" not in r["logbert"]:
            continue
        rows = {"LogBERT": r["logbert"], **r.get("baselines", {})}
        for det, m in rows.items():
            lines.append(
                f"| {name} | {det} | {f(m.get('precision'))} | {f(m.get('recall'))} | {f(m.get('f1'))} | "
                f"{f(m.get('auroc'))} | {f(m.get('auprc'))} | {f(m.get('best_f1'))} | "
                f"{m.get('n_normal')} / {m.get('n_abnormal')} |"
            )
    keys = results["datasets"].get("hdfs_keys")
    if keys:
        k = keys["logbert"]
        lines += [
            "",
            "HDFS DeepLog keys (recall only: the normal test sessions are not available): "
            f"recall on `hdfs_test_abnormal` {k['recall_on_hdfs_test_abnormal']:.4f} ({k['n_abnormal']} sessions), "
            f"false-positive rate on {k['n_held_back_normal']} held-back normal `hdfs_train` sessions "
            f"{k['fpr_on_held_back_normal']:.4f}.",
        ]
    lines += ["", "Wall time on this machine (shared 2-core VM, other jobs running; seconds):", ""]
    lines += ["| dataset | train (incl. reading + parsing) | evaluate | total |", "|---|---:|---:|---:|"]
    for name, r in results["datasets"].items():
        w = r["wall_s"]
        lines.append(f"| {name} | {w.get('train_incl_parse', w.get('train'))} | {w['evaluate']} | {w['total']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(RUNS), help="comma-separated subset of " + ", ".join(RUNS))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "core")
    parser.add_argument("--work", type=Path, default=Path("/tmp/logbert-core-bench"), help="artifacts go here")
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"datasets not found at {DATA}; see ../shared/datasets/README.md", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    results: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, 1 torch thread, CPU",
        "versions": {"logbert": __version__, "torch": torch.__version__, "python": platform.python_version()},
        "datasets": {},
    }
    for name in args.only.split(","):
        print(f"== {name}", flush=True)
        results["datasets"][name] = RUNS[name](args.work)
        print(json.dumps(results["datasets"][name], indent=1), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    command = ".venv/bin/python -m benchmarks.core " + " ".join(argv if argv is not None else sys.argv[1:])
    results["command"] = command.strip()
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (args.out / "results.md").write_text(to_markdown(results, command.strip()), encoding="utf-8")
    print(f"written: {args.out}/results.json, results.md")
    return 0
