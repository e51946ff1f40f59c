"""DeepLog OpenStack through the streaming path (issue 13, item 6): `logbert tail` against `logbert score`.

    .venv/bin/python -m benchmarks.time_values.streaming [--epochs 10] [--out benchmarks/results/time_values]

A time- and value-aware artifact (`--preset openstack --set model.signals=all`, split calibration) is
trained with `logbert train` on `openstack_normal1` (its own split: the normal sessions only, test
sessions held back), then `openstack_abnormal` (198 instances, 4 anomalous under the official labels)
is scored offline (`logbert score`) and streamed (`logbert tail --no-follow --json`, the service's
engine). Reported: the sessions each flags, which of the 4 labelled anomalies they are, and the
largest score difference per session (tail reports windows: a session's score is its worst window's).
Skips with a message when `../shared/datasets` is absent.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._report import header

ROOT = Path(__file__).resolve().parents[2]
DATA = (ROOT / ".." / "shared" / "datasets" / "openstack" / "deeplog_openstack").resolve()


def _logbert(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", "from logbert.cli import main; main()", *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True, env={"PYTHONPATH": str(ROOT / "src")})


def _signals(artifact: Path) -> str:
    config: dict[str, dict[str, str]] = json.loads((artifact / "config.json").read_text(encoding="utf-8"))
    return config["model"]["signals"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--work", type=Path, default=Path("/tmp/logbert-tv-streaming"))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "time_values")
    parser.add_argument(
        "--artifact",
        type=Path,
        default=None,
        help="score this artifact instead of training one (e.g. the time_values benchmark's cross-fit `all` model, "
        "kept with its --work)",
    )
    parser.add_argument("--name", default="streaming.md", help="the result file under --out")
    args = parser.parse_args(argv)
    normal, abnormal = DATA / "openstack_normal1.instance_lines.log", DATA / "openstack_abnormal.instance_lines.log"
    if not normal.exists():
        print(f"skipped: {normal} is absent (see ../shared/datasets/README.md)")
        return 0
    labelled = set((DATA / "anomaly_labels.txt").read_text().split())
    args.work.mkdir(parents=True, exist_ok=True)
    artifact = args.artifact or args.work / "artifact"
    started = time.perf_counter()
    if args.artifact is None:
        _logbert("train", str(normal), "-o", str(artifact), "--force", "--preset", "openstack",
                 "--set", "model.signals=all", "--set", f"train.epochs={args.epochs}",
                 "--set", "scoring.calibration=split", "--set", "train.num_threads=1")
    train_s = time.perf_counter() - started
    trained = (
        f"`logbert train openstack_normal1.instance_lines.log --preset openstack --set model.signals=all "
        f"--set train.epochs={args.epochs} --set scoring.calibration=split` ({train_s:.0f} s)"
        if args.artifact is None
        else f"given (`--artifact {args.artifact.name}`, model.signals {_signals(artifact)!r})"
    )
    offline_file, tail_file = args.work / "offline.jsonl", args.work / "tail.jsonl"
    started = time.perf_counter()
    _logbert("score", str(artifact), str(abnormal), "--format", "jsonl", "-o", str(offline_file))
    offline_s = time.perf_counter() - started
    started = time.perf_counter()
    tail = _logbert("tail", str(abnormal), "-a", str(artifact), "--no-follow", "--json")
    tail_s = time.perf_counter() - started
    tail_file.write_text(tail.stdout)
    offline = {r["session_id"]: r for r in map(json.loads, offline_file.read_text().splitlines())}
    alerts = [json.loads(line) for line in tail.stdout.splitlines() if line.strip()]
    worst: dict[str, float] = {}
    for a in alerts:
        worst[a["session_id"]] = max(worst.get(a["session_id"], -1e9), a["anomaly_score"])
    flagged_offline = {s for s, r in offline.items() if r["is_anomaly"]}
    flagged_tail = set(worst)
    diff = max((abs(worst[s] - offline[s]["anomaly_score"]) for s in flagged_tail & set(offline)), default=0.0)
    threshold = next(iter(offline.values()))["threshold"]

    def found(flagged: set[str]) -> str:
        return f"{len(flagged & labelled)} of {len(labelled & set(offline))}"

    lines = [
        *header("DeepLog OpenStack: the streaming path against offline scoring", "benchmarks.time_values.streaming",
                argv, "CPU, 1 torch thread"),
        "",
        f"Artifact: {trained}, threshold "
        f"{threshold:.4f}. Scored: `openstack_abnormal.instance_lines.log`, {len(offline)} instances.",
        "",
        "| path | sessions flagged | labelled anomalies flagged | false alarms (other instances) | seconds |",
        "|---|---:|---:|---:|---:|",
        f"| `logbert score` (offline) | {len(flagged_offline)} | {found(flagged_offline)} "
        f"| {len(flagged_offline - labelled)} | {offline_s:.1f} |",
        f"| `logbert tail --no-follow` (streaming engine) | {len(flagged_tail)} | {found(flagged_tail)} "
        f"| {len(flagged_tail - labelled)} | {tail_s:.1f} |",
        "",
        f"Same sessions flagged: {flagged_offline == flagged_tail}; largest difference between a flagged session's "
        f"offline score and its worst streamed window: {diff:.2e} (offline scores are printed to 6 decimals). "
        f"In flight at the capture start (scored, not alerted; `logbert.scoring.capture`), offline: "
        f"{', '.join(sorted(s[:8] for s, r in offline.items() if r.get('partial'))) or 'none'}.",
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / args.name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
