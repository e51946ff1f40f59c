"""How many torch threads should training and scoring use on this machine? Measured, not assumed.

    .venv/bin/python -m benchmarks.threads [--out benchmarks/results/threads.md]

Simulated nova log (the demo's data), the demo's model; for each thread setting, in the same run
and in interleaved order (so a noisy neighbour hits every arm alike): LogBERT training for a fixed
number of epochs (no early stopping) and scoring of every session, wall time of each. Torch's
default is what ``torch.get_num_threads()`` gives in a fresh process on this machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks._report import header

ROOT = Path(__file__).resolve().parents[2]
ARMS = ("1", "2", "torch_default", "auto")
CHILD = """
import sys, time, torch
from logbert import api
from logbert.pipeline.fit import train
threads, log, labels, out = sys.argv[1:5]
# torch_default: what torch picks in a fresh process; auto: logbert's choice (train.num_threads = 0)
n = {"torch_default": torch.get_num_threads(), "auto": 0}.get(threads) if not threads.isdigit() else int(threads)
cfg = api.demo_config().with_overrides({"train.epochs": 6, "train.patience": 100, "train.num_threads": n})
t0 = time.perf_counter()
result = train(log, out, cfg, labels=labels, progress=False)
t1 = time.perf_counter()
det = api.load_detector(out)
sessions = api.score(det, log)
t2 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f} {len(sessions)} {torch.get_num_threads()}")
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "threads.md")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--busy", type=int, default=0, help="also measure with this many other processes spinning (a busy machine)"
    )
    args = parser.parse_args(argv)
    from logbert.datasets.simulator import write_simulated

    work = Path(tempfile.mkdtemp(prefix="logbert-threads-"))
    files = write_simulated(work / "data", n_instances=400, anomaly_ratio=0.15, seed=0)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    default_threads = 0
    tables: list[str] = []
    for busy in sorted({0, args.busy}):
        spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
        times: dict[str, list[tuple[float, float]]] = {arm: [] for arm in ARMS}
        try:
            for rep in range(args.repeats):
                for arm in ARMS:
                    art = work / f"art-{busy}-{arm}-{rep}"
                    out = subprocess.run(
                        [sys.executable, "-c", CHILD, arm, str(files.log), str(files.labels), str(art)],
                        check=True,
                        capture_output=True,
                        text=True,
                        env=env,
                    ).stdout.split()
                    times[arm].append((float(out[0]), float(out[1])))
                    if arm == "torch_default":
                        default_threads = int(out[3])
                    print(f"busy {busy} repeat {rep} threads {arm}: train {out[0]} s, score {out[1]} s", flush=True)
        finally:
            for p in spinners:
                p.kill()
        tables += _table(times, busy)
    lines = [
        *header(
            "Torch threads for training and scoring",
            "benchmarks.threads",
            argv,
            f"torch's default here: {default_threads} threads; {args.repeats} repeats, arms interleaved",
        ),
        "",
        "The demo's data and model (400 simulated VMs, 6 epochs without early stopping), then scoring",
        "every session of the log. Median wall seconds (min-max); `busy N`: N other processes spin on",
        "the CPU meanwhile, as on a machine that also runs the service or other jobs. `torch_default`:",
        "torch's own choice; `auto`: logbert's (`train.num_threads = 0`, see `src/logbert/threads.py`).",
        *tables,
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


def _table(times: dict[str, list[tuple[float, float]]], busy: int) -> list[str]:
    lines = ["", f"busy {busy}:", "", "| threads | train | score | train vs 1 thread |", "|---|---:|---:|---:|"]
    base = statistics.median(t for t, _ in times["1"])
    for arm in ARMS:
        tr = [t for t, _ in times[arm]]
        sc = [s for _, s in times[arm]]
        lines.append(
            f"| {arm} | {statistics.median(tr):.1f} ({min(tr):.1f}-{max(tr):.1f}) | "
            f"{statistics.median(sc):.1f} ({min(sc):.1f}-{max(sc):.1f}) | {statistics.median(tr) / base:.2f}x |"
        )
    return lines
