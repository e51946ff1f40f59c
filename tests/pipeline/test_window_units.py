"""Sliding windows are called windows, not sessions, wherever train and evaluate name what they count; and
evaluate says nothing of window ids met again in another file (sliding and time windows are named by position)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from logbert.cli import app
from logbert.config import LogBertConfig
from logbert.pipeline.fit import train

from .tiny import TINY_TRAINING

SLIDING = {
    "parser.log_format": "<Date> <Time> <Content>",
    "window.mode": "sliding",
    "window.window_size": 6,
    "window.stride": 6,
    "scoring.calibration": "cross_fit",
    **TINY_TRAINING,
}


def _log(path: Path, day: int, tasks: range) -> None:
    lines = [
        f"2026-11-{day:02d} 10:{n // 60:02d}:{n % 60:02d} task={task} {step}"
        for n, task in enumerate(tasks)
        for step in ("received", "processed", "acked")
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("sliding")
    _log(root / "train.log", 1, range(80))
    said: list[str] = []
    config = LogBertConfig().with_overrides(SLIDING)
    train(root / "train.log", root / "art", config, progress=False, on_step=said.append)
    return root, said


def test_cross_fit_and_the_final_model_count_sliding_windows(trained: tuple[Path, list[str]]) -> None:
    """It said "splitting sessions", "cross-fit 1/5: training on 128 sessions" and "the final model on all 161
    normal sessions (161 windows)" of a log that has no sessions."""
    _, said = trained
    folds = [s for s in said if re.match(r"cross-fit \d+/", s)]
    final = [s for s in said if s.startswith("training the final model")]
    assert len(folds) == 2 and all(" sliding windows, scoring the " in s for s in folds), said
    assert len(final) == 1 and " normal sliding windows (" in final[0] and "model inputs)" in final[0], said
    assert not any(" sessions" in s for s in folds + final) and "splitting sliding windows, then" in said[1], said


def test_evaluate_on_another_file_names_windows_and_no_id_collision(trained: tuple[Path, list[str]]) -> None:
    """Every file's windows are w0, w1, ...: evaluate said "N sliding windows have the id of a training sliding
    window but are not it" of any other file, titled its table "held-out sessions", and skipped the baselines for
    want of "training sessions"."""
    root, _ = trained
    _log(root / "later.log", 2, range(30))
    result = CliRunner().invoke(
        app, ["evaluate", str(root / "art"), "--normal", str(root / "later.log"), "--baseline", "new_event"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "held-out sliding windows, each detector" in text and "held-out sessions" not in text, text
    assert "have the id of a training" not in text and "start elsewhere" not in text, text
    assert "training sliding windows of this artifact are not in the evaluated input" in text, text
    assert "training sessions" not in text, text


def test_a_labels_file_of_session_ids_says_how_windows_are_labelled(trained: tuple[Path, list[str]]) -> None:
    """evaluate said "N sessions are not named in labels.csv: left out of training and evaluation", then "no session
    of the input is named in the labels file": windows, not sessions; evaluate does not train; and nothing said how
    windows are labelled."""
    root, _ = trained
    _log(root / "tasks.log", 3, range(30))
    labels = root / "task_labels.csv"
    labels.write_text("task_id,Label\n" + "".join(f"{t},normal\n" for t in range(30)), encoding="utf-8")
    command = ["evaluate", str(root / "art"), str(root / "tasks.log"), "--labels", str(labels)]
    result = CliRunner().invoke(app, command, env={"COLUMNS": "200"})
    text = " ".join(result.output.split())
    assert result.exit_code == 1, text
    assert "no sliding window of the input is named in the labels file" in text, text
    assert "('w0', 'w1' ...)" in text and "<Label> field of parser.log_format" in text and "--abnormal FILE" in text
    assert "not named in" not in text and "training and evaluation" not in text, text
