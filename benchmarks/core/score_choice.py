"""How the HDFS preset's score was chosen, reproducibly, and what it costs the test set.

    .venv/bin/python -m benchmarks.core.score_choice ARTIFACT LOG LABELS

For an artifact from ``benchmarks.core`` (or ``logbert train``): the held-out sessions (not in
``split.json``) are cut into a 30 % *dev* carve-out (seed 123) and the other 70 %. On dev it prints
AUROC and F1 at the normal-validation quantile threshold of each score (miss ratio at several top-g,
mean surprise, VHM distance); on the other 70 % only the artifact's own score at its stored
threshold. Only the dev part informed the choice of ``scoring.score`` for the hdfs preset.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from logbert import api
from logbert.config import ScoreKind
from logbert.evaluation.metrics import evaluation_report
from logbert.pipeline.calibrate import choose_threshold
from logbert.pipeline.estimator import LogBertDetector
from logbert.pipeline.sessions import session_scores
from logbert.scoring.scorer import pick_score

DEV_SHARE, DEV_SEED = 0.3, 123


class _Score:
    """The artifact's model scored by another ``scoring.score``: for the comparison only."""

    def __init__(self, model: LogBertDetector, kind: ScoreKind) -> None:
        self.model, self.kind = model, kind

    def decision_function(self, seqs: list[list[int]]) -> np.ndarray:
        return pick_score(self.model.scores(seqs), self.kind)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    artifact, log, labels = (Path(a) for a in argv)
    det = api.load_detector(artifact)
    split = json.loads((artifact / "split.json").read_text())
    sequences, _ = det.read(log, labels=labels)
    val = [s for s in sequences if s.session_id in set(split["val"])]
    held = [s for s in sequences if s.session_id not in set(split["train"]) | set(split["val"])]
    dev_mask = np.random.default_rng(DEV_SEED).random(len(held)) < DEV_SHARE
    dev = [s for s, m in zip(held, dev_mask, strict=True) if m]
    rest = [s for s, m in zip(held, dev_mask, strict=True) if not m]
    window = det.config.window
    y = np.array([s.label for s in dev])
    print(f"dev: {len(dev)} sessions ({int(y.sum())} anomalous); validation: {len(val)} normal sessions")
    for g in (6, 3, 2, 1):
        det.model.config = det.model.config.model_copy(
            update={"scoring": det.config.scoring.model_copy(update={"top_g": g})}
        )
        kinds: tuple[ScoreKind, ...] = ("miss_ratio",) if g != 1 else ("miss_ratio", "mean_nll", "dist")
        for kind in kinds:
            scorer = _Score(det.model, kind)
            dev_s = session_scores(scorer, dev, window)
            # the threshold rule of `logbert train`, on the normal validation sessions
            thr = choose_threshold(det.config.scoring, session_scores(scorer, val, window))
            rep = evaluation_report(y, dev_s, thr)
            label = f"{kind} (top-{g})" if kind == "miss_ratio" else kind
            print(f"  {label:18s} AUROC {roc_auc_score(y, dev_s):.4f}  F1 at validation threshold {rep['f1']:.4f}")
    det = api.load_detector(artifact)  # the artifact as saved: its own score and threshold
    res = det.score_sessions(rest)
    rep = evaluation_report(np.array([r.label for r in res]), np.array([r.score for r in res]), det.threshold)
    print(
        f"other {len(rest)} held-out sessions, score {det.config.scoring.score!r} at the stored threshold: "
        f"P {rep['precision']:.4f} R {rep['recall']:.4f} F1 {rep['f1']:.4f} AUROC {rep['auroc']:.4f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
