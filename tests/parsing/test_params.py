"""Typed parameters and time signals (issue 13): slot typing, unit conversion, gaps, session signals,
the schema in parser states and in ``logbert parse --typed`` outputs."""

from __future__ import annotations

import csv
import doctest
import json
import math
from pathlib import Path

import pytest

import logbert.parsing.params as params_module
from logbert.config import LogBertConfig, ParserConfig, load_config
from logbert.parsing.params import (
    SlotSchema,
    attach_schema,
    elapsed,
    infer_slot_schema,
    parse_number,
    readable_number,
    schema_of,
    session_signals,
    time_gaps,
)
from logbert.parsing.parser import LogParser
from logbert.pipeline.corpus import read_corpus
from logbert.pipeline.parse import parse, slot_schema, write_parse_summary, write_structured
from logbert.pipeline.signals import corpus_signals, fit_slot_schema, line_rows
from logbert.pipeline.split import key_sessions
from logbert.records import UNK_KEY, LogLine
from tests.conftest import dataset_path

GB = 1024.0**3
MB = 1024.0**2


def test_doctests() -> None:
    assert doctest.testmod(params_module).failed == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", (42.0, None)),
        ("19.84", (19.84, None)),
        ("-3", (-3.0, None)),
        ("20,", (20.0, None)),
        ("1,024", (1024.0, None)),
        ("2560MB", (2560.0, ("B", MB, "MB"))),
        ("0.5s", (0.5, ("s", 1.0, "s"))),
        ("120ms", (120.0, ("s", 1e-3, "ms"))),
        ("15GB", (15.0, ("B", GB, "GB"))),
        ("abc", None),
        ("3a", None),
        ("", None),
        ("1.1.1", None),
    ],
)
def test_parse_number(text: str, expected: object) -> None:
    assert parse_number(text) == expected


def _schema() -> SlotSchema:
    templates = [
        "[instance:<*>] Took <*> seconds to spawn the instance on the hypervisor.",  # 0
        "[instance:<*>] Attempting claim: memory <*> MB, disk <*> GB, vcpus <*> CPU",  # 1
        '<*> "GET <*> HTTP/<*>" status: <*> len: <*> time: <*>',  # 2
        "Lifecycle state <*> reached",  # 3
        "worker pid <*> started",  # 4
        "no slots here",  # 5
        "used_ram=<*> waited <*>",  # 6
    ]
    uuid = "b9000564-fe1a-409b-b8cc-1e88b294cd1d"
    rows: list[tuple[int, list[str]]] = []
    for i in range(40):
        rows.append((0, [uuid, f"{19 + (i % 5) * 0.3:.2f}"]))
        rows.append((1, [uuid, "2048", "20", "1"]))
        rows.append((2, ["10.11.10.1", "/v2/servers/detail", "1.1", "200" if i % 4 else "404", str(1800 + i), "0.25"]))
        rows.append((3, ["ACTIVE" if i % 2 else "PAUSED"]))
        rows.append((4, [str(10_000 + 37 * i)]))
        rows.append((6, [f"{512 + i}MB", f"{100 + i}ms"]))
    rows.append((0, [uuid]))  # a value count that does not match the template: skipped
    rows.append((UNK_KEY, ["x"]))  # an unknown template: skipped
    return infer_slot_schema(templates, rows)


def test_a_key_glued_to_its_slot_is_the_word_before_it() -> None:
    """logfmt and parser.content_keys write "status=503": the key glued to the slot types it as the spaced form
    "status: 503" is typed (a category), and "duration=<*>" gets the unit "duration <*>" gets (stop 47: both were
    plain counts)."""
    templates = ["request finished status=<*> duration=<*> rows=<*>"]
    rows = [(0, [str(200 if i % 3 else 503), str(0.01 * i), str(i % 7)]) for i in range(40)]
    status, duration, count = infer_slot_schema(templates, rows).slots[0]
    assert status.kind == "category" and set(status.categories) == {"200", "503"}
    assert (duration.kind, duration.unit) == ("number", "s")
    assert (count.kind, count.unit) == ("number", "count")


def test_slot_kinds_and_units() -> None:
    schema = _schema()
    took = schema.slots[0]
    assert [t.kind for t in took] == ["id", "number"]
    assert took[1].unit == "s" and took[1].n == 40
    assert took[1].context.startswith("Took <*> seconds")  # the id slot left out of the context
    claim = schema.slots[1]
    assert [(t.kind, t.unit, t.display_unit) for t in claim] == [
        ("id", None, None),
        ("number", "B", "MB"),
        ("number", "B", "GB"),
        ("number", "count", "CPU"),
    ]
    http = schema.slots[2]
    assert [t.kind for t in http] == ["id", "id", "category", "category", "number", "number"]
    assert http[3].categories == ("200", "404")  # most frequent first
    assert (http[4].unit, http[5].unit) == ("B", "s")  # "len:" and "time:" say the unit
    assert schema.slots[3][0].kind == "category" and set(schema.slots[3][0].categories) == {"ACTIVE", "PAUSED"}
    assert schema.slots[4][0].kind == "id"  # near-unique large integers: pids
    assert 5 not in schema.slots
    assert [(t.unit, t.display_unit) for t in schema.slots[6]] == [("B", "MB"), ("s", "ms")]


def test_convert_to_base_units() -> None:
    schema = _schema()
    assert schema.convert(0, ["id", "42.13"]) == (None, 42.13)
    assert schema.convert(1, ["id", "4096", "20.00", "2"]) == (None, 4096 * MB, 20 * GB, 2.0)
    assert schema.convert(6, ["1GB", "2s"]) == (GB, 2.0)  # a unit written on the value wins
    assert schema.convert(2, ["ip", "/p", "1.1", "503", "10", "1.5"]) == (None, None, "1.1", "503", 10.0, 1.5)
    assert schema.convert(0, ["id", "n/a"]) == (None, None)  # not a number: None
    assert schema.convert(0, ["only one"]) == (None, None)  # wrong count: all None
    assert schema.convert(5, []) == () and schema.convert(UNK_KEY, ["x"]) == ()


def test_quantiles_and_display() -> None:
    took = _schema().slots[0][1]
    assert took.quantiles[0] == 19.0 and took.quantiles[-1] == pytest.approx(20.2)
    lo, hi = took.training_range or (0, 0)
    assert 19.0 <= lo <= hi <= 20.2
    assert took.display(42.13) == "42.1 s"
    disk = _schema().slots[1][2]
    assert disk.display(20 * GB) == "20 GB"
    assert _schema().slots[1][3].display(2.0) == "2"


def test_schema_json_round_trip_and_parser_state() -> None:
    schema = _schema()
    data = json.loads(json.dumps(schema.to_dict(), allow_nan=False))
    assert SlotSchema.from_dict(data) == schema
    parser = LogParser(ParserConfig(format="openstack")).fit(["[instance: a] Took 19.84 seconds to spawn"] * 3)
    state = attach_schema(parser.to_dict(), schema)
    assert schema_of(json.loads(json.dumps(state))) == schema
    assert schema_of(parser.to_dict()) is None and schema_of(None) is None
    restored = LogParser.from_dict(state)  # the extra field does not disturb the parser
    assert restored.templates_ == parser.templates_


def test_time_gaps_and_elapsed() -> None:
    assert time_gaps([]) == () and elapsed([]) is None
    assert time_gaps([5.0]) == (0.0,)
    gaps = time_gaps([10.0, 10.5, 10.25, None, 20.0])
    assert gaps[:3] == (0.0, 0.5, 0.0)  # a step back in time is clipped to 0
    assert math.isnan(gaps[3]) and math.isnan(gaps[4])  # unknown time, and the line after it
    assert math.isnan(time_gaps([None, 1.0])[0]) is True
    assert elapsed([10.0, None, 13.5]) == 3.5 and elapsed([None, None]) is None


NOVA = (
    "nova-compute.log.1.2017-05-16_13:55:31 2017-05-16 00:00:{s:06.3f} 2931 INFO nova.compute.manager "
    "[req-3ea4052c-895d-4b64-9e2d-04d64c4d94ab - - - - -] [instance: {uuid}] {msg}"
)


def _nova_log(path: Path, spawn_seconds: list[float]) -> Path:
    lines = []
    for i, took in enumerate(spawn_seconds):
        uuid = f"{i:08d}-fe1a-409b-b8cc-1e88b294cd1d"
        t0 = i * 0.5
        lines.append(NOVA.format(s=t0, uuid=uuid, msg="VM Started (Lifecycle Event)"))
        lines.append(NOVA.format(s=t0 + 0.25, uuid=uuid, msg=f"Took {took:.2f} seconds to spawn the instance"))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_session_signals_from_a_raw_log(tmp_path: Path) -> None:
    config = load_config(None, {}, preset="openstack")
    log = _nova_log(tmp_path / "nova.log", [19.5, 20.0, 20.5, 42.0])
    corpus = read_corpus(log, config, label=0)
    parser = LogParser(config.parser).fit(ln.content for ln in corpus.lines)
    (seqs,), _ = key_sessions(corpus, [list(corpus.line_sessions)], parser)
    rows = line_rows(corpus)
    schema = fit_slot_schema(corpus, [rows[s.session_id] for s in seqs], parser)
    signals = corpus_signals(corpus, seqs, rows, parser, schema)
    assert [len(s) for s in signals] == [len(s.key_ids) for s in seqs] == [2, 2, 2, 2]
    last = signals[-1]
    assert last.gaps == (0.0, 0.25) and last.elapsed == 0.25 and last.session_id == seqs[-1].session_id
    assert last.values == ((None,), (None, 42.0))  # the instance id is an id; the spawn time in s
    assert last.window(1, 2).values == ((None, 42.0),)
    # the pure function gives the same for one session's lines
    lines = [corpus.lines[i] for i in rows[seqs[0].session_id]]
    assert session_signals(lines, seqs[0].key_ids, parser, schema, seqs[0].session_id) == signals[0]
    with pytest.raises(ValueError, match="lines"):
        session_signals(lines, [0], parser, schema)


def test_session_signals_without_timestamps() -> None:
    parser = LogParser(ParserConfig(format="raw")).fit(["took 5 ms", "took 7 ms"])
    schema = infer_slot_schema(parser.templates_, [(0, ["5"]), (0, ["7"]), (0, ["6"])])
    lines = [LogLine(1, "took 5 ms"), LogLine(2, "took 900 ms")]
    sig = session_signals(lines, [0, 0], parser, schema)
    assert math.isnan(sig.gaps[0]) and sig.elapsed is None
    assert sig.values == ((0.005,), (0.9,))


def test_key_file_corpus_switches_the_signals_off(tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("1 2 3\n2 3\n")
    config = load_config(None, {}, preset="keys")
    corpus = read_corpus(keys, config, label=0, kind="keys")
    signals = corpus_signals(corpus, corpus.key_sequences, {}, None, None)
    assert [len(s) for s in signals] == [3, 2]
    assert all(math.isnan(g) for s in signals for g in s.gaps) and signals[0].elapsed is None


# ------------------------------------------------------------------ logbert parse --typed
def test_typed_structured_output(tmp_path: Path) -> None:
    config = load_config(None, {}, preset="openstack")
    log = _nova_log(tmp_path / "nova.log", [19.5, 20.0, 20.5, 42.0])
    summary = parse(log, config)
    assert summary.schema is None
    n = write_structured(summary, config, tmp_path / "rows.jsonl", typed=True)
    rows = [json.loads(line) for line in (tmp_path / "rows.jsonl").read_text().splitlines()]
    assert n == len(rows) == 8
    assert list(rows[0]).index("values") == list(rows[0]).index("parameters") + 1
    spawn = [r for r in rows if r["content"].startswith("[instance") and "Took" in r["content"]]
    assert [r["values"][1] for r in spawn] == [19.5, 20.0, 20.5, 42.0]
    assert all(r["values"][0] is None for r in spawn)  # the instance id
    assert write_structured(summary, config, tmp_path / "rows.csv", typed=True) == 8
    with (tmp_path / "rows.csv").open() as f:
        csv_rows = list(csv.DictReader(f))
    assert [json.loads(r["values"]) for r in csv_rows] == [r["values"] for r in rows]
    write_parse_summary(summary, tmp_path / "summary.json")
    written = json.loads((tmp_path / "summary.json").read_text())
    assert SlotSchema.from_dict(written["slot_schema"]) == summary.schema
    # untyped: the rows as before, no values column, no schema in the summary
    write_structured(summary, config, tmp_path / "plain.jsonl")
    assert "values" not in json.loads((tmp_path / "plain.jsonl").read_text().splitlines()[0])


def test_typed_parquet(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    config = load_config(None, {}, preset="openstack")
    summary = parse(_nova_log(tmp_path / "nova.log", [19.5, 20.0]), config)
    assert write_structured(summary, config, tmp_path / "rows.parquet", typed=True) == 4
    table = pq.read_table(tmp_path / "rows.parquet").to_pylist()
    assert [json.loads(r["values"]) for r in table][1] == [None, 19.5]


def test_slot_schema_sample_stops_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = LogBertConfig(parser=ParserConfig(format="raw"))
    log = tmp_path / "x.log"
    log.write_text("\n".join(f"took {i % 7} ms" for i in range(500)) + "\n")
    summary = parse(log, config)
    schema = slot_schema(summary, sample=20)
    assert schema.slots[0][0].n == 20 and summary.schema is schema


def test_real_openstack_slots() -> None:
    path = dataset_path("openstack/deeplog_openstack/openstack_normal1.instance_lines.log")
    config = load_config(None, {}, preset="openstack")
    summary = parse(path, config)
    schema = slot_schema(summary)
    templates = summary.templates
    took_build = next(k for k, t in enumerate(templates) if "seconds to build instance" in t)
    slot = schema.slots[took_build][1]
    assert slot.kind == "number" and slot.unit == "s"
    lo, hi = slot.training_range or (0.0, 0.0)
    assert 15.0 < lo < hi < 25.0  # normal1 builds take about 20 s
    claim = next(k for k, t in enumerate(templates) if t.endswith("vcpus <*> CPU"))
    assert [t.unit for t in schema.slots[claim][1:]] == ["B", "B", "count"]
    assert schema.slots[claim][2].display(schema.slots[claim][2].quantiles[4]) == "20 GB"


# ------------------------------------------------------------------ words Drain merged into one wildcard
def _dpkg_lines(n: int = 30) -> list[str]:
    states = ("installed", "unpacked", "half-configured")
    return [f"status {states[i % 3]} pkg{i}:amd64 1.{i}-2+deb12u1" for i in range(n)]


def test_a_few_words_in_one_bare_slot_after_a_template_word_are_state_candidates() -> None:
    from logbert.parsing.params import merged_state_words, state_words_hint

    templates = ["status <*> <*> <*>", "user <*> logged in", "took <*> ms", "got <*> <*> done", "at <*>"]
    rows = [(0, ["installed" if i % 2 else "unpacked", f"p{i}:amd64", f"1.{i}"]) for i in range(30)]
    rows += [(1, [f"user{i}"]) for i in range(30)]  # names: many, and with digits
    rows += [(2, [str(i)]) for i in range(30)]  # numbers
    rows += [(3, [f"id{i}", "ok" if i % 2 else "warm"]) for i in range(30)]  # words after a wildcard: a run of them
    rows += [(4, ["start" if i % 2 else "stop"]) for i in range(10)]  # too few lines to tell
    schema = infer_slot_schema(templates, rows)
    found = merged_state_words(templates, schema)
    assert found == [(0, ("installed", "unpacked"))]
    hint = state_words_hint(templates, found)
    assert "'status <*> <*> <*>' for installed, unpacked" in hint
    assert """--set 'parser.extra_outcome_words=["installed","unpacked"]'""" in hint
    assert state_words_hint(templates, []) == ""
    many = [(0, [f"w{chr(97 + i % 26)}{chr(97 + i // 26)}x", "p", "1"]) for i in range(200)]  # 26 x 8 distinct words
    assert merged_state_words(templates, infer_slot_schema(templates, many)) == []
    said = [(0, ["(installed):" if i % 2 else "unpacked,", "p", "1"]) for i in range(30)]  # a sentence's punctuation
    assert merged_state_words(templates, infer_slot_schema(templates, said)) == [(0, ("installed", "unpacked"))]
    code = [(0, ["_spawn" if i % 2 else "_build_resources", "p", "1"]) for i in range(30)]  # a traceback's functions
    assert merged_state_words(templates, infer_slot_schema(templates, code)) == []


def test_parse_says_which_words_drain_merged_and_the_printed_set_keeps_them_apart(tmp_path: Path) -> None:
    """What a new user does with dpkg.log: parse, read the warning, copy its --set, parse again."""
    from typer.testing import CliRunner

    from logbert.cli import app

    log = tmp_path / "dpkg.log"
    log.write_text("\n".join(_dpkg_lines()) + "\n", encoding="utf-8")
    runner = CliRunner()
    first = runner.invoke(app, ["parse", str(log)], env={"COLUMNS": "400"})
    assert first.exit_code == 0, first.output
    printed = " ".join(first.output.split())
    assert "'status <*> <*> <*>' for" in printed and "1 templates" in printed
    suggested = printed.split("--set '")[1].split("'")[0]
    assert suggested.startswith("parser.extra_outcome_words=[")
    second = runner.invoke(app, ["parse", str(log), "--set", suggested], env={"COLUMNS": "400"})
    assert second.exit_code == 0, second.output
    assert "3 templates" in " ".join(second.output.split()) and "one template stands" not in second.output


def test_words_with_punctuation_are_named_bare_and_the_printed_set_keeps_them_apart(tmp_path: Path) -> None:
    """apt's term.log: "Log started: <date>" and "Log ended: <date>" are one template; the words carry a colon, which
    Drain's outcome words are compared without, so the hint names them without it."""
    from typer.testing import CliRunner

    from logbert.cli import app

    log = tmp_path / "term.log"
    blocks = [f"Log started: 2025-06-{d:02d}  14:36:25\nSetting up pkg{d} ...\nLog ended: 2025-06-{d:02d}  14:36:29"
              for d in range(1, 16)]
    log.write_text("\n".join(blocks) + "\n", encoding="utf-8")
    runner = CliRunner()
    first = runner.invoke(app, ["parse", str(log)], env={"COLUMNS": "400"})
    assert first.exit_code == 0, first.output
    printed = " ".join(first.output.split())
    assert """--set 'parser.extra_outcome_words=["ended","started"]'""" in printed, printed
    suggested = printed.split("--set '")[1].split("'")[0]
    second = runner.invoke(app, ["parse", str(log), "--set", suggested], env={"COLUMNS": "400"})
    assert second.exit_code == 0, second.output
    apart = " ".join(second.output.split())
    assert "Log started: <*>" in apart and "Log ended: <*>" in apart and "one template stands" not in apart


def test_a_json_object_read_as_text_is_not_said_to_merge_outcome_words(tmp_path: Path) -> None:
    """Docker's json-file lines around an app's JSON log: the reader warns that the messages are JSON objects and how
    to read them; parse also named their keys and values ("cache", "GET", "hit", "query", "ttl_s") as outcome words
    to keep apart, advice that contradicts it."""
    import json

    from typer.testing import CliRunner

    from logbert.cli import app

    flow = [  # a request's lines: keys follow the event, as an app's structured log writes them
        ("info", "GET /products", {"query": "q=socks"}),
        ("debug", "cache lookup", {"hit": False}),
        ("info", "db query done", {"rows": 2, "duration_ms": 28}),
        ("info", "cache stored", {"ttl_s": 60}),
    ]
    lines = []
    for i in range(240):
        level, msg, extra = flow[i % 4]
        app_line = {"ts": f"2026-12-02T04:00:{i % 60:02d}.{i:03d}Z", "level": level, "msg": msg,
                    "trace_id": f"{i // 4:012x}", "service": "catalog", **extra}  # fmt: skip
        lines.append(json.dumps({"log": json.dumps(app_line) + "\n", "stream": "stdout", "time": app_line["ts"]}))
    log = tmp_path / "docker.log"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = CliRunner().invoke(app, ["parse", str(log), "--set", "parser.format=json"], env={"COLUMNS": "400"})
    assert out.exit_code == 0, out.output
    assert "are JSON objects themselves" in out.output and "extra_outcome_words" not in out.output, out.output


def test_train_warns_about_merged_words_from_its_own_training_lines(tmp_path: Path) -> None:
    from logbert.pipeline.signals import merged_state_words_warning
    from logbert.pipeline.split import split_and_key

    log = tmp_path / "dpkg.log"
    log.write_text("\n".join(_dpkg_lines(60)) + "\n", encoding="utf-8")
    config = LogBertConfig().with_overrides({"window.session_pattern": r"(pkg\d+:amd64)"})
    corpus = read_corpus(log, config)
    split = split_and_key(corpus, config, what="dpkg.log")
    warning = merged_state_words_warning(corpus, split.train, split.parser)
    assert "extra_outcome_words" in warning and "half-configured" in warning
    assert merged_state_words_warning(corpus, split.train, split.parser, max_lines=5) == ""  # 5 lines: too few
    apart = config.with_overrides({"parser.extra_outcome_words": ["installed", "unpacked", "half-configured"]})
    split = split_and_key(read_corpus(log, apart), apart, what="dpkg.log")
    assert merged_state_words_warning(corpus, split.train, split.parser) == ""


def test_parse_warns_when_nearly_every_line_is_a_template_of_its_own(tmp_path: Path) -> None:
    """apt's history.log: each `Install:` line lists other packages, so Drain makes one template a line."""
    from logbert.pipeline.parse import template_count_warning

    lists = [f"Install: {' '.join(f'pkg{j}{chr(97 + (i + j) % 26)}' for j in range(i % 7 + 3))}" for i in range(60)]
    (tmp_path / "lists.log").write_text("\n".join(lists) + "\n")
    summary = parse(tmp_path / "lists.log", LogBertConfig())
    warning = template_count_warning(summary)
    assert warning.startswith(f"{len(summary.templates)} templates for 60 lines") and "seen once" in warning
    steady = [f"job {i} {w}" for i in range(30) for w in ("started", "finished")]
    (tmp_path / "jobs.log").write_text("\n".join(steady) + "\n")
    assert template_count_warning(parse(tmp_path / "jobs.log", LogBertConfig())) == ""


def test_explanations_show_huge_numbers_in_powers_of_ten_not_as_hundreds_of_digits() -> None:
    """'queue depth 1e308' was explained as a 309-digit integer, and 10**41 as a number that is not in the log."""
    assert readable_number(1e308) == "1e+308" and readable_number(float(10**41)) == "1e+41"
    assert readable_number(42.123) == "42.1" and readable_number(65536.4) == "65536"
    assert readable_number(-2500.0) == "-2500"
    assert readable_number(float("inf")) == "inf" and readable_number(123456789.0) == "123456789"


def test_numbers_joined_by_a_slash_are_said_with_the_delimiter_that_reads_them() -> None:
    """HAProxy's timers "0/0/1/9/11" are one token of five masked numbers: an id to the slot schema, so a time- and
    value-aware model never read a burst of 5-15 s responses. Said with the setting that splits them; not for a
    date's three parts, nor once "/" splits tokens."""
    from logbert.parsing.params import joined_numbers_hint

    haproxy = "<*> [<*>] fe_web be_api/api1 <*>/<*>/<*>/<*>/<*> <*> <*> - - ---- <*>/<*>/<*>/<*>/<*> <*>/<*>"
    said = joined_numbers_hint([haproxy, "GET /api/items/<*> HTTP/<*>"], ())
    assert said.startswith("1 template holds numbers joined by '/'") and 'drain_extra_delimiters=["/"]' in said
    assert joined_numbers_hint([haproxy], ("/",)) == ""
    assert joined_numbers_hint(["backup of <*>/<*>/<*> done", "GET /api/items/<*>"], ()) == ""
