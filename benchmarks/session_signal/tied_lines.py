"""Issue 9, an experiment (not a feature): session_signal cells with lines that share a timestamp put in key order.

    nice -n 5 .venv/bin/python -m benchmarks.session_signal.tied_lines --detectors cut_max_mean_length_w128_span2_spread

HDFS 2 % has one-second timestamps, and within a second its lines are in text order (the pid field sorts as a
string: ``149`` before ``27``), not in the order the events happened. This run keys every session with its
lines sorted by (timestamp, key id), stable, for train, validation and test alike, by replacing
``logbert.pipeline.split._keyed`` for the run, then runs the named ``benchmarks.session_signal`` cells
(``run_cell``) on HDFS 2 %. Nothing is cached or written: the figures are printed, one JSON line per cell, then
mean +- sample std per detector.

Why only an experiment: the streaming path (``tail``, the service) keys a session line by line as lines arrive,
so the same order there needs the router to reorder lines of one second before a window is emitted; until then
offline and streaming scores would differ, and the scoring rule is one rule for both.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import numpy as np
import torch
from benchmarks.session_signal.__main__ import run_cell

import logbert.pipeline.split as split_module
from logbert.pipeline.corpus import Corpus, LineSession
from logbert.records import KeySequence


def _keyed_in_tie_order(corpus: Corpus, session: LineSession, key_ids: list[int]) -> KeySequence:
    lines = [corpus.lines[i] for i in session.rows]
    order = sorted(range(len(key_ids)), key=lambda j: (lines[j].timestamp or 0.0, key_ids[j]))
    return KeySequence(
        session_id=session.session_id,
        key_ids=[key_ids[j] for j in order],
        label=session.label,
        line_nos=[lines[j].line_no for j in order],
        start_time=session.start_time,
    )


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.session_signal.tied_lines", description=__doc__.split("\n")[0]
    )
    ap.add_argument(
        "--detectors", default="cut_max_mean_length_w128_span2_spread,cut_max_mean_length_w128,count_nearest"
    )
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=10)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    split_module._keyed = _keyed_in_tie_order  # type: ignore[assignment]  # this run only
    metrics = ("f1", "recall", "fpr", "auroc")
    for name in args.detectors.split(","):
        cells = []
        for seed in (int(s) for s in args.seeds.split(",")):
            cell = run_cell("hdfs_2pct", 2000, name, seed, args.epochs)
            cells.append(cell)
            print(json.dumps({"detector": name, "seed": seed, **{m: round(cell[m], 4) for m in (*metrics, "fp")}}))
        values = {m: [c[m] for c in cells] for m in metrics}
        summary = {m: f"{np.mean(v):.3f} ± {np.std(v, ddof=1) if len(v) > 1 else 0.0:.3f}" for m, v in values.items()}
        print(f"{name} (tied lines in key order): {summary}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
