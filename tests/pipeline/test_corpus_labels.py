"""Whether a labels file labels the input: the one rule of :func:`~logbert.pipeline.corpus.read_corpus`, which
``train``, ``evaluate`` and the benchmarks all read labels through."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from logbert.config import LogBertConfig
from logbert.errors import InputDataError
from logbert.pipeline.corpus import read_corpus
from logbert.pipeline.fit import train

REQUESTS = {"parser.log_format": "<Date> <Time> <Content>", "window.session_pattern": r"request_id=(\S+)"}


def _log(path: Path, n_requests: int = 12) -> Path:
    """Requests req-r00 ... of three lines each, one after the other."""
    lines = [
        f"2026-11-01 10:{n // 60:02d}:{n % 60:02d} {step} request_id=req-r{n:02d}"
        for n in range(n_requests)
        for step in ("received", "processed", "answered")
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_an_id_list_that_names_no_session_is_an_error_showing_both_kinds_of_id(tmp_path: Path) -> None:
    """The anomalous ids listed without the sessions' req- prefix: every session was labelled normal (an id list's
    default), evaluate printed F1 0 over "120 normal and 0 anomalous sessions" and train trained on the failures."""
    log = _log(tmp_path / "app.log")
    ids = tmp_path / "ids.txt"
    ids.write_text("# failed requests\nr03\nr07\n", encoding="utf-8")
    config = LogBertConfig().with_overrides(REQUESTS)
    with pytest.raises(InputDataError, match="no session of the input is named") as caught:
        read_corpus(log, config, labels=ids)
    said = str(caught.value)
    assert "'r03', 'r07'" in said and "'req-r00', 'req-r01'" in said, said
    with pytest.raises(InputDataError, match="no session of the input is named"):  # train: before any training
        train(log, tmp_path / "art", config, labels=ids, progress=False)
    assert not (tmp_path / "art" / "model.safetensors").exists()


def test_a_session_csv_that_names_no_session_shows_both_kinds_of_id(tmp_path: Path) -> None:
    log = _log(tmp_path / "app.log")
    labels = tmp_path / "labels.csv"
    labels.write_text("request_id,Label\nr00,normal\nr01,anomaly\n", encoding="utf-8")
    with pytest.raises(InputDataError, match="no session of the input is named") as caught:
        read_corpus(log, LogBertConfig().with_overrides(REQUESTS), labels=labels)
    assert "'r00', 'r01'" in str(caught.value) and "'req-r00', 'req-r01'" in str(caught.value)


def test_listed_ids_that_name_no_session_are_counted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Ids of another log (or written otherwise) beside ids of this one: the ones found label their sessions, and
    how many name none is said, since the sessions they meant would be taken for normal without a word."""
    log = _log(tmp_path / "app.log")
    ids = tmp_path / "ids.txt"
    ids.write_text("req-r03\nreq-r07\nr09\nreq-x99\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="logbert.pipeline.corpus"):
        corpus = read_corpus(log, LogBertConfig().with_overrides(REQUESTS), labels=ids)
    assert {u.session_id for u in corpus.units if u.label == 1} == {"req-r03", "req-r07"}
    assert len(corpus.units) == 12 and corpus.n_unlabelled == 0
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and said[0].startswith(f"2 of the 4 ids listed in {ids} name no session"), said
    assert "'r09'" in said[0], said


def test_listed_ids_that_all_name_sessions_are_not_said(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    log = _log(tmp_path / "app.log")
    ids = tmp_path / "ids.txt"
    ids.write_text("request_id\nreq-r03\nreq-r07\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="logbert.pipeline.corpus"):
        corpus = read_corpus(log, LogBertConfig().with_overrides(REQUESTS), labels=ids)
    assert sum(u.label == 1 for u in corpus.units) == 2 and not caplog.records


def test_csv_ids_that_name_no_session_are_counted_as_a_lists_are(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A CSV whose anomalous ids were written otherwise (sshd[60308] for the session 60308): evaluate said only that
    20 sessions were not named, then an F1 of n/a over "180 normal and 0 anomalous sessions". The list's warning, from
    the same code, with how many of the ids are anomalous and how the input names its sessions."""
    log = _log(tmp_path / "app.log")
    labels = tmp_path / "labels.csv"
    rows = [f"req-r{n:02d},normal" for n in range(10)] + ["sshd[req-r10],anomaly", "sshd[req-r11],anomaly"]
    labels.write_text("request_id,Label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="logbert.pipeline.corpus"):
        corpus = read_corpus(log, LogBertConfig().with_overrides(REQUESTS), labels=labels)
    assert len(corpus.units) == 10 and corpus.n_unlabelled == 2 and not any(u.label for u in corpus.units)
    said = [r.getMessage() for r in caplog.records]
    assert said[0] == (
        f"2 of the 12 ids listed in {labels} (2 of them labelled anomalous) name no session of the input (e.g. "
        "'sshd[req-r10]'): where they are sessions of this log, written otherwise, those sessions are left out (their "
        "label unknown); write them as the input names its sessions (e.g. 'req-r00')"
    ), said


def test_an_evaluation_of_one_label_says_why_its_metrics_are_undefined() -> None:
    from logbert.pipeline.evaluate import one_class_warning

    assert one_class_warning(180, 20, "sessions") is None
    none = one_class_warning(180, 0, "sessions")
    assert none is not None and none.startswith("none of the 180 sessions evaluated is labelled anomalous: recall, F1")
    every = one_class_warning(0, 5, "sliding windows")
    assert every is not None and every.startswith("every one of the 5 sliding windows evaluated is labelled anomalous")


def test_sessions_a_csv_does_not_name_are_left_out_in_words_true_of_every_command(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """"left out of training and evaluation" was said by evaluate too, which does not train."""
    log = _log(tmp_path / "app.log")
    labels = tmp_path / "labels.csv"
    labels.write_text("request_id,Label\nreq-r00,normal\nreq-r01,anomaly\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="logbert.pipeline.corpus"):
        corpus = read_corpus(log, LogBertConfig().with_overrides(REQUESTS), labels=labels)
    assert len(corpus.units) == 2 and corpus.n_unlabelled == 10
    said = [r.getMessage() for r in caplog.records]
    assert said == [f"10 sessions are not named in {labels}, so their label is unknown: left out"], said


def test_windows_take_their_labels_from_a_label_field_as_the_error_says(tmp_path: Path) -> None:
    """What the error on a labels file of session ids in window mode advises works: a <Label> field of the format
    labels each line, and a window with an anomalous line is anomalous."""
    log = tmp_path / "labelled.log"
    lines = [f"{'ALERT' if n == 7 else '-'} 2026-11-01 10:00:{n:02d} step {n % 3}" for n in range(12)]
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = LogBertConfig().with_overrides(
        {"parser.log_format": "<Label> <Date> <Time> <Content>", "window.mode": "sliding", "window.window_size": 4,
         "window.stride": 4}
    )
    corpus = read_corpus(log, config)
    assert [(u.session_id, u.label) for u in corpus.units] == [("w0", 0), ("w1", 1), ("w2", 0)]
    with pytest.raises(InputDataError, match=r"no sliding window of the input is named .* \('w0', 'w1' \.\.\.\)"):
        read_corpus(log, config, labels=_csv(tmp_path))


def _csv(tmp_path: Path) -> Path:
    labels = tmp_path / "sessions.csv"
    labels.write_text("session_id,Label\nreq-r00,normal\n", encoding="utf-8")
    return labels


def test_sessions_and_labels_come_from_header_fields_the_corpus_does_not_keep(tmp_path: Path) -> None:
    """A session id held in a header field (a JSON key) and labels in a ``Label`` field are read as each line is;
    the corpus keeps of a line its number, content and time only. Header fields held for every line were two thirds
    of a parsed line's memory, and ``score`` held every line of its log at once."""
    records = [
        f'{{"ts": "2026-11-01T10:00:{n:02d}", "level": "INFO", "req": "r{n // 3}", "msg": "step {step}", '
        f'"Label": "{"-" if n // 3 != 2 else "FAIL"}"}}'
        for n, step in enumerate(["received", "processed", "answered"] * 4)
    ]
    log = tmp_path / "app.jsonl"
    log.write_text("\n".join(records) + "\n", encoding="utf-8")
    config = LogBertConfig().with_overrides({"parser.format": "json", "window.session_pattern": r"req=(\S+)"})
    corpus = read_corpus(log, config)
    assert [(u.session_id, len(u.rows), u.label) for u in corpus.line_sessions] == [
        ("r0", 3, 0), ("r1", 3, 0), ("r2", 3, 1), ("r3", 3, 0)
    ]
    assert all(not line.fields for line in corpus.lines)
    assert corpus.lines[4].content.startswith("step processed") and corpus.lines[4].line_no == 5
    assert corpus.lines[4].timestamp is not None


def test_time_windows_of_lines_without_time_say_what_the_reader_found(tmp_path: Path) -> None:
    """Plain dmesg in time windows: "no line has a timestamp" was all, where the reader knew the bracket holds one."""
    log = tmp_path / "dmesg.log"
    log.write_text("".join(f"[{5.5 + 997 * i:12.6f}] usb 1-1: new device {i}\n" for i in range(30)), encoding="utf-8")
    with pytest.raises(InputDataError) as caught:
        read_corpus(log, LogBertConfig().with_overrides({"window.mode": "time"}))
    said = str(caught.value)
    assert "time windows need timestamps" in said and r"parser.log_format=\[\s*<Timestamp>\] <Content>" in said
    # the header format first: "use mode='sliding'" before it sent a new user's auth log, whose times the syslog
    # format reads, to windows without time
    assert "mode='sliding'" not in said and said.index("parser.log_format") < said.index("window.mode=sliding")
    plain = tmp_path / "plain.log"
    plain.write_text("".join(f"usb device {i} connected\n" for i in range(30)), encoding="utf-8")
    with pytest.raises(InputDataError, match=r"no line has one \(use mode='sliding'\)"):
        read_corpus(plain, LogBertConfig().with_overrides({"window.mode": "time"}))
