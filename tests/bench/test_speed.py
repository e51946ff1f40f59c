"""The speed benchmark runs end to end (tiny sizes): every arm, and the agreement columns."""

from __future__ import annotations

from pathlib import Path

from benchmarks.speed.run import main


def test_speed_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "speed.md"
    args = ["--n-train", "40", "--n-score", "40", "--epochs", "1", "--repeats", "1", "--out", str(out)]
    assert main(args) == 0
    text = out.read_text()
    for arm in ("train_encoder", "plain train", "score_sequences", "plain score fp32", "plain score bf16"):
        assert f"| {arm} |" in text
    assert "| score_sequences |" in text and "1.0000 | 0.0000 |" in text  # itself: identical decisions
