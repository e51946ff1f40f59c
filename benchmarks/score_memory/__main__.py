"""Peak memory of ``logbert score`` on large logs, against ``logbert tail --no-follow`` (which reads a log in bounded
memory) in the same run: HDFS 2 % copied 1, 4, ... times under distinct block ids, scored by one time- and value-aware
artifact trained here on the sample's first 30,000 lines.

    .venv/bin/python -m benchmarks.score_memory [--copies 1,4] [--out benchmarks/results/score_memory.md]

Skips, with the reason, without ``../shared/datasets/hdfs/loglead_2pct/HDFS_2pct.log``. Reported for each size: peak
resident memory (the child's own ``ru_maxrss``, from ``os.wait4``) and wall time of each command, the ratio of
score's peak to tail's, and the anomalous blocks each found (score: sessions flagged; tail: the sessions of its
alerts). Peak memory does not depend on the machine's load; the times do.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._report import header

ROOT = Path(__file__).resolve().parents[2]
DATA = (ROOT / ".." / "shared" / "datasets" / "hdfs" / "loglead_2pct").resolve()
TRAIN_LINES = 30_000
TRAIN_SETTINGS = ["model.signals=all", "train.epochs=2"]


def logbert() -> list[str]:
    """The installed ``logbert`` command beside this Python (the venv's)."""
    return [str(Path(sys.executable).parent / "logbert")]


def measured(command: list[str], stdout: Path) -> tuple[float, float]:
    """Run ``command`` (its standard output to ``stdout``); its peak resident memory in MB and wall seconds."""
    started = time.perf_counter()
    with stdout.open("wb") as out, open(os.devnull, "wb") as err:
        child = subprocess.Popen(command, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed (exit {os.waitstatus_to_exitcode(status)})")
    return usage.ru_maxrss / 1024, seconds  # kB on Linux


def copies_of(log: Path, k: int, into: Path) -> int:
    """``log`` written ``k`` times into ``into``, copy i's block ids prefixed with digit i (blk_-123 -> blk_-1123):
    each copy's blocks are new sessions. Returns the line count."""
    text = log.read_text(encoding="utf-8")
    with into.open("w", encoding="utf-8") as out:
        for i in range(1, k + 1):
            out.write(re.sub(r"blk_(-?)", rf"blk_\g<1>{i}", text))
    return k * text.count("\n")


def flagged_by_score(path: Path) -> set[str]:
    with path.open(encoding="utf-8") as f:
        return {r["session_id"] for r in map(json.loads, f) if r["is_anomaly"]}


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--copies", default="1,4", help="sizes, as copies of HDFS 2 %% (comma-separated)")
    cli.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "score_memory.md")
    cli.add_argument("--work", type=Path, default=Path("/tmp/logbert-score-memory"))
    cli.add_argument("--before", type=Path, help="another checkout (its src/): its score measured too, same artifact")
    args = cli.parse_args(argv)
    log, labels = DATA / "HDFS_2pct.log", DATA / "anomaly_label_2pct.csv"
    if not log.is_file():
        print(f"skipping: {log} is not there (../shared/datasets, see its README)", file=sys.stderr)
        return 0
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    artifact = work / "artifact"
    if not (artifact / "model.safetensors").is_file():
        head = work / "train.log"
        with log.open(encoding="utf-8") as f, head.open("w", encoding="utf-8") as out:
            out.writelines(line for _, line in zip(range(TRAIN_LINES), f, strict=False))
        sets = [a for s in TRAIN_SETTINGS for a in ("--set", s)]
        subprocess.run([*logbert(), "train", str(head), "-o", str(artifact), "--preset", "hdfs", "--labels",
                        str(labels), *sets, "--force"], check=True, stdout=subprocess.DEVNULL)
    rows = []
    code = "import sys; from logbert.cli import main; sys.argv[0] = 'logbert'; main()"
    for k in [int(c) for c in args.copies.split(",")]:
        big = work / f"hdfs_x{k}.log"
        n_lines = copies_of(log, k, big)
        score_out, tail_out, before_out = (work / f"{name}_x{k}.jsonl" for name in ("score", "tail", "before"))
        before = ""
        if args.before is not None:  # the other checkout's code, this venv's Python and packages
            os.environ["PYTHONPATH"] = str(args.before.resolve() / "src")
            try:
                before_mb, before_s = measured([sys.executable, "-c", code, "score", str(artifact), str(big)],
                                               before_out)
            finally:
                del os.environ["PYTHONPATH"]
        score_mb, score_s = measured([*logbert(), "score", str(artifact), str(big)], score_out)
        tail_mb, tail_s = measured([*logbert(), "tail", str(artifact), str(big), "--no-follow", "--json"], tail_out)
        flagged = flagged_by_score(score_out)
        with tail_out.open(encoding="utf-8") as f:
            alerted = {r["session_id"] for r in map(json.loads, f)}
        if args.before is not None:
            same = flagged_by_score(before_out) == flagged
            before = f"{before_mb:,.0f} | {before_s:.0f} | {same} | "
        rows.append(
            f"| {k} | {n_lines:,} | {before}{score_mb:,.0f} | {score_s:.0f} | {tail_mb:,.0f} | {tail_s:.0f} | "
            f"{score_mb / tail_mb:.2f} | {len(flagged)} | {len(alerted)} | {flagged == alerted} |"
        )
        big.unlink()
        print(rows[-1], file=sys.stderr)
    before_columns = (
        ("", "") if args.before is None
        else (f"score peak MB, `{args.before}` | its s | it flags the same blocks | ", "---:|---:|---|")
    )
    text = [
        *header("Peak memory of `logbert score` on large logs, against `tail --no-follow`", "benchmarks.score_memory",
                argv, "one process at a time"),
        "",
        f"Artifact: `logbert train` on the first {TRAIN_LINES:,} lines of `HDFS_2pct.log`, `--preset hdfs --set "
        + " --set ".join(TRAIN_SETTINGS) + "`. Sizes: the log copied k times, each copy's block ids made new.",
        "",
        f"| copies | lines | {before_columns[0]}score peak MB | score s | tail --no-follow peak MB | tail s | "
        "score / tail memory | blocks flagged by score | by tail | the same |",
        f"|---:|---:|{before_columns[1]}---:|---:|---:|---:|---:|---:|---:|---|",
        *rows,
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(text), encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
