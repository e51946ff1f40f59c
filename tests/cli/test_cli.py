"""CLI: thin commands over the api; argument wiring, exit codes, and one real demo run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from logbert import api
from logbert.cli import app
from logbert.errors import InputDataError
from logbert.results import exceeds

runner = CliRunner()


def test_train_passes_config_and_labels(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: dict[str, Any] = {}

    def fake_train(data: Path, out: Path, config: Any, **kwargs: Any) -> Any:
        calls.update(data=data, out=out, config=config, **kwargs)
        raise InputDataError("stop here")

    monkeypatch.setattr(api, "train", fake_train)
    result = runner.invoke(
        app,
        ["train", "x.log", "-o", str(tmp_path), "--preset", "hdfs", "--labels", "l.csv", "--set", "train.epochs=3"],
    )
    assert result.exit_code == 1 and "stop here" in result.output
    assert calls["data"] == Path("x.log") and calls["labels"] == Path("l.csv")
    assert calls["config"].parser.format == "hdfs" and calls["config"].train.epochs == 3


@pytest.mark.parametrize(("calibration", "said"), [("split", "validated on 14,"), ("cross_fit", "out of fold")])
def test_train_says_how_its_sessions_were_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, calibration: str, said: str
) -> None:
    """Cross-fit trains the final model on every session and scores each out of fold: not "validated on" as many as
    it trained on."""
    from types import SimpleNamespace

    from logbert.parsing.reader import ReadReport

    n_val = 140 if calibration == "cross_fit" else 14
    result = SimpleNamespace(
        n_train_sessions=140, n_train_windows=140, n_val_sessions=n_val, n_test_sessions=35, n_templates=5,
        epochs_run=3, train_seconds=1.0, read_report=ReadReport(n_lines=10, n_parsed=10), threshold=0.5,
        threshold_basis="basis", artifact_dir=tmp_path, warnings=[], notes=[], calibration=calibration,
    )
    monkeypatch.setattr(api, "train", lambda *a, **k: result)
    out = runner.invoke(app, ["train", "x.log", "-o", str(tmp_path)], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    assert "trained on 140 sessions" in text and said in text
    assert ("validated on 140" not in text) and (("out of fold" in text) == (calibration == "cross_fit"))


@pytest.mark.parametrize(
    "args",
    [
        ["train", "x.log", "-o", "out", "--preset", "nope"],
        ["train", "x.log", "-o", "out", "--set", "train.epochs=0"],
        ["train", "x.log", "-o", "out", "--set", "model.nope=1"],
        ["evaluate", "no-such-artifact"],
        ["score", "no-such-artifact", "x.log"],
    ],
)
def test_user_mistakes_exit_1_with_a_message(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "error:" in result.output and "Traceback" not in result.output


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["demo", "--out", str(tmp_path), "--instances", "60", "--epochs", "2"], env={"COLUMNS": "160"}
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "report.json").is_file() and (tmp_path / "artifact" / "model.safetensors").is_file()
    assert "LogBERT" in result.output and "new_event" in result.output


def test_parse_and_score_commands(tmp_path: Path) -> None:
    demo = runner.invoke(app, ["demo", "--out", str(tmp_path), "--instances", "40", "--epochs", "1"])
    assert demo.exit_code == 0, demo.output
    log = tmp_path / "data" / "nova.log"
    parsed = runner.invoke(app, ["parse", str(log), "--preset", "openstack", "-o", str(tmp_path / "t.json")])
    assert parsed.exit_code == 0 and (tmp_path / "t.json").is_file()
    scored = runner.invoke(app, ["score", str(tmp_path / "artifact"), str(log), "-o", str(tmp_path / "s.jsonl")])
    assert scored.exit_code == 0, scored.output
    assert len((tmp_path / "s.jsonl").read_text().splitlines()) == 40


def test_help_does_not_import_torch() -> None:
    """`logbert --help` must answer at once: the CLI imports the library (and torch) per command."""
    import subprocess
    import sys

    code = "import sys, logbert.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "False"


def test_evaluate_cli_report_beside_the_artifact_and_skipped_baselines_said(tmp_path: Path) -> None:
    from logbert.datasets.simulator import write_simulated

    demo = runner.invoke(app, ["demo", "--out", str(tmp_path), "--instances", "40", "--epochs", "1"])
    assert demo.exit_code == 0, demo.output
    artifact = tmp_path / "artifact"
    # another day's log: none of its sessions trained this artifact, so the baselines cannot be fitted
    other = write_simulated(tmp_path / "other", n_instances=30, anomaly_ratio=0.3, seed=7)
    result = runner.invoke(
        app, ["evaluate", str(artifact), str(other.log), "--labels", str(other.labels)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert (artifact / "report.json").is_file()
    said = " ".join(result.output.split())  # rich wraps long lines
    assert "baseline new_event not run" in said and "not in the evaluated input" in said
    own = tmp_path / "data"
    fitted = runner.invoke(
        app,
        ["evaluate", str(artifact), str(other.log), "--labels", str(other.labels), "--training", str(own / "nova.log")],
        env={"COLUMNS": "200"},
    )
    assert fitted.exit_code == 0, fitted.output
    assert "not run" not in fitted.output and "new_event" in fitted.output  # fitted on the training log's sessions
    again = runner.invoke(
        app, ["evaluate", str(artifact), str(own / "nova.log"), "--labels", str(own / "instance_labels.csv")],
        env={"COLUMNS": "200"},
    )
    assert again.exit_code == 0, again.output
    said = " ".join(again.output.split())
    assert "sessions of the input were training or validation sessions of the artifact: left out" in said
    assert "scored as new sessions" not in said  # the same log: every id is the training session itself
    # a read-only artifact folder (here: a folder where report.json would go) failed after the whole evaluation,
    # and printed nothing of it
    (artifact / "report.json").unlink()
    (artifact / "report.json").mkdir()
    blocked = runner.invoke(
        app, ["evaluate", str(artifact), str(other.log), "--labels", str(other.labels)], env={"COLUMNS": "200"}
    )
    said = " ".join(blocked.output.split())
    assert blocked.exit_code == 1 and "LogBERT" in said and "Traceback" not in said, said  # the results, then
    assert f"the report could not be written to {artifact / 'report.json'}" in said and "--report FILE" in said
    unlabelled = runner.invoke(app, ["evaluate", str(artifact), str(other.log)])
    assert unlabelled.exit_code == 1 and "has no labels" in " ".join(unlabelled.output.split())
    # what the reader says of an input, as `score` says it (evaluate said nothing of lines ended by a bare CR)
    lines = other.log.read_text().splitlines(keepends=True)
    cr_log = tmp_path / "cr.log"
    cr_log.write_text("".join(ln.replace("\n", "\r") if i < 40 else ln for i, ln in enumerate(lines)))
    elsewhere = ["--report", str(tmp_path / "r.json")]  # the artifact folder is read-only by now (above)
    warned = runner.invoke(app, ["evaluate", str(artifact), str(cr_log), "--labels", str(other.labels), *elsewhere])
    assert warned.exit_code == 0, warned.output
    assert "warning:" in warned.output and "ended by a carriage return alone" in " ".join(warned.output.split())
    parsed = runner.invoke(app, ["parse", str(other.log), "--preset", "openstack"], env={"COLUMNS": "200"})
    assert parsed.exit_code == 0 and "[instance: <*>]" in parsed.output.replace("[instance:<*>]", "[instance: <*>]")


@pytest.mark.parametrize("epochs_done", [0, 1])
def test_an_interrupted_training_says_whether_resume_can_go_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, epochs_done: int
) -> None:
    """Ctrl-C during `logbert train` ended it with exit code 130 and not a word."""

    def interrupted(data: Path, out: Path, *_: Any, **__: Any) -> Any:
        if epochs_done:
            (out / "checkpoint").mkdir(parents=True)
            (out / "checkpoint" / "state.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "train", interrupted)
    typed = ["train", "x.log", "-o", str(tmp_path / "art"), "--preset", "hdfs", "--set", "train.epochs=3"]
    result = runner.invoke(app, typed, env={"COLUMNS": "300"})
    said = " ".join(result.output.split())
    assert result.exit_code == 130 and "interrupted" in said, said
    # the settings go with the command to paste: without them it trained with the defaults
    again = f"logbert train x.log -o {tmp_path / 'art'} --preset hdfs --set train.epochs=3"
    if epochs_done:
        assert f"`{again} --resume` with the same settings continues" in said
    else:
        assert f"no checkpoint to resume from (`{again}` starts over)" in said


def test_ctrl_c_in_score_is_said_and_exits_130(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """score and parse ended with exit code 130 and not a word on Ctrl-C (a 4x HDFS log, 38 s of work)."""

    def interrupted(*_: Any, **__: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "load_detector", interrupted)
    log = tmp_path / "x.log"
    log.write_text("a line\n")
    result = runner.invoke(app, ["score", "art", str(log)], env={"COLUMNS": "300"})
    assert result.exit_code == 130 and "interrupted: stopped before its end" in result.output, result.output


def test_error_text_with_brackets_reaches_the_screen(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_train(*_: Any, **__: Any) -> Any:
        raise InputDataError("no session in '[instance: abc] VM Started' [req-1]")

    monkeypatch.setattr(api, "train", fake_train)
    result = runner.invoke(app, ["train", "x.log", "-o", "out"])
    assert result.exit_code == 1 and "[instance: abc] VM Started' [req-1]" in " ".join(result.output.split())


def test_errors_and_warnings_are_one_line_at_80_columns(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Errors and warnings carry settings to paste (`--set 'window.session_pattern=\\b(...)\\b'`): at 80 columns
    Rich broke them (on a terminal, and in `2>hint.txt`), and the pasted regex had a line break in it."""
    from types import SimpleNamespace

    from logbert.parsing.reader import ReadReport

    hint = r"--set 'window.session_pattern=\b([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\b'"
    said = f"no line names a session id (pattern 'task_id=(\\S+)'); ids like these: {hint} reads them"

    def fails(*args: Any, **kwargs: Any) -> Any:
        raise InputDataError(said)

    monkeypatch.setattr(api, "train", fails)
    error = runner.invoke(app, ["train", "x.log", "-o", str(tmp_path)], env={"COLUMNS": "80"})
    assert error.exit_code == 1 and f"error: {said}\n" in error.output, error.output
    result = SimpleNamespace(
        n_train_sessions=1, n_train_windows=1, n_val_sessions=1, n_test_sessions=1, n_templates=1, epochs_run=1,
        train_seconds=1.0, read_report=ReadReport(n_lines=1, n_parsed=1), threshold=0.5, threshold_basis="basis",
        artifact_dir=tmp_path, warnings=[said], notes=[said], calibration="split",
    )
    monkeypatch.setattr(api, "train", lambda *a, **k: result)
    trained = runner.invoke(app, ["train", "x.log", "-o", str(tmp_path)], env={"COLUMNS": "80"})
    assert trained.exit_code == 0 and f"warning: {said}\n" in trained.output and f"note: {said}\n" in trained.output


def test_score_reads_stdin_takes_a_threshold_and_prints_a_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    demo = runner.invoke(app, ["demo", "--out", str(tmp_path), "--instances", "40", "--epochs", "1"])
    assert demo.exit_code == 0, demo.output
    artifact, log = tmp_path / "artifact", tmp_path / "data" / "nova.log"
    scored = runner.invoke(app, ["score", str(artifact), "-", "--threshold", "0.5"], input=log.read_bytes())
    assert scored.exit_code == 0, scored.output
    rows = [json.loads(line) for line in scored.stdout.splitlines()]
    assert len(rows) == 40 and all(r["threshold"] == 0.5 for r in rows)
    assert all(r["is_anomaly"] == exceeds(r["anomaly_score"], 0.5) for r in rows)
    assert all(r["first_line_no"] <= r["last_line_no"] and r["start_time"] for r in rows)
    assert "given (--threshold), not the artifact's" in scored.stderr
    # blank standard input is said to be, as tail says it: not the name of the temporary file it was copied to
    blank = runner.invoke(app, ["score", str(artifact), "-"], input=b"\n  \n")
    assert blank.exit_code == 1 and "standard input is empty: it ended with no line but blank ones" in blank.output
    assert "logbert-stdin" not in blank.output
    # at full precision (rounded to 6 digits, ties appeared that evaluate's AUPRC does not have)
    exact = {r.session_id: r.score for r in api.score(api.load_detector(artifact), log)}
    assert all(r["anomaly_score"] == exact[r["session_id"]] for r in rows)
    table = runner.invoke(app, ["score", str(artifact), str(log), "--format", "table"], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "first time" in table.output and "40 sessions" in table.output
    # -o and --explain were ignored by the table: it went to the screen, without the explanations
    low = ["--threshold", "0.01", "--format", "table", "--explain"]
    written = runner.invoke(app, ["score", str(artifact), str(log), *low, "-o", str(tmp_path / "t.txt")])
    assert written.exit_code == 0 and "written to" in written.output and "first time" not in written.output
    text = (tmp_path / "t.txt").read_text()
    assert "first time" in text and "why (the worst window" in text and "expected" in text
    # a terminal gets the highest-scoring rows and is told so; a file every row it says it holds (it said "table of
    # 60 sessions written" and held 50)
    monkeypatch.setattr("logbert.cli.pipeline.TABLE_ROWS_SHOWN", 10)
    top = runner.invoke(app, ["score", str(artifact), str(log), "--format", "table"], env={"COLUMNS": "200"})
    assert top.exit_code == 0 and "the 10 highest-scoring of 40 sessions shown" in top.output
    assert sum(r["session_id"][:24] in top.output for r in rows) == 10  # ids are folded where the table is narrow
    runner.invoke(app, ["score", str(artifact), str(log), "--format", "table", "-o", str(tmp_path / "all.txt")])
    assert all(r["session_id"] in (tmp_path / "all.txt").read_text() for r in rows)  # 200 columns: whole ids
    assert "…" not in top.output  # an id is folded, never cut
    # nothing anomalous: one line instead of the explanations' header over no row
    calm = runner.invoke(app, ["score", str(artifact), str(log), "--threshold", "1e9", *low[2:]])
    assert calm.exit_code == 0 and "no anomalous session to explain" in calm.output, calm.output
    assert "why (the worst" not in calm.output
    only = runner.invoke(app, ["score", str(artifact), str(log), "--threshold", "1e9", "--only-anomalies"])
    assert only.exit_code == 0 and only.stdout == "" and "40 sessions, 0 anomalous" in only.stderr  # all scored
    bad = runner.invoke(app, ["score", str(artifact), str(log), "--format", "xml"])
    assert bad.exit_code == 2
    nan = runner.invoke(app, ["score", str(artifact), str(log), "--threshold", "nan"])  # would flag nothing, ever
    assert nan.exit_code == 1 and "finite" in nan.output and "Traceback" not in nan.output
    on_cpu = runner.invoke(app, ["score", str(artifact), str(log), "--device", "cpu", "--threshold", "0.5"])
    assert on_cpu.exit_code == 0 and on_cpu.stdout == scored.stdout
    if not torch.cuda.is_available():  # a GPU the machine lacks: said plainly, no traceback
        gpu = runner.invoke(app, ["score", str(artifact), str(log), "--device", "cuda"])
        assert gpu.exit_code == 1 and "no CUDA GPU" in gpu.output and "Traceback" not in gpu.output
        store = tmp_path / "alerts.sqlite3"
        serve = ["serve", str(artifact), "--alerts-db", str(store)]
        for streaming in (["tail", str(log), "-a", str(artifact), "--no-follow"], serve):
            gpu = runner.invoke(app, [*streaming, "--device", "cuda"])
            assert gpu.exit_code == 1 and "no CUDA GPU" in gpu.output and "Traceback" not in gpu.output, gpu.output
        assert not store.exists()  # refused before anything was created


def test_verbose_is_accepted_after_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import logbert.cli as cli

    seen: list[bool] = []
    monkeypatch.setattr(cli, "setup_logging", seen.append)
    monkeypatch.setattr("sys.argv", ["logbert", "version", "-v"])
    with pytest.raises(SystemExit) as done:
        cli.main()
    assert done.value.code == 0 and seen == [True]


def test_outputs_are_checked_before_the_work_and_os_errors_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "a-dir").mkdir()
    log = tmp_path / "x.log"
    log.write_text("line\n")
    scored = runner.invoke(
        app, ["score", "no-such-artifact", str(log), "-o", str(tmp_path / "a-dir")], env={"COLUMNS": "300"}
    )
    assert scored.exit_code == 2 and "is a directory" in scored.output  # before loading anything
    trained = runner.invoke(app, ["train", str(log), "-o", str(log)])
    assert trained.exit_code == 1 and "is a file" in " ".join(trained.output.split())
    bad = runner.invoke(app, ["parse", str(log), "--set", 'parser.masks=[{"name": "x", "pattern": "([a-"}]'])
    assert bad.exit_code == 1 and "not a valid regex" in " ".join(bad.output.split())
    odd = runner.invoke(app, ["train", str(tmp_path / "[/x].log"), "-o", str(tmp_path / "o")])
    assert odd.exit_code == 1 and "[/x].log" in " ".join(odd.output.split())  # markup in a path is text


def test_presets_command_lists_presets_and_formats_apart() -> None:
    result = runner.invoke(app, ["presets"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    presets_part, _, formats_part = result.output.partition("header formats")
    for name in ("openstack", "openstack_devstack", "hdfs", "bgl", "thunderbird", "access", "keys"):
        assert f" {name} " in presets_part
    assert any(line.startswith("│ raw ") for line in formats_part.splitlines())  # a format, not a preset
    assert not any(line.startswith("│ raw ") for line in presets_part.splitlines())
    assert r"\[<ADDR>\]" in formats_part  # the layout regex printed as it is, not eaten as markup
    wrong = runner.invoke(app, ["parse", "x.log", "--preset", "raw"], env={"COLUMNS": "200"})
    assert wrong.exit_code != 0 and "--set parser.format=raw" in " ".join(wrong.output.split())


def test_a_quoted_set_value_json_cannot_read_is_the_text_inside_its_quotes() -> None:
    from logbert.cli._common import parse_overrides

    got = parse_overrides(['window.session_pattern="request_id=(\\S+)"', "a='x y'", 'b="ok"', "c=5", "d=plain"])
    assert got == {"window.session_pattern": r"request_id=(\S+)", "a": "x y", "b": "ok", "c": 5, "d": "plain"}
    # JSON reads "\b" as a backspace: a regex's word boundary was lost without a word
    assert parse_overrides(['window.session_pattern="\\b([0-9a-f]{8})\\b"', 'e="a\\tb"']) == {
        "window.session_pattern": r"\b([0-9a-f]{8})\b", "e": "a\tb"
    }


def test_no_output_option_writes_over_its_input(tmp_path: Path) -> None:
    """`score -o LOG`, `parse --out/--structured LOG` and `evaluate --report LOG` replaced (or emptied) the log they
    read; a link to it is the same file."""
    log = tmp_path / "x.log"
    log.write_text("line one\nline two\n")
    (tmp_path / "link.log").symlink_to(log)
    runs = [
        ["score", "no-such-artifact", str(log), "-o", str(log)],
        ["parse", str(log), "--out", str(log)],
        ["parse", str(log), "--structured", str(tmp_path / "link.log")],
        ["evaluate", "no-such-artifact", str(log), "--labels", str(log), "--report", str(tmp_path / "link.log")],
    ]
    for args in runs:
        result = runner.invoke(app, args, env={"COLUMNS": "300"})
        assert result.exit_code == 2 and "would overwrite it" in result.output, (args, result.output)
        assert log.read_text() == "line one\nline two\n"


@pytest.mark.parametrize("command", [["score", "no-such-artifact", "x.log"], ["tail", "no-such-artifact", "x.log"]])
def test_target_fpr_declares_the_open_range_it_takes(command: list[str]) -> None:
    """0 and 1 are no false-alarm rate a threshold can be calibrated for: the help said [0.0<=x<=1.0], then the
    library refused both after the model had loaded."""
    shown = " ".join(runner.invoke(app, [command[0], "--help"], env={"COLUMNS": "200"}).output.split())
    assert "0.0<=x<=1.0" not in shown and "in (0, 1) with 0 and 1 excluded" in shown
    for value in ("0", "1", "-0.5", "nan"):
        result = runner.invoke(app, [*command, "--target-fpr", value], env={"COLUMNS": "200"})
        text = " ".join(result.output.split())
        assert result.exit_code == 2 and "Invalid value for '--target-fpr'" in text and "(0, 1)" in text, text


def test_paths_that_exist_are_named_for_what_they_are(tmp_path: Path) -> None:
    """A directory given as the log is a directory for score as for parse (score said "input file not found");
    a log given as the artifact is a file (score said "artifact directory not found" of a file that is there)."""
    log = tmp_path / "x.log"
    log.write_text("line\n")
    for command in (["score", str(tmp_path), str(tmp_path)], ["parse", str(tmp_path)]):
        result = runner.invoke(app, command, env={"COLUMNS": "300"})
        assert result.exit_code == 1 and f"got a directory: {tmp_path}" in result.output, result.output
        assert "not found" not in result.output
    for command in (["score", str(log), str(log)], ["evaluate", str(log)], ["serve", str(log)]):
        result = runner.invoke(app, command, env={"COLUMNS": "300"})
        said = " ".join(result.output.split())
        assert result.exit_code == 1 and f"{log} is a file, not an artifact directory" in said, said
        assert "not found" not in said


def test_evaluate_takes_baselines_comma_separated_as_docs_time_values_writes_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: dict[str, Any] = {}

    def fake_evaluate(*args: Any, **kwargs: Any) -> Any:
        calls.update(kwargs)
        raise InputDataError("stop here")

    monkeypatch.setattr(api, "evaluate", fake_evaluate)
    args = ["evaluate", "art", "x.log", "--baseline", "param_outlier,session_duration", "--baseline", "time_gap"]
    assert runner.invoke(app, args).exit_code == 1
    assert calls["baselines"] == ["param_outlier", "session_duration", "time_gap"]


def test_an_unknown_baseline_is_refused_before_any_work_and_one_name_is_one_baseline() -> None:
    """A time- and value-aware artifact skipped the name check, and a string was read letter by letter."""
    from logbert.errors import ConfigError, UnknownArtifact

    with pytest.raises(ConfigError, match="unknown baseline 'nope'"):
        api.evaluate("no-such-artifact", "x.log", baselines=["new_event", "nope"])  # before the artifact loads
    with pytest.raises(UnknownArtifact, match="artifact directory not found"):  # a string is one name
        api.evaluate("no-such-artifact", "x.log", baselines="new_event")


@pytest.mark.parametrize(
    "args",
    [
        ["ship", "x.log", "--source", "nats://127.0.0.1:1", "--partitions", "0"],  # a stream of 0 partitions was made
        ["ship", "x.log", "--source", "nats://127.0.0.1:1", "--batch-lines", "0"],
        ["worker", "art", "--source", "nats://127.0.0.1:1", "--alerts-db", "postgresql://x", "--lease-ttl", "0"],
        ["worker", "art", "--source", "nats://127.0.0.1:1", "--alerts-db", "postgresql://x", "--idle-timeout", "-1"],
        ["worker", "art", "--source", "nats://127.0.0.1:1", "--alerts-db", "postgresql://x", "--partitions", "-3"],
    ],
)
def test_queue_options_out_of_range_are_refused_before_anything_connects(args: list[str]) -> None:
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "Invalid value" in result.output, result.output


def test_every_help_text_is_shown_as_written() -> None:
    """Typer renders help with Rich markup: "keys ('[id,]k1 k2 ...' per line)" came out as "keys ('k1 k2 ...'
    per line)", the id gone. Every option's help, as its command's --help shows it (brackets escaped in the source)."""
    import typer.main

    group = typer.main.get_command(app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        shown_help = " ".join(runner.invoke(app, [name, "--help"], env={"COLUMNS": "400"}).output.split())
        for param in command.params:
            written = getattr(param, "help", None)
            if written and "[" in written:
                assert " ".join(written.replace("\\[", "[").split()) in shown_help, (name, param.name)


def test_long_steps_show_a_spinner_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """score, parse and evaluate were silent for minutes on a large log; a spinner says what runs, on a terminal's
    stderr only (a pipe or a file gets nothing)."""
    import contextlib

    from rich.console import Console
    from rich.status import Status

    from logbert.cli import _common

    assert isinstance(_common.working("scoring x.log"), contextlib.nullcontext)  # CliRunner: not a terminal
    monkeypatch.setattr(_common, "err_console", Console(force_terminal=True, stderr=True))
    assert isinstance(_common.working("scoring [x].log"), Status)
