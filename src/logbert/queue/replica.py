"""A scoring replica: owns some partitions of the queue, runs one streaming engine per partition.

Per owned partition (see :mod:`logbert.queue.group` for how ownership is decided):

1. **claim.** The partition's checkpoint row in PostgreSQL is claimed with the lease's epoch
   (:class:`~logbert.queue.checkpoints.CheckpointStore`): it returns the last committed engine state.
2. **restore.** A :class:`~logbert.streaming.engine.StreamEngine` over :class:`PartitionLog` (the
   queue's :class:`~logbert.streaming.protocol.EventLog`) restores that state with
   :meth:`~logbert.streaming.engine.StreamEngine.recover`: open sessions with their buffered lines,
   windows whose alerts were not stored yet (scored again), line numbering and stream offsets.
3. **consume.** An ephemeral JetStream consumer on the partition's subject starts at the
   checkpoint's ``next_seq``; each message (a batch of lines, or a close) is one engine event.
4. **commit.** Every ``checkpoint_interval_s`` and whenever the partition is idle, the engine's
   state is committed with ``next_seq`` = the message after the last one applied, and only if
   every alert produced so far is stored (:meth:`~logbert.streaming.engine.StreamEngine.checkpoint`).

So a replica that dies loses nothing: the next owner restores the last commit and consumes the
same messages again, which give the same windows, the same alerts and the same
``(session_id, stream_offset)`` keys (the offset counts the partition's lines), stored once.

Closing sessions is part of the stream, so that a replay closes them at the same place: the
producer's ``--end`` puts a ``close-all`` on every partition, and a replica that finds sessions
idle for ``idle_timeout_s`` does not close them itself but publishes a ``close`` for them to the
partition, and applies it when it consumes it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from logbert.config import LogBertConfig
from logbert.errors import LogBertError
from logbert.queue.broker import connect, ensure_bucket, ensure_stream
from logbert.queue.checkpoints import CheckpointStore, Fenced
from logbert.queue.group import Group, bucket_name
from logbert.queue.metrics import ReplicaMetrics
from logbert.queue.partitions import (
    CONTROL_CLOSE,
    CONTROL_CLOSE_ALL,
    H_CONTROL,
    H_LINES,
    H_REASON,
    H_SOURCE,
    decode_lines,
    partition_of,
    subject,
)
from logbert.records import KeySequence, LineProblem, ReadReport, SessionSignals, SyslogCalendar
from logbert.results import ParsedLine, SequenceScore, SessionResult
from logbert.streaming.engine import Overloaded, StreamEngine, StreamLimits
from logbert.streaming.journal import JournalError, JournalEvent
from logbert.streaming.protocol import AlertSink, Scorer, in_flight_rule, piece_keeper, signal_builder

if TYPE_CHECKING:
    from logbert.service.alerts import AlertStore

logger = logging.getLogger(__name__)

#: Deliberate bugs for the failover drill's self-test (tests/queue): the drill must fail with each.
#: "no-restore": a takeover keeps the position but not the engine state (offsets-only commits);
#: "commit-before-store": a commit neither waits for the alert store nor keeps the windows whose
#: alerts are not stored yet.
FAULT_ENV = "LOGBERT_QUEUE_FAULT"


# ---------------------------------------------------------------------------------------------- pieces
class PartitionLog:
    """The :class:`~logbert.streaming.protocol.EventLog` of one partition: the stream is the log.

    An event is durable before it is applied (it is in JetStream), so ``append_*`` only hand back
    the stream sequence of the message being applied; ``replay`` is empty because the consumer
    itself starts at the checkpoint's ``next_seq``; ``commit`` writes the engine's state and that
    position to PostgreSQL, fenced by the owner's epoch.
    """

    def __init__(self, store: CheckpointStore, partition: int, epoch: int, name: str) -> None:
        self.store, self.partition, self.epoch = store, partition, epoch
        self.directory = Path(name)  # for messages only
        self.current = 0  # stream sequence of the message being applied
        self.next_seq = 0  # the first message not applied yet
        self.committed_seq = 0
        self._claimed: dict[str, Any] | None = None

    def claim(self, owner: str) -> dict[str, Any] | None:
        self._claimed = self.store.claim(self.partition, self.epoch, owner)
        if self._claimed is not None:
            self.next_seq = self.committed_seq = int(self._claimed["next_seq"])
            if os.environ.get(FAULT_ENV) == "no-restore":
                self._claimed = None
        return self._claimed

    def append_ingest(
        self,
        source: str,
        lines: Sequence[str] | Sequence[bytes],
        first_line_no: int,
        first_offset: int,
        request: tuple[str, str] | None = None,
    ) -> int:
        self.next_seq = self.current + 1
        return self.current

    def append_close(self, keys: Sequence[str], reason: str) -> int:
        self.next_seq = self.current + 1
        return self.current

    def commit(self, state: dict[str, Any]) -> None:
        if os.environ.get(FAULT_ENV) == "commit-before-store":
            state = {**state, "outstanding": []}
        self.store.save(self.partition, self.epoch, state)
        self.committed_seq = int(state["next_seq"])

    def load_checkpoint(self) -> dict[str, Any] | None:
        return self._claimed

    def replay(self, from_seq: int) -> Iterator[JournalEvent]:
        return iter(())


@dataclass
class ScorerLocks:
    """One model, several partition engines: each of its two calls runs one at a time."""

    parse: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    score: threading.Lock = dataclasses.field(default_factory=threading.Lock)


class PartitionScorer:
    """The replica's scorer as one partition's engine sees it: only that partition's session ids.

    A line naming sessions of two partitions is on both; each partition's engine routes it to its
    own sessions only, so every session gets it once, on the replica that owns it.
    """

    def __init__(self, inner: Scorer, partition: int, n_partitions: int, locks: ScorerLocks) -> None:
        self.inner, self.partition, self.n_partitions, self.locks = inner, partition, n_partitions, locks
        self._session_mode = inner.config.window.mode == "session"

    @property
    def config(self) -> LogBertConfig:
        return self.inner.config

    @property
    def threshold(self) -> float:
        return self.inner.threshold

    def parse_lines(
        self, lines: Sequence[str | bytes], start_line_no: int = 1, calendar: SyslogCalendar | None = None
    ) -> tuple[list[ParsedLine | LineProblem], ReadReport]:
        with self.locks.parse:
            outcomes, report = self.inner.parse_lines(lines, start_line_no, calendar)
        if not self._session_mode:
            return outcomes, report
        mine = self.partition
        out: list[ParsedLine | LineProblem] = []
        for p in outcomes:
            if not isinstance(p, str) and len(p.session_ids) > 0:
                ids = tuple(s for s in p.session_ids if partition_of(s, self.n_partitions) == mine)
                if ids != p.session_ids:
                    p = dataclasses.replace(p, session_ids=ids)
            out.append(p)
        return out, report

    @property
    def reads_signals(self) -> bool:
        """A time- and value-aware artifact: the engine builds each window's signals (``stream_signals``)."""
        return bool(getattr(self.inner, "reads_signals", False))

    def stream_signals(
        self, key_ids: Sequence[int], timestamps: Sequence[float | None], raws: Sequence[str]
    ) -> SessionSignals:
        """The inner detector's (``streaming.protocol.SignalBuilder``), under the parse lock: it runs the parser."""
        build = signal_builder(self.inner)
        if build is None:
            raise TypeError("the inner scorer reads no times and values")
        with self.locks.parse:
            return build(key_ids, timestamps, raws)

    def score_sequences(self, sequences: Sequence[KeySequence], explain: bool = False) -> list[SequenceScore]:
        with self.locks.score:
            return self.inner.score_sequences(sequences, explain=explain)

    def score_sessions(
        self, sequences: Sequence[KeySequence], *, explain: bool = False, capture_start: float | None = None
    ) -> list[SessionResult]:
        with self.locks.score:
            return self.inner.score_sessions(sequences, explain=explain, capture_start=capture_start)

    def open_pieces(self, lines: Sequence[str | bytes]) -> list[str]:
        """The inner detector's (``streaming.protocol.PieceKeeper``): a line split across ingest calls joins."""
        keep = piece_keeper(self.inner)
        return [] if keep is None else keep(lines)

    def in_flight(self, key_ids: Sequence[int], first_time: float | None, capture_start: float | None) -> str | None:
        """The inner detector's capture-edge rule (``streaming.protocol.InFlightRule``); None without one."""
        rule = in_flight_rule(self.inner)
        return None if rule is None else rule(key_ids, first_time, capture_start)


@dataclass(frozen=True)
class ReplicaOptions:
    """How a replica finds the queue and the group, and how often it commits."""

    nats_url: str
    replica_id: str
    stream: str = "LOGBERT"
    subject_prefix: str = "logbert.lines"
    group: str = "logbert"
    partitions: int | None = None  # only used to create the stream when it is missing
    lease_ttl_s: float = 10.0  # a dead replica's partitions move after this long
    fetch_batch: int = 32  # messages per fetch
    checkpoint_interval_s: float = 2.0  # while busy; an idle partition commits at once
    idle_timeout_s: float = 300.0  # a session without a line for this long is closed (through the stream)
    poll_s: float = 0.5  # how often membership is looked at


# ---------------------------------------------------------------------------------------------- partition
class PartitionRuntime:
    """One owned partition: its engine, its log, its consumer's position."""

    def __init__(
        self,
        partition: int,
        epoch: int,
        engine: StreamEngine,
        log: PartitionLog,
        store: AlertStore,
        metrics: ReplicaMetrics,
        idle_timeout_s: float,
    ) -> None:
        self.partition, self.epoch, self.lease_revision = partition, epoch, epoch
        self.engine, self.log, self.store, self.metrics = engine, log, store, metrics
        self.idle_timeout_s = idle_timeout_s
        self.running = True
        self.lost = False  # fenced or lease gone: stop without committing
        self.close_requested: set[str] = set()
        self.lease_lock = asyncio.Lock()  # renewals and the release take turns on the lease's revision
        self.released = False
        self.last_checkpoint = time.monotonic()
        self._alerts_seen = 0
        self._windows_seen = 0

    def handle(self, msgs: Sequence[Any]) -> None:
        """Apply fetched messages in order (a worker thread: parsing is the heavy part)."""
        for m in msgs:
            seq = int(m.metadata.sequence.stream)
            if seq < self.log.next_seq:
                continue  # already in the restored state
            self.log.current = seq
            headers = m.headers or {}
            control = headers.get(H_CONTROL)
            if control == CONTROL_CLOSE_ALL:
                self.engine.close_all("closed")
                self.close_requested.clear()
            elif control == CONTROL_CLOSE:
                keys = [k for k in m.data.decode("utf-8", "surrogateescape").split("\n") if k]
                self.engine.close_sessions(keys, "idle" if headers.get(H_REASON) == "idle" else "closed")
                self.close_requested.difference_update(keys)
            else:
                lines = decode_lines(m.data, None)
                n = headers.get(H_LINES)
                if n is not None and n != str(len(lines)):  # applied anyway: a poison message must not stall
                    logger.warning(
                        "partition %d, seq %d: %d lines where the header says %s", self.partition, seq, len(lines), n
                    )
                self._ingest(lines, headers.get(H_SOURCE, "queue"))
                self.metrics.lines.inc(len(lines))
            self.log.next_seq = seq + 1
            self.metrics.messages.inc()
            self.metrics.lag(self.partition, int(m.metadata.num_pending))

    def _ingest(self, lines: list[bytes], source: str) -> None:
        while True:
            try:
                self.engine.ingest(lines, source=source)
                return
            except Overloaded:  # the scorer is behind: wait for it rather than drop or reorder
                self.engine.drain(5.0)

    def _alerts_stored(self) -> bool:
        if os.environ.get(FAULT_ENV) == "commit-before-store":
            return True
        left = self.store.retry_unsaved()
        self.metrics.alerts_unsaved.set(left)
        return left == 0

    def checkpoint(self, drain: bool) -> bool:
        """Commit the partition's position if its alerts are stored (``drain``: score what is queued first)."""
        if drain:
            self.engine.drain(10.0)
        counters = self.engine.counters
        self.metrics.alerts.inc(counters["alerts"] - self._alerts_seen)
        self.metrics.windows.inc(counters["windows_scored"] - self._windows_seen)
        self._alerts_seen, self._windows_seen = counters["alerts"], counters["windows_scored"]
        moved = self.log.next_seq != self.log.committed_seq
        done = self.engine.checkpoint(self._alerts_stored, force=moved)
        self.last_checkpoint = time.monotonic()
        if done:
            self.metrics.checkpoints.inc()
        return done

    def idle_sessions(self) -> list[str]:
        """Open sessions without a line for ``idle_timeout_s`` (not yet asked to close)."""
        now = time.time()
        limit = self.engine.limits.max_open_sessions
        found = [
            s.session_id
            for s in self.engine.sessions(limit=limit, state="open")
            if now - s.last_seen > self.idle_timeout_s and s.session_id not in self.close_requested
        ]
        self.close_requested.update(found)
        return found


# ---------------------------------------------------------------------------------------------- replica
class Replica:
    """One member of the consumer group (asyncio; the engines' work runs on worker threads).

    Args:
        scorer: the loaded artifact (its model is shared by every partition's engine).
        store: where alerts go (PostgreSQL, shared by every replica).
        checkpoints: where partition positions and engine states go (PostgreSQL).
        limits: each partition engine's limits.
        options: queue, group and timing.
        artifact_tag: the artifact's identity (a checkpoint of another artifact is refused).
    """

    def __init__(
        self,
        scorer: Scorer,
        store: AlertStore,
        checkpoints: CheckpointStore,
        limits: StreamLimits,
        options: ReplicaOptions,
        artifact_tag: str | None = None,
        metrics: ReplicaMetrics | None = None,
    ) -> None:
        self.scorer, self.store, self.checkpoints = scorer, store, checkpoints
        self.limits, self.options, self.artifact_tag = limits, options, artifact_tag
        self.metrics = metrics or ReplicaMetrics(options.replica_id)
        self.locks = ScorerLocks()
        self.runtimes: dict[int, PartitionRuntime] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self.n_partitions = 0
        self._js: Any = None

    async def run(self, stop: asyncio.Event) -> None:
        """Join the group and work the assigned partitions until ``stop`` is set; then hand them over."""
        o = self.options
        nc = await connect(o.nats_url)
        try:
            self._js = js = nc.jetstream()
            self.n_partitions = await ensure_stream(js, o.stream, o.subject_prefix, o.partitions)
            kv = await ensure_bucket(js, bucket_name(o.group), o.lease_ttl_s)
            group = Group(kv, o.replica_id)
            logger.info(
                "replica %s: joined group %s on %s (%d partitions)", o.replica_id, o.group, o.stream, self.n_partitions
            )
            await group.heartbeat()
            beats = asyncio.create_task(self._beat(group, stop))  # its own task: a slow hand-over never delays it
            while not stop.is_set():
                want = await group.assigned(self.n_partitions)
                for p in list(self.runtimes):
                    rt = self.runtimes[p]
                    if rt.lost:
                        await self._drop(p)
                    elif p not in want:
                        await self._release(p, group, why="rebalanced")
                for p in sorted(want - set(self.runtimes)):
                    revision = await group.acquire(p)
                    if revision is not None:
                        await self._start(p, revision, group)
                self.metrics.partitions_owned.set(len(self.runtimes))
                try:
                    await asyncio.wait_for(stop.wait(), timeout=o.poll_s)
                except TimeoutError:
                    pass
            for p in list(self.runtimes):
                await self._release(p, group, why="shutting down")
            await beats
            await group.leave()
        finally:
            for task in self._tasks.values():
                task.cancel()
            await nc.close()

    async def _beat(self, group: Group, stop: asyncio.Event) -> None:
        """Every lease_ttl/3: the member key, and every lease held (until the hand-overs are done)."""
        period = self.options.lease_ttl_s / 3
        while True:
            if stop.is_set():
                if not self.runtimes:
                    return
                await asyncio.sleep(period)
            else:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=period)
                except TimeoutError:
                    pass
            try:
                if not stop.is_set():
                    await group.heartbeat()
                await self._renew(group)
            except Exception:  # NATS away for a moment: the next beat tries again
                logger.exception("replica %s: heartbeat failed", self.options.replica_id)

    async def _renew(self, group: Group) -> None:
        for p, rt in list(self.runtimes.items()):
            async with rt.lease_lock:  # not while its release deletes it
                if rt.released:
                    continue
                revision = await group.renew(p, rt.lease_revision)
                if revision is None:
                    logger.warning("replica %s: the lease of partition %d was lost", self.options.replica_id, p)
                    rt.lost = True
                else:
                    rt.lease_revision = revision

    async def _start(self, partition: int, epoch: int, group: Group) -> None:
        o = self.options
        name = subject(o.subject_prefix, partition)
        log = PartitionLog(self.checkpoints, partition, epoch, f"nats:{o.stream}/{name}")
        try:
            await asyncio.to_thread(log.claim, o.replica_id)
            engine = StreamEngine(
                PartitionScorer(self.scorer, partition, self.n_partitions, self.locks),
                self.limits,
                alert_sink=self.store,
                journal=log,
                journal_tag=self.artifact_tag,
            )
            report = await asyncio.to_thread(engine.recover)
        except LogBertError as exc:
            logger.error("replica %s: cannot take partition %d: %s", o.replica_id, partition, exc)
            await group.release(partition, epoch)
            return
        rt = PartitionRuntime(partition, epoch, engine, log, self.store, self.metrics, o.idle_timeout_s)
        self.runtimes[partition] = rt
        self._tasks[partition] = asyncio.create_task(self._consume(rt, name))
        self.metrics.rebalances.inc()
        logger.info(
            "replica %s: took partition %d (epoch %d) from seq %d: %d open sessions and %d windows restored",
            o.replica_id,
            partition,
            epoch,
            log.next_seq,
            report.sessions_restored,
            report.windows_restored,
        )

    async def _consume(self, rt: PartitionRuntime, name: str) -> None:
        import nats.errors
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        o = self.options
        start = rt.log.next_seq
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE if start > 0 else DeliverPolicy.ALL,
            opt_start_seq=start if start > 0 else None,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=60.0,
        )
        try:
            sub = await self._js.pull_subscribe(name, durable=None, stream=o.stream, config=config)
            idle_check = time.monotonic() + o.idle_timeout_s / 4
            while rt.running and not rt.lost:
                try:
                    msgs = await sub.fetch(o.fetch_batch, timeout=0.25)
                except (nats.errors.TimeoutError, TimeoutError):
                    msgs = []
                if msgs:
                    await asyncio.to_thread(rt.handle, msgs)
                    if time.monotonic() - rt.last_checkpoint >= o.checkpoint_interval_s:
                        await asyncio.to_thread(rt.checkpoint, False)
                    continue
                self.metrics.lag(rt.partition, 0)
                await asyncio.to_thread(rt.checkpoint, True)  # idle: score what is queued, commit
                if time.monotonic() >= idle_check:
                    idle_check = time.monotonic() + o.idle_timeout_s / 4
                    keys = await asyncio.to_thread(rt.idle_sessions)
                    if keys:
                        headers = {H_CONTROL: CONTROL_CLOSE, H_REASON: "idle"}
                        await self._js.publish(name, "\n".join(keys).encode(), headers=headers)
            await sub.unsubscribe()
        except Fenced as exc:
            logger.warning("replica %s: %s; dropping it", o.replica_id, exc)
            rt.lost = True
        except JournalError as exc:  # the checkpoint database refused a write: give the partition up
            logger.error("replica %s: partition %d: %s", o.replica_id, rt.partition, exc)
            rt.lost = True
        except Exception:
            logger.exception("replica %s: partition %d failed", o.replica_id, rt.partition)
            rt.lost = True

    async def _stop_task(self, partition: int) -> None:
        rt = self.runtimes[partition]
        rt.running = False
        task = self._tasks.pop(partition, None)
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)

    async def _release(self, partition: int, group: Group, why: str) -> None:
        """Hand a partition over: stop consuming, score what is queued, commit, then free the lease."""
        rt = self.runtimes[partition]
        await self._stop_task(partition)
        committed = False
        if not rt.lost:
            try:
                committed = await asyncio.to_thread(rt.checkpoint, True)
            except JournalError as exc:
                logger.warning(
                    "replica %s: partition %d: last commit refused: %s", self.options.replica_id, partition, exc
                )
        await asyncio.to_thread(rt.engine.shutdown, 30.0)
        async with rt.lease_lock:
            await group.release(partition, rt.lease_revision)
            rt.released = True
        del self.runtimes[partition]
        self.metrics.forget_partition(partition)
        self.metrics.rebalances.inc()
        logger.info(
            "replica %s: released partition %d (%s) at seq %d%s",
            self.options.replica_id,
            partition,
            why,
            rt.log.committed_seq,
            ""
            if committed or rt.log.next_seq == rt.log.committed_seq
            else " (its last events are replayed by the next owner)",
        )

    async def _drop(self, partition: int) -> None:
        """A partition lost without a hand-over: forget it (the next owner replays from the last commit)."""
        rt = self.runtimes[partition]
        await self._stop_task(partition)
        await asyncio.to_thread(rt.engine.shutdown, 5.0)
        rt.released = True
        del self.runtimes[partition]
        self.metrics.forget_partition(partition)
        self.metrics.leases_lost.inc()


__all__ = ["AlertSink", "PartitionLog", "PartitionScorer", "Replica", "ReplicaOptions"]
