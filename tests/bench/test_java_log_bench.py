"""The generated Spring Boot log of ``benchmarks.java_log``: one session per request id, labelled, a template per
event, stack traces read as part of their message."""

from __future__ import annotations

from pathlib import Path

from benchmarks.java_log.__main__ import LOG_FORMAT, REQUEST_ID, spring_boot_log

from logbert.config import LogBertConfig
from logbert.pipeline.corpus import read_corpus
from logbert.pipeline.parse import parse


def test_java_log_sessions_are_the_labelled_request_ids_and_its_events_are_templates(tmp_path: Path) -> None:
    labels, kinds = spring_boot_log(tmp_path / "app.log", seed=3, n_requests=400)
    rows = dict(r.split(",") for r in labels.read_text().splitlines()[1:])
    assert len(rows) == 400 and set(rows.values()) == {"Normal", "Anomaly"}
    assert {r for r, k in kinds.items() if k != "normal"} == {r for r, label in rows.items() if label == "Anomaly"}
    assert set(kinds.values()) == {"normal", "payment_failed", "deadlock_retries", "unconfirmed"}
    config = LogBertConfig().with_overrides(
        {"parser.log_format": LOG_FORMAT, "parser.continuation": "attach", "window.session_pattern": REQUEST_ID}
    )
    corpus = read_corpus(tmp_path / "app.log", config)
    assert {s.session_id for s in corpus.line_sessions} == set(rows)
    lines = (tmp_path / "app.log").read_text().splitlines()
    trace_lines = sum(not ln.startswith("2026-") for ln in lines)
    assert trace_lines == 3 * sum(k == "payment_failed" for k in kinds.values())
    assert corpus.report.n_malformed == 0 and corpus.report.n_parsed == len(lines)
    assert corpus.report.n_without_session == sum("CleanupJob" in ln for ln in lines)
    templates = parse(tmp_path / "app.log", config).templates
    # one per event: the request's start and its answer (201 or 502) apart (MaskedDrain change 5), and the two
    # services' "... for order <*>" lines apart (the logger routes Drain's tree)
    assert len(templates) == 12 and not any(r in t for r in rows for t in templates)
    assert sum("OrderController" in t for t in templates) == 2
