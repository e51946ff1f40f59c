"""How many optimiser steps does a small training set need? (The evidence behind ``train.min_steps``.)

    nice -n 10 .venv/bin/python -m benchmarks.small_data.convergence --out benchmarks/results/small_data

45 normal training sessions (the training part of N = 50, split as ``logbert train`` splits), LogBERT
trained for a fixed number of optimiser steps (``train.min_steps = 0``, one step a pass, no early
stopping), and the masked-key loss (MLKP + VHM, the training objective) of up to 200 *other normal*
sessions, windows with a key the model never saw left out. Normal data only: no label, no anomaly, no
detection metric is looked at, so choosing ``min_steps`` from it tunes nothing on test labels.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import torch
from benchmarks._report import header
from benchmarks.small_data.__main__ import DATA, ROOT, _split

from logbert.bench.datasets import builtin_datasets, load_dataset
from logbert.parsing.vocab import Vocab
from logbert.pipeline.sessions import session_windows
from logbert.training.trainer import steps_per_pass, train_encoder

STEPS = (30, 100, 200, 300, 500)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.small_data.convergence")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "small_data")
    parser.add_argument("--seeds", default="10,11")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    specs = builtin_datasets(DATA)
    seeds = [int(x) for x in args.seeds.split(",")]
    started = time.perf_counter()
    rows = []
    for name in ("devstack", "hdfs_2pct"):
        data = load_dataset(specs[name])
        for seed in seeds:
            config = data.config.with_overrides(
                {"train.num_threads": 1, "train.seed": seed, "train.min_steps": 0, "train.patience": 10_000}
            )
            split, test = _split(data, config, 50, seed)
            train_w = [w.key_ids for w in session_windows(split.train, config.window)[0]]
            vocab = Vocab.fit(train_w)
            others = random.Random(seed).sample([s for s in split.test if s.label != 1], 200)
            held = [w.key_ids for w in session_windows(others, config.window)[0]]
            held = [w for w in held if all(k in vocab for k in w)]
            model = config.model.model_copy(update={"vocab_size": len(vocab)})
            per_pass = steps_per_pass(len(train_w), config.train.batch_size)
            losses = []
            for steps in STEPS:
                cfg = config.train.model_copy(update={"epochs": max(1, steps // per_pass)})
                result = train_encoder(model, cfg, vocab, train_w, held, progress=False)
                losses.append(min(h.val_loss for h in result.history))
            rows.append((name, seed, len(train_w), len(held), losses))
            print(name, seed, [f"{x:.3f}" for x in losses], flush=True)
    md = header(
        "How many optimiser steps a small training set needs (train.min_steps)",
        "benchmarks.small_data.convergence",
        argv,
        "1 torch thread, nice -n 10, shared machine",
    )
    md += [
        "",
        f"Total {(time.perf_counter() - started) / 60:.1f} min. Held-out masked-key loss (lower = the model "
        "predicts normal sessions it never saw better) after a fixed number of optimiser steps; 45 normal "
        "training sessions; normal data only.",
        "",
        "| dataset | seed | training windows | held-out windows | " + " | ".join(f"{s} steps" for s in STEPS) + " |",
        "|---|---|---|---|" + "---|" * len(STEPS),
    ]
    for name, seed, n_train, n_held, losses in rows:
        md.append(f"| {name} | {seed} | {n_train} | {n_held} | " + " | ".join(f"{x:.3f}" for x in losses) + " |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "convergence.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
