"""Prometheus metrics of one replica, each labelled with its replica id (and partition for lag).

Served by ``logbert worker --metrics-port`` at ``/metrics``. Names:

* ``logbert_queue_partitions_owned{replica}``: partitions this replica works now.
* ``logbert_queue_lag_messages{replica,partition}``: messages of the partition not yet consumed.
* ``logbert_queue_rebalances_total{replica}``: partitions taken or handed over.
* ``logbert_queue_leases_lost_total{replica}``: partitions lost without a hand-over (expired or fenced).
* ``logbert_queue_lines_total{replica}``, ``logbert_queue_messages_total{replica}``: consumed.
* ``logbert_queue_alerts_total{replica}``, ``logbert_queue_windows_scored_total{replica}``.
* ``logbert_queue_checkpoints_total{replica}``: partition positions committed.
* ``logbert_queue_alerts_unsaved{replica}``: alerts waiting for the store (positions wait with them).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class ReplicaMetrics:
    """The registry of one replica."""

    def __init__(self, replica_id: str) -> None:
        self.replica_id = replica_id
        self.registry = CollectorRegistry()
        r = self.registry
        self.partitions_owned = Gauge(
            "logbert_queue_partitions_owned", "partitions owned by this replica", ["replica"], registry=r
        ).labels(replica_id)
        self._lag = Gauge(
            "logbert_queue_lag_messages",
            "messages of a partition not yet consumed",
            ["replica", "partition"],
            registry=r,
        )
        self.rebalances = Counter(
            "logbert_queue_rebalances", "partitions taken over or handed over", ["replica"], registry=r
        ).labels(replica_id)
        self.leases_lost = Counter(
            "logbert_queue_leases_lost", "partitions lost without a hand-over", ["replica"], registry=r
        ).labels(replica_id)
        self.lines = Counter("logbert_queue_lines", "lines consumed", ["replica"], registry=r).labels(replica_id)
        self.messages = Counter("logbert_queue_messages", "messages consumed", ["replica"], registry=r).labels(
            replica_id
        )
        self.alerts = Counter("logbert_queue_alerts", "alerts produced", ["replica"], registry=r).labels(replica_id)
        self.windows = Counter("logbert_queue_windows_scored", "windows scored", ["replica"], registry=r).labels(
            replica_id
        )
        self.checkpoints = Counter(
            "logbert_queue_checkpoints", "partition positions committed", ["replica"], registry=r
        ).labels(replica_id)
        self.alerts_unsaved = Gauge(
            "logbert_queue_alerts_unsaved", "alerts waiting for the store", ["replica"], registry=r
        ).labels(replica_id)

    def lag(self, partition: int, messages: int) -> None:
        self._lag.labels(self.replica_id, str(partition)).set(messages)

    def forget_partition(self, partition: int) -> None:
        try:
            self._lag.remove(self.replica_id, str(partition))
        except KeyError:
            pass
