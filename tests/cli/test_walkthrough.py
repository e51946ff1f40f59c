"""A new user's first try, scripted: the README's own-logs steps on a log in another layout.

The simulated nova log is rewritten into a syslog layout (``May 16 00:00:04 host proc[pid]: ...``),
the way it would arrive from rsyslog. Following the README: a custom header with the OpenStack
masks must give the same templates as the built-in format on the original, its syslog times must
read (so the split is chronological and time windows work), and bracketed text must reach the
screen intact.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from logbert.datasets.simulator import write_simulated

runner = CliRunner()
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
LINE = re.compile(r"^\S+ (\d{4})-(\d{2})-(\d{2}) (\d{2}:\d{2}:\d{2})\.\d+ (\d+) (.*)$")
#: The steps are what is checked here, not the model: train.min_steps' 300 steps for each of cross-fit's six models
#: made this test 4 of the suite's 12 minutes.
FEW_STEPS = ["--set", "train.min_steps=20"]
SYSLOG_FORMAT = r"<Month> <Day> <Time> <Host> <Proc>: <Level> <Component> \[<ADDR>\] <Content>"


def _syslog(src: Path, dst: Path) -> None:
    out = []
    for line in src.read_text(encoding="utf-8").splitlines():
        m = LINE.match(line)
        assert m, line
        _, month, day, clock, pid, rest = m.groups()
        out.append(f"{MONTHS[int(month) - 1]} {int(day):2d} {clock} cp-1 nova-compute[{pid}]: {rest}")
    dst.write_text("\n".join(out) + "\n", encoding="utf-8")


def _n_templates(output: str) -> int:
    m = re.search(r"; (\d+) templates", output)
    assert m, output
    return int(m.group(1))


def test_readme_steps_on_a_syslog_layout(tmp_path: Path) -> None:
    from logbert.cli import app

    files = write_simulated(tmp_path / "data", n_instances=60, anomaly_ratio=0.2, seed=11)
    syslog = tmp_path / "nova-syslog.log"
    _syslog(files.log, syslog)
    env = {"COLUMNS": "200"}

    builtin = runner.invoke(app, ["parse", str(files.log), "--preset", "openstack"], env=env)
    custom_sets = ["--set", f"parser.log_format={json.dumps(SYSLOG_FORMAT)}", "--set", "parser.format=openstack"]
    custom = runner.invoke(app, ["parse", str(syslog), *custom_sets], env=env)
    assert builtin.exit_code == 0 and custom.exit_code == 0, custom.output
    assert _n_templates(custom.output) == _n_templates(builtin.output)  # the README's recipe loses nothing
    assert "[instance:<*>]" in custom.output  # bracketed text reaches the screen
    assert "warning" not in custom.output

    # the header alone (generic masks) is what the README warns about; a wrong header is said
    wrong = runner.invoke(app, ["parse", str(syslog), "--set", 'parser.log_format="<Host> <Content>"'], env=env)
    assert wrong.exit_code == 0 and "probably misses fields" in " ".join(wrong.output.split())

    art = tmp_path / "art"
    trained = runner.invoke(
        app,
        ["train", str(syslog), "-o", str(art), *custom_sets, "--set", "window.session_id=openstack_instance",
         "--labels", str(files.labels), "--set", "train.epochs=2", *FEW_STEPS],
        env=env,
    )
    assert trained.exit_code == 0, trained.output
    assert json.loads((art / "split.json").read_text())["chronological"] is True  # syslog times were read
    timed = runner.invoke(
        app,
        ["train", str(syslog), "-o", str(tmp_path / "timed"), *custom_sets, "--set", "window.mode=time",
         "--set", "window.time_window_s=60", "--set", "train.epochs=1", *FEW_STEPS],
        env=env,
    )
    assert timed.exit_code == 0, timed.output
    assert "time windows" in timed.output  # units named for what they are


def test_a_custom_header_on_openstack_content_suggests_the_openstack_masks(tmp_path: Path) -> None:
    from logbert.cli import app

    files = write_simulated(tmp_path / "data", n_instances=30, anomaly_ratio=0.2, seed=2)
    syslog = tmp_path / "nova-syslog.log"
    _syslog(files.log, syslog)
    header_only = ["--set", f"parser.log_format={json.dumps(SYSLOG_FORMAT)}"]
    generic = runner.invoke(app, ["parse", str(syslog), *header_only], env={"COLUMNS": "200"})
    assert generic.exit_code == 0 and "--set parser.format=openstack" in " ".join(generic.output.split())
    kept = runner.invoke(app, ["parse", str(syslog), *header_only, "--set", "parser.format=openstack"])
    assert kept.exit_code == 0 and "warning" not in kept.output


def test_readme_steps_on_shared_logs_a_session_log_and_a_sliding_window_log(tmp_path: Path) -> None:
    """The README's steps as written, on two real logs a new user might bring: loghub's OpenStack 2k
    (sessions by instance id) and BGL 2k (no session id: sliding windows)."""
    from logbert.cli import app
    from tests.conftest import dataset_path

    openstack = dataset_path("openstack/loghub_2k/OpenStack_2k.log")
    bgl = dataset_path("bgl/loghub_2k/BGL_2k.log")
    env = {"COLUMNS": "200"}

    parsed = runner.invoke(app, ["parse", str(openstack), "--preset", "openstack"], env=env)
    assert parsed.exit_code == 0, parsed.output
    loghub_templates = openstack.with_name("OpenStack_2k.log_templates.csv").read_text().strip().splitlines()[1:]
    assert _n_templates(parsed.output) == len(loghub_templates) == 43  # the loghub ground truth
    assert "[instance:<*>]" in parsed.output  # bracketed text intact on screen

    art = tmp_path / "bgl"
    quick = ["--set", "train.epochs=1", "--set", "train.min_steps=0", "--set", "scoring.calibration=split"]
    trained = runner.invoke(app, ["train", str(bgl), "--preset", "bgl", "-o", str(art), *quick], env=env)
    assert trained.exit_code == 0, trained.output
    said = " ".join(trained.output.split())
    assert "trained on" in said and "sliding windows" in said  # windows are not called sessions
    assert "warning: training made only" in said  # one epoch on 51 windows: the user is told it is too little
    assert "hold a template never seen in training" in said  # and that unseen templates will be flagged

    scored = runner.invoke(app, ["score", str(art), str(bgl), "--format", "table"], env=env)
    assert scored.exit_code == 0, scored.output
    assert "100 sliding windows," in " ".join(scored.output.split())
    assert "┃ window " in scored.output  # the column is named for the unit too
    rows = runner.invoke(app, ["score", str(art), str(bgl)], env=env)
    first = json.loads(rows.stdout.splitlines()[0])
    assert (first["session_id"], first["first_line_no"], first["last_line_no"]) == ("w0", 1, 20)  # w0 -> lines
