"""The ingest journal: every accepted request is on disk before it is answered, and replayed on start.

Why: the engine buffers a session's lines until its window is complete. Without a journal, a
crash loses every buffered line that was already answered 200, and a restart splits every open
session in two. With it, the engine is event-sourced:

* **events.** Each ingest call (its source, its raw lines, the line number and stream offset of
  its first line) and each close (explicit, idle, all) is appended as one record *before* it is
  applied, under the engine's ingest lock, so the journal's order is the order the engine saw.
* **checkpoints** (:meth:`IngestJournal.commit`). The engine's state (open buffers with their
  lines, windows not yet stored, line numbering) plus the sequence number ``next_seq`` of the
  first event *not* reflected in it, written atomically (temp file, fsync, rename). Segments that
  hold only older events are deleted. A checkpoint is taken only when every alert produced so far
  is stored: "committed" means "its alerts are stored", for every source of events.
* **recovery.** Restore the last checkpoint, then apply every event from ``next_seq`` on. Windows
  completed again after the checkpoint give the same alerts again (same session, same first
  stream offset); the alert store ignores those duplicates. So delivery is at-least-once
  internally and exactly-once in the store.

Framing: ``<u32 payload length><u32 crc32>`` then a JSON payload. A torn or corrupt tail (a crash
in the middle of an append) is cut off on open and logged; with ``fsync="always"`` no record that
was answered can be torn, because the answer waits for the fsync.

fsync policy: ``"always"`` (default) fsyncs each append before the request is answered (survives
a power cut); ``"never"`` only writes to the OS (survives a crash of the process, ``kill -9``, not
of the machine) and is faster on slow disks.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import struct
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from logbert.errors import LogBertError
from logbert.files import fsync_dir

logger = logging.getLogger(__name__)

FsyncPolicy = Literal["always", "never"]
_HEADER = struct.Struct("<II")
_SEGMENT_PREFIX = "events-"
_SEGMENT_SUFFIX = ".log"
CHECKPOINT_FILE = "checkpoint.json"
#: A record larger than this is refused on append and taken for corruption on read.
MAX_RECORD_BYTES = 1 << 30


class JournalError(LogBertError):
    """The journal cannot be written or read (full disk, permissions, a foreign folder)."""


@dataclass(frozen=True, slots=True)
class IngestEvent:
    """One ingest call, as the engine applied it."""

    seq: int
    source: str
    lines: list[str] | list[bytes]
    first_line_no: int  # the line number given to lines[0] in its source's stream
    first_offset: int  # the stream offset given to lines[0] (one counter over all sources)
    request: tuple[str, str] | None = None  # (the caller's request id, the digest of its lines), when it gave one


@dataclass(frozen=True, slots=True)
class CloseEvent:
    """Sessions (or sources' windows) closed on purpose: by a client, the idle reaper or shutdown."""

    seq: int
    keys: list[str]
    reason: str


JournalEvent = IngestEvent | CloseEvent


class IngestJournal:
    """Append-only, segmented event log plus the last committed checkpoint, in one folder.

    Args:
        directory: the journal's folder (created).
        fsync: ``"always"`` or ``"never"`` (see the module doc).
        segment_bytes: a segment is closed and a new one started beyond this size; whole segments
            older than the last checkpoint are deleted.

    Raises:
        JournalError: the folder cannot be created or read.
    """

    def __init__(
        self,
        directory: str | Path,
        fsync: FsyncPolicy = "always",
        segment_bytes: int = 64 << 20,
        write_in_child: bool = True,
    ) -> None:
        self.directory = Path(directory)
        self.fsync = fsync
        self.segment_bytes = segment_bytes
        # checkpoints built and written by a forked child (commit_built), where the platform can fork
        self.write_in_child = write_in_child and CAN_FORK
        self._lock = threading.Lock()
        self._fork_failed = False  # warned once: a fork failed and a checkpoint was written in process
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            for stale in self.directory.glob(f"{CHECKPOINT_FILE}.*.tmp"):  # a writer whose service died: never renamed
                stale.unlink(missing_ok=True)
            self.next_seq = self._recover_tail()
            self._file = open(self._segment_path(self._last_segment_start()), "ab", buffering=0)  # noqa: SIM115 - kept open
        except OSError as exc:
            raise JournalError(f"cannot open the ingest journal in {self.directory}: {exc}") from None
        self.n_appended = 0
        self.committed_seq = 0  # next_seq of the last checkpoint written or loaded

    # ------------------------------------------------------------------ segments
    def _segment_path(self, first_seq: int) -> Path:
        return self.directory / f"{_SEGMENT_PREFIX}{first_seq:020d}{_SEGMENT_SUFFIX}"

    def _segments(self) -> list[tuple[int, Path]]:
        """(first sequence number, path) of every segment, oldest first."""
        found = []
        for path in self.directory.glob(f"{_SEGMENT_PREFIX}*{_SEGMENT_SUFFIX}"):
            digits = path.name[len(_SEGMENT_PREFIX) : -len(_SEGMENT_SUFFIX)]
            if digits.isdigit():
                found.append((int(digits), path))
        return sorted(found)

    def _last_segment_start(self) -> int:
        segments = self._segments()
        return segments[-1][0] if segments else self.next_seq

    def _recover_tail(self) -> int:
        """The next sequence number; a torn or corrupt tail of the last segment is cut off."""
        segments = self._segments()
        if not segments:
            checkpoint = self._read_checkpoint()
            return int(checkpoint["next_seq"]) if checkpoint else 0
        first, path = segments[-1]
        seq, good_end = first, 0
        with open(path, "rb") as f:
            for payload_end, _ in _records(f):
                seq, good_end = seq + 1, payload_end
            size = f.seek(0, os.SEEK_END)
        if good_end < size:
            logger.warning(
                "ingest journal: %d bytes at the end of %s are torn or corrupt (a crash during an append, "
                "before it was answered); cut off",
                size - good_end,
                path.name,
            )
            with open(path, "r+b") as f:
                f.truncate(good_end)
        return seq

    # ------------------------------------------------------------------ writing
    def append_ingest(
        self,
        source: str,
        lines: Sequence[str] | Sequence[bytes],
        first_line_no: int,
        first_offset: int,
        request: tuple[str, str] | None = None,
    ) -> int:
        """Append one ingest call (with its request id and lines' digest, when the caller gave an id); returns its
        sequence number once it is durable (per ``fsync``).

        Raises:
            JournalError: the write failed (e.g. a full disk): the lines must not be accepted.
        """
        as_bytes = bool(lines) and isinstance(lines[0], bytes)
        # bytes keep every byte through surrogateescape; str lines keep lone surrogates through
        # JSON's \\u escapes: either way replay hands the engine exactly what it was given
        text = [ln.decode("utf-8", "surrogateescape") if isinstance(ln, bytes) else ln for ln in lines]
        record: dict[str, Any] = {
            "kind": "ingest",
            "source": source,
            "bytes": as_bytes,
            "line": first_line_no,
            "offset": first_offset,
            "lines": text,
        }
        if request is not None:  # only with a request id: other records as before
            record["request"] = list(request)
        return self._append(record)

    def append_close(self, keys: Sequence[str], reason: str) -> int:
        """Append one close of ``keys``; returns its sequence number (raises JournalError)."""
        return self._append({"kind": "close", "keys": list(keys), "reason": reason})

    def _append(self, record: dict[str, Any]) -> int:
        with self._lock:
            record["seq"] = seq = self.next_seq
            payload = json.dumps(record, separators=(",", ":")).encode("utf-8")
            if len(payload) > MAX_RECORD_BYTES:
                raise JournalError(f"one request of {len(payload)} bytes is too large for the journal")
            frame = _HEADER.pack(len(payload), zlib.crc32(payload)) + payload
            try:
                if self._file.tell() + len(frame) > self.segment_bytes and self._file.tell() > 0:
                    self._roll(seq)
                start = self._file.tell()
            except OSError as exc:
                raise JournalError(f"the ingest journal in {self.directory} cannot be written: {exc}") from None
            try:
                view = memoryview(frame)
                while view:  # an unbuffered write may write less than it was given
                    view = view[self._file.write(view) or 0 :]
                if self.fsync == "always":
                    os.fsync(self._file.fileno())
            except OSError as exc:
                self._undo(start)
                raise JournalError(f"the ingest journal in {self.directory} cannot be written: {exc}") from None
            self.next_seq = seq + 1
            self.n_appended += 1
            return seq

    def _undo(self, start: int) -> None:
        """Cut a half-written record, so the next append does not follow garbage."""
        try:
            self._file.truncate(start)
            self._file.seek(start)
        except OSError:
            logger.exception("ingest journal: could not cut a failed append; it is cut on the next start")

    def _roll(self, first_seq: int) -> None:
        self._file.close()
        self._file = open(self._segment_path(first_seq), "ab", buffering=0)  # noqa: SIM115 - kept open
        fsync_dir(self.directory)

    # ------------------------------------------------------------------ checkpoints
    def commit(self, state: dict[str, Any]) -> None:
        """Write a checkpoint atomically (``state["next_seq"]`` = first event not in it) and delete
        the segments that hold only older events.

        Raises:
            JournalError: the checkpoint cannot be written (the previous one stays valid).
        """
        next_seq = int(state["next_seq"])
        target = self.directory / CHECKPOINT_FILE
        tmp = target.with_suffix(".tmp")
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                _write_json(f, state)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
            fsync_dir(self.directory)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise JournalError(f"cannot write the journal checkpoint in {self.directory}: {exc}") from None
        self.committed_seq = next_seq
        self._prune(next_seq)

    def fork_checkpoint(self, next_seq: int, build: Callable[[], dict[str, Any]]) -> ChildCheckpoint | None:
        """Start a checkpoint of ``build()`` (whose ``next_seq`` is ``next_seq``) in a forked child; None where this
        journal does not write in a child (``write_in_child`` off, or a platform that cannot fork): then build the
        state and :meth:`commit` it.

        Why: a checkpoint of 11.5k open sessions (the HDFS replay) is ~2 s of Python copying, building and encoding
        53 MiB of JSON, and in the service's process every ingest request competed with it for the GIL: p99 155 ms
        against 39 ms with no checkpoint during the replay (docs/benchmarks.md, "Checkpoints written by a child
        process"). The child gets a copy-on-write image of the process as it is at the fork: the caller forks
        under the locks that make its state consistent and releases them at once (a fork of the ~400 MB service
        takes ~10 ms; copying the state's references under them took ~41 ms). The child runs ``build`` on its
        image, writes a temporary file of its own, fsyncs it and exits, at the lowest CPU priority.
        :meth:`ChildCheckpoint.finish` waits for it (without the GIL) and renames the file into place; a child left
        running by a service that died never renames anything (the next start deletes its file), so it cannot
        replace a newer checkpoint. ``build`` runs in the child: it must not take a lock another thread may hold,
        and the child holds a copy of every page it touches (at most the size of the state) while it runs.

        A fork that fails (memory under strict overcommit, a process limit) returns None too, with one warning.
        """
        if not self.write_in_child:
            return None
        tmp = self.directory / f"{CHECKPOINT_FILE}.{os.getpid()}-{next_seq}.tmp"
        read_end, write_end = os.pipe()
        try:
            pid = os.fork()
        except OSError as exc:  # e.g. ENOMEM under strict overcommit: this checkpoint is written in process
            os.close(read_end)
            os.close(write_end)
            if not self._fork_failed:
                logger.warning("cannot fork a checkpoint writer (%s): checkpoints are written in this process", exc)
                self._fork_failed = True
            return None
        if pid == 0:  # the child: build, write, fsync, say what failed, and never return into the service's code
            code = 0
            try:
                os.close(read_end)
                # a collection would walk (and so copy) every object of the image; the child lives for one state
                gc.disable()
                os.nice(_CHILD_NICE)  # the cores go to ingest and scoring first; the checkpoint takes what is left
                with open(tmp, "w", encoding="utf-8") as f:
                    _write_json(f, build())
                    f.flush()
                    os.fsync(f.fileno())
            except BaseException as exc:  # noqa: BLE001 - whatever it is, the parent must hear of it
                code = 1
                try:
                    os.write(write_end, str(exc).encode("utf-8", "replace")[:_CHILD_ERROR_BYTES])
                except OSError:
                    pass
            finally:
                os._exit(code)
        os.close(write_end)
        return ChildCheckpoint(self, next_seq, pid, tmp, read_end)

    def _prune(self, next_seq: int) -> None:
        with self._lock:
            segments = self._segments()
            for (_, path), (next_first, _) in zip(segments, segments[1:], strict=False):
                if next_first <= next_seq:  # every record of `path` is older than the checkpoint
                    path.unlink(missing_ok=True)

    def load_checkpoint(self) -> dict[str, Any] | None:
        """The last committed state (None before the first checkpoint).

        Raises:
            JournalError: the checkpoint file exists but cannot be read.
        """
        checkpoint = self._read_checkpoint()
        if checkpoint is not None:
            self.committed_seq = int(checkpoint["next_seq"])
        return checkpoint

    def _read_checkpoint(self) -> dict[str, Any] | None:
        path = self.directory / CHECKPOINT_FILE
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            int(data["next_seq"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise JournalError(f"{path} cannot be read ({exc}); move the journal folder away to start afresh") from None
        if not isinstance(data, dict):
            raise JournalError(f"{path} is not a checkpoint")
        return data

    # ------------------------------------------------------------------ reading
    def replay(self, from_seq: int) -> Iterator[JournalEvent]:
        """Every event with ``seq >= from_seq``, in order.

        Raises:
            JournalError: a record in the middle of the log is corrupt, or events are missing.
        """
        with self._lock:
            segments = self._segments()
            end = self.next_seq
        expected = from_seq
        for i, (first, path) in enumerate(segments):
            following = segments[i + 1][0] if i + 1 < len(segments) else end
            if following <= from_seq:
                continue  # all older than what is wanted
            if first > expected:
                raise JournalError(f"ingest journal: events {expected}..{first - 1} are missing before {path.name}")
            with open(path, "rb") as f:
                for _, payload in _records(f):
                    record = json.loads(payload)
                    seq = int(record["seq"])
                    if seq < expected:
                        continue
                    if seq != expected:
                        raise JournalError(f"ingest journal: event {expected} expected in {path.name}, found {seq}")
                    expected += 1
                    yield _event(record)
        if expected < end:
            raise JournalError(f"ingest journal: events {expected}..{end - 1} are missing")

    def close(self) -> None:
        with self._lock:
            try:
                self._file.close()
            except OSError:
                logger.exception("ingest journal: closing the segment failed")


def _event(record: dict[str, Any]) -> JournalEvent:
    seq = int(record["seq"])
    if record["kind"] == "close":
        return CloseEvent(seq, [str(k) for k in record["keys"]], str(record["reason"]))
    texts: list[str] = record["lines"]
    lines: list[str] | list[bytes] = [t.encode("utf-8", "surrogateescape") for t in texts] if record["bytes"] else texts
    request = record.get("request")
    return IngestEvent(
        seq,
        str(record["source"]),
        lines,
        int(record["line"]),
        int(record["offset"]),
        None if request is None else (str(request[0]), str(request[1])),
    )


def _records(f: Any) -> Iterator[tuple[int, bytes]]:
    """(end position, payload) of each intact record from the start of ``f``; stops at the first bad one."""
    pos = 0
    while True:
        header = f.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return
        length, crc = _HEADER.unpack(header)
        if length > MAX_RECORD_BYTES:
            return
        payload = f.read(length)
        if len(payload) < length or zlib.crc32(payload) != crc:
            return
        pos += _HEADER.size + length
        yield pos, payload


#: Items of a long list encoded per json.dumps call when a checkpoint is written.
_JSON_PIECE_ITEMS = 256
#: How much lower a checkpoint writer child runs than the service (``os.nice``): on the 2-core HDFS replay the
#: child at the service's priority took a third of the cores from ingest while it ran (p99 64-73 ms).
_CHILD_NICE = 19
#: Whether checkpoints can be written by a forked child here (Linux: fork is safe enough for a child that only
#: encodes and writes; macOS forks but its system libraries are not fork-safe, Windows cannot fork).
CAN_FORK = hasattr(os, "fork") and sys.platform == "linux"
#: How long a checkpoint writer child may run before it is killed (and the checkpoint counted as failed).
CHILD_TIMEOUT_S = 600.0
#: What a checkpoint writer child says of its failure, at most (a pipe holds far more: it never blocks).
_CHILD_ERROR_BYTES = 4000


class ChildCheckpoint:
    """A checkpoint being built and written by a forked child (:meth:`IngestJournal.fork_checkpoint`)."""

    def __init__(self, journal: IngestJournal, next_seq: int, pid: int, tmp: Path, pipe: int) -> None:
        self.journal, self.next_seq, self.pid, self.tmp, self._pipe = journal, next_seq, pid, tmp, pipe

    def _wait(self, timeout_s: float) -> tuple[int, str]:
        """The child's exit code and what it said; a child still running after ``timeout_s`` is killed."""
        deadline = time.monotonic() + timeout_s
        while True:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:  # a child that cannot end (a lock another thread held at the fork)
                os.kill(self.pid, signal.SIGKILL)
                _, status = os.waitpid(self.pid, 0)
                break
            time.sleep(0.01)
        with os.fdopen(self._pipe, "rb") as pipe:
            said = pipe.read().decode("utf-8", "replace")
        return os.waitstatus_to_exitcode(status), said

    def finish(self, timeout_s: float = CHILD_TIMEOUT_S) -> None:
        """Wait for the child and put its checkpoint in place; then delete the segments it makes obsolete.

        Raises:
            JournalError: the child failed or ran out of time (the previous checkpoint stays valid).
        """
        journal = self.journal
        try:
            code, said = self._wait(timeout_s)
            if code != 0:
                raise OSError(said or f"the checkpoint writer ended with status {code} (killed after {timeout_s:g} s?)")
            os.replace(self.tmp, journal.directory / CHECKPOINT_FILE)
            fsync_dir(journal.directory)
        except OSError as exc:
            self.tmp.unlink(missing_ok=True)
            raise JournalError(f"cannot write the journal checkpoint in {journal.directory}: {exc}") from None
        journal.committed_seq = self.next_seq
        journal._prune(self.next_seq)

    def abandon(self) -> None:
        """Stop the child and drop what it wrote (the checkpoint may not be committed after all)."""
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:  # it had ended already: still to be reaped
            pass
        try:
            self._wait(CHILD_TIMEOUT_S)
        finally:
            self.tmp.unlink(missing_ok=True)


def _write_json(f: Any, value: Any) -> None:
    """``f.write(json.dumps(value, separators=(",", ":")))``, encoded in pieces.

    Why: a checkpoint of 11.5k open sessions holding 220k lines is 53 MiB of JSON (the HDFS
    replay). ``json.dump`` runs the pure-Python encoder (~1.2 s there); one ``json.dumps`` call
    runs the C encoder but holds the GIL for all of it (~0.4 s), and every ingest request waits
    that long. Encoding long lists a few hundred items per C call (~7 ms each) lets the ingest
    thread in between the pieces.
    """
    if isinstance(value, dict):
        f.write("{")
        for i, (key, item) in enumerate(value.items()):
            f.write(("," if i else "") + json.dumps(str(key)) + ":")
            _write_json(f, item)
        f.write("}")
    elif isinstance(value, list | tuple) and len(value) > _JSON_PIECE_ITEMS:
        f.write("[")
        for start in range(0, len(value), _JSON_PIECE_ITEMS):
            piece = json.dumps(list(value[start : start + _JSON_PIECE_ITEMS]), separators=(",", ":"))
            f.write(("," if start else "") + piece[1:-1])
        f.write("]")
    else:
        f.write(json.dumps(value, separators=(",", ":")))


