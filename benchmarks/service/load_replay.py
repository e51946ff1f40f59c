"""Load benchmark of the streaming service: replay a raw log through the HTTP API on 127.0.0.1.

Starts ``uvicorn`` (one process, loopback only) on the artifact, posts the log in chunks of
``--batch-lines`` lines as plain text (one bounded pass, one request at a time), closes every
session at the end, and reports sustained lines per second, p50/p99 ingest latency, the server's
peak RSS, and how far the sessions the service alerted on agree with offline scoring of the same
lines: ``--score-jsonl`` reads the output of ``logbert score ARTIFACT LOG --only-anomalies -o FILE``;
without it the replayed lines are scored offline through ``api.score`` (what ``logbert score``
calls). Agreement is the Jaccard index of the two flagged-session sets plus both differences.

    .venv/bin/python benchmarks/service/load_replay.py ARTIFACT \
        --log ../shared/datasets/hdfs/loglead_2pct/HDFS_2pct.log --score-jsonl flagged.jsonl \
        --out benchmarks/results/service_load.json --md benchmarks/results/service_load.md
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shlex
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
        LOGBERT_LIMITS__IDLE_TIMEOUT_S="86400",  # replay is faster than real time: sessions end at close-all
        LOGBERT_LIMITS__MAX_OPEN_SESSIONS=str(args.max_open_sessions),
        LOGBERT_LIMITS__MAX_PENDING_WINDOWS="1000000",
        LOGBERT_MAX_LINES_PER_REQUEST=str(max(args.batch_lines, 1)),
        LOGBERT_CLOSE_WAIT_S="3600",  # close-all answers once every queued window is scored
    )
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        args.app_factory,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
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


def _offline_flags(artifact: Path, lines: list[bytes], tmp: Path) -> set[str]:
    """Sessions flagged by ``api.score`` (the ``logbert score`` path) on exactly the replayed lines."""
    from logbert import api

    path = tmp / "replayed.log"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return {r.session_id for r in api.score(artifact, path) if r.is_anomaly}


def _score_jsonl_flags(path: Path) -> set[str]:
    """Flagged session ids from ``logbert score ... --only-anomalies -o FILE`` (JSON lines)."""
    rows = [json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return {str(r["session_id"]) for r in rows if r.get("is_anomaly", True)}


def _evaluate_flags(path: Path) -> set[str]:
    data: Any = json.loads(path.read_text())
    items = data.get("flagged_sessions", data) if isinstance(data, dict) else data
    return {str(x) for x in items}


def agreement(service: set[str], reference: set[str]) -> dict[str, Any]:
    """Jaccard index of two flagged-session sets and both differences (counts and up to 20 ids)."""
    union = service | reference
    return {
        "service_flagged": len(service),
        "reference_flagged": len(reference),
        "both": len(service & reference),
        "jaccard": round(len(service & reference) / len(union), 6) if union else 1.0,
        "only_service": len(service - reference),
        "only_reference": len(reference - service),
        "only_service_ids": sorted(service - reference)[:20],
        "only_reference_ids": sorted(reference - service)[:20],
    }


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
    ap.add_argument("--score-jsonl", type=Path, help="output of `logbert score ARTIFACT LOG --only-anomalies -o FILE`")
    ap.add_argument(
        "--evaluate-json", type=Path, help="flagged sessions from `logbert evaluate` (list or {flagged_sessions})"
    )
    ap.add_argument("--no-reference", action="store_true", help="skip the offline comparison")
    ap.add_argument("--idempotency-keys", action="store_true", help="an Idempotency-Key on every request")
    ap.add_argument("--out", type=Path, help="result JSON")
    ap.add_argument("--md", type=Path, help="result as a Markdown table")
    args = ap.parse_args()
    command = shlex.join([os.path.relpath(sys.executable), *sys.argv])

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
                rss_loaded = psutil.Process(server.pid).memory_info().rss
                rss = PeakRss(server.pid)
                latencies: list[float] = []
                load_before = os.getloadavg()[0]  # other jobs on the machine: speeds depend on it
                t0 = time.perf_counter()
                for i, chunk in enumerate(chunks):  # bounded: one pass over at most --max-lines lines
                    headers = {"content-type": "text/plain"}
                    if args.idempotency_keys:  # what a careful shipper sends: each request named, its retries alike
                        headers["Idempotency-Key"] = f"replay-{i:08d}"
                    t = time.perf_counter()
                    r = http.post("/v1/ingest/text", content=chunk, headers=headers)
                    latencies.append(time.perf_counter() - t)
                    for _ in range(30):  # bounded back-off while the scoring queue is full
                        if r.status_code != 503:
                            break
                        time.sleep(float(r.headers.get("retry-after", "1")))
                        r = http.post("/v1/ingest/text", content=chunk, headers=headers)
                    r.raise_for_status()
                t_ingest = time.perf_counter() - t0
                close = http.post("/v1/sessions/close-all", timeout=3700).json()
                t_total = time.perf_counter() - t0
                load_after = os.getloadavg()[0]
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
        # the offline reference runs once the server is gone (no CPU shared with the replay)
        reference: set[str] | None = None
        reference_name = None
        if args.score_jsonl:
            reference, reference_name = _score_jsonl_flags(args.score_jsonl), f"logbert score: {args.score_jsonl}"
        elif args.evaluate_json:
            reference, reference_name = (
                _evaluate_flags(args.evaluate_json),
                f"logbert evaluate: {args.evaluate_json}",
            )
        elif not args.no_reference:
            reference, reference_name = (
                _offline_flags(args.artifact, lines, Path(tmp)),
                "api.score on the replayed lines",
            )

    result: dict[str, Any] = {
        "command": command,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared), Python {platform.python_version()}",
        "load_avg_1m_before_after": [round(load_before, 2), round(load_after, 2)],
        "artifact": str(args.artifact),
        "log": str(args.log),
        "lines": len(lines),
        "batch_lines": args.batch_lines,
        "requests": len(chunks),
        "ingest_seconds": round(t_ingest, 2),
        "total_seconds": round(t_total, 2),
        "ingest_lines_per_s": round(len(lines) / t_ingest, 1),
        "sustained_lines_per_s": round(len(lines) / t_total, 1),  # until every window is scored
        "latency_ms_p50": round(1000 * statistics.median(latencies), 2),
        "latency_ms_p99": round(1000 * statistics.quantiles(latencies, n=100)[98], 2) if len(latencies) > 1 else None,
        "latency_ms_max": round(1000 * max(latencies), 2),
        "server_rss_loaded_mib": round(rss_loaded / 2**20, 1),
        "server_peak_rss_mib": round(peak / 2**20, 1),
        "drained": close["drained"],
        "sessions": stats["sessions_opened"],
        "windows_scored": stats["windows_scored"],
        "score_batches": stats["score_batches"],
        "score_busy_seconds": round(stats["score_busy_seconds"], 2),
        "windows_memo_hits": stats.get("windows_memo_hits"),  # None: a service without the score memo
        "alerts": stats["alerts"],
        "sessions_flagged": len(flagged),
        "lines_rejected": stats["lines_rejected"],
        "lines_unrouted": stats["lines_unrouted"],
        "unknown_templates": stats["lines_unknown_template"],
    }
    if reference is not None:
        result["reference"] = reference_name
        result["agreement"] = agreement(flagged, reference)
    if args.labels.exists():
        anomalous = _labels(args.labels)
        tp = len(flagged & anomalous)
        result["precision"] = round(tp / len(flagged), 4) if flagged else None
        result["true_positive_sessions"] = tp
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    if args.md:
        args.md.parent.mkdir(parents=True, exist_ok=True)
        args.md.write_text(markdown(result))


def markdown(r: dict[str, Any]) -> str:
    """The result as a short Markdown report."""
    out = [
        "# Streaming service load replay",
        "",
        f"Command: `{r['command']}`",
        "",
        f"Machine: {r['machine']}; 1-minute load average {r['load_avg_1m_before_after'][0]} before the replay, "
        f"{r['load_avg_1m_before_after'][1]} after it. Artifact `{r['artifact']}`, log `{Path(r['log']).name}`.",
        "",
    ]
    if str(r.get("reference", "")).startswith("logbert score: "):
        flagged_file = r["reference"].removeprefix("logbert score: ")
        out += [
            f"Reference: `logbert score {r['artifact']} {r['log']} --only-anomalies -o {flagged_file}` "
            "(offline, every session of the same file).",
            "",
        ]
    out += [
        "| metric | value |",
        "|---|---:|",
    ]
    rows = [
        ("lines replayed", f"{r['lines']:,}"),
        ("requests (lines each)", f"{r['requests']:,} ({r['batch_lines']})"),
        ("sustained lines/s (until every window is scored)", f"{r['sustained_lines_per_s']:,.0f}"),
        ("ingest-only lines/s", f"{r['ingest_lines_per_s']:,.0f}"),
        (
            "ingest latency p50 / p99 / max (ms, per request)",
            f"{r['latency_ms_p50']} / {r['latency_ms_p99']} / {r['latency_ms_max']}",
        ),
        ("server RSS after loading / peak (MiB)", f"{r['server_rss_loaded_mib']} / {r['server_peak_rss_mib']}"),
        (
            "sessions / windows scored / model batches",
            f"{r['sessions']:,.0f} / {r['windows_scored']:,.0f} / {r['score_batches']:,.0f}",
        ),
        (
            "scoring thread busy (s) / windows answered by the score memo",
            f"{r['score_busy_seconds']} / "
            + (f"{r['windows_memo_hits']:,}" if r["windows_memo_hits"] is not None else "n/a"),
        ),
        ("alerts (anomalous windows) / sessions alerted", f"{r['alerts']:,.0f} / {r['sessions_flagged']:,}"),
        (
            "lines rejected / without a session id / unseen template",
            f"{r['lines_rejected']:,.0f} / {r['lines_unrouted']:,.0f} / {r['unknown_templates']:,.0f}",
        ),
    ]
    if "agreement" in r:
        a = r["agreement"]
        rows += [
            (f"reference ({r['reference']}) flagged", f"{a['reference_flagged']:,}"),
            ("Jaccard(service, reference)", f"{a['jaccard']}"),
            ("only service / only reference", f"{a['only_service']} / {a['only_reference']}"),
        ]
    if r.get("precision") is not None:
        rows.append(("precision of alerted sessions vs labels", f"{r['precision']}"))
    out += [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
