"""Alerts pushed to Prometheus Alertmanager (or anything speaking its ``POST /api/v2/alerts``).

The alert store stays the record: an alert is stored first, then queued here, and only an alert
the store did not hold yet (the webhook listens to ``AlertStore.on_stored``): an alert a journal
replay produces again after a crash is stored once and pushed once. A slow or absent receiver
never holds up scoring. Delivery runs on its own thread with retries; what could not be delivered
is counted and logged, never silently dropped. A push still queued when the process dies is not
made again after the restart (the store holds the alert, so the replay's copy is not new).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from logbert.streaming import AlertRecord

logger = logging.getLogger(__name__)


def alertmanager_payload(alerts: Sequence[AlertRecord], artifact: str | None = None) -> list[dict[str, Any]]:
    """Alertmanager's alert list: labels identify the alert (one per session window), annotations explain."""
    out = []
    for a in alerts:
        labels = {"alertname": "LogAnomaly", "session_id": a.session_id, "source": a.source, "service": "logbert"}
        if artifact:
            labels["artifact"] = artifact
        first = a.misses[0] if a.misses else None
        annotations = {
            "summary": f"log session {a.session_id} looks anomalous: score {a.anomaly_score:.4f} > {a.threshold:.4f}",
            "description": (
                f"{a.missed()} missed, {a.n_unknown} unknown; "
                f"lines {a.first_line_no}-{a.last_line_no}"
                + (f"; e.g. line {first.line_no}: {first.template or '<unseen template>'}" if first else "")
                + "".join(f"; {s}" for s in a.surprises)
            ),
            "anomaly_score": f"{a.anomaly_score:.6f}",
            "threshold": f"{a.threshold:.6f}",
            "window_index": str(a.window_index),
        }
        if a.window is not None:  # time / sliding windows: the name score gives the unit ("t10")
            annotations["window"] = a.window
        starts = datetime.fromtimestamp(a.created_at, UTC).isoformat()
        out.append({"labels": labels, "annotations": annotations, "startsAt": starts})
    return out


class AlertmanagerWebhook:
    """An alert sink that posts batches to ``url`` from a background thread, with retries.

    Args:
        url: the receiver, e.g. ``http://alertmanager:9093/api/v2/alerts``.
        artifact: added as a label, so alerts of different detectors stay apart.
        retries: attempts per batch before it is counted as failed.
        timeout_s: per request.
        max_queued: alerts waiting for delivery; beyond it the oldest are dropped and counted.
    """

    def __init__(
        self,
        url: str,
        artifact: str | None = None,
        *,
        retries: int = 3,
        timeout_s: float = 5.0,
        max_queued: int = 10_000,
        backoff_s: float = 0.5,
    ) -> None:
        self.url = url
        self.artifact = artifact
        self.retries = retries
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s
        self._queue: queue.Queue[AlertRecord | None] = queue.Queue(maxsize=max_queued)
        self.n_sent = 0
        self.n_failed = 0
        self.n_dropped = 0
        self._thread = threading.Thread(target=self._run, name="logbert-webhook", daemon=True)
        self._thread.start()

    def add_alerts(self, alerts: Sequence[AlertRecord]) -> None:
        for alert in alerts:
            while True:
                try:
                    self._queue.put_nowait(alert)
                    break
                except queue.Full:
                    try:
                        self._queue.get_nowait()  # the oldest goes: newer alerts matter more to on-call
                        self.n_dropped += 1
                    except queue.Empty:
                        pass

    def close(self, timeout_s: float = 10.0) -> None:
        """Deliver what is queued (up to ``timeout_s``), then stop."""
        self._queue.put(None)
        self._thread.join(timeout_s)
        left = self._queue.qsize()
        if left or self.n_failed or self.n_dropped:
            logger.error(
                "alert webhook %s: %d delivered, %d failed after retries, %d dropped (queue full), %d left undelivered",
                self.url, self.n_sent, self.n_failed, self.n_dropped, left,
            )

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < 100:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._deliver(batch)

    def _deliver(self, batch: list[AlertRecord]) -> None:
        body = json.dumps(alertmanager_payload(batch, self.artifact)).encode()
        for attempt in range(self.retries):
            request = urllib.request.Request(
                self.url, data=body, method="POST", headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 (the user's URL)
                    if 200 <= response.status < 300:
                        self.n_sent += len(batch)
                        return
            except (urllib.error.URLError, OSError, ValueError) as exc:
                logger.warning("alert webhook %s: attempt %d failed: %s", self.url, attempt + 1, exc)
            time.sleep(self.backoff_s * (2**attempt))
        self.n_failed += len(batch)
        logger.error("alert webhook %s: %d alerts not delivered after %d attempts", self.url, len(batch), self.retries)
