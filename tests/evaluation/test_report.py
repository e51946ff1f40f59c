"""Tables, JSON and PNG plots for reports."""

from __future__ import annotations

import errno
import json
import math
import os
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from logbert.evaluation.metrics import evaluation_report
from logbert.evaluation.report import (
    comparison_table,
    plot_pr_curves,
    plot_score_histogram,
    report_table,
    table_to_text,
    to_jsonable,
    write_json,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = (rng.random(100) < 0.3).astype(int)
    return y, rng.normal(size=100) + y


def test_report_table_shows_every_metric() -> None:
    y, s = _data()
    text = table_to_text(report_table(evaluation_report(y, s, 0.5), title="pca"))
    for word in ("pca", "precision", "AUROC", "best F1 (oracle)", "n_abnormal"):
        assert word in text
    assert "n/a" in table_to_text(report_table({"auroc": math.nan}))


def test_comparison_table_puts_detectors_side_by_side() -> None:
    y, s = _data()
    reports = {"new_event": evaluation_report(y, s, 0.0), "deeplog": {"f1": 0.25}}
    text = table_to_text(comparison_table(reports, title="HDFS"))
    assert "new_event" in text and "deeplog" in text and "0.2500" in text and "HDFS" in text


def test_write_json_is_strict_json(tmp_path: Path) -> None:
    y = np.zeros(4, dtype=int)
    rep = evaluation_report(y, np.arange(4.0), threshold=1.0)  # one class: NaN AUROC
    path = write_json({"detector": rep, "array": np.arange(2)}, tmp_path / "sub" / "report.json")
    loaded = json.loads(path.read_text(encoding="utf-8"))
    assert loaded["detector"]["auroc"] is None
    assert loaded["detector"]["n_normal"] == 4
    assert loaded["array"] == [0, 1]
    assert to_jsonable({"x": np.float32(0.5), "y": float("inf")}) == {"x": 0.5, "y": None}


def test_a_full_disk_writing_json_names_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """ENOSPC printed "No space left on device" and no path."""
    import logbert.files

    def full(fd: int) -> None:  # the write of a full disk fails when it reaches the disk
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(logbert.files.os, "fsync", full)
    with pytest.raises(OSError, match="No space left on device") as caught:
        write_json({"a": 1}, tmp_path / "report.json")
    assert caught.value.filename == str(tmp_path / "report.json")


def test_plots_are_png_and_leave_pyplot_alone(tmp_path: Path) -> None:
    backend = matplotlib.get_backend()
    y, s = _data()
    pr = plot_pr_curves(y, {"a": s, "b": -s}, tmp_path / "pr.png")
    hist = plot_score_histogram(y, s, tmp_path / "plots" / "hist.png", threshold=0.5)
    const = plot_score_histogram([0, 0], [1.0, 1.0], tmp_path / "const.png")
    for path in (pr, hist, const):
        assert path.read_bytes()[:8] == PNG_MAGIC
    assert matplotlib.get_backend() == backend
