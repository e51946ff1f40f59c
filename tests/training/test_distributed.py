"""Two CPU processes on gloo, started by the real torchrun launcher, train the weights one process does.

The test runs this file as the torchrun script (``python -m torch.distributed.run --standalone
--nproc-per-node 2 test_distributed.py OUT``); each rank trains and saves what it ended with, and
the test compares that with a single-process run on the same global batches (dropout 0: the one
source of randomness the shard rule cannot share).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from logbert.config import ModelConfig, TrainConfig
from logbert.datasets.simulator import write_simulated
from logbert.model.encoder import EncoderOutput, LogBertEncoder
from logbert.parsing.vocab import Vocab
from logbert.training import trainer
from logbert.training.distributed import Group, is_main_process, process_group
from logbert.training.trainer import TrainResult, train_encoder
from logbert.windowing.dataset import encode_sequences, pad_tokens

CYCLE = [10, 11, 12, 13, 14, 15]
SEQS = [[CYCLE[(s + i) % 6] for i in range(3 + s % 6)] for s in range(48)]
VOCAB = Vocab.fit(SEQS)
MODEL = ModelConfig(vocab_size=len(VOCAB), max_len=8, d_model=16, d_ff=32, n_heads=2, n_layers=1, dropout=0.0)
# 40 rows in batches of 13: the last batch has 1 row, so rank 1 forwards nothing of it (weight 0);
# VHM (alpha) and cuts on, so both losses' normalisation and the shared cut draws are checked
TRAIN = TrainConfig(epochs=3, batch_size=13, lr=5e-3, seed=7, min_steps=0, alpha=0.5, cut_ratio=0.3, num_threads=1)
VOCAB_ROWS = encode_sequences(SEQS, VOCAB, MODEL.max_len)
#: the real launcher, as users run it (``torchrun`` is this module's console script)
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


class _Counting(LogBertEncoder):
    """The encoder, counting the rows it forwards in training mode (what this rank trained on)."""

    rows = 0

    def forward(
        self,
        token_ids: torch.Tensor,
        pad_mask: torch.Tensor,
        gap_ids: torch.Tensor | None = None,
        value_ids: torch.Tensor | None = None,
        *,
        predict_at: torch.Tensor | None = None,
    ) -> EncoderOutput:
        if self.training and torch.is_grad_enabled():
            _Counting.rows += token_ids.shape[0]
        return super().forward(token_ids, pad_mask, gap_ids, value_ids, predict_at=predict_at)


def _comparable(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The weights without attention's key bias: softmax ignores it, so its gradient is rounding noise
    that Adam scales up to lr-sized steps (measured: 2e-3 apart after 12 steps where every other weight
    agrees to 1e-7); the forward check covers it."""
    d = MODEL.d_model
    out = dict(state)
    for name in [n for n in state if n.endswith("self_attn.in_proj_bias")]:
        out[name] = torch.cat([state[name][:d], state[name][2 * d :]])  # query and value biases
    return out


def _train(checkpoint_dir: Path | None = None) -> TrainResult:
    return train_encoder(MODEL, TRAIN, VOCAB, SEQS[:40], SEQS[40:], checkpoint_dir=checkpoint_dir, progress=False)


def _launch(cmd: list[str], timeout: float = 120) -> None:
    """Run ``cmd`` (torchrun or the CLI) without torchrun's variables; a hang fails, its ranks killed with it."""
    env = {k: v for k, v in os.environ.items() if k not in TORCHRUN_ENV}
    env["OMP_NUM_THREADS"] = "1"
    with subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    ) as proc:
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:  # a deadlock: torchrun stops its ranks on SIGTERM (their own sessions)
            proc.send_signal(signal.SIGTERM)
            try:
                proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"{cmd[:6]}... still running after {timeout} s: a rank is waiting on a collective")
    assert proc.returncode == 0, output[-6000:]


def _rank_main(out: Path) -> None:
    """One torchrun rank: train, save the weights, history and the rows this rank forwarded."""
    rank = int(os.environ["RANK"])
    trainer.LogBertEncoder = _Counting  # type: ignore[misc]
    result = _train(out / f"checkpoint-rank{rank}")  # each rank names its own folder: only rank 0's may appear
    torch.save(result.model.state_dict(), out / f"weights{rank}.pt")
    torch.save(result.center, out / f"center{rank}.pt")
    info = {
        "world": process_group().world_size,
        "rows": _Counting.rows,
        "history": [x for h in result.history for x in (h.train_loss, h.val_loss)],
    }
    (out / f"rank{rank}.json").write_text(json.dumps(info))


def test_the_single_process_group_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in TORCHRUN_ENV:
        monkeypatch.delenv(name, raising=False)
    group = process_group()
    assert group == Group() and not group.active and group.is_main and is_main_process()
    assert group.wrap(m := torch.nn.Linear(2, 2)) is m and group.sum_float(2.5) == 2.5 and group.shard(5) == (0, 5)
    assert group.threads(0) == 0 and not torch.distributed.is_initialized()


def test_two_gloo_ranks_under_torchrun_end_with_the_single_process_weights(tmp_path: Path) -> None:
    _launch([*TORCHRUN, __file__, str(tmp_path)])

    torch.set_num_threads(1)
    _Counting.rows = 0
    reference = _train()
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    # each rank forwarded its half of every batch (+1 zero-weight row where a batch had a single row)
    steps = TRAIN.epochs * 4  # 40 rows in batches of 13, 13, 13, 1
    assert ranks[0]["rows"] == TRAIN.epochs * (7 + 7 + 7 + 1) and ranks[1]["rows"] == TRAIN.epochs * (6 + 6 + 6 + 1)
    assert reference.steps_run == steps
    want = _comparable(reference.model.state_dict())
    token_ids, pad_mask = pad_tokens(VOCAB_ROWS, VOCAB.PAD)
    for r in (0, 1):
        got = torch.load(tmp_path / f"weights{r}.pt")
        assert got.keys() == reference.model.state_dict().keys()
        for name, value in _comparable(got).items():
            torch.testing.assert_close(
                value, want[name], atol=1e-5, rtol=0, msg=lambda m, n=name, r=r: f"rank {r} {n}: {m}"
            )
        model = LogBertEncoder(MODEL).eval()
        model.load_state_dict(got)
        with torch.no_grad():  # the whole function too, key biases included
            torch.testing.assert_close(
                model(token_ids, pad_mask), reference.model(token_ids, pad_mask), atol=1e-5, rtol=0
            )
        torch.testing.assert_close(torch.load(tmp_path / f"center{r}.pt"), reference.center, atol=1e-5, rtol=0)
        losses = [x for h in reference.history for x in (h.train_loss, h.val_loss)]
        assert ranks[r]["history"] == pytest.approx(losses, abs=1e-5)
    assert (tmp_path / "checkpoint-rank0").is_dir() and not (tmp_path / "checkpoint-rank1").exists()


@pytest.mark.parametrize("signals", ["off", "all"])
def test_logbert_train_under_torchrun_cross_fits_without_deadlock_and_rank_0_writes_the_artifact(
    tmp_path: Path, signals: str
) -> None:
    """The user's command: k + 1 distributed trainings in sequence (cross-fit), one artifact, the single-process one;
    also for the time- and value-aware model (gap and value rows sharded with the keys, the signal losses normalised
    by the whole batch)."""
    logbert = Path(sys.executable).parent / "logbert"
    if not logbert.is_file():
        pytest.skip("the logbert console script is not installed next to this python")
    files = write_simulated(tmp_path / "data", n_instances=40, anomaly_ratio=0.2, seed=5)
    sets = {
        "parser.format": "openstack",
        **{f"model.{k}": v for k, v in {"n_layers": 1, "d_model": 16, "d_ff": 32, "n_heads": 2, "dropout": 0}.items()},
        **{"train.epochs": 2, "train.min_steps": 6, "train.num_threads": 1, "scoring.calibration_folds": 3},
        "model.signals": signals,
    }
    args = [str(files.log), "--labels", str(files.labels), *(x for k, v in sets.items() for x in ("--set", f"{k}={v}"))]
    for cmd in ([*TORCHRUN, "--no-python", str(logbert)], [str(logbert)]):
        _launch([*cmd, "train", *args, "-o", str(tmp_path / ("ddp" if len(cmd) > 1 else "single"))])
    assert sorted(p.name for p in (tmp_path / "ddp").iterdir()) == sorted(
        p.name for p in (tmp_path / "single").iterdir()
    )
    ddp, single = (load_file(tmp_path / d / "model.safetensors") for d in ("ddp", "single"))
    strip = (
        {k.removeprefix("model."): v for k, v in ddp.items()},
        {k.removeprefix("model."): v for k, v in single.items()},
    )
    got, want = (_comparable(s) for s in strip)
    assert got.keys() == want.keys() and all(torch.allclose(got[k], want[k], atol=1e-5, rtol=0) for k in got)
    calibration = [json.loads((tmp_path / d / "calibration.json").read_text()) for d in ("ddp", "single")]
    if signals == "off":
        assert calibration[0] == calibration[1]
    else:  # scores that combine three channels through their scales agree to rounding (weights to 1e-5 above)
        assert calibration[0].keys() == calibration[1].keys()
        for key, value in calibration[1].items():
            assert calibration[0][key] == (pytest.approx(value, abs=1e-5) if _numeric(value) else value), key
    if signals == "all":  # the signal heads trained too, and on the same buckets
        assert any(k.startswith(("gap", "value")) or ".gap_" in k or ".value_" in k for k in want)
        states = [json.loads((tmp_path / d / "signals.json").read_text()) for d in ("ddp", "single")]
        assert states[0]["buckets"] == states[1]["buckets"]  # the same buckets, exactly
        # the channel scales come from scores like the threshold's: equal to rounding
        assert states[0].pop("scales") == pytest.approx(states[1].pop("scales"), abs=1e-5)
        assert states[0] == states[1]


def _numeric(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) or (
        isinstance(value, list) and all(isinstance(v, int | float) for v in value)
    )


if __name__ == "__main__":  # a torchrun rank (see the test above)
    _rank_main(Path(sys.argv[1]))
