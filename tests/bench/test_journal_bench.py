from __future__ import annotations

from pathlib import Path

from benchmarks.journal.__main__ import main


def test_the_journal_benchmark_runs_tiny(tmp_path: Path) -> None:
    out = tmp_path / "journal.md"
    main(["--requests", "20", "--lines", "5", "--sessions", "10", "--repeat", "1", "--out", str(out)])
    text = out.read_text()
    assert "journal, fsync always" in text and "recovery from that checkpoint" in text
