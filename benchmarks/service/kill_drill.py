"""``kill -9`` of ``logbert serve`` while a checkpoint writer child is at work, on a real log.

Replays the first ``--lines`` lines of LOG in 1,000-line requests twice: once calmly, once with a
``kill -9`` of the service before each request of ``--kill-at``, each time once a checkpoint writer's
file exists (checkpoints every 0.3 s, so one is never far; polled for up to 3 s), then a restart.
Prints, per kill, the writer files present, the checkpoint the restart found, and the open sessions
before and after; at the end, whether the alerts of both runs are the same. Exit status 1 when they
differ or a restart lost an open session.

    PYTHONPATH=. .venv/bin/python benchmarks/service/kill_drill.py ARTIFACT \\
        ../shared/datasets/hdfs/loglead_2pct/HDFS_2pct.log --lines 40000 --kill-at 10,20,30
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from tests.faults.conftest import Service

ENV = {"LOGBERT_CHECKPOINT_INTERVAL_S": "0.3", "LOGBERT_IDLE_CHECK_INTERVAL_S": "0.1"}


def _run(artifact: Path, requests: list[list[str]], kills: set[int], folder: Path) -> tuple[list[object], bool]:
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "alerts.sqlite3"
    journal = folder / "alerts.sqlite3.journal"
    service, kept = Service(artifact, db, env=ENV), True
    for i, request in enumerate(requests):
        if i in kills:
            deadline, writers = time.monotonic() + 3, []
            while time.monotonic() < deadline and not writers:  # kill while a checkpoint writer is at work
                writers = sorted(p.name for p in journal.glob("*.tmp"))
                time.sleep(0.0005)
            before = service.http.get("/v1/stats").json()["values"]["sessions_open"]
            service.kill()
            service = Service(artifact, db, env=ENV)
            checkpoint = journal / "checkpoint.json"
            found = json.loads(checkpoint.read_text())["next_seq"] if checkpoint.exists() else None
            after = service.http.get("/v1/stats").json()["values"]["sessions_open"]
            kept &= before == after and "recovered from the ingest journal" in service.output()
            print(f"kill before request {i}: writer files {writers}; the restart found checkpoint next_seq "
                  f"{found}; open sessions {before} -> {after}", flush=True)
        service.send(request)
    assert service.close_all()["drained"] is True
    alerts: list[object] = list(service.alerts())
    service.stop()
    left = sorted(p.name for p in journal.glob("*.tmp"))
    print(f"{'killed' if kills else 'calm'}: {len(alerts)} alerts; writer files left after the stop: {left}")
    return alerts, kept and not left


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("artifact", type=Path)
    parser.add_argument("log", type=Path)
    parser.add_argument("--lines", type=int, default=40_000)
    parser.add_argument("--kill-at", default="10,20,30", help="request indices before which the service is killed")
    args = parser.parse_args(argv)
    lines = args.log.read_text(encoding="utf-8", errors="replace").splitlines()[: args.lines]
    requests = [lines[i : i + 1000] for i in range(0, len(lines), 1000)]
    kills = {int(k) for k in args.kill_at.split(",") if k}
    with tempfile.TemporaryDirectory() as tmp:
        calm, _ = _run(args.artifact, requests, set(), Path(tmp) / "calm")
        killed, kept = _run(args.artifact, requests, kills, Path(tmp) / "killed")
    same = calm == killed
    print(f"alerts the same: {same}; every open session kept, no writer file left: {kept}")
    return 0 if same and kept else 1


if __name__ == "__main__":
    raise SystemExit(main())
