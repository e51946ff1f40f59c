"""The probe runner of issue 10 (benchmarks/probes) keeps working: a few cheap probes through its functions.

Not the whole runner (it trains artifacts and starts servers for minutes): two CLI probes that
need no artifact, and four HTTP probes against an in-process uvicorn with the fake detector.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.probes import probes
from benchmarks.probes.core import Endpoint, Probe, Workspace
from benchmarks.probes.run import report, run_probe

from ..service.conftest import live_server, make_settings
from ..streaming.fakes import FakeDetector


def test_cli_probes_judge_a_refusal_as_a_clear_error(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    out_dir = probes.score_out_dir(ws)
    assert out_dir.outcome == "clear_error" and "is a directory" in out_dir.detail, out_dir
    existing = probes.train_out_file(ws)
    assert existing.outcome == "clear_error" and "is a file" in existing.detail, existing
    assert (ws.root / "existing-file").read_text() == "not an artifact\n"  # untouched


def test_http_probes_against_a_served_fake_detector(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    surrogate = next(h for h in probes.HOSTILE if h[0] == "lone surrogate in a line")
    huge_offset = next(h for h in probes.HOSTILE if h[0] == "offset 2^63")
    with live_server(make_settings(tmp_path / "open"), FakeDetector()) as base:
        ws.servers["open"] = Endpoint(base)
        records = [
            run_probe(ws, Probe(probes.HTTP_500, h[0], probes.hostile_request(*h))) for h in (surrogate, huge_offset)
        ]
        records.append(run_probe(ws, Probe(probes.HTTP_500, "server still up", probes.server_survived)))
    with live_server(make_settings(tmp_path / "keyed", api_key="k3y"), FakeDetector()) as base:
        ws.servers["keyed"] = Endpoint(base, key="k3y")
        records.append(run_probe(ws, Probe(probes.SECURITY, "no key", probes.key_matrix("no key", {}))))
    outcomes = {r["name"]: (r["outcome"], r["detail"]) for r in records}
    assert outcomes["lone surrogate in a line"] == (
        "clear_error", r"lone surrogate in a line: HTTP 422: body.lines.0: a lone surrogate (\ud800) at character 1 is "
        "not Unicode text",
    )
    assert outcomes["offset 2^63"][0] == "clear_error", outcomes
    assert outcomes["server still up"][0] == "ok", outcomes
    assert outcomes["no key"][0] == "clear_error" and "answered 401" in outcomes["no key"][1], outcomes
    md = report(records, "not run: tests/faults does not exist yet", ["--only", "http_500"], 1.0)
    assert "| http_500 | 3 | 1 | 2 | 0 | 0 | 0 | 0 |" in md and "| security | 1 | 0 | 1 |" in md
    assert "| data_loss | not run" in md and "lone surrogate in a line" in md
    json.dumps(records)  # what probes.json holds
