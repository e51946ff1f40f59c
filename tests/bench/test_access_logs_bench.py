"""The generated shop log of ``benchmarks.access_logs``: every line an access entry, its labels per client."""

from __future__ import annotations

from pathlib import Path

from benchmarks.access_logs.__main__ import shop_log

from logbert.config import load_config
from logbert.parsing.reader import read_log


def test_shop_log_is_read_whole_by_the_access_preset_and_labels_every_client(tmp_path: Path) -> None:
    labels, anomalous = shop_log(tmp_path / "shop.log", seed=1, n_clients=300, first_octet=172)
    rows = labels.read_text().splitlines()[1:]
    assert len(rows) == 300 and {r.split(",")[1] for r in rows} == {"Normal", "Anomaly"}
    assert anomalous == {r.split(",")[0] for r in rows if r.endswith(",Anomaly")}
    assert all(ip.startswith("172.") for ip in anomalous)
    lines = (tmp_path / "shop.log").read_text().splitlines()
    records, report = read_log(lines, load_config(None, {}, preset="access").parser)
    assert report.n_parsed == len(lines) and report.warnings == []
    assert all(r.timestamp is not None for r in records)
    assert [r.timestamp for r in records] == sorted(r.timestamp for r in records)  # one file, in time order
