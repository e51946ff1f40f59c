"""The generated PostgreSQL log of ``benchmarks.postgres_log``: the format ``parse`` suggests for it is the one the
benchmark reads it with, and its sessions (one backend pid each) are the labelled ones."""

from __future__ import annotations

from pathlib import Path

from benchmarks.postgres_log.__main__ import LOG_FORMAT, postgres_log

from logbert.config import LogBertConfig, ParserConfig
from logbert.parsing.reader import read_log
from logbert.pipeline.corpus import read_corpus


def test_postgres_log_is_read_with_the_format_parse_suggests_and_its_pids_are_the_labelled_sessions(
    tmp_path: Path,
) -> None:
    labels, kinds = postgres_log(tmp_path / "pg.log", seed=3, n_sessions=300)
    rows = dict(r.split(",") for r in labels.read_text().splitlines()[1:])
    assert len(rows) == 300 and set(kinds.values()) == {
        "normal", "auth_failed", "client_gone", "deadlock", "slow_statement"
    }
    assert {p for p, k in kinds.items() if k != "normal"} == {p for p, label in rows.items() if label == "Anomaly"}
    lines = (tmp_path / "pg.log").read_text().splitlines()
    _, report = read_log(lines, ParserConfig(format="raw"))
    assert any(w.endswith(f"try --set 'parser.log_format={LOG_FORMAT}'") for w in report.warnings)
    config = LogBertConfig().with_overrides({"parser.log_format": LOG_FORMAT, "window.session_pattern": r"Pid=(\S+)"})
    corpus = read_corpus(tmp_path / "pg.log", config)
    assert corpus.report.n_parsed == len(lines) and corpus.report.n_without_session == 0
    # every client session, and the checkpointer's lines (pid 77) as one more, unlabelled
    assert {s.session_id for s in corpus.line_sessions} == set(rows) | {"77"}
