"""The generated ZooKeeper log of ``benchmarks.zookeeper_log``: the format ``parse`` suggests for it and the session
pattern ``train``'s no-session-id error names are the ones the benchmark reads it with, and its sessions (one client
session id each) are the labelled ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmarks.zookeeper_log.__main__ import LOG_FORMAT, SESSION_PATTERN, zookeeper_log

from logbert.config import LogBertConfig, ParserConfig
from logbert.errors import InputDataError
from logbert.parsing.reader import read_log
from logbert.pipeline.corpus import read_corpus


def test_zookeeper_log_is_read_with_the_format_and_sessions_logbert_suggests(tmp_path: Path) -> None:
    log = tmp_path / "zk.log"
    labels, kinds = zookeeper_log(log, seed=3, n_sessions=300)
    rows = dict(r.split(",") for r in labels.read_text().splitlines()[1:])
    assert len(rows) == 300 and set(kinds.values()) == {"normal", "expired", "connection_reset", "no_auth", "held_open"}
    assert {s for s, k in kinds.items() if k != "normal"} == {s for s, label in rows.items() if label == "Anomaly"}
    lines = log.read_text().splitlines()
    _, report = read_log(lines, ParserConfig(format="raw"))
    assert any(w.endswith(f"try --set 'parser.log_format={LOG_FORMAT}'") for w in report.warnings)
    config = LogBertConfig().with_overrides({"parser.log_format": LOG_FORMAT})
    with pytest.raises(InputDataError) as said:
        read_corpus(log, config)
    assert f"--set 'window.session_pattern={SESSION_PATTERN}' reads them" in str(said.value)
    corpus = read_corpus(log, config.with_overrides({"window.session_pattern": SESSION_PATTERN}))
    assert corpus.report.n_parsed == len(lines)
    assert {s.session_id for s in corpus.line_sessions} == set(rows)  # no transaction id read as a session
    # the accepted connections, the session requests and the snapshots name no session
    assert corpus.report.n_without_session == 2 * 300 + 24 * 60 // 5
