"""Micro-batching on one worker thread: windows from many sessions go through the model together.

Producers call :meth:`MicroBatcher.submit` and return at once; the worker takes up to
``batch_size`` windows (waiting at most ``flush_interval_s`` for a batch to fill), calls the
scoring function off the caller's thread (so an asyncio event loop never waits on the model) and
hands the results to a callback.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class MicroBatcher(Generic[T]):
    """A bounded queue drained in batches by one daemon thread.

    Args:
        process: called on the worker thread with each batch (1..batch_size items, FIFO order).
            An exception is logged and counted in ``n_errors``; the batch is dropped, the worker goes on.
        batch_size: most items per call.
        flush_interval_s: how long a partial batch waits for more items.
        name: thread name, for logs.
    """

    def __init__(
        self,
        process: Callable[[list[T]], None],
        batch_size: int,
        flush_interval_s: float,
        name: str = "logbert-scorer",
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if flush_interval_s < 0:
            raise ValueError(f"flush_interval_s must be >= 0, got {flush_interval_s}")
        self._process = process
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self._queue: deque[T] = deque()
        self._cond = threading.Condition()
        self._in_flight = 0
        self._stopping = False
        self.n_batches = 0
        self.n_items = 0
        self.n_errors = 0
        self.busy_s = 0.0  # seconds spent in `process`
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        """Items queued or being processed."""
        with self._cond:
            return len(self._queue) + self._in_flight

    def submit(self, items: Sequence[T]) -> None:
        """Queue items; never blocks on the model."""
        if not items:
            return
        with self._cond:
            if self._stopping:
                raise RuntimeError("MicroBatcher is stopped")
            self._queue.extend(items)
            self._cond.notify_all()

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far is processed; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._queue or self._in_flight:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def stop(self, timeout: float | None = None) -> bool:
        """Process what is queued, then end the worker; False when it did not finish in time."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _take(self) -> list[T] | None:
        with self._cond:
            while not self._queue and not self._stopping:
                self._cond.wait()
            if not self._queue:
                return None  # stopping and empty
            deadline = time.monotonic() + self.flush_interval_s
            while len(self._queue) < self.batch_size and not self._stopping:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            n = min(self.batch_size, len(self._queue))
            batch = [self._queue.popleft() for _ in range(n)]
            self._in_flight = n
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            t0 = time.perf_counter()
            try:
                self._process(batch)
            except Exception:  # the worker must outlive one bad batch; the error is logged and counted
                logger.exception("scoring a batch of %d windows failed", len(batch))
                self.n_errors += 1
            with self._cond:
                self.busy_s += time.perf_counter() - t0
                self.n_batches += 1
                self.n_items += len(batch)
                self._in_flight = 0
                self._cond.notify_all()
