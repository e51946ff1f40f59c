"""The generated Postfix log of ``benchmarks.mail_log``: one session per queue id, labelled, a template per event."""

from __future__ import annotations

from pathlib import Path

from benchmarks.mail_log.__main__ import QUEUE_ID, postfix_log

from logbert.config import LogBertConfig
from logbert.pipeline.corpus import read_corpus
from logbert.pipeline.parse import parse


def test_mail_log_sessions_are_the_labelled_queue_ids_and_its_events_are_templates(tmp_path: Path) -> None:
    labels, kinds = postfix_log(tmp_path / "mail.log", seed=3, n_mails=400)
    rows = dict(r.split(",") for r in labels.read_text().splitlines()[1:])
    assert len(rows) == 400 and set(rows.values()) == {"Normal", "Anomaly"}
    assert {q for q, k in kinds.items() if k != "normal"} == {q for q, label in rows.items() if label == "Anomaly"}
    assert set(kinds.values()) == {"normal", "undeliverable", "stuck", "mail_loop", "relay_denied"}
    config = LogBertConfig().with_overrides({"parser.format": "syslog", "window.session_pattern": QUEUE_ID})
    corpus = read_corpus(tmp_path / "mail.log", config)
    assert {s.session_id for s in corpus.line_sessions} == set(rows)
    lines = (tmp_path / "mail.log").read_text().splitlines()
    assert corpus.report.n_parsed == len(lines)
    assert corpus.report.n_without_session == sum(" connect from " in ln or "disconnect from" in ln or "NOQUEUE" in ln
                                           for ln in lines)
    templates = parse(tmp_path / "mail.log", config).templates
    assert 10 <= len(templates) <= 16 and not any(q in t for q in rows for t in templates)


def test_generated_log_benchmarks_take_settings_as_logbert_train_does() -> None:
    from benchmarks._report import generated_logs_cli

    from logbert.cli._common import parse_overrides

    args = generated_logs_cli("doc\n\nmore\n\nrest", "mail-log").parse_args(
        ["--set", "model.key_counts=true", "--set", "train.epochs=3"]
    )
    assert parse_overrides(args.set) == {"model.key_counts": True, "train.epochs": 3}
    assert generated_logs_cli("doc", "mail-log").parse_args([]).set == []
