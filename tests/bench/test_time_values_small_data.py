"""``benchmarks.time_values.small_data``: the subsets it writes, its table, and its skip (no training: the runs take
minutes; the committed result is the end-to-end check)."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmarks.time_values import small_data
from benchmarks.time_values.small_data import LABELS, LOG, main, table, write_logs


def _fake_hdfs(root: Path, n_normal: int, n_anomalous: int) -> Path:
    lines, labels = [], ["BlockId,Label"]
    for b in range(n_normal + n_anomalous):
        block = f"blk_{'-' if b % 2 else ''}{1000 + b}"
        labels.append(f"{block},{'Normal' if b < n_normal else 'Anomaly'}")
        lines += [f"081109 2035{b % 60:02d} 143 INFO dfs.DataNode: Receiving block {block} src: /10.0.0.1:5000"] * 2
    lines.append("081109 203600 143 INFO dfs.FSNamesystem: a line of no block")
    root.mkdir(parents=True, exist_ok=True)
    (root / LOG).write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / LABELS).write_text("\n".join(labels) + "\n", encoding="utf-8")
    return root


def _blocks(path: Path) -> set[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return {line.split("block ")[1].split()[0] for line in lines if "blk_" in line}


def test_the_training_log_holds_n_normal_blocks_and_the_test_log_the_others_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(small_data, "TEST_NORMAL", 5)
    monkeypatch.setattr(small_data, "TEST_ANOMALOUS", 2)
    data = _fake_hdfs(tmp_path / "data", n_normal=12, n_anomalous=4)
    train_log, all_log = write_logs(data, 4, seed=0, work=tmp_path / "w")
    train, every = _blocks(train_log), _blocks(all_log)
    anomalous = {f"blk_{'-' if b % 2 else ''}{1000 + b}" for b in range(12, 16)}
    assert len(train) == 4 and not train & anomalous
    assert train < every and len(every) == 4 + 5 + 2 and len(every & anomalous) == 2
    assert all(line.count("Receiving") == 1 for line in train_log.read_text(encoding="utf-8").splitlines())
    assert len(train_log.read_text(encoding="utf-8").splitlines()) == 2 * 4  # every line of a chosen block
    again, _ = write_logs(data, 4, seed=0, work=tmp_path / "again")
    other, _ = write_logs(data, 4, seed=1, work=tmp_path / "other")
    assert _blocks(again) == train and _blocks(other) != train  # the seed picks the blocks


def test_the_table_gives_mean_and_spread_per_size_and_arm() -> None:
    def row(seed: int, f1: float, fp: int, fn: int) -> dict[str, object]:
        return {"size": 50, "seed": seed, "arm": "all", "f1": f1, "recall": 1.0, "fpr": fp / 1000, "stated_fpr": 0.06,
                "auroc": 0.99, "fp": fp, "fn": fn, "new_event_f1": 0.9, "train_seconds": 10.0}  # fmt: skip

    lines = table([row(1, 0.8, 3, 0), row(0, 0.9, 1, 2)], [25, 50], ["off", "all"])
    assert len(lines) == 3  # header, rule, the one (size, arm) with rows
    assert "| 50 | all | 2 | 0.850 ± 0.071 |" in lines[2] and "| 1 / 2, 3 / 0 |" in lines[2]  # seeds in order


def test_it_skips_without_the_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--data", str(tmp_path), "--out", str(tmp_path / "out.md"), "--work", str(tmp_path / "w")]) == 0
    assert "skipping" in capsys.readouterr().err and not (tmp_path / "out.md").exists()
