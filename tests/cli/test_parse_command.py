"""``logbert parse``: no torch on its path, and ``--structured`` output as the library writes it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HDFS = "081109 2036{s:02d} 148 INFO dfs.DataNode$PacketResponder: PacketResponder {n} for block blk_{b} terminating"

_RUN_PARSE = """
import sys
from typer.testing import CliRunner
from logbert.cli import app
log, rows = sys.argv[1], sys.argv[2]
result = CliRunner().invoke(app, ["parse", log, "--preset", "hdfs", "--structured", rows])
assert result.exit_code == 0, result.output
print(sorted(m for m in ("torch", "numpy", "matplotlib") if m in sys.modules))
"""


def test_parse_command_does_not_import_torch(tmp_path: Path) -> None:
    """Parsing needs no model: `logbert parse --structured` must not pay torch's import (~100+ MB, seconds)."""
    log = tmp_path / "x.log"
    log.write_text("\n".join(HDFS.format(s=i % 60, n=i % 3, b=i) for i in range(200)) + "\n")
    rows = tmp_path / "rows.csv"
    out = subprocess.run(
        [sys.executable, "-c", _RUN_PARSE, str(log), str(rows)], check=True, capture_output=True, text=True
    ).stdout
    assert out.strip().splitlines()[-1] == "[]"
    assert len(rows.read_text().splitlines()) == 201


ZOOKEEPER = "2015-07-29 19:04:{s:02d},394 - INFO  [QuorumPeer[myid=1]/0.0.0.0:2181:FastLeaderElection@774] - {m}"


def test_the_printed_format_suggestion_works_when_copied_and_log_text_prints_as_it_is(tmp_path: Path) -> None:
    """What a new user does: run `parse` without a format, copy the suggested --set from the terminal, run again.
    Rich drops the backslash of "\\[" and turns ":a:" into an emoji unless told otherwise; both would mislead."""
    from typer.testing import CliRunner

    from logbert.cli import app

    messages = ["Notification time out: 3200 :a: \\[x]", "New election. My id = 1, proposed zxid=0x0"]
    log = tmp_path / "zookeeper.log"
    log.write_text("\n".join(ZOOKEEPER.format(s=i % 60, m=messages[i % 2]) for i in range(100)) + "\n")
    runner = CliRunner()
    first = runner.invoke(app, ["parse", str(log)], env={"COLUMNS": "400"})
    assert first.exit_code == 0, first.output
    printed = " ".join(first.output.split())
    suggested = printed.split("try --set '")[1].split("'")[0]
    assert suggested == r"parser.log_format=<Datetime> - <Level> \[<Context>\] - <Content>"
    second = runner.invoke(app, ["parse", str(log), "--set", suggested], env={"COLUMNS": "400"})
    assert second.exit_code == 0, second.output
    assert "warning" not in second.output and "100 parsed, 0 malformed" in second.output
    assert ":a: \\[x]" in second.output  # a template's own text: no emoji, the backslash kept


def test_a_suggestion_is_never_broken_at_the_terminal_width(tmp_path: Path) -> None:
    """At 80 columns (a terminal's, and stderr's when it goes to a file) Rich put a line break inside the suggested
    `--set 'parser.log_format=... <Time> ...'`, and the pasted command failed: a message is one line, wrapped by the
    terminal, never by Rich."""
    from typer.testing import CliRunner

    from logbert.cli import app

    log = tmp_path / "zookeeper.log"
    log.write_text("\n".join(ZOOKEEPER.format(s=i % 60, m="New election. My id = 1") for i in range(100)) + "\n")
    result = CliRunner().invoke(app, ["parse", str(log)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    warning = next(line for line in result.output.splitlines() if line.startswith("warning:"))
    assert len(warning) > 80 and warning.endswith(
        r"try --set 'parser.log_format=<Datetime> - <Level> \[<Context>\] - <Content>'"
    ), result.output


def test_top_takes_one_template_or_more(tmp_path: Path) -> None:
    """`--top -1` listed all but the last template under the title "top -1 by lines"."""
    from typer.testing import CliRunner

    from logbert.cli import app

    log = tmp_path / "x.log"
    log.write_text("\n".join(HDFS.format(s=i % 60, n=i % 3, b=i) for i in range(20)) + "\n")
    for value in ("-1", "0"):
        result = CliRunner().invoke(app, ["parse", str(log), "--top", value], env={"COLUMNS": "200"})
        assert result.exit_code == 2 and "Invalid value for '--top'" in result.output, result.output
    one = CliRunner().invoke(app, ["parse", str(log), "--preset", "hdfs", "--top", "1"], env={"COLUMNS": "200"})
    assert one.exit_code == 0 and "(top 1 by lines)" in one.output, one.output


def test_a_format_that_does_not_compile_is_explained_in_the_users_terms_and_the_fix_works(tmp_path: Path) -> None:
    """`[<Level>]` in a log_format is a regex character class around the field's group: re said "unbalanced
    parenthesis at position 37", a position in the regex logbert generates, which the user never wrote."""
    from typer.testing import CliRunner

    from logbert.cli import app

    log = tmp_path / "app.log"
    log.write_text("".join(f"2024-05-0{i % 9 + 1} [INFO] job {i} finished\n" for i in range(30)))
    runner = CliRunner()
    bad = runner.invoke(app, ["parse", str(log), "--set", "parser.log_format=<Date> [<Level>] <Content>"],
                        env={"COLUMNS": "400"})  # fmt: skip
    said = " ".join(bad.output.split())
    assert bad.exit_code == 1 and "position" not in said and "parenthesis" not in said, said
    assert "[ ] are regex syntax: escape them (\\[ \\])" in said
    suggested = said.split("try --set '")[1].split("'")[0]
    assert suggested == r"parser.log_format=<Date> \[<Level>\] <Content>"
    fixed = runner.invoke(app, ["parse", str(log), "--set", suggested], env={"COLUMNS": "400"})
    assert fixed.exit_code == 0 and "30 parsed, 0 malformed" in fixed.output, fixed.output



def test_parse_says_an_empty_file_is_empty_as_train_and_score_do(tmp_path: Path) -> None:
    """`: > empty.log; logbert parse empty.log` said "no parsable line in empty.log for format 'raw': 1 lines,
    1 blank" where train and score say the file is empty: one rule (logbert.files.require_text) for all three."""
    import gzip

    from typer.testing import CliRunner

    from logbert.cli import app

    files = {"empty.log": b"", "blank.log": b"\n  \n\t\n", "empty.log.gz": gzip.compress(b"\n")}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        for command in (["parse", str(tmp_path / name)], ["train", str(tmp_path / name), "-o", str(tmp_path / "a")]):
            result = CliRunner().invoke(app, command, env={"COLUMNS": "300"})
            assert result.exit_code == 1 and f"file is empty: {tmp_path / name}" in result.output, result.output
            assert "no parsable line" not in result.output


def test_typed_says_what_it_found_even_without_an_output(tmp_path: Path) -> None:
    """`parse --typed` without --out or --structured typed every slot and said nothing."""
    from typer.testing import CliRunner

    from logbert.cli import app

    log = tmp_path / "hdfs.log"
    log.write_text("".join(HDFS.format(s=i % 60, n=i % 3, b=1000 + i % 40) + "\n" for i in range(200)))
    result = CliRunner().invoke(app, ["parse", str(log), "--preset", "hdfs", "--typed"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "typed slots: " in result.output and "--out writes the schema" in result.output
    plain = CliRunner().invoke(app, ["parse", str(log), "--preset", "hdfs"], env={"COLUMNS": "200"})
    assert "typed slots" not in plain.output


def test_parse_says_how_many_lines_the_session_pattern_names(tmp_path: Path) -> None:
    """parse takes window.session_pattern (it masks the ids) but said nothing of one that named no line: it says how
    many of the lines it names, and where none, what the pattern is matched against."""
    from typer.testing import CliRunner

    from logbert.cli import app

    log = tmp_path / "journal.log"
    log.write_text("".join(f"2026-12-31T21:03:{i:02d}+0000 web01 sshd[{600 + i // 3}]: Accepted key for bob\n"
                           for i in range(30)), encoding="utf-8")  # fmt: skip
    args = ["parse", str(log), "--set", "parser.format=syslog_iso", "--set"]
    result = CliRunner().invoke(app, [*args, r"window.session_pattern=sshd\[(\d+)\]"], env={"COLUMNS": "200"})
    said = " ".join(result.output.split())
    assert result.exit_code == 0 and (
        r"warning: window.session_pattern 'sshd\[(\d+)\]' names a session in none of the 30 parsed lines: it is "
        "matched against each parsed line's header fields as name=value, then its content, e.g. "
        "'Datetime=2026-12-31T21:03:00+0000 Host=web01 Component=sshd PID=600 Accepted key for bob'"
    ) in said, said
    result = CliRunner().invoke(app, [*args, r"window.session_pattern=PID=(\d+)"], env={"COLUMNS": "200"})
    said = " ".join(result.output.split())
    assert r"session ids: window.session_pattern 'PID=(\d+)' names a session in 30 of the 30 parsed lines" in said
