"""Where the streaming service's time goes: the engine alone (no HTTP) on a raw log, per stage.

Replays the log through :class:`~logbert.streaming.StreamEngine` in requests of ``--batch-lines``
lines (as ``POST /v1/ingest/text`` hands them on: bytes, one per line), with the ingest journal in
a temporary folder (fsync per request, as the service's default), then closes every session and
waits until every window is scored. Reports wall time of ingest and of the close-all drain, the
seconds spent in each stage (journal append, parse, route, model scoring on the worker thread,
checkpoint, garbage collection) and the model's windows/s. ``--cprofile FILE`` also writes a cProfile of the ingest
thread (the scoring thread is timed, not profiled: cProfile sees one thread).

    .venv/bin/python benchmarks/service/profile_engine.py /tmp/h11/hdfs \
        --log ../shared/datasets/hdfs/loglead_2pct/HDFS_2pct.log
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from logbert.records import KeySequence
from logbert.results import SequenceScore
from logbert.streaming import StreamEngine, StreamLimits
from logbert.streaming.journal import IngestJournal


class _GcTimer:
    """Seconds spent in the cyclic garbage collector (any thread), and its longest pause."""

    def __init__(self) -> None:
        self.total_s = 0.0
        self.max_s = 0.0
        self.n = 0
        self._t = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t = time.perf_counter()
        else:
            dt = time.perf_counter() - self._t
            self.total_s += dt
            self.max_s = max(self.max_s, dt)
            self.n += 1


class _Timed:
    """Wraps a detector: seconds in ``parse_lines`` and ``score_sequences``, windows scored."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.parse_s = 0.0
        self.score_s = 0.0
        self.windows = 0
        self.calls = 0
        self.explain_s = 0.0  # part of score_s: the explained pass over anomalous windows
        self.explain_windows = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def parse_lines(self, lines: Sequence[str | bytes], start_line_no: int = 1) -> Any:
        t = time.perf_counter()
        try:
            return self.inner.parse_lines(lines, start_line_no)
        finally:
            self.parse_s += time.perf_counter() - t

    def score_sequences(self, sequences: Sequence[KeySequence], explain: bool = False) -> list[SequenceScore]:
        t = time.perf_counter()
        try:
            out: list[SequenceScore] = self.inner.score_sequences(sequences, explain)
            return out
        finally:
            dt = time.perf_counter() - t
            self.score_s += dt
            self.windows += len(sequences)
            self.calls += 1
            if explain:
                self.explain_s += dt
                self.explain_windows += len(sequences)


class _TimedJournal(IngestJournal):
    append_s = 0.0
    commit_s = 0.0

    def append_ingest(
        self, source: str, lines: Sequence[str] | Sequence[bytes], first_line_no: int, first_offset: int
    ) -> int:
        t = time.perf_counter()
        try:
            return super().append_ingest(source, lines, first_line_no, first_offset)
        finally:
            self.append_s += time.perf_counter() - t

    def commit(self, state: dict[str, Any]) -> None:
        t = time.perf_counter()
        try:
            super().commit(state)
        finally:
            self.commit_s += time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("artifact", type=Path)
    ap.add_argument("--log", type=Path, required=True)
    ap.add_argument("--max-lines", type=int, default=300_000)
    ap.add_argument("--batch-lines", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=None, help="windows per model call (StreamLimits.batch_size)")
    ap.add_argument(
        "--checkpoint-interval",
        type=float,
        default=5.0,
        help="commit a checkpoint every S seconds on another thread, as the service does (0: never)",
    )
    ap.add_argument("--no-journal", action="store_true")
    ap.add_argument("--no-gc-freeze", action="store_true", help="do not freeze the loaded objects (the service does)")
    ap.add_argument("--memo", type=int, default=None, help="StreamEngine score_memo_windows (0: off)")
    ap.add_argument("--cprofile", type=Path, help="write the ingest thread's cProfile stats here (and print the top)")
    ap.add_argument("--out", type=Path, help="result JSON")
    args = ap.parse_args()

    from logbert import api

    detector = _Timed(api.load_detector(args.artifact, need_parser=True))
    if not args.no_gc_freeze:
        gc.collect()
        gc.freeze()  # as the service does once the artifact is loaded
    lines = args.log.read_bytes().splitlines()[: args.max_lines]
    chunks = [lines[i : i + args.batch_lines] for i in range(0, len(lines), args.batch_lines)]
    limits: dict[str, Any] = {
        "max_open_sessions": 1_000_000,
        "idle_timeout_s": 86_400.0,
        "max_pending_windows": 10_000_000,
    }
    if args.batch_size:
        limits["batch_size"] = args.batch_size
    with tempfile.TemporaryDirectory() as tmp:
        journal = None if args.no_journal else _TimedJournal(Path(tmp) / "journal")
        memo: dict[str, Any] = {} if args.memo is None else {"score_memo_windows": args.memo}
        engine = StreamEngine(detector, StreamLimits(**limits), journal=journal, **memo)
        profile = cProfile.Profile() if args.cprofile else None
        latencies: list[float] = []
        gc_timer = _GcTimer()
        t0 = time.perf_counter()
        if profile is not None:
            profile.enable()
        stop = threading.Event()
        checkpoints: list[float] = []

        def checkpointer() -> None:  # the service's reaper commits one every checkpoint_interval_s
            while not stop.wait(args.checkpoint_interval):
                t = time.perf_counter()
                engine.checkpoint(force=True)
                checkpoints.append(time.perf_counter() - t)

        thread = threading.Thread(target=checkpointer, daemon=True)
        if journal is not None and args.checkpoint_interval > 0:
            thread.start()
        for chunk in chunks:
            t = time.perf_counter()
            engine.ingest(chunk)
            latencies.append(time.perf_counter() - t)
        if profile is not None:
            profile.disable()
        t_ingest = time.perf_counter() - t0
        stop.set()
        if thread.is_alive():
            thread.join()
        checkpoint_s = sum(checkpoints)
        score_before_close = detector.score_s
        engine.close_all()
        engine.drain()
        t_total = time.perf_counter() - t0
        stats = engine.stats()
        engine.shutdown()
        if journal is not None:
            journal.close()
    parse_s = detector.parse_s
    append_s = journal.append_s if journal is not None else 0.0
    result = {
        "lines": len(lines),
        "batch_lines": args.batch_lines,
        "batch_size": engine.limits.batch_size,
        "journal": journal is not None,
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "ingest_s": round(t_ingest, 2),
        "total_s": round(t_total, 2),
        "ingest_lines_per_s": round(len(lines) / t_ingest),
        "sustained_lines_per_s": round(len(lines) / t_total),
        "request_ms_p50": round(1000 * statistics.median(latencies), 2),
        "request_ms_p99": round(1000 * statistics.quantiles(latencies, n=100)[98], 2),
        "request_ms_max": round(1000 * max(latencies), 2),
        "journal_append_s": round(append_s, 2),
        "parse_s": round(parse_s, 2),
        "route_and_rest_s": round(t_ingest - parse_s - append_s, 2),
        "checkpoints": len(checkpoints),
        "checkpoint_s": round(checkpoint_s, 2),  # on its own thread, beside ingest
        "parse_us_per_line": round(1e6 * parse_s / len(lines), 2),
        "model_s": round(detector.score_s, 2),
        "model_s_during_ingest": round(score_before_close, 2),
        "model_calls": detector.calls,
        "model_explain_s": round(detector.explain_s, 2),
        "windows_explained": detector.explain_windows,
        "windows_to_model": detector.windows,
        "windows_scored": stats.windows_scored,
        "model_windows_per_s": round(detector.windows / detector.score_s) if detector.score_s else None,
        "scored_windows_per_s": round(stats.windows_scored / detector.score_s) if detector.score_s else None,
        "worker_busy_s": round(stats.score_busy_seconds, 2),
        "memo_hits": getattr(stats, "windows_memo_hits", None),  # None: an engine without the memo
        "gc_collections": gc_timer.n,
        "gc_s": round(gc_timer.total_s, 2),
        "gc_max_pause_ms": round(1000 * gc_timer.max_s, 1),
        "alerts": stats.alerts,
        "sessions": stats.sessions_opened,
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    if profile is not None and args.cprofile:
        profile.dump_stats(str(args.cprofile))
        pstats.Stats(str(args.cprofile), stream=sys.stdout).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
