"""``benchmarks.time_values`` end to end on the real DeepLog OpenStack files (skips without them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmarks.time_values.__main__ import main
from benchmarks.time_values.run import DIR, NORMAL

from tests.conftest import DATASETS, dataset_path


def test_time_values_benchmark(tmp_path: Path) -> None:
    dataset_path(str(DIR / NORMAL))
    assert (
        main(["--out", str(tmp_path), "--data", str(DATASETS), "--logbert-epochs", "0", "--signal-modes", "none"]) == 0
    )
    result = json.loads((tmp_path / "results.json").read_text())
    rows = {r["detector"]: r for r in result["rows"]}
    assert result["protocol"]["abnormal_file_instances"] == 198 and result["protocol"]["official_anomalies"] == 4
    assert rows["new_event"]["found"] == 0  # key order alone cannot see them
    values = rows["param_outlier"]
    assert values["found"] == 4 and values["false_alarms_abnormal_file"] <= 1
    assert all("Took <*> seconds to" in text for text in values["explanations"].values())
    assert rows["session_duration"]["found"] == 4
    assert "| param_outlier | time+values |" in (tmp_path / "results.md").read_text()


def test_time_values_benchmark_skips_without_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path / "out"), "--data", str(tmp_path)]) == 0
    assert "skipping" in capsys.readouterr().err and not (tmp_path / "out").exists()
