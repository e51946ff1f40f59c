"""The header every committed benchmark result starts with: the command that made it, the machine, the date."""

from __future__ import annotations

import os
import platform
import sys
import time


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
