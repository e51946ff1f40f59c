"""Issue 9, a session-level signal inside LogBERT: key-only vs cut training + the summed score, in one run.

    nice -n 5 .venv/bin/python -m benchmarks.session_signal --out benchmarks/results/session_signal

The benchmark's realistic protocol (``logbert.bench.run_dataset``: split whole sessions, train on normal
ones, threshold = quantile 0.995 of the normal validation session scores by ``choose_threshold``, test on
held-back normal and every anomalous session, nothing tuned on test labels). LogBERT variants:

* ``key_only``: no cut rows, the score the preset had before (miss_ratio for DevStack, mean_nll for HDFS 2 %,
  max_nll for the DeepLog keys);
* ``max_mean``: the same model, scored by ``max_mean_nll`` (max_nll + mean_nll);
* ``cut``: trained with ``train.cut_ratio`` = 0.5 (``logbert.training.cuts``), scored by ``max_nll``;
* ``cut_max_mean``: cut rows and ``max_mean_nll`` together.
* ``cut_length`` / ``cut_max_mean_length``: ``cut`` / ``cut_max_mean`` plus ``scoring.length_weight`` = 0.5, the
  short-session surprise of ``logbert.scoring.lengths`` added to the key score; ``..._1``: weight 1.

Beside them the baselines of the same split (``new_event``, ``count_nearest``, ``deeplog_paper`` by default).
Every (dataset, training-set cap, variant, seed) is cached as one JSON file under ``<out>/cache`` the moment it
finishes, so an interrupted run resumes where it stopped and a table can be written from a partial run
(``--table-only``). F1, recall, the realised false-positive rate at the automatic threshold, AUROC;
mean +- sample std over the seeds present.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from benchmarks._report import header

from logbert.bench.config import BenchConfig
from logbert.bench.datasets import builtin_datasets
from logbert.bench.runner import run_dataset

ROOT = Path(__file__).resolve().parents[2]
DATA = (ROOT / ".." / "shared" / "datasets").resolve()
DATASETS = ("devstack", "hdfs_2pct", "hdfs_deeplog_keys")
BASELINES = ("new_event", "count_nearest", "deeplog_paper")
SPREAD: dict[str, Any] = {"train.val_sampling": "spread"}
#: the split the baselines were cached on (the hdfs preset validates on a spread share now)
LATEST: dict[str, Any] = {"train.val_sampling": "latest"}
SPAN2: dict[str, Any] = {"scoring.mask_span": 2}
STEPS: dict[str, Any] = {"train.center_from": "steps"}
ROWS1024: dict[str, Any] = {"train.center_rows": 1024}
NOPOS: dict[str, Any] = {"model.positions": False, "train.center_rows": 1024}
S128: dict[str, Any] = {"scoring.mask_stride": 128}
LAST_S128: dict[str, Any] = {"scoring.mask_stride": 128, "model.mark_last": True}
#: A baseline on another split: table name -> (detector, split overrides); not run unless named in --detectors
BASELINE_VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {"count_nearest_spread": ("count_nearest", SPREAD)}


def _variant(
    cut: float, score: str, length: float = 0.0, max_len: int = 32, overlap: int = 0, **extra: Any
) -> dict[str, Any]:
    """A LogBERT variant's overrides: every one names its cut ratio, score, length weight, window, overlap, validation
    sampling and mask span, so a preset that adopts one of them does not change what the others measure (the hdfs
    preset took spread validation and mask_span 2 after the variants before them were cached, and became order-free
    later)."""
    return {
        "train.cut_ratio": cut,
        "scoring.score": score,
        "scoring.length_weight": length,
        "window.max_len": max_len,
        "model.max_len": max_len,
        "window.session_overlap": overlap,
        "train.val_sampling": "latest",
        "scoring.mask_span": 1,
        "train.center_from": "pass",  # the default (the _steps variants take "steps")
        "train.center_rows": 0,  # every row in each centre pass, as before the setting (the _rows1024 variants: 1024)
        # the hdfs preset before it became order-free (2026-11-29, stop 25): positions, no last-key mark, 4 passes
        "model.positions": True,
        "model.mark_last": False,
        "scoring.mask_stride": 4,
        **extra,
    }


#: LogBERT variant -> config overrides on top of the dataset's preset (:func:`_variant`); ``key_only`` uses the
#: score each preset had before this benchmark (:data:`KEY_ONLY_SCORE`).
VARIANTS: dict[str, dict[str, Any]] = {
    "key_only": _variant(0.0, ""),  # the score each preset had before (KEY_ONLY_SCORE)
    "max_mean": _variant(0.0, "max_mean_nll"),
    "cut": _variant(0.5, "max_nll"),
    "cut_max_mean": _variant(0.5, "max_mean_nll"),
    # + the short-session surprise (logbert.scoring.lengths), half a nat per nat (or one)
    "cut_length": _variant(0.5, "max_nll", 0.5),
    "cut_max_mean_length": _variant(0.5, "max_mean_nll", 0.5),
    "cut_length_1": _variant(0.5, "max_nll", 1.0),
    "cut_max_mean_length_1": _variant(0.5, "max_mean_nll", 1.0),
    # whole sessions up to 126 keys in one window (window and model max_len 128 instead of 32)
    "cut_w128": _variant(0.5, "max_nll", max_len=128),
    "cut_max_mean_w128": _variant(0.5, "max_mean_nll", max_len=128),
    "cut_length_w128": _variant(0.5, "max_nll", 0.5, max_len=128),  # the keys preset
    "cut_max_mean_length_w128": _variant(0.5, "max_mean_nll", 0.5, max_len=128),  # the hdfs preset
    # + windows of a long session sharing 16 keys (window.session_overlap)
    "cut_length_o16": _variant(0.5, "max_nll", 0.5, overlap=16),
    # the threshold from a generalized Pareto fit of the normal upper tail instead of the order statistic
    "cut_length_pot": _variant(0.5, "max_nll", 0.5, **{"scoring.threshold": "pot"}),
    "cut_length_w128_pot": _variant(0.5, "max_nll", 0.5, max_len=128, **{"scoring.threshold": "pot"}),
    "cut_length_1_w128": _variant(0.5, "max_nll", 1.0, max_len=128),
    # + adjacent keys of training rows swapped with this probability per pair (train.order_jitter)
    "cut_length_w128_j10": _variant(0.5, "max_nll", 0.5, max_len=128, **{"train.order_jitter": 0.1}),
    "cut_length_w128_j25": _variant(0.5, "max_nll", 0.5, max_len=128, **{"train.order_jitter": 0.25}),
    "cut_max_mean_length_w128_j10": _variant(0.5, "max_mean_nll", 0.5, max_len=128, **{"train.order_jitter": 0.1}),
    "cut_max_mean_length_w128_j25": _variant(0.5, "max_mean_nll", 0.5, max_len=128, **{"train.order_jitter": 0.25}),
    # issue 9, false alarms: validation drawn from the whole training period (train.val_sampling), and / or each key
    # scored by the mean prediction over a run of 2 adjacent masked keys (scoring.mask_span)
    "cut_max_mean_length_w128_spread": _variant(0.5, "max_mean_nll", 0.5, max_len=128, **SPREAD),
    "cut_max_mean_length_w128_span2": _variant(0.5, "max_mean_nll", 0.5, max_len=128, **SPAN2),
    "cut_max_mean_length_w128_span2_spread": _variant(0.5, "max_mean_nll", 0.5, max_len=128, **SPAN2, **SPREAD),
    "cut_length_w128_span2_spread": _variant(0.5, "max_nll", 0.5, max_len=128, **SPAN2, **SPREAD),
    "key_only_span2": _variant(0.0, "", **SPAN2),  # the devstack preset with runs of 2 masked keys
    # issue 11: each epoch's VHM centre from the previous epoch's training steps (train.center_from), the presets
    "key_only_span2_steps": _variant(0.0, "", **SPAN2, **STEPS),  # openstack_devstack
    "cut_max_mean_length_w128_steps": _variant(0.5, "max_mean_nll", 0.5, max_len=128, **STEPS),  # hdfs
    "cut_length_w128_steps": _variant(0.5, "max_nll", 0.5, max_len=128, **STEPS),  # keys
    # the centre pass before every epoch again (train.center_from = "pass"), on the dropout stream of 2026-11-29 (7 bits
    # an element; the variants above were cached on the 8-bit one): the centre's own effect, same random stream
    "key_only_span2_pass7": _variant(0.0, "", **SPAN2),
    "cut_max_mean_length_w128_pass7": _variant(0.5, "max_mean_nll", 0.5, max_len=128),
    "cut_length_w128_pass7": _variant(0.5, "max_nll", 0.5, max_len=128),
    # issue 11: each epoch's centre pass over a seeded sample of 1,024 training rows (train.center_rows, the default
    # since 2026-11-29); the _pass7 variants read every row. The presets
    "key_only_span2_rows1024": _variant(0.0, "", **SPAN2, **ROWS1024),
    "cut_max_mean_length_w128_rows1024": _variant(0.5, "max_mean_nll", 0.5, max_len=128, **ROWS1024),
    "cut_length_w128_rows1024": _variant(0.5, "max_nll", 0.5, max_len=128, **ROWS1024),
    # issue 9: an order-free LogBERT (model.positions = False: no position embeddings), the presets' recipes otherwise;
    # _spread: with validation drawn from the whole training period (train.val_sampling)
    "key_only_span2_nopos": _variant(0.0, "", **SPAN2, **NOPOS),
    "cut_max_mean_length_w128_nopos": _variant(0.5, "max_mean_nll", 0.5, max_len=128, **NOPOS),
    "cut_max_mean_length_w128_nopos_spread": _variant(0.5, "max_mean_nll", 0.5, max_len=128, **NOPOS, **SPREAD),
    "cut_length_w128_nopos": _variant(0.5, "max_nll", 0.5, max_len=128, **NOPOS),
    # and every key masked on its own in scoring (scoring.mask_stride 128: an order-free model cannot tell apart the
    # keys masked together in one pass, so each pass's masked keys share one prediction)
    "cut_max_mean_length_w128_nopos_spread_s128": _variant(
        0.5, "max_mean_nll", 0.5, max_len=128, **NOPOS, **SPREAD, **{"scoring.mask_stride": 128}
    ),
    # and each row's last key marked (model.mark_last), so a cut row's masked next key is known to be last
    "cut_max_mean_length_w128_nopos_last_spread_s128": _variant(
        0.5, "max_mean_nll", 0.5, max_len=128, **NOPOS, **SPREAD, **LAST_S128
    ),
    "cut_length_w128_nopos_last_s128": _variant(
        0.5, "max_nll", 0.5, max_len=128, **NOPOS, **LAST_S128
    ),
    "cut_length_w128_nopos_s128": _variant(0.5, "max_nll", 0.5, max_len=128, **NOPOS, **{"scoring.mask_stride": 128}),
    # the presets (positions on) with every key masked on its own in scoring (scoring.mask_stride 128)
    "cut_max_mean_length_w128_rows1024_s128": _variant(
        0.5, "max_mean_nll", 0.5, max_len=128, **ROWS1024, **S128
    ),
    "cut_length_w128_rows1024_s128": _variant(0.5, "max_nll", 0.5, max_len=128, **ROWS1024, **S128),
    # the openstack_devstack preset with a top-3 instead of a top-6 (scoring.top_g): its miss-ratio threshold was 0 on
    # most small training sets (issue 9)
    "key_only_span2_rows1024_g3": _variant(0.0, "", **SPAN2, **ROWS1024, **{"scoring.top_g": 3}),
    "key_only_span2_rows1024_g4": _variant(0.0, "", **SPAN2, **ROWS1024, **{"scoring.top_g": 4}),
    # the openstack_devstack preset scored by surprise instead of the miss ratio, whose threshold is often 0
    "span2_steps_mean_nll": _variant(0.0, "mean_nll", **SPAN2, **STEPS),
    "span2_steps_max_nll": _variant(0.0, "max_nll", **SPAN2, **STEPS),
    "span2_steps_max_mean_nll": _variant(0.0, "max_mean_nll", **SPAN2, **STEPS),
}
#: The presets' scores before issue 9's session signal (key_only); other datasets: their preset's score.
KEY_ONLY_SCORE = {"devstack": "miss_ratio", "hdfs_2pct": "mean_nll", "hdfs_deeplog_keys": "max_nll"}
METRICS = ("f1", "recall", "fpr", "auroc")


def _cache_path(out: Path, dataset: str, n_train: int | None, name: str, seed: int) -> Path:
    return out / "cache" / f"{dataset}__{n_train or 'all'}__{name}__{seed}.json"


def _overrides(dataset: str, variant: str) -> dict[str, Any]:
    overrides = dict(VARIANTS[variant])
    if variant.startswith("key_only"):  # the preset's own score where this benchmark does not know the old one
        if dataset in KEY_ONLY_SCORE:
            overrides["scoring.score"] = KEY_ONLY_SCORE[dataset]
        else:
            del overrides["scoring.score"]
    return overrides


def run_cell(dataset: str, n_train: int | None, name: str, seed: int, epochs: int) -> dict[str, Any]:
    """One detector (a LogBERT variant or a baseline) on one dataset, training-set cap and seed."""
    specs = builtin_datasets(DATA)
    is_logbert = name in VARIANTS
    detector, split_overrides = BASELINE_VARIANTS.get(name, (name, LATEST))
    bench = BenchConfig(
        seeds=(seed,),
        epochs=epochs,
        max_train_sessions=n_train,
        detectors=("logbert",) if is_logbert else (detector,),
        num_threads=1,
        overrides=_overrides(dataset, name) if is_logbert else split_overrides,
    )
    started = time.perf_counter()
    result = run_dataset(specs[dataset], bench, say=lambda m: print(m, file=sys.stderr, flush=True))
    (run,) = result.runs
    return {
        "dataset": dataset,
        "n_train": n_train,
        "detector": name,
        "seed": seed,
        "n_train_sessions": result.stats.get("n_train"),
        "seconds": round(time.perf_counter() - started, 1),
        **{k: v for k, v in run.metrics.items() if isinstance(v, int | float)},
    }


def _fmt(values: list[float]) -> str:
    a = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)
    if a.size == 0:
        return "n/a"
    return f"{a.mean():.3f} ± {a.std(ddof=1) if a.size > 1 else 0.0:.3f}"


def table(cells: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| dataset | training sessions | detector | seeds | F1 | recall | FPR | AUROC |",
        "|---|---|---|---|---|---|---|---|",
    ]
    order = [*VARIANTS, *BASELINES, *BASELINE_VARIANTS]
    keys = sorted(
        {(c["dataset"], c["n_train"] or 10**9, c["detector"]) for c in cells},
        key=lambda k: (
            DATASETS.index(k[0]) if k[0] in DATASETS else 99,
            k[1],
            order.index(k[2]) if k[2] in order else 99,
        ),
    )
    for dataset, n, det in keys:
        rs = [c for c in cells if (c["dataset"], c["n_train"] or 10**9, c["detector"]) == (dataset, n, det)]
        label = f"logbert {det}" if det in VARIANTS else det
        size = "≤ 2000" if n == 2000 else ("all" if n == 10**9 else str(n))
        seeds = ",".join(str(r["seed"]) for r in sorted(rs, key=lambda r: r["seed"]))
        lines.append(
            f"| {dataset} | {size} | {label} | {seeds} | "
            + " | ".join(_fmt([r.get(m) for r in rs]) for m in METRICS)
            + " |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.session_signal", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "session_signal")
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--train-sizes", default="2000", help="caps on training sessions, comma-separated ('all' = none)")
    ap.add_argument("--detectors", default=",".join([*VARIANTS, *BASELINES]))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--table-only", action="store_true", help="write the table from the cache, run nothing")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    specs = builtin_datasets(DATA)
    sizes = [None if s == "all" else int(s) for s in args.train_sizes.split(",")]
    started = time.perf_counter()
    if not args.table_only:
        for dataset in args.datasets.split(","):
            if specs[dataset].missing_files():
                print(f"skipping {dataset}: its files are not in {DATA}", file=sys.stderr)
                continue
            for n in sizes:
                for seed in (int(s) for s in args.seeds.split(",")):
                    for name in args.detectors.split(","):
                        path = _cache_path(args.out, dataset, n, name, seed)
                        if path.is_file():
                            continue
                        cell = run_cell(dataset, n, name, seed, args.epochs)
                        path.parent.mkdir(parents=True, exist_ok=True)
                        path.write_text(json.dumps(cell, indent=1) + "\n", encoding="utf-8")
                        print(json.dumps({k: cell[k] for k in ("dataset", "n_train", "detector", "seed", *METRICS)}))
    cells = [json.loads(p.read_text()) for p in sorted((args.out / "cache").glob("*.json"))]
    lines = header("A session-level signal inside LogBERT (issue 9)", "benchmarks.session_signal", argv, "1 thread")
    lines += [
        "",
        f"Realistic protocol (`logbert.bench`), automatic threshold (quantile 0.995 of the normal validation "
        f"sessions), LogBERT {args.epochs} epochs (early stopping), cached cells: {len(cells)}. Variants: "
        + "; ".join(f"**{k}** = {v}" for k, v in VARIANTS.items())
        + f" (key_only's score: {KEY_ONLY_SCORE})"
        + ". Mean ± sample std over the seeds listed.",
        "",
        *table(cells),
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (args.out / "results.json").write_text(json.dumps(cells, indent=1) + "\n", encoding="utf-8")
    print("\n".join(lines))
    print(f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
