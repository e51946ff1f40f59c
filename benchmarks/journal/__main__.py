"""What the ingest journal costs: ingest throughput without it, with fsync "never" and "always";
checkpoint and recovery times. All arms in one run, on the same requests, so the ratios hold on a
noisy machine.

    .venv/bin/python -m benchmarks.journal --out benchmarks/results/journal.md

The engine runs over the test suite's fake detector (its parser is the project's real line rule;
its "model" is a few comparisons), so the figures isolate the journal's cost: with a real model,
parsing and scoring dominate and the journal's share is smaller.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks._report import header
from tests.streaming.fakes import FakeDetector, vm_lines

from logbert.streaming import StreamEngine, StreamLimits
from logbert.streaming.journal import FsyncPolicy, IngestJournal

LIMITS = StreamLimits(flush_interval_s=0.0, max_open_sessions=20_000)


def _requests(n_requests: int, lines_per_request: int, n_sessions: int, seed: int = 0) -> list[list[str]]:
    rng = random.Random(seed)
    return [
        [vm_lines(f"vm-{rng.randrange(n_sessions)}", [rng.randrange(10)])[0] for _ in range(lines_per_request)]
        for _ in range(n_requests)
    ]


def _ingest(requests: list[list[str]], journal_dir: Path | None, fsync: FsyncPolicy) -> tuple[float, StreamEngine]:
    journal = None if journal_dir is None else IngestJournal(journal_dir, fsync=fsync)
    engine = StreamEngine(FakeDetector(max_len=512), LIMITS, journal=journal)
    t0 = time.perf_counter()
    for request in requests:
        engine.ingest(request, source="bench")
    return time.perf_counter() - t0, engine


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/journal.md"))
    ap.add_argument("--requests", type=int, default=2_000)
    ap.add_argument("--lines", type=int, default=50, help="lines per request")
    ap.add_argument("--sessions", type=int, default=10_000, help="distinct sessions (all stay open)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    requests = _requests(args.requests, args.lines, args.sessions)
    n_lines = args.requests * args.lines
    tmp = Path(tempfile.mkdtemp(prefix="logbert-journal-bench-"))
    rows: dict[str, list[float]] = {"no journal": [], "journal, fsync never": [], "journal, fsync always": []}
    checkpoint_s: list[float] = []
    recover_checkpoint_s: list[float] = []
    recover_replay_s: list[float] = []
    checkpoint_bytes = 0
    try:
        for r in range(args.repeat):  # arms interleaved, so drift hits them alike
            for name, directory, fsync in (
                ("no journal", None, "never"),
                ("journal, fsync never", tmp / f"never-{r}", "never"),
                ("journal, fsync always", tmp / f"always-{r}", "always"),
            ):
                seconds, engine = _ingest(requests, directory, fsync)  # type: ignore[arg-type]
                rows[name].append(seconds)
                if directory is not None and fsync == "always":
                    engine.drain(60)
                    t0 = time.perf_counter()
                    assert engine.checkpoint(force=True)
                    checkpoint_s.append(time.perf_counter() - t0)
                    checkpoint_bytes = (directory / "checkpoint.json").stat().st_size
                if directory is not None and fsync == "never":  # replay the whole journal, no checkpoint
                    engine.shutdown(60)
                    again = StreamEngine(FakeDetector(max_len=512), LIMITS, journal=IngestJournal(directory))
                    t0 = time.perf_counter()
                    again.recover()
                    recover_replay_s.append(time.perf_counter() - t0)
                    again.shutdown(60)
                engine.shutdown(60)
            again = StreamEngine(FakeDetector(max_len=512), LIMITS, journal=IngestJournal(tmp / f"always-{r}"))
            t0 = time.perf_counter()
            report = again.recover()
            recover_checkpoint_s.append(time.perf_counter() - t0)
            assert report.sessions_restored > 0
            again.shutdown(60)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    base = min(rows["no journal"])
    lines = header("Ingest journal: cost and recovery time", "benchmarks.journal", argv, "CPU only, shared VM")
    lines += [
        "",
        f"{args.requests:,} requests of {args.lines} lines ({n_lines:,} lines) over {args.sessions:,} sessions that "
        f"all stay open; best of {args.repeat} runs, arms interleaved. The fake detector's parser is the real line "
        "rule; its model is trivial, so this isolates the journal's cost.",
        "",
        "| ingest | best s | lines/s | time vs no journal |",
        "|---|---:|---:|---:|",
    ]
    for name, times in rows.items():
        best = min(times)
        lines.append(f"| {name} | {best:.2f} | {n_lines / best:,.0f} | {best / base:.2f}× |")
    lines += [
        "",
        "| state | best s |",
        "|---|---:|",
        f"| checkpoint of {args.sessions:,} open sessions ({checkpoint_bytes / 1e6:.1f} MB) "
        f"| {min(checkpoint_s):.2f} |",
        f"| recovery from that checkpoint | {min(recover_checkpoint_s):.2f} |",
        f"| recovery by replaying all {args.requests:,} requests (no checkpoint) | {min(recover_replay_s):.2f} |",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
