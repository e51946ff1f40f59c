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
        ["train", str(syslog), "-o", str(art), *custom_sets, "--set", "window.session_preset=openstack_instance",
         "--labels", str(files.labels), "--set", "train.epochs=2"],
        env=env,
    )
    assert trained.exit_code == 0, trained.output
    assert json.loads((art / "split.json").read_text())["chronological"] is True  # syslog times were read
    timed = runner.invoke(
        app,
        ["train", str(syslog), "-o", str(tmp_path / "timed"), *custom_sets, "--set", "window.mode=time",
         "--set", "window.time_window_s=60", "--set", "train.epochs=1"],
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
