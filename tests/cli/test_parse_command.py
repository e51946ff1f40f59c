"""``logbert parse``: no torch on its path, and ``--structured`` output as the library writes it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HDFS = "081109 2036{s:02d} 148 INFO dfs.DataNode$PacketResponder: PacketResponder {n} for block blk_{b} terminating"

_RUN_PARSE = """
import sys
from typer.testing import CliRunner
from logbert.cli import app
log, rows = sys.argv[1], sys.argv[2]
result = CliRunner().invoke(app, ["parse", log, "--preset", "hdfs", "--structured", rows])
assert result.exit_code == 0, result.output
print(sorted(m for m in ("torch", "numpy", "matplotlib") if m in sys.modules))
"""


def test_parse_command_does_not_import_torch(tmp_path: Path) -> None:
    """Parsing needs no model: `logbert parse --structured` must not pay torch's import (~100+ MB, seconds)."""
    log = tmp_path / "x.log"
    log.write_text("\n".join(HDFS.format(s=i % 60, n=i % 3, b=i) for i in range(200)) + "\n")
    rows = tmp_path / "rows.csv"
    out = subprocess.run(
        [sys.executable, "-c", _RUN_PARSE, str(log), str(rows)], check=True, capture_output=True, text=True
    ).stdout
    assert out.strip().splitlines()[-1] == "[]"
    assert len(rows.read_text().splitlines()) == 201
