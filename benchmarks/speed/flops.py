"""Floating-point operations per training sequence: logbert's training step against the plain loop's, counted.

    PYTHONPATH=. .venv/bin/python -m benchmarks.speed.flops [--out benchmarks/results/speed_flops.md]

The same model and data as ``benchmarks.speed`` (its plain model is that module's ``PlainEncoder``, run from its
source), one epoch of 3,000 sequences at batch 64, forward and backward, counted by ``torch.utils.flop_counter``
(matrix products and attention; element-wise work is not counted). What a speed ratio can be made of: if both
loops ran their products equally fast, logbert's speed-up would be the ratio of these counts; the rest of a
measured ratio is time spent outside the products (dropout masks, layer norms, the optimizer, Python).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks._report import ROOT, header
from benchmarks.speed.run import CHILD


def count(n_train: int = 3000, batch: int = 64) -> dict[str, float]:
    """FLOPs per sequence of one epoch of each loop, and of the VHM centre pass (forward only, per row)."""
    import numpy as np
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from logbert.config import ModelConfig, TrainConfig
    from logbert.model.encoder import LogBertEncoder
    from logbert.parsing.vocab import Vocab
    from logbert.training.trainer import _loss, batch_order, compute_center
    from logbert.windowing.dataset import MaskedKeyDataset, encode_sequences, pad_tokens, random_key_mask

    plain_source: dict[str, object] = {}
    exec(CHILD.split("\narm, device = ")[0], plain_source)  # noqa: S102 - the speed benchmark's own plain model
    plain_encoder = plain_source["PlainEncoder"]
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    successors = rng.integers(0, 30, size=(30, 3))
    lengths = rng.integers(10, 33, size=n_train)
    keys = np.empty((n_train, 32), dtype=np.int64)
    keys[:, 0] = rng.integers(0, 30, size=n_train)
    branch = rng.choice(3, size=(n_train, 32), p=[0.7, 0.2, 0.1])
    for j in range(1, 32):
        keys[:, j] = successors[keys[:, j - 1], branch[:, j]]
    train = [row[:k].tolist() for row, k in zip(keys, lengths, strict=True)]
    vocab = Vocab.fit(train)
    mcfg = ModelConfig(vocab_size=len(vocab), max_len=32, d_model=128, d_ff=256, n_heads=4, n_layers=2, dropout=0.1)
    tcfg = TrainConfig(epochs=1, batch_size=batch, num_threads=1, seed=0, min_steps=0)
    gen = torch.Generator().manual_seed(0)

    model = LogBertEncoder(mcfg).train()
    ds = MaskedKeyDataset(train, vocab, 32)
    order = torch.randperm(len(ds), generator=gen).tolist()
    with FlopCounterMode(display=False) as ours:
        for rows in batch_order(order, ds.lengths, batch, len(ds), gen):
            b = ds.collate_index(rows, tcfg.mask_ratio, gen)
            _loss(model, b.token_ids, b.labels, b.pad_mask, torch.zeros(mcfg.d_model), tcfg).backward()
    plain = plain_encoder(mcfg).train()  # type: ignore[operator]
    encoded = encode_sequences(train, vocab, 32)
    with FlopCounterMode(display=False) as theirs:
        for i in range(0, len(encoded), batch):
            tok, pad = pad_tokens(encoded[i : i + batch], vocab.PAD)
            chosen = random_key_mask(pad, 0.5, gen)
            labels = torch.where(chosen, tok, torch.full_like(tok, -100))
            logits = plain(tok.masked_fill(chosen, vocab.MASK), pad)
            torch.nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100).backward()
    with FlopCounterMode(display=False) as centre:
        compute_center(model, ds.rows[:1024], vocab.PAD)
    return {
        "ours": ours.get_total_flops() / n_train,
        "plain": theirs.get_total_flops() / n_train,
        "centre_row": centre.get_total_flops() / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "speed_flops.md")
    args = cli.parse_args(argv)
    c = count()
    lines = header("FLOPs per training sequence: logbert against the plain loop", "benchmarks.speed.flops", argv,
                   "counted, not timed")
    lines += [
        "",
        __doc__.split("\n\n", 2)[2].strip(),
        "",
        "| | MFLOP per sequence | plain / this |",
        "|---|---:|---:|",
        f"| plain loop (padded batches, head at every position) | {c['plain'] / 1e6:.2f} | 1.00 |",
        f"| logbert's training step (length buckets, last layer and head at the masked keys) | {c['ours'] / 1e6:.2f} "
        f"| {c['plain'] / c['ours']:.2f} |",
        f"| logbert's VHM centre pass, per row (forward only, DIST only in the last layer) | "
        f"{c['centre_row'] / 1e6:.2f} | |",
        "",
    ]
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
