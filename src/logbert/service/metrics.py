"""Prometheus metrics: the engine's stats read at scrape time, plus request latency.

Each stats field is exported as ``logbert_<field>``, a counter or a gauge as its annotation says
(:mod:`logbert.streaming.stats`). Each app gets its own registry, so several apps (tests) never
clash on metric names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from logbert.streaming import StreamStats
from logbert.streaming.stats import metrics


class EngineCollector(Collector):
    """Reads the session store's stats on every scrape (None: not loaded yet, nothing exported)."""

    def __init__(self, stats: Callable[[], StreamStats | None]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self._stats()
        if stats is None:
            return
        for name, metric, value in metrics(stats):
            family = CounterMetricFamily if metric.kind == "counter" else GaugeMetricFamily
            yield family(f"logbert_{name}", f"logbert: {metric.doc}", value=value)


class ServiceMetrics:
    """The registry of one app."""

    def __init__(self, stats: Callable[[], StreamStats | None]) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(EngineCollector(stats))
        self.request_seconds = Histogram(
            "logbert_http_request_seconds",
            "HTTP request latency by route",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
        )
