"""Why does LogBERT trail the count-vector baselines on a dataset? One seed, one look at the sessions.

    .venv/bin/python -m benchmarks.bench.diagnose [DATASET] [--threads 1]

Same split, parser, training budget and threshold rule as ``logbert bench`` (seed 0). It prints,
for the anomalous test sessions: how many hold a template never seen in training, how many have
an event-count vector identical to a training session's, and LogBERT's miss ratio against its
realistic threshold; for normal validation sessions: how often LogBERT misses a key at all. It
also scores the same model by its *number* of missed keys instead of the *share*, to test
whether dividing by the session length drowns a single odd key.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from logbert.bench import BenchConfig, builtin_datasets, load_dataset
from logbert.bench.detectors import detector_specs
from logbert.bench.runner import _logbert_config, prepare_split
from logbert.evaluation.metrics import evaluation_report
from logbert.pipeline.calibrate import choose_threshold
from logbert.pipeline.estimator import LogBertDetector
from logbert.pipeline.sessions import session_scores
from logbert.records import UNK_KEY
from logbert.windowing.windows import split_all

REPO = Path(__file__).resolve().parents[2]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset", nargs="?", default="hdfs_2pct")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--datasets-dir", default=str(REPO / ".." / "shared" / "datasets"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    bench = BenchConfig(num_threads=args.threads)
    spec = builtin_datasets(args.datasets_dir)[args.dataset]
    data = load_dataset(spec, max_normal=bench.max_normal, max_abnormal=bench.max_abnormal)
    config = _logbert_config(data.config, bench)
    split = prepare_split(data, config, 0, bench.max_train_sessions)
    y = np.array([s.label for s in split.test])
    specs = detector_specs()

    def run(name: str) -> tuple[np.ndarray, np.ndarray, object]:
        spec_ = specs[name]
        det = spec_.build(config, 0)
        max_len = config.window.max_len if spec_.unit == "window" else 10**9
        det.fit(
            [w.key_ids for w in split_all(split.train, max_len, 1)[0]],
            [w.key_ids for w in split_all(split.val, max_len, 1)[0]],
        )
        return (
            session_scores(det, split.val, config.window, spec_.unit),
            session_scores(det, split.test, config.window, spec_.unit),
            det,
        )

    out = {}
    for name in ("new_event", "count_nearest", "logbert"):
        v, t, det = run(name)
        thr = choose_threshold(config.scoring, v)
        rep = evaluation_report(y, t, thr)
        out[name] = (v, t, thr, det)
        print(
            f"{name}: threshold {thr:.4f} P {rep['precision']:.3f} R {rep['recall']:.3f} F1 {rep['f1']:.3f} "
            f"AUROC {rep['auroc']:.3f}"
        )
    an = y == 1
    has_unk = np.array([UNK_KEY in s.key_ids for s in split.test])
    _, cn_test, cn_thr, _ = out["count_nearest"]
    print(
        f"anomalous test sessions: {an.sum()}; with an unseen template: {(has_unk & an).sum()}; "
        f"count vector identical to a training one (count_nearest = 0): {((cn_test == 0) & an).sum()}"
    )
    lv, lt, lthr, ldet = out["logbert"]
    print(
        f"LogBERT miss ratio, normal validation: quantiles 50/90/99/max "
        f"{np.quantile(lv, [0.5, 0.9, 0.99]).round(3).tolist()} {lv.max():.3f}; share with any miss "
        f"{(lv > 0).mean():.3f}"
    )
    missed = an & (lt <= lthr) & (cn_test > cn_thr)
    missed_len = [len(s.key_ids) for s, m in zip(split.test, missed, strict=True) if m]
    print(
        f"anomalies count_nearest flags but LogBERT misses: {missed.sum()}; of them with an unseen template "
        f"{(missed & has_unk).sum()}; their LogBERT miss ratio median "
        f"{np.median(lt[missed]) if missed.any() else 0:.3f} vs threshold {lthr:.3f}; "
        f"median length {np.median(missed_len) if missed_len else 0}"
    )
    # the same model, scored by the number of missed keys (max over windows) instead of the share
    model: LogBertDetector = ldet.model  # type: ignore[attr-defined]

    def n_miss(sessions: list) -> np.ndarray:
        wins, _ = split_all(sessions, config.window.max_len, 1)
        res = model.scores([w.key_ids for w in wins])
        pos = {s.session_id: i for i, s in enumerate(sessions)}
        best = np.zeros(len(sessions))
        for w, m in zip(wins, res.n_misses, strict=True):
            best[pos[w.session_id]] = max(best[pos[w.session_id]], m)
        return best

    cv, ct = n_miss(split.val), n_miss(split.test)
    rep = evaluation_report(y, ct, choose_threshold(config.scoring, cv))
    print(
        f"LogBERT scored by number of misses: F1 {rep['f1']:.3f} AUROC {rep['auroc']:.3f} "
        f"(threshold {rep['threshold']:.1f}); normal validation with any miss: {(cv > 0).mean():.3f}"
    )


if __name__ == "__main__":
    main()
