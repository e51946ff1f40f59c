"""Prometheus metrics: engine counters read at scrape time, plus request latency.

Each app gets its own registry, so several apps (tests) never clash on metric names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

#: engine stats exported as counters (monotonic); every other stat is a gauge.
_COUNTERS = {
    "lines_received",
    "lines_accepted",
    "lines_rejected",
    "lines_unrouted",
    "lines_unknown_template",
    "windows_queued",
    "windows_scored",
    "windows_anomalous",
    "windows_skipped_short",
    "alerts",
    "sessions_opened",
    "score_batches",
    "score_errors",
    "score_busy_seconds",
    "rejected_empty",
    "rejected_binary",
    "rejected_too_long",
    "rejected_malformed",
    "sessions_closed_closed",
    "sessions_closed_idle",
    "sessions_closed_evicted",
    "sessions_closed_shutdown",
}


class EngineCollector(Collector):
    """Reads the session store's stats on every scrape (None: not loaded yet, nothing exported)."""

    def __init__(self, stats: Callable[[], dict[str, float] | None]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self._stats()
        if stats is None:
            return
        for name, value in sorted(stats.items()):
            if name in _COUNTERS:
                yield CounterMetricFamily(f"logbert_{name}", f"logbert {name.replace('_', ' ')}", value=value)
            else:
                yield GaugeMetricFamily(f"logbert_{name}", f"logbert {name.replace('_', ' ')}", value=value)


class ServiceMetrics:
    """The registry of one app."""

    def __init__(self, stats: Callable[[], dict[str, float] | None]) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(EngineCollector(stats))
        self.request_seconds = Histogram(
            "logbert_http_request_seconds",
            "HTTP request latency by route",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
        )
