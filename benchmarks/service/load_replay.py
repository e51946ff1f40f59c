"""Load benchmark of the streaming service: replay a raw log through the HTTP API on 127.0.0.1.

Starts ``uvicorn`` (one process, loopback only) on the artifact, posts the log in chunks of
``--batch-lines`` lines as plain text, closes every session at the end, and reports sustained
lines per second, p50/p99 ingest latency, the server's peak RSS, and whether the service flags
the same sessions as offline batch scoring of the same file through the library facade
(``--evaluate-json`` compares with a saved `logbert evaluate` prediction list instead).

    .venv/bin/python benchmarks/service/load_replay.py ARTIFACT \
        --log ../shared/datasets/hdfs/loglead_2pct/HDFS_2pct.log --out benchmarks/service/results/hdfs_2pct.json
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

REPO = Path(__file__).resolve().parents[2]
DEFAULT_LOG = (REPO / ".." / "shared" / "datasets" / "hdfs" / "loglead_2pct" / "HDFS_2pct.log").resolve()
DEFAULT_LABELS = DEFAULT_LOG.with_name("anomaly_label_2pct.csv")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _start_server(args: argparse.Namespace, port: int, db: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        LOGBERT_ARTIFACT=str(args.artifact),
        LOGBERT_ALERTS_DB=str(db),
        LOGBERT_IDLE_TIMEOUT_S="86400",  # replay is faster than real time: sessions end at close-all
        LOGBERT_MAX_OPEN_SESSIONS=str(args.max_open_sessions),
        LOGBERT_MAX_PENDING_WINDOWS="1000000",
        LOGBERT_MAX_LINES_PER_REQUEST=str(max(args.batch_lines, 1)),
    )
    cmd = [sys.executable, "-m", "uvicorn", "--factory", args.app_factory, "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warning"]
    return subprocess.Popen(cmd, env=env, cwd=REPO)


class PeakRss:
    """Samples a process's RSS every 50 ms."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.proc.memory_info().rss)
            except psutil.Error:
                return
            self._stop.wait(0.05)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def _offline_flags(artifact: Path, lines: list[str]) -> set[str]:
    """Sessions flagged by batch scoring through the library facade (same parser, same windows)."""
    from logbert.records import KeySequence
    from logbert.streaming.loading import load_detector

    det = load_detector(artifact)
    parsed, _ = det.parse_lines(lines, start_line_no=1)
    sessions: dict[str, list[int]] = {}
    for p in parsed:
        for sid in dict.fromkeys(p.session_ids):
            sessions.setdefault(sid, []).append(p.key_id)
    max_len = det.config.window.max_len
    seqs = [
        KeySequence(sid, keys[i : i + max_len], window_index=i // max_len)
        for sid, keys in sessions.items()
        for i in range(0, len(keys), max_len)
        if len(keys[i : i + max_len]) >= det.config.window.min_len
    ]
    flagged: set[str] = set()
    for i in range(0, len(seqs), 1024):
        for s in det.score_sequences(seqs[i : i + 1024]):
            if s.is_anomaly:
                flagged.add(s.session_id)
    return flagged


def _evaluate_flags(path: Path) -> set[str]:
    data: Any = json.loads(path.read_text())
    items = data.get("flagged_sessions", data) if isinstance(data, dict) else data
    return {str(x) for x in items}


def _labels(path: Path) -> set[str]:
    with path.open(newline="") as f:
        return {row["BlockId"] for row in csv.DictReader(f) if row["Label"] == "Anomaly"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("artifact", type=Path)
    ap.add_argument("--log", type=Path, default=DEFAULT_LOG)
    ap.add_argument("--labels", type=Path, default=DEFAULT_LABELS, help="BlockId,Label csv (optional)")
    ap.add_argument("--max-lines", type=int, default=300_000, help="bound on lines replayed")
    ap.add_argument("--batch-lines", type=int, default=1000, help="lines per request")
    ap.add_argument("--max-open-sessions", type=int, default=50_000)
    ap.add_argument("--app-factory", default="logbert.service.app:create_app_from_env")
    ap.add_argument(
        "--evaluate-json", type=Path, help="flagged sessions from `logbert evaluate` (list or {flagged_sessions})"
    )
    ap.add_argument("--no-reference", action="store_true", help="skip the offline comparison")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    lines = args.log.read_bytes().splitlines()[: args.max_lines]
    chunks = [b"\n".join(lines[i : i + args.batch_lines]) + b"\n" for i in range(0, len(lines), args.batch_lines)]
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        server = _start_server(args, port, Path(tmp) / "alerts.sqlite3")
        try:
            with httpx.Client(base_url=base, timeout=120) as http:
                deadline = time.monotonic() + 300  # loading the artifact
                while True:
                    try:
                        if http.get("/health/ready").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("server did not become ready")
                    time.sleep(0.2)
                rss = PeakRss(server.pid)
                latencies: list[float] = []
                t0 = time.perf_counter()
                for chunk in chunks:  # bounded: one pass over at most --max-lines lines
                    t = time.perf_counter()
                    r = http.post("/v1/ingest/text", content=chunk, headers={"content-type": "text/plain"})
                    latencies.append(time.perf_counter() - t)
                    if r.status_code == 503:
                        time.sleep(float(r.headers.get("retry-after", "1")))
                        r = http.post("/v1/ingest/text", content=chunk)
                    r.raise_for_status()
                t_ingest = time.perf_counter() - t0
                close = http.post("/v1/sessions/close-all").json()
                t_total = time.perf_counter() - t0
                peak = rss.stop()
                stats = http.get("/v1/stats").json()["values"]
                flagged: set[str] = set()
                offset = 0
                while True:
                    page = http.get("/v1/alerts", params={"limit": 1000, "offset": offset}).json()
                    flagged.update(a["session_id"] for a in page["alerts"])
                    offset += len(page["alerts"])
                    if not page["alerts"] or offset >= page["total"]:
                        break
        finally:
            server.terminate()
            server.wait(60)

    text_lines = [ln.decode("utf-8", errors="replace") for ln in lines]
    result: dict[str, Any] = {
        "log": str(args.log),
        "lines": len(lines),
        "batch_lines": args.batch_lines,
        "requests": len(chunks),
        "ingest_lines_per_s": round(len(lines) / t_ingest, 1),
        "sustained_lines_per_s": round(len(lines) / t_total, 1),  # until every window is scored
        "latency_ms_p50": round(1000 * statistics.median(latencies), 2),
        "latency_ms_p99": round(1000 * statistics.quantiles(latencies, n=100)[98], 2) if len(latencies) > 1 else None,
        "server_peak_rss_mib": round(peak / 2**20, 1),
        "drained": close["drained"],
        "windows_scored": stats["windows_scored"],
        "sessions_flagged": len(flagged),
        "lines_rejected": stats["lines_rejected"],
        "unknown_templates": stats["lines_unknown_template"],
    }
    reference: set[str] | None = None
    if args.evaluate_json:
        reference, result["reference"] = _evaluate_flags(args.evaluate_json), f"logbert evaluate: {args.evaluate_json}"
    elif not args.no_reference:
        reference, result["reference"] = _offline_flags(args.artifact, text_lines), "offline batch scoring via api"
    if reference is not None:
        result["reference_flagged"] = len(reference)
        result["same_sessions_flagged"] = flagged == reference
        result["only_service"] = sorted(flagged - reference)[:20]
        result["only_reference"] = sorted(reference - flagged)[:20]
    if args.labels.exists():
        anomalous = _labels(args.labels)
        tp = len(flagged & anomalous)
        result["precision"] = round(tp / len(flagged), 4) if flagged else None
        result["recall_within_replayed"] = tp
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
