"""Issue 9: where LogBERT's false alarms on HDFS 2 % come from, for one seed of one session_signal cell.

    nice -n 5 .venv/bin/python -m benchmarks.session_signal.false_alarms --seed 0

Trains the LogBERT variant (default: the hdfs preset cell, ``cut_max_mean_length_w128``) and ``count_nearest`` on the
benchmark's split of that seed (``logbert.bench``: chronological, <= 2,000 training sessions), then prints

* the threshold and where the normal validation and normal test scores lie (is the test shifted?);
* when the three parts were logged and their mix of session lengths;
* the false alarms: count vector seen in training (``count_nearest`` = 0), exact key sequence seen in training,
  keys held by fewer than 1 % of the training sessions, the most surprising key and whether its line shares its
  timestamp with a neighbour;
* the same model's test figures at the threshold of another calibration set: the normal sessions of the training
  period that the 2,000-session cap left out (spread over the whole training period, never trained on), and the
  same two with every key scored by its run of 2 (``scoring.mask_span`` = 2).

Nothing here is tuned on the test labels: they are only counted.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from benchmarks.session_signal.__main__ import DATA, _overrides

from logbert.bench.config import BenchConfig
from logbert.bench.datasets import builtin_datasets, load_dataset
from logbert.bench.detectors import detector_specs
from logbert.bench.runner import _logbert_config, _windows, prepare_split
from logbert.evaluation.metrics import evaluation_report
from logbert.pipeline.calibrate import choose_threshold
from logbert.pipeline.sessions import session_scores, session_windows, unseen_key_sessions
from logbert.pipeline.split import key_sessions, split_and_key
from logbert.records import KeySequence
from logbert.scoring.scorer import score_sequences


def _q(a: np.ndarray) -> str:
    return " / ".join(f"{v:.2f}" for v in np.quantile(a, [0.5, 0.9, 0.99, 0.995]))


def _lengths(sessions: Sequence[KeySequence]) -> str:
    c = Counter(len(s.key_ids) for s in sessions)
    return ", ".join(f"{n} keys {k / len(sessions):.0%}" for n, k in c.most_common(3))


def _hours(sessions: Sequence[KeySequence]) -> str:
    t = [s.start_time or 0.0 for s in sessions]
    return f"{(max(t) - min(t)) / 3600:.2f} h"


def _figures(y: np.ndarray, scores: np.ndarray, threshold: float) -> str:
    r = evaluation_report(y, scores, threshold)
    return f"threshold {threshold:.2f}: F1 {r['f1']:.3f} recall {r['recall']:.3f} FPR {r['fpr']:.4f} (fp {r['fp']})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.session_signal.false_alarms", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--variant", default="cut_max_mean_length_w128")
    ap.add_argument("--epochs", type=int, default=10)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    spec = builtin_datasets(DATA)["hdfs_2pct"]
    bench = BenchConfig(
        seeds=(args.seed,),
        epochs=args.epochs,
        max_train_sessions=2000,
        detectors=("logbert",),
        num_threads=1,
        overrides=_overrides("hdfs_2pct", args.variant),
    )
    data = load_dataset(spec, max_normal=bench.max_normal, max_abnormal=bench.max_abnormal)
    config = _logbert_config(data.config, bench)
    split = prepare_split(data, config, args.seed, bench.max_train_sessions)
    specs = detector_specs()
    got: dict[str, Any] = {}
    for name in ("count_nearest", "logbert"):
        det = specs[name].build(config, args.seed)
        train = [u.key_ids for u in _windows(split.train, specs[name].unit, config)]
        det.fit(train, [u.key_ids for u in _windows(split.val, specs[name].unit, config)])
        val = session_scores(det, split.val, config.window, specs[name].unit)
        unseen = unseen_key_sessions(split.val, {k for s in train for k in s})
        got[name] = (det, val, session_scores(det, split.test, config.window, specs[name].unit))
        got[name + "_threshold"] = choose_threshold(config.scoring, val[~unseen] if not unseen.all() else val)
    det, val, test = got["logbert"]
    threshold = got["logbert_threshold"]
    y = np.array([s.label for s in split.test], dtype=np.int64)
    normal = [s for s in split.test if s.label != 1]
    print(f"hdfs_2pct seed {args.seed} logbert {args.variant}: {_figures(y, test, threshold)}")
    print(f"  normal scores, q50 / q90 / q99 / q99.5: validation {_q(val)}; test {_q(test[y == 0])}")
    for part, sessions in (("train", split.train), ("validation", split.val), ("normal test", normal)):
        print(f"  {part}: {len(sessions)} sessions over {_hours(sessions)}; {_lengths(sessions)}")

    # the false alarms
    def counts(s: KeySequence) -> tuple[tuple[int, int], ...]:
        return tuple(sorted(Counter(s.key_ids).items()))

    train_counts, train_seqs = Counter(map(counts, split.train)), Counter(tuple(s.key_ids) for s in split.train)
    held_by = Counter(k for s in split.train for k in set(s.key_ids))
    rare = {k for k, n in held_by.items() if n < 0.01 * len(split.train)}
    stamp = {line.line_no: line.timestamp for line in data.corpus.lines}
    alarms = [i for i in np.flatnonzero((y == 0) & (test > threshold))]
    windows, _ = session_windows([split.test[i] for i in alarms], config.window)
    model = det.model
    out = score_sequences(
        model.model_, model.vocab_, [w.key_ids for w in windows], model.center_, config.scoring, details=True
    )
    assert out.details is not None
    cn = got["count_nearest"][2]
    tally: Counter[str] = Counter()
    for i, details in zip(alarms, out.details, strict=True):
        s = split.test[i]
        tally["count vector seen in training"] += train_counts[counts(s)] > 0
        tally["count_nearest = 0"] += cn[i] == 0
        tally["key sequence seen in training"] += train_seqs[tuple(s.key_ids)] > 0
        tally["holds a key of < 1 % of training sessions"] += bool(rare & set(s.key_ids))
        tally[f"length {len(s.key_ids)}"] += 1
        probs = [dict(zip(d.top_key_ids, d.top_probs, strict=True)).get(d.key_id, 0.0) for d in details]
        worst = int(np.argmin(probs)) - 1  # the window holds the session bounds
        times = [stamp[n] for n in s.line_nos]
        tied = 0 <= worst < len(times) and any(
            0 <= j < len(times) and times[j] == times[worst] for j in (worst - 1, worst + 1)
        )
        tally["most surprising key's line shares its timestamp with a neighbour"] += tied
    print(f"  {len(alarms)} false alarms:")
    for what, n in tally.most_common():
        print(f"    {what}: {n}")

    # the same model at the threshold of the training-period sessions the cap left out
    used = {s.session_id for s in split.train}
    full = split_and_key(data.corpus, config, seed=args.seed)
    lines = {s.session_id: s for s in data.corpus.line_sessions}
    assert split.parser is not None
    left_out = [lines[s.session_id] for s in full.train if s.session_id not in used]
    (rest,), _ = key_sessions(data.corpus, [left_out], split.parser)
    rest = [s for s, new in zip(rest, unseen_key_sessions(rest, model.vocab_.keys), strict=True) if not new]
    for span in (1, 2):
        model.config = model.config.model_copy(
            update={"scoring": model.config.scoring.model_copy(update={"mask_span": span})}
        )
        v, t, r = (session_scores(model, part, config.window) for part in (split.val, split.test, rest))
        auroc = evaluation_report(y, t, float("inf"))["auroc"]
        print(f"  mask_span {span} (AUROC {auroc:.4f}):")
        print(f"    validation ({len(v)}): {_figures(y, t, choose_threshold(config.scoring, v))}")
        at = choose_threshold(config.scoring, r)
        print(f"    training period, left out ({len(r)}, {_hours(rest)}): {_figures(y, t, at)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
