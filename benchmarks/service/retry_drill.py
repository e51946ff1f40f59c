"""``kill -9`` of ``logbert serve`` while an ingest request is in flight, then the client's retry of it.

Sends LOG in 1,000-line plain-text requests; while request ``--kill-at`` is in flight the service is killed with
``kill -9`` (the client gets no answer), restarted, and the client sends that request again, then the rest, then
closes every session. With ``--keys`` each request carries an ``Idempotency-Key``, so the retry of a request the
service had journalled is answered (``duplicate``) and not applied twice; without, its lines count twice. Prints
the in-flight outcome, the retry's answer, and the sessions alerted against ``--offline`` (``logbert score
--only-anomalies`` of the same log with the same artifact: a JSON line per flagged session). Exit status 1 when
they differ.

    .venv/bin/logbert score ARTIFACT LOG --only-anomalies > offline.jsonl
    .venv/bin/python benchmarks/service/retry_drill.py ARTIFACT LOG --offline offline.jsonl --work /tmp/drill --keys
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("artifact")
    ap.add_argument("log", type=Path)
    ap.add_argument(
        "--offline", type=Path, required=True, help="logbert score --only-anomalies of LOG: the sessions to alert"
    )
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--keys", action="store_true", help="an Idempotency-Key on every request")
    ap.add_argument("--kill-at", type=int, default=12, help="the request in flight at the kill (0-based)")
    ap.add_argument("--port", type=int, default=8811)
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{args.port}"
    lines = args.log.read_bytes().splitlines(keepends=True)
    chunks = [b"".join(lines[i : i + 1000]) for i in range(0, len(lines), 1000)]

    def start() -> subprocess.Popen[bytes]:
        command = [str(Path(sys.executable).parent / "logbert"), "serve", args.artifact, "--port", str(args.port)]
        command += ["--alerts-db", str(args.work / "alerts.sqlite3"), "--idle-timeout", "3600"]
        log = open(args.work / "serve.log", "ab")  # noqa: SIM115 - the child's, for as long as it lives
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        for _ in range(1200):
            try:
                if urllib.request.urlopen(f"{base}/health/ready", timeout=1).status == 200:
                    return process
            except OSError:
                time.sleep(0.1)
        process.kill()
        raise SystemExit("the service did not become ready")

    def call(path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
        method = "GET" if body is None else "POST"
        req = urllib.request.Request(base + path, data=body, headers=headers or {}, method=method)
        return json.loads(urllib.request.urlopen(req, timeout=120).read())

    def post(i: int) -> Any:
        headers = {"content-type": "text/plain"}
        if args.keys:
            headers["Idempotency-Key"] = f"drill-{i:06d}"
        return call("/v1/ingest/text", chunks[i], headers)

    service = start()
    try:
        for i in range(args.kill_at):
            post(i)
        outcome: dict[str, Any] = {}

        def in_flight() -> None:
            try:
                outcome["answer"] = post(args.kill_at)
            except (OSError, urllib.error.URLError) as exc:
                outcome["no answer"] = type(exc).__name__

        sender = threading.Thread(target=in_flight)
        sender.start()
        time.sleep(0.02)
        os.kill(service.pid, signal.SIGKILL)
        service.wait()
        sender.join()
        print("in flight at the kill:", outcome)
        service = start()
        retry = post(args.kill_at)
        print(f"the retry: duplicate {retry['duplicate']}, first_line_no {retry['first_line_no']}")
        for i in range(args.kill_at + 1, len(chunks)):
            post(i)
        call("/v1/sessions/close-all", b"")
        alerted: set[str] = set()
        for offset in range(0, 10**9, 1000):
            page = call(f"/v1/alerts?limit=1000&offset={offset}")["alerts"]
            alerted |= {a["session_id"] for a in page}
            if len(page) < 1000:
                break
    finally:
        service.send_signal(signal.SIGTERM)
        service.wait(60)
    offline = {json.loads(line)["session_id"] for line in args.offline.read_text().splitlines() if line.strip()}
    print(f"sessions alerted {len(alerted)}, offline {len(offline)}: {len(alerted - offline)} more, "
          f"{len(offline - alerted)} missing")
    return 0 if alerted == offline else 1


if __name__ == "__main__":
    raise SystemExit(main())
