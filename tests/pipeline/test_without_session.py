"""Lines that name no session id are in no session: when many are, train, score and evaluate say so (their share,
their templates, how they could name their session), where train printed only their count among its line counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from logbert.config import LogBertConfig
from logbert.errors import InputDataError
from logbert.pipeline.corpus import WITHOUT_SESSION_SHARE, read_corpus
from logbert.pipeline.detector import load_detector, score_with_report
from logbert.pipeline.fit import train

from .tiny import TINY_TRAINING

AUDIT = {
    "parser.log_format": r"type=<Type> msg=audit\(<Timestamp>:<Serial>\): <Content>",
    "window.session_pattern": r"ses=(\d+)",
}


def _audit_log(path: Path, n_events: int = 60) -> Path:
    """auditd's shape: an event's SYSCALL record names the login session (ses=), its EXECVE, CWD, PATH and
    PROCTITLE records only share the event's serial number."""
    lines = []
    for n in range(n_events):
        stamp, serial, session = f"1733212{n:03d}.000", 4000 + n, 10 + n // 6
        lines += [
            f"type=SYSCALL msg=audit({stamp}:{serial}): arch=c000003e syscall=59 success=yes ses={session} comm=cat",
            f'type=EXECVE msg=audit({stamp}:{serial}): argc=2 a0="cat" a1="/etc/hosts"',
            f'type=CWD msg=audit({stamp}:{serial}): cwd="/home/alice"',
            f'type=PATH msg=audit({stamp}:{serial}): item=0 name="/usr/bin/cat" inode={900 + n} nametype=NORMAL',
            f"type=PROCTITLE msg=audit({stamp}:{serial}): proctitle=636174002F6574632F686F737473",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_most_lines_without_a_session_id_are_a_warning_with_templates_and_a_hint(tmp_path: Path) -> None:
    """An auditd log read by ses=: two thirds of its records name no session, and the fields they share with the
    record that does (the serial number) are what could tie them to it."""
    corpus = read_corpus(_audit_log(tmp_path / "audit.log"), LogBertConfig().with_overrides(AUDIT))
    assert corpus.report.n_without_session == 240
    said = [w for w in corpus.report.warnings if "name no session id" in w]
    assert len(said) == 1, corpus.report.warnings
    warning = said[0]
    assert warning.startswith("80% of the parsed lines (240 of 300) name no session id by window.session_pattern 'ses=")
    assert "Most often: 'argc=<*> a0=\"cat\" a1=\"/etc/hosts\"' (25%), " in warning, warning
    assert r"--set 'window.session_pattern=Serial=(\S+)' reads its values as session ids" in warning, warning


def test_a_few_lines_without_a_session_id_are_only_counted(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    lines = [f"2026-11-01 10:00:{n % 60:02d} step {n % 3} request_id=req-{n // 3}" for n in range(90)]
    lines[::10] = [f"2026-11-01 10:01:{n:02d} heartbeat" for n in range(9)]  # 9 of 90: at the share, not above
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = LogBertConfig().with_overrides(
        {"parser.log_format": "<Date> <Time> <Content>", "window.session_pattern": r"request_id=(\S+)"}
    )
    corpus = read_corpus(log, config)
    assert corpus.report.n_without_session == 9 == WITHOUT_SESSION_SHARE * len(lines)
    assert not any("name no session id" in w for w in corpus.report.warnings), corpus.report.warnings


def test_many_lines_without_a_session_id_and_nothing_to_tie_them_to_one_are_only_counted(tmp_path: Path) -> None:
    """A service's own lines (the demo's nova API requests: 55 % of its log) belong to no session: no hint finds how
    they could name one, and a warning on every demo run would tell the user to give up sessions for windows."""
    log = tmp_path / "nova.log"
    lines = []
    for n in range(60):
        lines.append(f"INFO nova.compute [instance: {n // 4:08d}-aaaa-bbbb-cccc-dddddddddddd] step {n % 4}")
        lines.append(f'INFO nova.api "GET /v2/servers HTTP/1.1" status: 200 len: {100 + n} time: 0.{n:03d}')
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = LogBertConfig().with_overrides({"parser.log_format": "<Level> <Component> <Content>"})
    corpus = read_corpus(log, config)
    assert corpus.report.n_without_session == 60  # half the lines
    assert not any("name no session id" in w for w in corpus.report.warnings), corpus.report.warnings


def test_train_passes_the_warning_on_and_score_says_its_settings_are_a_trainings(tmp_path: Path) -> None:
    """What train's summary prints among its warnings; score and evaluate print the reader's warnings alike, but take
    no --set: their "--set ..." was pasted and got "No such option: --set". They say it is a new training's."""
    config = LogBertConfig().with_overrides({**AUDIT, **TINY_TRAINING, "scoring.calibration": "split"})
    log = _audit_log(tmp_path / "audit.log", n_events=240)
    result = train(log, tmp_path / "art", config, progress=False)
    assert any(w.startswith("80% of the parsed lines (960 of 1200) name no session id") for w in result.warnings)
    detector = load_detector(tmp_path / "art")
    _, report = score_with_report(detector, log)
    (said,) = [w for w in report.warnings if "name no session id" in w]
    assert (
        r"--set 'window.session_pattern=Serial=(\S+)' reads its values as session ids (score and evaluate read with "
        "the settings " in said
    )
    assert said.endswith(
        "and take no --set: give each --set above to a new training, logbert train TRAINING_LOG -o NEW_ARTIFACT --set "
        f"..., beside the settings in {tmp_path / 'art' / 'config.json'})"
    )
    other = tmp_path / "app.jsonl"  # its errors too: no line of the artifact's format
    other.write_text("".join(f'{{"msg": "step {i}", "ses": {i}}}\n' for i in range(20)), encoding="utf-8")
    with pytest.raises(InputDataError) as error:
        score_with_report(detector, other)
    assert "try --set parser.format=json, without parser.log_format" in str(error.value)
    assert "logbert train TRAINING_LOG -o NEW_ARTIFACT --set ..." in str(error.value)
    # a log of the format whose lines are another program's: every template unseen, said beside the counts
    unlike = tmp_path / "unlike.log"
    unlike.write_text(
        "".join(f"type=USER_LOGIN msg=audit(1733212{i:03d}.000:{5000 + i}): pid={i} uid=0 auid=1000 ses={i // 3} "
                f"msg='op=login acct=\"bob\" exe=\"/usr/sbin/sshd\" res=success'\n" for i in range(30)),
        encoding="utf-8",
    )
    _, report = score_with_report(detector, unlike)
    (said,) = [w for w in report.warnings if "never saw in training" in w]
    assert said.startswith(f"30 of the 30 lines in sessions (100%) have a template {tmp_path / 'art'} never saw"), said
    assert not [w for w in score_with_report(detector, log)[1].warnings if "never saw in training" in w]
    from typer.testing import CliRunner

    from logbert.cli import app

    tailed = CliRunner().invoke(app, ["tail", str(tmp_path / "art"), str(unlike), "--no-follow"])
    assert tailed.exit_code == 0, tailed.output
    assert "unseen_template=30 " in tailed.output and "30 of the 30 lines in sessions (100%) have a template" in (
        tailed.output
    )


def test_builds_of_a_hundred_lines_one_after_the_other_are_named_as_sessions(tmp_path: Path) -> None:
    """A CI log, one build after another (about 95 lines each, its id on every line): the hint wanted a value per 50
    lines and said nothing, where the README says train names a header field that looks like a session id. A field
    whose values interleave as hosts' do (two builders, each build's lines mixed) is still no session id."""
    from logbert.errors import NoSessionIds

    def ci_log(path: Path, builder: bool) -> Path:
        lines = []
        for b in range(12):
            for i in range(95):
                name = f"builder-{i % 2}" if builder else f"build-{1000 + b}"
                lines.append(f"2026-12-01T00:{b:02d}:{i % 60:02d}.5Z [{name}] step {i % 7} ok")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    config = LogBertConfig().with_overrides({"parser.log_format": r"<Datetime> \[<Context>\] <Content>"})
    with pytest.raises(NoSessionIds) as found:
        read_corpus(ci_log(tmp_path / "ci.log", builder=False), config)
    assert r"--set 'window.session_pattern=Context=(\S+)' reads its values as session ids" in str(found.value)
    with pytest.raises(NoSessionIds) as interleaved:
        read_corpus(ci_log(tmp_path / "hosts.log", builder=True), config)
    assert "reads its values as session ids" not in str(interleaved.value)
