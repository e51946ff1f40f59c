"""The logs of ``benchmarks.contamination``: each is read, with the settings the benchmark trains with, into the
sessions its labels name, and its failures are the labels' anomalies (what the table's "failures in training"
counts)."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmarks.contamination.__main__ import LOGS

from logbert.config import LogBertConfig
from logbert.pipeline.corpus import read_corpus


@pytest.mark.parametrize("name", sorted(LOGS))
def test_every_log_reads_into_its_labelled_sessions_with_the_settings_it_trains_with(
    tmp_path: Path, name: str
) -> None:
    writer, reading, rate = LOGS[name]
    log, labels = writer(tmp_path / f"{name}.log", 101, 200, 1000)
    rows = dict(r.split(",") for r in labels.read_text().splitlines()[1:])
    failures = {sid for sid, label in rows.items() if label.strip().lower() in ("1", "anomaly")}
    assert 0 < len(failures) < 0.25 * len(rows) and 0 < rate < 0.25
    corpus = read_corpus(log, LogBertConfig().with_overrides(reading))
    assert corpus.report.n_parsed == corpus.report.n_lines  # the layout reads every line
    assert {s.session_id for s in corpus.line_sessions} == set(rows)

