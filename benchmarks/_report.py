"""The header every committed benchmark result starts with: the command that made it, the machine, the date."""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def header(title: str, module: str, argv: list[str] | None, machine_note: str) -> list[str]:
    """Markdown lines: title, the exact command (``argv``, or this process's), machine and date."""
    command = " ".join([f".venv/bin/python -m {module}", *(argv if argv is not None else sys.argv[1:])])
    return [
        f"# {title}",
        "",
        f"Command: `{command}`  ",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs; {machine_note}  ",
        f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
    ]


def generated_logs_cli(doc: str, name: str) -> argparse.ArgumentParser:
    """The command line of a benchmark on logs it writes itself: ``--out`` (the committed result,
    ``benchmarks/results/NAME.md``) and ``--work`` (where the logs and artifacts go, ``/tmp/logbert-NAME``)."""
    cli = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / f"{name.replace('-', '_')}.md")
    cli.add_argument("--work", type=Path, default=Path(f"/tmp/logbert-{name}"))
    return cli


def one_thread_in(work: Path) -> Path:
    """One torch thread (the runs are comparable on a shared 2-core machine) and ``work`` made; returns it."""
    import torch

    torch.set_num_threads(1)
    work.mkdir(parents=True, exist_ok=True)
    return work


def draw_kind(rng: random.Random, shares: dict[str, float], default: str) -> str:
    """One kind drawn with the given shares (each of ``shares`` with its probability, ``default`` otherwise): the
    generated logs' anomalous kinds."""
    r = rng.random()
    for name, share in shares.items():
        if r < share:
            return name
        r -= share
    return default
