"""Logs of records end to end, a CSV export (``parser.format = "csv"``) and logfmt (``"logfmt"``): trained with one
session per trace id, then scored offline and followed by ``logbert tail``: the same sessions flagged, the faulty
traces among them."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from logbert import api
from logbert.cli import app as cli_app

from ..conftest import tiny_nova_config

COLUMNS = ("timestamp", "level", "service", "trace_id", "message")


def write_export(path: Path, n_traces: int, faulty: set[int], kind: str = "csv") -> None:
    """A header row, then five records per trace (quoted commas in some messages); a faulty trace logs a database
    timeout, a line no normal trace has. ``kind = "logfmt"``: the same records as ``key=value`` lines."""
    rng = random.Random(5)
    rows: list[tuple[str, ...]] = [COLUMNS]
    second = 0
    for i in range(n_traces):
        steps = [
            ("INFO", "gateway", f"GET /api/orders/{rng.randint(1, 9999)} from 10.1.0.{rng.randint(1, 254)}"),
            ("INFO", "auth", f"token validated for user {rng.randint(1, 99)}"),
            ("DEBUG", "orders", f"loading order, cache hit={rng.choice(['true', 'false'])}"),
            ("INFO", "orders", f"order loaded in {rng.randint(2, 40)} ms"),
            ("INFO", "gateway", f"200 OK, {rng.randint(200, 5000)} bytes"),
        ]
        if i in faulty:
            steps[3] = ("ERROR", "orders", "database timeout after 5000 ms, retrying")
        for level, service, message in steps:
            second += 1
            stamp = f"2026-11-30T08:{second // 60 % 60:02d}:{second % 60:02d}Z"
            rows.append((stamp, level, service, f"t{i:04d}", message))
    if kind == "logfmt":
        lines = [" ".join(f"{k}={json.dumps(v) if ' ' in v else v}" for k, v in zip(COLUMNS, row, strict=True))
                 for row in rows[1:]]
        path.write_text("\n".join(lines) + "\n")
        return
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)


@pytest.mark.parametrize("kind", ["csv", "logfmt"])
def test_a_log_of_records_trains_scores_and_tails_alike(tmp_path: Path, kind: str) -> None:
    log = tmp_path / f"export.{kind}"
    write_export(log, 150, faulty={140, 145}, kind=kind)
    config = tiny_nova_config(max_len=16).with_overrides(
        {
            "parser.format": kind,
            "parser.csv_columns": COLUMNS if kind == "csv" else None,
            "window.session_pattern": r"trace_id=(\S+)",
            "window.session_id": None,
        }
    )
    api.train(log, tmp_path / "artifact", config, progress=False)
    runner = CliRunner()
    scored = runner.invoke(cli_app, ["score", str(tmp_path / "artifact"), str(log), "--only-anomalies"])
    assert scored.exit_code == 0, scored.output
    offline = {json.loads(line)["session_id"] for line in scored.stdout.splitlines() if line.startswith("{")}
    assert {"t0140", "t0145"} <= offline  # the timeouts: a template no training trace had
    followed = runner.invoke(cli_app, ["tail", str(tmp_path / "artifact"), str(log), "--no-follow", "--json"])
    assert followed.exit_code == 0, followed.output
    alerts = {json.loads(line)["session_id"] for line in followed.stdout.splitlines() if line.startswith("{")}
    assert alerts == offline
    rejected = 1 if kind == "csv" else 0  # the header row: counted, not read as a record
    assert f"malformed={rejected} empty=0 " in followed.stderr
