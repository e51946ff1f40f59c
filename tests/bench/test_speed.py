"""The speed benchmark runs end to end (tiny sizes): every arm, and the agreement columns."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmarks.speed.run import main

from logbert.threads import cpu_has_bf16


def test_speed_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "speed.md"
    args = ["--n-train", "40", "--n-score", "40", "--epochs", "1", "--repeats", "1", "--out", str(out),
            "--score-batch", "16", "--train-batch", "8", "--jobs", "2"]  # both cores: the speeds are not read here
    assert main(args) == 0
    text = out.read_text()
    # every default arm ran: a failed arm is a row "| arm | failed: ..." and main still returns 0
    assert "failed:" not in text, [line for line in text.splitlines() if "failed:" in line]
    arms = ("train_encoder", "train_encoder MLKP only", "plain train", "score_sequences", "score_sequences bf16",
            "plain score fp32", "plain score bf16")
    for arm in arms:
        assert f"| {arm} |" in text
    for arm in arms[:3]:  # every trained model is compared on the same validation masks
        row = next(line for line in text.splitlines() if line.startswith(f"| {arm} |"))
        assert float(row.split("|")[7]) > 0  # validation MLKP
    assert "| score_sequences |" in text and "1.0000 | 0.0000 |" in text  # itself: identical decisions
    assert "2 arms at once: a smoke run, the speeds are not comparable" in text
    assert "| train_encoder compiled |" not in text  # GPU arms run on a GPU, or when asked for
    # bf16 training runs by default where it pays: a GPU, or a CPU with bf16 units
    assert ("| train_encoder bf16 |" in text) == cpu_has_bf16()
    assert ("| plain train bf16 |" in text) == cpu_has_bf16()


def test_speed_benchmark_refuses_an_unknown_arm_and_adds_the_bases_of_its_ratios(tmp_path: Path) -> None:
    import pytest

    with pytest.raises(SystemExit):
        main(["--arms", "train_encoder,no such arm", "--out", str(tmp_path / "x.md")])
    out = tmp_path / "speed.md"
    args = ["--n-train", "24", "--n-score", "8", "--epochs", "1", "--repeats", "1", "--out", str(out),
            "--train-batch", "8", "--arms", "train_encoder bf16"]
    assert main(args) == 0
    rows = [line.split("|")[1].strip() for line in out.read_text().splitlines() if line.startswith("| ")][1:]
    assert rows == ["train_encoder bf16", "plain train"]  # the plain loop joins: it is the ratio's base


@pytest.mark.parametrize("mask_span", [1, 2])
def test_real_data_comparison_agrees_with_itself_on_a_tiny_artifact(tmp_path: Path, mask_span: int) -> None:
    """benchmarks.speed.real on a tiny artifact: logbert's scorer and the plain torch-layer loop give the same scores,
    also for an artifact that masks runs of two keys (``scoring.mask_span = 2``, the ``openstack_devstack`` preset's:
    a reference that masked one key at a time differed by up to a quarter of a miss ratio)."""
    import torch
    from benchmarks.speed.real import main as real_main

    from logbert import api
    from logbert.datasets.simulator import write_simulated

    from ..conftest import tiny_nova_config

    torch.set_num_threads(1)
    files = write_simulated(tmp_path / "data", n_instances=60, anomaly_ratio=0.25, seed=3)
    config = tiny_nova_config(max_len=16).with_overrides({"scoring.mask_span": mask_span})
    api.train(files.log, tmp_path / "artifact", config, labels=files.labels, progress=False)
    out = tmp_path / "real.md"
    assert real_main([str(tmp_path / "artifact"), str(files.log), "--repeats", "2", "--out", str(out)]) == 0
    row = [line for line in out.read_text().splitlines() if line.startswith("| artifact |")][1]  # [0]: header
    cells = [c.strip() for c in row.split("|")]
    same, total = (int(x) for x in cells[9].split(" / "))
    assert total > 0 and same == total
    assert float(cells[10]) < 1e-4  # the same scores up to float rounding
    assert cells[8].count(" / ") == 1  # the two repeats' own ratios


def test_flop_count_compares_the_two_loops_on_the_same_sequences() -> None:
    """benchmarks.speed.flops: the plain loop (padding, logits everywhere) does more arithmetic per sequence than
    logbert's step, and a centre pass row (forward only) less than a training step's."""
    import torch
    from benchmarks.speed.flops import count

    torch.set_num_threads(1)
    c = count(n_train=256)
    assert c["plain"] > 1.3 * c["ours"] and 0 < c["centre_row"] < c["ours"] / 2
