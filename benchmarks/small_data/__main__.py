"""Issue 9: does the threshold ``logbert train`` stores hold on a small training set?

    nice -n 10 .venv/bin/python -m benchmarks.small_data --out benchmarks/results/small_data

A user with ``N`` normal sessions (25 or 50) runs ``logbert train`` on them: they are split into
training and validation (``train.val_fraction``, chronologically when they have timestamps, as
``train`` does), the parser is mined on the training lines, and the model and threshold are fitted.
Test: every other normal session of the dataset (at most 2,000, seeded sample) and every anomalous
one, scored at the **stored** threshold; nothing is tuned on them. Per dataset, size and seed (the
seed picks the N sessions, the split and the weights):

* ``before``: the behaviour before issue 9: ``scoring.calibration = "split"``, ``train.min_steps = 0``
  (30 epochs, early stopping) and the threshold from *every* normal validation session, those with
  unseen templates included (what ``logbert train`` did);
* ``after``: the defaults (``calibration = "auto"``, which is cross-fit at these sizes,
  ``calibration_folds = 5``, ``min_steps = 300``, sessions with unseen keys left out of the threshold),
  through :func:`logbert.pipeline.fit.fit_sessions`, the step ``logbert train`` runs;
* ``split_min_steps`` (``--variants``; not in the default run): the split with ``min_steps`` and the
  unseen-key rule, to tell the effect of cross-fitting from that of longer training.

Reported: F1, precision, recall, realised false-positive rate on the normal test sessions, AUROC,
mean +- sample std over the seeds. One torch thread.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from benchmarks._report import header

from logbert.bench.datasets import BenchData, builtin_datasets, load_dataset
from logbert.config import LogBertConfig
from logbert.evaluation.metrics import evaluation_report
from logbert.pipeline.calibrate import choose_threshold, resolve_calibration
from logbert.pipeline.corpus import LineSession
from logbert.pipeline.estimator import LogBertDetector
from logbert.pipeline.fit import fit_sessions, rekey_normal_sessions
from logbert.pipeline.sessions import session_scores, session_windows, unseen_key_sessions
from logbert.pipeline.split import KeyedSplit, key_sessions, split_and_key

ROOT = Path(__file__).resolve().parents[2]
DATA = (ROOT / ".." / "shared" / "datasets").resolve()
DATASETS = ("devstack", "hdfs_2pct")
VARIANTS = ("before", "after", "split_min_steps")
MAX_TEST_NORMAL = 2000
METRICS = ("f1", "precision", "recall", "fpr", "auroc", "threshold", "train_s")


def _split(data: BenchData, config: LogBertConfig, n: int, seed: int) -> tuple[KeyedSplit, list[LineSession]]:
    """``n`` normal sessions split and keyed as ``logbert train`` does; the test sessions as line sessions."""
    sessions = list(data.corpus.line_sessions)
    normal = [s for s in sessions if s.label != 1]
    rng = random.Random(seed)
    chosen = rng.sample(range(len(normal)), n)
    picked = {normal[i].session_id for i in chosen}
    rest = [s for s in normal if s.session_id not in picked]
    test = rng.sample(rest, min(MAX_TEST_NORMAL, len(rest))) + [s for s in sessions if s.label == 1]
    sub = replace(data.corpus, line_sessions=tuple(s for s in normal if s.session_id in picked))
    split = split_and_key(sub, config.with_overrides({"train.test_fraction": 0.0}), seed=seed, what=data.spec.name)
    assert split.parser is not None
    (keyed_test,), _ = key_sessions(data.corpus, [test], split.parser)
    return KeyedSplit(split.train, split.val, keyed_test, split.chronological, split.parser, 0), test


def _evaluate(detector: LogBertDetector, split: KeyedSplit, config: LogBertConfig) -> dict[str, Any]:
    scores = session_scores(detector, split.test, config.window)
    y = np.array([s.label for s in split.test], dtype=np.int64)
    rep = evaluation_report(y, scores, float(detector.threshold_))
    return {k: float(rep[k]) for k in ("f1", "precision", "recall", "fpr", "auroc", "threshold")}


def run_one(variant: str, data: BenchData, n: int, seed: int, threads: int) -> dict[str, Any]:
    base = data.config.with_overrides({"train.num_threads": threads, "train.seed": seed})
    if variant == "before":
        config = base.with_overrides({"scoring.calibration": "split", "train.min_steps": 0})
    elif variant == "split_min_steps":
        config = base.with_overrides({"scoring.calibration": "split"})
    else:
        config = base
    split, _ = _split(data, config, n, seed)
    scheme = resolve_calibration(config.scoring, len(split.train) + len(split.val), len(split.val))
    started = time.perf_counter()
    extra: dict[str, Any] = {}
    if variant == "before":  # the pre-issue-9 `logbert train`, line for line
        train_w, _ = session_windows(split.train, config.window)
        val_w, _ = session_windows(split.val, config.window)
        detector = LogBertDetector(config).fit([w.key_ids for w in train_w], [w.key_ids for w in val_w], progress=False)
        val_scores = session_scores(detector, split.val, config.window)
        detector.threshold_ = choose_threshold(config.scoring, val_scores)
        unseen = unseen_key_sessions(split.val, {k for w in train_w for k in w.key_ids})
        extra = {"n_calibration": len(split.val), "n_unseen": int(unseen.sum()), "steps": "30 epochs"}
    else:
        if scheme == "cross_fit":
            split = rekey_normal_sessions(data.corpus, split, config)
        fitted = fit_sessions(split.train, split.val, config, scheme=scheme, what=data.spec.name)
        detector = fitted.detector
        extra = {
            "n_calibration": fitted.record.n,
            "n_unseen": fitted.record.n_unseen,
            "basis": fitted.record.describe(),
        }
    train_s = time.perf_counter() - started
    metrics = _evaluate(detector, split, config)
    n_test_normal = sum(s.label != 1 for s in split.test)
    return {
        "variant": variant,
        "dataset": data.spec.name,
        "n_sessions": n,
        "seed": seed,
        "scheme": "split" if variant == "before" else scheme,
        "n_train": len(split.train),
        "n_val": len(split.val),
        "n_test_normal": n_test_normal,
        "n_test_abnormal": len(split.test) - n_test_normal,
        "epochs_run": len(detector.history_),
        "train_s": round(train_s, 1),
        **metrics,
        **extra,
    }


def _mean_std(values: list[float]) -> str:
    a = np.asarray(values, dtype=np.float64)
    a = a[np.isfinite(a)]
    if a.size == 0:
        return "n/a"
    std = float(a.std(ddof=1)) if a.size > 1 else 0.0
    return f"{a.mean():.3f} ± {std:.3f}"


def table(runs: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| dataset | N normal | variant | calibration | F1 | precision | recall | FPR (normal test) | AUROC "
        "| threshold | left out (unseen keys) | train s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    keys = sorted(
        {(r["dataset"], r["n_sessions"], r["variant"]) for r in runs},
        key=lambda k: (DATASETS.index(k[0]) if k[0] in DATASETS else 99, k[1], VARIANTS.index(k[2])),
    )
    for dataset, n, variant in keys:
        rs = [r for r in runs if (r["dataset"], r["n_sessions"], r["variant"]) == (dataset, n, variant)]
        cells = [_mean_std([r[m] for r in rs]) for m in ("f1", "precision", "recall", "fpr", "auroc", "threshold")]
        schemes = "/".join(sorted({r["scheme"] for r in rs}))
        unseen = "/".join(str(r["n_unseen"]) for r in rs)
        train_s = f"{np.mean([r['train_s'] for r in rs]):.0f}"
        lines.append(f"| {dataset} | {n} | {variant} | {schemes} | {' | '.join(cells)} | {unseen} | {train_s} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.small_data", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "small_data")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--sizes", default="25,50")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--variants", default="before,after")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    specs = builtin_datasets(DATA)
    sizes = [int(x) for x in args.sizes.split(",")]
    seeds = [int(x) for x in args.seeds.split(",")]
    variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {unknown}; choose from {', '.join(VARIANTS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    runs: list[dict[str, Any]] = []
    for name in args.datasets.split(","):
        data = load_dataset(specs[name])
        for n in sizes:
            for seed in seeds:
                for variant in variants:
                    run = run_one(variant, data, n, seed, args.threads)
                    runs.append(run)
                    print(
                        f"{name} N={n} seed {seed} {variant} ({run['scheme']}): F1 {run['f1']:.3f} "
                        f"FPR {run['fpr']:.3f} AUROC {run['auroc']:.3f} threshold {run['threshold']:.3f} "
                        f"unseen {run['n_unseen']} train {run['train_s']:.0f}s",
                        flush=True,
                    )
    seconds = time.perf_counter() - started
    (args.out / "results.json").write_text(json.dumps({"seconds": round(seconds), "runs": runs}, indent=2) + "\n")
    md = header(
        "Issue 9: the stored threshold on small training sets, before vs after",
        "benchmarks.small_data",
        argv,
        f"{args.threads} torch thread(s), run with nice -n 10 on a shared machine",
    )
    md += [
        "",
        f"Total {seconds / 60:.1f} min. N = normal sessions given to training + validation (split "
        f"{1 - LogBertConfig().train.val_fraction:.0%} / {LogBertConfig().train.val_fraction:.0%}); test = every "
        f"other normal session (at most {MAX_TEST_NORMAL}, seeded) and every anomalous one, at the threshold "
        "training stored. Mean ± sample std over seeds "
        f"{', '.join(map(str, seeds))}. 'left out' = normal calibration sessions with a key their scoring model "
        "never trained on, per seed (before: counted, but they still set the threshold).",
        "",
        *table(runs),
        "",
        "Variants: **before** = pre-issue-9 `logbert train` (split calibration, 30 epochs with early stopping, "
        "`min_steps` 0, every validation session in the quantile); **after** = the new defaults "
        "(`scoring.calibration = auto` → 5-fold cross-fit here, `train.min_steps = 300`, unseen-key sessions "
        "left out); **split_min_steps** = split calibration with the new training and unseen-key rule.",
    ]
    (args.out / "results.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    print(f"wrote {args.out / 'results.md'} in {seconds / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
