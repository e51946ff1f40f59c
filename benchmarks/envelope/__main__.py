"""What reading a container runtime's lines costs (``parser.envelope``): the same messages parsed bare and wrapped in
CRI's ``<time> stdout F <message>`` (every fourth one split into a P piece and its F piece), alternated, best of N.

    .venv/bin/python -m benchmarks.envelope [--repeats 3] [--out benchmarks/results/envelope.md]

The messages are HDFS 2 %'s lines (``../shared/datasets/hdfs/loglead_2pct/HDFS_2pct.log``, the `hdfs` header format
read from the message); skips, with the reason, without it. Reported: lines/s of ``logbert.pipeline.parse.parse``
(reading and template mining, the work of ``logbert parse``) for each, and their ratio.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

from logbert.config import LogBertConfig
from logbert.pipeline.parse import parse

ROOT = Path(__file__).resolve().parents[2]
DATA = (ROOT / ".." / "shared" / "datasets" / "hdfs" / "loglead_2pct" / "HDFS_2pct.log").resolve()


def wrapped(lines: list[str]) -> list[str]:
    """Each line as containerd writes it; every fourth split in two pieces (``P`` then ``F``)."""
    out = []
    for i, line in enumerate(lines):
        stamp = f"2026-12-02T04:{(i // 6000) % 60:02d}:{(i // 100) % 60:02d}.{i % 1000:03d}000000Z"
        if i % 4 == 3 and len(line) > 20:
            out += [f"{stamp} stdout P {line[:20]}", f"{stamp} stdout F {line[20:]}"]
        else:
            out.append(f"{stamp} stdout F {line}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "envelope.md")
    args = ap.parse_args(argv)
    if not DATA.is_file():
        print(f"skipping: {DATA} is not there", file=sys.stderr)
        return 0
    lines = DATA.read_text(encoding="utf-8").splitlines()
    plain_config = LogBertConfig().with_overrides({"parser.format": "hdfs", "window.session_id": "hdfs_block"})
    wrapped_config = plain_config.with_overrides({"parser.envelope": "cri"})
    best: dict[str, float] = {}
    templates: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="logbert-envelope-") as tmp:
        files = {"bare": Path(tmp) / "bare.log", "cri": Path(tmp) / "cri.log"}
        files["bare"].write_text("\n".join(lines) + "\n", encoding="utf-8")
        files["cri"].write_text("\n".join(wrapped(lines)) + "\n", encoding="utf-8")
        for _ in range(args.repeats):  # alternated: a slow moment of the machine falls on both
            for name, config in (("bare", plain_config), ("cri", wrapped_config)):
                started = time.perf_counter()
                summary = parse(files[name], config)
                seconds = time.perf_counter() - started
                best[name] = min(best.get(name, float("inf")), seconds)
                templates[name] = len(summary.templates)
    rate = {name: len(lines) / s for name, s in best.items()}
    text = "\n".join([
        "# Reading a container runtime's lines (`parser.envelope = cri`)",
        "",
        f"Command: `.venv/bin/python -m benchmarks.envelope --repeats {args.repeats}`. Machine: {platform.machine()}, "
        f"Python {platform.python_version()}; best of {args.repeats}, alternated.",
        "",
        "| input | messages | lines/s (messages) | seconds | templates |",
        "|---|---:|---:|---:|---:|",
        f"| HDFS_2pct.log, bare (`parser.format=hdfs`) | {len(lines)} | {rate['bare']:,.0f} | {best['bare']:.2f} | "
        f"{templates['bare']} |",
        f"| the same messages in CRI lines, a quarter split in two pieces (`+ parser.envelope=cri`) | {len(lines)} | "
        f"{rate['cri']:,.0f} | {best['cri']:.2f} | {templates['cri']} |",
        "",
        f"CRI costs {best['cri'] / best['bare']:.2f}x the bare reading's time (the same templates: "
        f"{templates['cri'] == templates['bare']}).",
        "",
    ])
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
