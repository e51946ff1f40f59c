"""Which per-window score decides best at the automatic threshold: mean_nll, max_nll or miss_ratio.

    .venv/bin/python -m benchmarks.score_kind DATASET SEEDS     e.g. hdfs_deeplog_keys 0,1

One LogBERT per seed on the bench split (logbert.bench: at most 2,000 training sessions, 10 epochs,
1 thread), scored three ways from the same model; each score gets its own threshold from the normal
validation sessions by the one calibration rule; recall on the anomalous and FPR on the normal test
sessions, AUROC. Prints one line per seed and score (benchmarks/results/score_kind.md holds the runs).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from logbert.bench.config import BenchConfig
from logbert.bench.datasets import builtin_datasets, load_dataset
from logbert.bench.runner import _logbert_config, prepare_split
from logbert.pipeline.calibrate import choose_threshold
from logbert.pipeline.estimator import LogBertDetector
from logbert.pipeline.sessions import session_windows, worst_windows
from logbert.results import exceeds
from logbert.scoring.scorer import pick_score

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"
KINDS = ("mean_nll", "max_nll", "miss_ratio")


class _Kind:
    """The detector's scores, read as one kind."""

    def __init__(self, detector: LogBertDetector, kind: Any) -> None:
        self.detector, self.kind = detector, kind

    def decision_function(self, seqs: Any) -> np.ndarray:
        return pick_score(self.detector.scores(seqs), self.kind)


def main(argv: list[str]) -> None:
    if len(argv) != 2 or argv[0] in ("-h", "--help"):  # the usage, not a traceback
        raise SystemExit(__doc__)
    name, seeds = argv[0], [int(s) for s in argv[1].split(",")]
    torch.set_num_threads(1)
    data = load_dataset(builtin_datasets(DATA)[name], max_normal=None, max_abnormal=2000)
    for seed in seeds:
        cfg = _logbert_config(data.config, BenchConfig(epochs=10, num_threads=1))
        split = prepare_split(data, cfg, seed, 2000)
        train, _ = session_windows(split.train, cfg.window)
        val, _ = session_windows(split.val, cfg.window)
        detector = LogBertDetector(cfg).fit([w.key_ids for w in train], [w.key_ids for w in val], progress=False)
        y = np.array([s.label for s in split.test])
        for kind in KINDS:
            scorer = _Kind(detector, kind)
            normal_val = worst_windows(scorer, split.val, cfg.window)[0]
            test = worst_windows(scorer, split.test, cfg.window)[0]
            threshold = choose_threshold(cfg.scoring, normal_val)
            flagged = exceeds(test, threshold)
            print(
                f"{name} seed{seed} {kind:10s} thr={threshold:.3f} recall={flagged[y == 1].mean():.3f} "
                f"fpr={flagged[y == 0].mean():.4f} auroc={roc_auc_score(y, test):.4f} nval={len(normal_val)} "
                f"ntestnorm={(y == 0).sum()}",
                flush=True,
            )


if __name__ == "__main__":
    main(sys.argv[1:])
