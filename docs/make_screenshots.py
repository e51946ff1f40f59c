"""The dashboard screenshots in docs/img/, from headless Chromium on a real (demo) artifact.

    .venv/bin/python docs/make_screenshots.py [--out docs/img]

Trains the demo's artifact on a small simulated nova log, serves it on loopback, replays the log
into the service, acknowledges one incident, and saves the incident list and a session drill-down.
Needs Debian's Chromium at /usr/bin/chromium (`make browser`).
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from playwright.sync_api import sync_playwright

from logbert import api
from logbert.datasets.simulator import write_simulated
from logbert.service.app import create_app
from logbert.service.settings import Settings

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="logbert-shots-"))
    files = write_simulated(work / "data", n_instances=120, anomaly_ratio=0.2, seed=3)
    config = api.demo_config().with_overrides({"train.epochs": 8})
    api.train(files.log, work / "artifact", config, labels=files.labels, progress=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings(artifact=work / "artifact", port=port, alerts_db=work / "alerts.sqlite3")
    server = uvicorn.Server(uvicorn.Config(create_app(settings), port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    while not server.started:
        time.sleep(0.1)
    lines = files.log.read_text(encoding="utf-8").splitlines()
    with httpx.Client(base_url=base, timeout=60) as http:
        for start in range(0, len(lines), 2000):
            http.post("/v1/ingest", json={"lines": lines[start : start + 2000], "source": "nova-compute"})
        http.post("/v1/sessions/close-all")
        first = http.get("/v1/incidents").json()["incidents"][0]["session_id"]
        http.post(f"/v1/incidents/{first}/acknowledge", json={"note": "spawn failed on cp-1"})
    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{base}/dashboard/?interval=500")
        page.wait_for_selector("#incidents tr.incident")
        page.wait_for_timeout(1500)
        page.screenshot(path=str(args.out / "dashboard-incidents.png"), full_page=True)
        page.click(f"#incidents tr[data-session='{first}'] td.link")
        page.wait_for_timeout(1500)
        page.screenshot(path=str(args.out / "dashboard-drilldown.png"), full_page=True)
        browser.close()
    server.should_exit = True
    print(f"written: {args.out}/dashboard-incidents.png, dashboard-drilldown.png")


if __name__ == "__main__":
    main()
