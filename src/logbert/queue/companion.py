"""``logbert serve --source``: one replica of the consumer group inside the HTTP service.

The service (API, dashboard, ``/metrics``) runs as usual over the shared PostgreSQL alert store;
beside it, on its event loop, this replica consumes its share of the queue's partitions exactly
as ``logbert worker`` does (:class:`~logbert.queue.replica.Replica`), writing to the same store.
It implements the service's ``Companion`` protocol (``logbert.service.app``).
"""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from logbert.queue.checkpoints import CheckpointStore
from logbert.queue.metrics import ReplicaMetrics
from logbert.queue.replica import Replica, ReplicaOptions
from logbert.service.alerts import AlertStore
from logbert.streaming import Scorer, StreamLimits


class QueueConsumer:
    """A replica run by the service; ``scorer`` must be its own (the service's engine has another)."""

    def __init__(
        self,
        scorer: Scorer,
        alerts_db: str,
        options: ReplicaOptions,
        limits: StreamLimits,
        artifact_tag: str | None,
    ) -> None:
        self.scorer, self.alerts_db, self.options = scorer, alerts_db, options
        self.limits, self.artifact_tag = limits, artifact_tag
        self.metrics = ReplicaMetrics(options.replica_id)
        self.registry: CollectorRegistry | None = self.metrics.registry

    async def run(self, alert_store: AlertStore, stop: asyncio.Event) -> None:
        checkpoints = await asyncio.to_thread(CheckpointStore, self.alerts_db, self.options.stream, self.options.group)
        try:
            replica = Replica(
                self.scorer,
                alert_store,
                checkpoints,
                self.limits,
                self.options,
                artifact_tag=self.artifact_tag,
                metrics=self.metrics,
            )
            await replica.run(stop)
        finally:
            checkpoints.close()
