"""Per-session window buffers: parsed lines in, complete key windows out.

The stateful counterpart of the library's pure windowing: a session is cut into windows of at
most ``max_len`` keys as its lines arrive (the same cut as splitting the whole session offline),
a per-source sliding window emits every ``stride`` keys once ``window_size`` keys are buffered,
and a time window closes when a line falls ``time_window_s`` after its first line.

Not thread-safe: :class:`logbert.streaming.engine.StreamEngine` calls it under its lock.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from logbert.config import WindowConfig
from logbert.records import UNK_KEY, KeySequence

#: Why a window was handed to the scorer.
EmitReason = Literal["full", "closed", "idle", "evicted", "shutdown", "time"]


@dataclass(frozen=True, slots=True)
class RoutedLine:
    """One parsed line, ready to be buffered (the service-side view of ``api.ParsedLine``)."""

    line_no: int
    raw: str
    key_id: int
    template: str | None
    timestamp: float | None
    source: str


@dataclass(frozen=True, slots=True)
class PendingWindow:
    """A complete window waiting for the model, with the raw lines behind each key."""

    sequence: KeySequence
    raws: tuple[str, ...]  # raw line behind each key (same length as sequence.key_ids)
    templates: tuple[str | None, ...]  # template seen at each key (None = unseen)
    source: str
    reason: EmitReason


@dataclass(slots=True)
class _Buffer:
    key: str  # session id (mode "session") or source name (modes "sliding", "time")
    source: str
    last_seen: float
    next_window_index: int = 0
    lines: list[RoutedLine] = field(default_factory=list)
    n_new: int = 0  # keys not yet part of an emitted window (sliding mode overlaps windows)
    to_skip: int = 0  # sliding mode with stride > window_size: keys to drop before the next window


class SessionRouter:
    """Bounded map of open buffers, most recently active last.

    Args:
        window: the artifact's window config (mode, sizes, ``min_len``).
        max_len: the effective window length (the smaller of the artifact's and the service's cap).
    """

    def __init__(self, window: WindowConfig, max_len: int) -> None:
        self.window = window
        self.max_len = max_len
        self.window_size = min(window.window_size, max_len)
        self._buffers: OrderedDict[str, _Buffer] = OrderedDict()
        self.n_skipped_short = 0  # closed buffers shorter than min_len (not scored, counted)

    def __len__(self) -> int:
        return len(self._buffers)

    def __contains__(self, key: str) -> bool:
        return key in self._buffers

    def open_keys(self) -> list[str]:
        return list(self._buffers)

    def pending_keys(self, key: str) -> int:
        """Keys buffered for ``key`` and not yet scored (0 when it is not open)."""
        buf = self._buffers.get(key)
        return 0 if buf is None else buf.n_new

    def add(self, key: str, line: RoutedLine, now: float) -> tuple[bool, list[PendingWindow]]:
        """Buffer one line; returns (whether a new buffer was opened, windows completed by it)."""
        buf = self._buffers.get(key)
        opened = buf is None
        if buf is None:
            buf = _Buffer(key=key, source=line.source, last_seen=now)
            self._buffers[key] = buf
        else:
            self._buffers.move_to_end(key)
        buf.last_seen = now
        out: list[PendingWindow] = []
        mode = self.window.mode
        if mode == "time" and buf.lines and self._time_exceeded(buf, line):
            out.extend(self._emit_rest(buf, "time"))
            buf.lines.clear()
        if mode == "sliding" and buf.to_skip:
            buf.to_skip -= 1
            return opened, out
        buf.lines.append(line)
        buf.n_new += 1
        if mode == "sliding":
            if len(buf.lines) == self.window_size:
                out.append(self._make(buf, buf.lines, "full"))
                buf.n_new = 0
                stride = self.window.stride
                buf.to_skip = max(0, stride - len(buf.lines))
                del buf.lines[: min(stride, len(buf.lines))]
        elif len(buf.lines) == self.max_len:
            out.append(self._make(buf, buf.lines, "full"))
            buf.lines = []
            buf.n_new = 0
        return opened, out

    def close(self, key: str, reason: EmitReason) -> list[PendingWindow] | None:
        """Close one buffer; None when ``key`` is not open."""
        buf = self._buffers.pop(key, None)
        if buf is None:
            return None
        return self._emit_rest(buf, reason)

    def idle(self, now: float, idle_timeout_s: float) -> Iterator[str]:
        """Keys idle for at least ``idle_timeout_s``, most idle first."""
        for key, buf in self._buffers.items():
            if now - buf.last_seen < idle_timeout_s:
                break  # ordered by activity: every later buffer is more recent
            yield key

    def least_recent(self) -> str | None:
        return next(iter(self._buffers), None)

    def _time_exceeded(self, buf: _Buffer, line: RoutedLine) -> bool:
        first = buf.lines[0].timestamp
        return first is not None and line.timestamp is not None and line.timestamp - first >= self.window.time_window_s

    def _emit_rest(self, buf: _Buffer, reason: EmitReason) -> list[PendingWindow]:
        if buf.n_new == 0 or not buf.lines:
            return []
        if len(buf.lines) < self.window.min_len:
            self.n_skipped_short += 1
            buf.n_new = 0
            return []
        window = self._make(buf, buf.lines, reason)
        buf.n_new = 0
        return [window]

    def _make(self, buf: _Buffer, lines: list[RoutedLine], reason: EmitReason) -> PendingWindow:
        seq = KeySequence(
            session_id=buf.key,
            key_ids=[ln.key_id for ln in lines],
            line_nos=[ln.line_no for ln in lines],
            start_time=lines[0].timestamp,
            window_index=buf.next_window_index,
        )
        buf.next_window_index += 1
        return PendingWindow(
            sequence=seq,
            raws=tuple(ln.raw for ln in lines),
            templates=tuple(ln.template for ln in lines),
            source=buf.source,
            reason=reason,
        )


def n_unknown(window: PendingWindow) -> int:
    """Keys of ``window`` whose template the frozen parser had never seen."""
    return sum(1 for k in window.sequence.key_ids if k == UNK_KEY)
