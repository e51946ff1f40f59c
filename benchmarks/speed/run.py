"""Training and scoring speed: logbert's paths against a plain PyTorch loop of the same model, in one run.

    .venv/bin/python -m benchmarks.speed [--threads 1] [--device cpu|cuda] [--out benchmarks/results/speed.md]

Same model (d_model 128, d_ff 256, 4 heads, 2 layers, 33 positions), same random HDFS-shaped
sequences (10-32 keys of 30 templates, from a sparse Markov chain). Each arm runs in its own process
(its peak memory is its own), and the arms alternate over the repeats so that a noisy neighbour hits all of them:

* ``train_encoder``: logbert's training (MLKP + VHM, validation and centre passes included);
* ``train_encoder MLKP only``: the same with ``alpha = 0``, the plain loop's objective;
* ``plain train``: a textbook loop, torch's own ``nn.TransformerEncoder`` layers with the same
  initial weights, batch 64, logbert's learning-rate schedule, MLKP only, masking inline;
* ``score_sequences``: logbert's deterministic scoring (every key masked once over 4 passes + 1 unmasked);
* ``score_sequences bf16``: the same under ``torch.autocast(bfloat16)`` (a measurement: no logbert
  setting turns it on yet);
* ``plain score fp32`` / ``plain score bf16``: the same 5 forward passes, batch 256, written plainly,
  with ``torch.autocast`` for bf16.

``--train-batch`` / ``--score-batch`` set the batch of every arm (on a GPU, try up to 4096); with
``--device cuda`` speeds are per wall-clock second after ``torch.cuda.synchronize`` and the peak
memory is the GPU's.

Validation MLKP: masked-key cross-entropy of each trained model on the same validation rows with
the same masks (the sequences come from a sparse Markov chain, so there is something to learn).
Speeds are items per CPU-second of the arm's process (process time), less sensitive to the
neighbours of a shared machine than wall time.

Decision agreement: the share of windows on the same side of a threshold (the 95th percentile of
logbert's miss ratios) for each plain scoring arm against logbert's, and the largest difference
between their miss ratios. Figures are ratios of this run; the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks._report import header

ROOT = Path(__file__).resolve().parents[2]
TRAIN_ARMS = ("train_encoder", "train_encoder MLKP only", "plain train")
SCORE_ARMS = ("score_sequences", "score_sequences bf16", "plain score fp32", "plain score bf16")

CHILD = r'''
import json, resource, sys, time
import numpy as np, torch
from logbert.config import ModelConfig, ScoringConfig, TrainConfig
from logbert.model.encoder import LogBertEncoder
from logbert.parsing.vocab import Vocab
from logbert.scoring.scorer import score_sequences, strided_masks
from logbert.training.trainer import lr_factor, train_encoder
from logbert.windowing.dataset import encode_sequences, pad_tokens, random_key_mask

class PlainEncoder(torch.nn.Module):
    """The textbook model: torch's own encoder layers, the same shape and parameter names as LogBertEncoder."""

    def __init__(self, c):
        super().__init__()
        self.token_emb = torch.nn.Embedding(c.vocab_size, c.d_model)
        self.pos_emb = torch.nn.Embedding(c.max_len + 1, c.d_model)
        self.drop = torch.nn.Dropout(c.dropout)
        layer = torch.nn.TransformerEncoderLayer(c.d_model, c.n_heads, c.d_ff, c.dropout, activation="gelu",
                                                 batch_first=True, norm_first=True)
        self.encoder = torch.nn.TransformerEncoder(layer, c.n_layers, enable_nested_tensor=False)
        self.norm = torch.nn.LayerNorm(c.d_model)
        self.head = torch.nn.Linear(c.d_model, c.vocab_size)

    def forward(self, tok, pad):
        x = self.drop(self.token_emb(tok) + self.pos_emb(torch.arange(tok.shape[1], device=tok.device)))
        x = self.norm(self.encoder(x, src_key_padding_mask=pad))
        return self.head(x)


def val_mlkp(model, rows, vocab):
    """Masked-key cross-entropy on the validation rows, the same masks for every arm."""
    gen = torch.Generator().manual_seed(123)
    model.eval()
    total, n = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(rows), 256):
            tok, pad = pad_tokens(rows[i:i + 256], vocab.PAD)
            chosen = random_key_mask(pad, 0.5, gen)
            out = model(tok.masked_fill(chosen, vocab.MASK).to(device), pad.to(device))
            logits = out if isinstance(out, torch.Tensor) else out.logits
            ce = torch.nn.functional.cross_entropy(logits[chosen.to(device)].float(), tok[chosen].to(device),
                                                   reduction="sum")
            total += float(ce); n += int(chosen.sum())
    return total / n


arm, device = sys.argv[1], sys.argv[2]
def sync():  # a GPU runs ahead of Python: wait for it before reading the clock
    if device == "cuda":
        torch.cuda.synchronize()
threads, n_train, n_score, epochs, train_batch, score_batch = (int(a) for a in sys.argv[3:9])
torch.set_num_threads(threads)
rng = np.random.default_rng(0)
successors = rng.integers(0, 30, size=(30, 3))  # a sparse Markov chain: there is something to learn
def seqs(n):
    out = []
    for _ in range(n):
        seq = [int(rng.integers(0, 30))]
        for _ in range(int(rng.integers(10, 33)) - 1):
            seq.append(int(successors[seq[-1], rng.choice(3, p=[0.7, 0.2, 0.1])]))
        out.append(seq)
    return out
train, val, test = seqs(n_train), seqs(n_train // 10), seqs(n_score)
vocab = Vocab.fit(train)
mcfg = ModelConfig(vocab_size=len(vocab), max_len=32, d_model=128, d_ff=256, n_heads=4, n_layers=2, dropout=0.1)
tcfg = TrainConfig(epochs=epochs, patience=epochs + 1, batch_size=train_batch, num_threads=threads, device=device,
                   seed=0, min_steps=0)  # one pass per epoch, as the plain loop
out = {}
t0, c0 = time.perf_counter(), time.process_time()
if arm.startswith("train_encoder"):
    if arm.endswith("MLKP only"):  # the plain loop's objective: no hypersphere term, no centre passes
        tcfg = tcfg.model_copy(update={"alpha": 0.0})
    result = train_encoder(mcfg, tcfg, vocab, train, val, progress=False)
    out["items"] = epochs * len(train)
    sync()
    out["seconds"], out["cpu_seconds"] = time.perf_counter() - t0, time.process_time() - c0
    out["val_mlkp"] = val_mlkp(result.model, encode_sequences(val, vocab, 32), vocab)
elif arm == "plain train":
    torch.manual_seed(0)
    model = PlainEncoder(mcfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=tcfg.lr, weight_decay=tcfg.weight_decay)
    steps = epochs * -(-len(train) // train_batch)
    # logbert's schedule (linear warm-up, cosine decay), so that the losses compare implementations, not schedules
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: lr_factor(k, int(tcfg.warmup_fraction * steps), steps))
    rows = encode_sequences(train, vocab, 32)
    gen = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(rows), generator=gen).tolist()
        for i in range(0, len(rows), train_batch):
            tok, pad = pad_tokens([rows[j] for j in order[i:i + train_batch]], vocab.PAD)
            chosen = random_key_mask(pad, 0.5, gen)
            labels = torch.where(chosen, tok, torch.full_like(tok, -100))
            logits = model(tok.masked_fill(chosen, vocab.MASK).to(device), pad.to(device))
            flat = labels.to(device).flatten()
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), flat, ignore_index=-100)
            opt.zero_grad(); loss.backward(); opt.step(); sched.step()
    out["items"] = epochs * len(train)
    sync()
    out["seconds"], out["cpu_seconds"] = time.perf_counter() - t0, time.process_time() - c0
    out["val_mlkp"] = val_mlkp(model, encode_sequences(val, vocab, 32), vocab)
else:
    torch.manual_seed(0)  # the same initial weights in every arm (PlainEncoder builds them in the same order)
    ours = arm.startswith("score_sequences")
    model = (LogBertEncoder(mcfg) if ours else PlainEncoder(mcfg)).to(device).eval()
    center = torch.zeros(128)
    bf16 = torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=arm.endswith("bf16"))
    if ours:
        with bf16:  # autocast around logbert's own scorer (a measurement: no logbert setting turns it on)
            res = score_sequences(model, vocab, test, center, ScoringConfig(batch_size=score_batch), device=device)
        ratios = res.miss_ratio
    else:
        rows = encode_sequences(test, vocab, 32)
        miss = np.zeros(len(rows)); masked = np.zeros(len(rows))
        with torch.inference_mode(), bf16:
            for s in range(0, len(rows), score_batch):
                tok, pad = pad_tokens(rows[s:s + score_batch], vocab.PAD, pad_to=33)
                model(tok.to(device), pad.to(device))  # the unmasked pass (DIST distance)
                for chosen in strided_masks(pad, 4):
                    logits = model(tok.masked_fill(chosen, vocab.MASK).to(device), pad.to(device)).float()
                    logits[..., :vocab.N_SPECIAL] = -torch.inf
                    top = logits.topk(6, dim=-1).indices.cpu()
                    hit = (top == tok[..., None]).any(-1)
                    miss[s:s + len(tok)] += (chosen & ~hit).sum(1).numpy()
                    masked[s:s + len(tok)] += chosen.sum(1).numpy()
        ratios = miss / masked
    out["items"] = len(test)
    out["ratios"] = [float(r) for r in ratios]
    sync()
    out["seconds"], out["cpu_seconds"] = time.perf_counter() - t0, time.process_time() - c0
if device == "cuda":
    out["peak_mib"] = torch.cuda.max_memory_allocated() / 2**20  # the GPU's memory is the one that limits
else:
    out["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
'''


def _run(arm: str, args: argparse.Namespace) -> dict[str, object]:
    cmd = [sys.executable, "-c", CHILD, arm, args.device, str(args.threads), str(args.n_train), str(args.n_score),
           str(args.epochs), str(args.train_batch), str(args.score_batch)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n-train", type=int, default=3000)
    parser.add_argument("--n-score", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--train-batch", type=int, default=64, help="training batch of every training arm")
    parser.add_argument("--score-batch", type=int, default=256, help="scoring batch of every arm (GPU: up to 4096)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "speed.md")
    args = parser.parse_args(argv)
    results: dict[str, list[dict[str, object]]] = {arm: [] for arm in (*TRAIN_ARMS, *SCORE_ARMS)}
    # on the CPU: items per CPU-second of the arm's process (a shared machine's neighbours do not count);
    # on a GPU the CPU time says little: wall time
    clock = "cpu_seconds" if args.device == "cpu" else "seconds"
    for rep in range(args.repeats):
        for arm in results:
            r = _run(arm, args)
            results[arm].append(r)
            speed = float(r["items"]) / float(r[clock])  # type: ignore[arg-type]
            print(f"repeat {rep} {arm}: {speed:.0f} per s, peak {r['peak_mib']:.0f} MiB", flush=True)

    def rate(arm: str) -> float:
        return statistics.median(float(r["items"]) / float(r[clock]) for r in results[arm])  # type: ignore[arg-type]

    ours = results["score_sequences"][0]["ratios"]
    cut = sorted(ours)[int(0.95 * (len(ours) - 1))]  # type: ignore[arg-type]
    lines = [
        *header(
            "Training and scoring speed against a plain PyTorch loop",
            "benchmarks.speed",
            argv,
            f"device {args.device}, {args.threads} torch thread(s); {args.repeats} repeats, arms alternating, "
            f"each in its own process; speeds per {'CPU-second' if clock == 'cpu_seconds' else 'second'}",
        ),
        "",
        f"{args.n_train} training sequences x {args.epochs} epochs; {args.n_score} scored windows; "
        "median of the repeats.",
        "",
        "| arm | per second | vs plain | peak MiB | validation MLKP | decisions equal to logbert's "
        "| max miss-ratio difference |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for arm in (*TRAIN_ARMS, *SCORE_ARMS):
        base = rate("plain train") if arm in TRAIN_ARMS else rate("plain score fp32")
        peak = max(float(r["peak_mib"]) for r in results[arm])  # type: ignore[arg-type]
        agree = diff = val = "-"
        if arm in TRAIN_ARMS:
            val = f"{statistics.median(float(r['val_mlkp']) for r in results[arm]):.4f}"  # type: ignore[arg-type]
        if arm in SCORE_ARMS:
            theirs = results[arm][0]["ratios"]
            same = sum((a > cut) == (b > cut) for a, b in zip(ours, theirs, strict=True))  # type: ignore[call-overload]
            agree = f"{same / len(ours):.4f}"  # type: ignore[arg-type]
            diff = f"{max(abs(a - b) for a, b in zip(ours, theirs, strict=True)):.4f}"  # type: ignore[call-overload]
        unit = "seq" if arm in TRAIN_ARMS else "windows"
        lines.append(
            f"| {arm} | {rate(arm):,.0f} {unit}/s | {rate(arm) / base:.2f}x | {peak:.0f} | {val} | {agree} | {diff} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0
