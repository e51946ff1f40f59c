"""LogBERT's wrong decisions in one seed of the bench, session by session, with what the model expected.

    .venv/bin/python -m benchmarks.bench.wrong [DATASET] [--seed S] [--threads 1] [--out FILE.json]

The split, training (``logbert train``'s own fit: fold models and final model where it cross-fits) and stored
threshold of ``python -m benchmarks.bench --dataset DATASET`` for that seed, so the decisions are the bench's. It
prints the threshold and its basis, the highest calibration scores, and for every false alarm and every miss: its
score, its keys, how many training sessions have exactly those keys, and per masked key of each window whether it
was a miss and the model's top-g keys with their probabilities. With ``--out`` every test session's id, label, keys
and score go to a JSON file, for comparing seeds (docs/benchmarks.md, "What still separates LogBERT from
count_nearest on the full DevStack bench").
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from logbert.bench import BenchConfig, builtin_datasets, load_dataset
from logbert.bench.detectors import detector_specs
from logbert.bench.runner import _logbert_config, prepare_split
from logbert.pipeline.calibrate import resolve_calibration
from logbert.pipeline.fit import fit_sessions, rekey_normal_sessions
from logbert.pipeline.sessions import session_scores, session_windows

REPO = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", nargs="?", default="devstack")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--datasets-dir", default=str(REPO / ".." / "shared" / "datasets"))
    ap.add_argument("--out", type=Path, default=None, help="every test session's id, label, keys and score (JSON)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    bench = BenchConfig(num_threads=args.threads)
    spec = builtin_datasets(args.datasets_dir)[args.dataset]
    data = load_dataset(spec, max_normal=bench.max_normal, max_abnormal=bench.max_abnormal)
    config = _logbert_config(data.config, bench)
    split = prepare_split(data, config, args.seed, bench.max_train_sessions)
    scheme = resolve_calibration(config.scoring, len(split.train) + len(split.val), len(split.val))
    if scheme == "cross_fit":  # as the bench: templates mined on the training and validation lines
        split = rekey_normal_sessions(data.corpus, split, config)
    logbert = detector_specs()["logbert"]
    assert logbert.configure is not None
    fitted = fit_sessions(split.train, split.val, logbert.configure(config, args.seed), scheme=scheme, what=spec.name)
    detector, record = fitted.detector, fitted.record
    scores = session_scores(detector, split.test, config.window)
    y = np.array([s.label == 1 for s in split.test])
    flagged = scores > record.threshold
    print(f"{spec.name} seed {args.seed}: threshold {record.threshold:.6g}; {record.describe()}")
    print(f"highest calibration scores: {[round(float(x), 4) for x in sorted(record.normal_scores)[-6:][::-1]]}")
    print(f"true positives {int((flagged & y).sum())}, false alarms {int((flagged & ~y).sum())}, "
          f"misses {int((~flagged & y).sum())}")
    trained = Counter(tuple(s.key_ids) for s in (*split.train, *split.val))
    for session, score, is_flagged in zip(split.test, scores, flagged, strict=True):
        if bool(is_flagged) == (session.label == 1):
            continue
        kind = "false alarm" if is_flagged else "miss"
        print(f"\n{kind} {session.session_id}: score {score:.4f}, {len(session.key_ids)} keys {list(session.key_ids)}; "
              f"training sessions with exactly these keys: {trained[tuple(session.key_ids)]}")
        windows, _ = session_windows([session], config.window)
        for j, details in enumerate(detector.explain([w.key_ids for w in windows])):
            print(f"  window {j} (its start and end marks -2 and -3 are keys too)")
            for d in details:
                top = ", ".join(f"{k} {p:.3f}" for k, p in zip(d.top_key_ids, d.top_probs, strict=True))
                print(f"  {d.position:3d} key {d.key_id:4d} {'MISS' if d.missed else '    '} top: {top}")
    if args.out is not None:
        rows = [
            {"id": s.session_id, "label": s.label, "keys": list(s.key_ids), "score": float(x)}
            for s, x in zip(split.test, scores, strict=True)
        ]
        args.out.write_text(json.dumps({"threshold": record.threshold, "sessions": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
