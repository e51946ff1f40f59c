"""The parsing benchmark's command line: --help says what it does and runs nothing."""

from __future__ import annotations

import pytest
from benchmarks.parsing import run


def test_help_runs_nothing_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def must_not_run(*args: object, **kwargs: object) -> object:
        raise AssertionError("the benchmark ran")

    monkeypatch.setattr(run, "accuracy", must_not_run)
    monkeypatch.setattr(run, "throughput", must_not_run)
    with pytest.raises(SystemExit) as stop:
        run.main(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert "--repeats" in out and "--out" in out
    with pytest.raises(SystemExit):
        run.main(["--no-such-option"])
