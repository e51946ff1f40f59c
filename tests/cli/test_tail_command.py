"""``logbert tail``: its options and the mistakes it reports, on the fake detector (no artifact, no torch)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from logbert import api
from logbert.cli import app

from ..streaming.fakes import FakeDetector, vm_lines

runner = CliRunner()


@pytest.fixture
def fake_artifact(monkeypatch: pytest.MonkeyPatch) -> FakeDetector:
    detector = FakeDetector(max_len=8)
    monkeypatch.setattr(api, "load_detector", lambda *a, **k: detector)
    return detector


@pytest.mark.parametrize(
    ("option", "said"),
    [
        ("--idle-timeout=-5", "greater than 0"),
        ("--idle-timeout=nan", "greater than 0"),
        ("--max-window-len=0", "greater than or equal to 2"),
        ("--max-open-sessions=0", "greater than or equal to 1"),
    ],
)
def test_a_limit_out_of_bounds_is_an_option_error_not_a_validation_dump(
    fake_artifact: FakeDetector, tmp_path: Path, option: str, said: str
) -> None:
    log = tmp_path / "x.log"
    log.write_text("\n".join(vm_lines("vm-1", [0, 1, 2])) + "\n")
    result = runner.invoke(app, ["tail", "art", str(log), "--no-follow", option], env={"COLUMNS": "200"})
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and f"Invalid value for '{option.split('=')[0]}'" in text and said in text, text
    assert "validation error" not in text and "errors.pydantic.dev" not in text


def test_a_file_tail_cannot_follow_is_said_before_the_banner(fake_artifact: FakeDetector, tmp_path: Path) -> None:
    """A missing file was "not a file: nope.log", printed after the banner that named it as being scored."""
    missing = runner.invoke(app, ["tail", "art", str(tmp_path / "nope.log"), "--no-follow"], env={"COLUMNS": "300"})
    assert missing.exit_code == 1 and missing.output.strip() == f"error: log file not found: {tmp_path / 'nope.log'}"
    folder = runner.invoke(app, ["tail", "art", str(tmp_path), "--no-follow"], env={"COLUMNS": "300"})
    assert folder.exit_code == 1 and folder.output.strip() == f"error: expected a log file, got a directory: {tmp_path}"
