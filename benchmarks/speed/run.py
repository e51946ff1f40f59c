"""Training and scoring speed: logbert's paths against a plain PyTorch loop of the same model, in one run.

    .venv/bin/python -m benchmarks.speed [--threads 1] [--device cpu|cuda] [--out benchmarks/results/speed.md]

Same model (d_model 128, d_ff 256, 4 heads, 2 layers, 33 positions), same random HDFS-shaped
sequences (10-32 keys of 30 templates, from a sparse Markov chain). Each arm runs in its own process
(its peak memory is its own), and the arms alternate over the repeats so that a noisy neighbour hits all of them:

* ``train_encoder``: logbert's training (MLKP + VHM, validation and centre passes included: a centre pass
  before every epoch over a seeded sample of 1,024 rows, ``train.center_rows``, and one of the final model over all);
* ``train_encoder centre from every row``: the same with ``train.center_rows = 0``, each epoch's pass over every row;
* ``train_encoder centre from the steps``: ``train.center_from = "steps"``, each epoch's centre the mean DIST
  embedding of the previous epoch's steps (one pass before the first epoch and one of the final model);
* ``train_encoder VHM per dimension``: ``train.vhm_per_dimension``, the hypersphere term divided by ``d_model``
  (summed, at alpha 0.1 it holds the validation MLKP back in these 5 epochs);
* ``train_encoder, torch matmul`` / ``train_encoder MLKP only, torch matmul``: ``train.cpu_matmul = "torch"``,
  the products through MKL where the default (``"auto"``) sends them through oneDNN (``logbert.model.kernels``);
* ``train_encoder MLKP only``: the same with ``alpha = 0``, the plain loop's objective (``, no
  buckets``: and ``train.bucket_by_length = false``, plain shuffled batches as the plain loop's);
* ``train_encoder signals=all`` / ``score_sequences signals=all``: the time- and value-aware model
  (``model.signals = "all"``, issue 13) on the same keys with random gap and value buckets, for the
  cost of the extra inputs and heads against key-only (``, keys alone``: with ``model.keys_see_signals = false``,
  the ``hdfs`` preset's key channel: two passes an epoch in training, so its seq/s count an epoch's rows once,
  and a key pass with the times and values hidden beside the signal pass in scoring);
* ``train_encoder key_counts`` / ``score_sequences key_counts``: ``model.key_counts``, the window's key counts into
  DIST and a head that predicts them (issue 9), for the cost against key-only;
* ``train_encoder compiled`` / ``train_encoder bf16 compiled``: ``train.compile`` (on a GPU: every batch padded
  to one width, CUDA graphs): GPU arms, run by default with ``--device cuda`` only (``--arms`` picks any);
* ``train_encoder bf16`` / ``train_encoder MLKP only bf16``: ``train.precision = "bf16"``, run by default on a GPU
  and on a CPU with bf16 units (``logbert.threads.cpu_has_bf16``: AVX512-BF16 or AMX; without them bf16 is
  several times slower than fp32 on a CPU);
* ``plain train``: a textbook loop, torch's own ``nn.TransformerEncoder`` layers with the same
  initial weights, batch 64, logbert's learning-rate schedule, MLKP only, masking inline
  (``plain train bf16``: the same under ``torch.autocast(bfloat16)``, run where the bf16 training arms run);
* ``score_sequences``: logbert's deterministic scoring (every key masked once over 4 passes + 1 unmasked);
* ``score_sequences bf16``: the same under ``torch.autocast(bfloat16)`` (a measurement: no logbert
  setting turns it on yet);
* ``plain score fp32`` / ``plain score bf16``: the same 5 forward passes, batch 256, written plainly,
  with ``torch.autocast`` for bf16.

The allocator: logbert's training and scoring set glibc's malloc to keep freed buffers for reuse
(``logbert.threads.tune_allocator``, once per process when they start); the logbert arms run with it, as
users do, the plain arms with glibc's defaults, as a textbook loop does. ``, glibc malloc`` runs a logbert
arm with glibc's defaults (``LOGBERT_TUNE_MALLOC=0``) and ``, tuned malloc`` a plain arm with logbert's
settings, so that the run shows how much of each ratio is the allocator.

``--train-batch`` / ``--score-batch`` set the batch of every arm (on a GPU, try up to 4096); with
``--device cuda`` speeds are per wall-clock second after ``torch.cuda.synchronize``, the peak
memory is the GPU's, and the report names the card. "Last epoch" is the training rate of the last
epoch alone (wall clock): a compiled arm's first epoch holds its compilation.

Validation MLKP: masked-key cross-entropy of each trained model on the same validation rows with
the same masks (the sequences come from a sparse Markov chain, so there is something to learn).
Speeds are items per CPU-second of the arm's process (process time), less sensitive to the
neighbours of a shared machine than wall time. The clock starts after the data is made and after one
throw-away optimizer, whose construction imports ``torch._dynamo`` (1.3-1.5 CPU-s, the same in every arm,
once per process; counted before stop 35).

Decision agreement: the share of windows on the same side of a threshold (the 95th percentile of
logbert's miss ratios) for each plain scoring arm against logbert's, and the largest difference
between their miss ratios. Figures are ratios of this run; the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from itertools import repeat
from pathlib import Path

from benchmarks._report import header

from logbert.threads import cpu_has_bf16

ROOT = Path(__file__).resolve().parents[2]
TRAIN_ARMS = (
    "train_encoder",
    "train_encoder centre from the steps",
    "train_encoder centre from every row",
    "train_encoder VHM per dimension",
    "train_encoder MLKP only",
    "train_encoder MLKP only, no buckets",
    "train_encoder, torch matmul",
    "train_encoder MLKP only, torch matmul",
    "train_encoder MLKP only bf16",
    "train_encoder MLKP only bf16, no buckets",
    "train_encoder signals=all",
    "train_encoder signals=all, keys alone",
    "train_encoder key_counts",
    "train_encoder compiled",
    "train_encoder bf16",
    "train_encoder bf16 compiled",
    "train_encoder, glibc malloc",
    "plain train",
    "plain train, tuned malloc",
    "plain train bf16",
)
SCORE_ARMS = (
    "score_sequences",
    "score_sequences signals=all",
    "score_sequences signals=all, keys alone",
    "score_sequences key_counts",
    "score_sequences bf16",
    "score_sequences, glibc malloc",
    "plain score fp32",
    "plain score fp32, tuned malloc",
    "plain score bf16",
)
#: arms that only pay on a GPU: compiled training is slower on a small CPU (docs/benchmarks.md)
GPU_ARMS = ("train_encoder compiled", "train_encoder bf16 compiled")
#: bf16 training arms: run by default on a GPU and on a CPU with bf16 units (``cpu_has_bf16``); without them bf16
#: is 3-8x slower than fp32 on a CPU
BF16_TRAIN_ARMS = (
    "train_encoder bf16",
    "train_encoder MLKP only bf16",
    "train_encoder MLKP only bf16, no buckets",
    "plain train bf16",
)

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
threads, n_train, n_score, epochs, train_batch, score_batch, seed = (int(a) for a in sys.argv[3:10])
torch.set_num_threads(threads)
rng = np.random.default_rng(0)
successors = rng.integers(0, 30, size=(30, 3))  # a sparse Markov chain: there is something to learn
def seqs(n):
    lengths = rng.integers(10, 33, size=n)
    keys = np.empty((n, 32), dtype=np.int64)
    keys[:, 0] = rng.integers(0, 30, size=n)
    branch = rng.choice(3, size=(n, 32), p=[0.7, 0.2, 0.1])
    for j in range(1, 32):  # all sequences a step at a time (a GPU run wants 10^5 of them)
        keys[:, j] = successors[keys[:, j - 1], branch[:, j]]
    return [row[:k].tolist() for row, k in zip(keys, lengths)]
train, val, test = seqs(n_train), seqs(n_train // 10), seqs(n_score)
vocab = Vocab.fit(train)
mcfg = ModelConfig(vocab_size=len(vocab), max_len=32, d_model=128, d_ff=256, n_heads=4, n_layers=2, dropout=0.1)
if arm.endswith("key_counts"):  # the window's key counts into DIST and the count head (model.key_counts)
    mcfg = mcfg.model_copy(update={"key_counts": True})
with_signals = "signals=all" in arm
if with_signals:  # time- and value-aware: random buckets aligned with [DIST, k_1, ...] (ids 3.. are inner buckets)
    from logbert.windowing.signals import SignalRow
    # "keys alone": the hdfs preset's key channel (model.keys_see_signals = false): two passes an epoch in training,
    # a key pass with the times and values hidden in scoring
    mcfg = mcfg.model_copy(update={"signals": "all", "keys_see_signals": not arm.endswith("keys alone")})
    def gap_rows(s):
        return [[int(g) for g in rng.integers(3, 3 + mcfg.gap_buckets, size=len(q) + 1)] for q in s]
    def value_rows(s):  # a number on about a third of the lines, NONE (0) elsewhere and at DIST
        return [[0] + [int(v) if rng.random() < 0.3 else 0 for v in rng.integers(3, 3 + mcfg.value_buckets, len(q))]
                for q in s]
tcfg = TrainConfig(epochs=epochs, patience=epochs + 1, batch_size=train_batch, num_threads=threads, device=device,
                   seed=seed, min_steps=0)  # one pass per epoch, as the plain loop
out = {"device_name": torch.cuda.get_device_name() if device == "cuda" else "cpu"}
bf16_train = torch.autocast(device_type=device, dtype=torch.bfloat16, enabled="bf16" in arm)
# torch.optim's first optimizer imports torch._dynamo (1.3-1.5 CPU-s on a 2-core VM, the same in every training arm):
# a one-off of the process, not training speed, so every arm pays it before the clock
torch.optim.AdamW([torch.zeros(1, requires_grad=True)])
if arm.startswith("score_sequences") or arm.endswith("tuned malloc"):  # logbert's scoring tunes it (torch_threads),
    from logbert.threads import tune_allocator  # its training does so itself; the plain arms only when asked
    tune_allocator()
t0, c0 = time.perf_counter(), time.process_time()
if arm.startswith("train_encoder"):
    if "MLKP only" in arm:  # the plain loop's objective: no hypersphere term, no centre passes
        tcfg = tcfg.model_copy(update={"alpha": 0.0})
    if arm.endswith("VHM per dimension"):  # train.vhm_per_dimension: the term no longer holds MLKP back
        tcfg = tcfg.model_copy(update={"vhm_per_dimension": True})
    if arm.endswith("centre from the steps"):
        tcfg = tcfg.model_copy(update={"center_from": "steps"})
    if arm.endswith("centre from every row"):  # before train.center_rows: each epoch's pass over all 3,000 rows
        tcfg = tcfg.model_copy(update={"center_rows": 0})
    if arm.endswith("no buckets"):  # plain shuffled batches, as the plain loop
        tcfg = tcfg.model_copy(update={"bucket_by_length": False})
    if "bf16" in arm:
        tcfg = tcfg.model_copy(update={"precision": "bf16"})
    if arm.endswith("torch matmul"):  # MKL's products where train.cpu_matmul = "auto" would take oneDNN's
        tcfg = tcfg.model_copy(update={"cpu_matmul": "torch"})
    if arm.endswith("compiled"):  # on a GPU: fixed shapes and CUDA graphs (training.trainer.CompiledStep)
        tcfg = tcfg.model_copy(update={"compile": True})
    extra = {}
    if with_signals:
        extra = {"train_signals": (gap_rows(train), value_rows(train)), "val_signals": (gap_rows(val), value_rows(val))}
    result = train_encoder(mcfg, tcfg, vocab, train, val, progress=False, **extra)
    out["items"] = epochs * len(train)
    sync()
    out["last_epoch_seconds"] = result.history[-1].seconds
    out["seconds"], out["cpu_seconds"] = time.perf_counter() - t0, time.process_time() - c0
    out["val_mlkp"] = val_mlkp(result.model, encode_sequences(val, vocab, 32), vocab)
elif arm.startswith("plain train"):
    torch.manual_seed(seed)
    model = PlainEncoder(mcfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=tcfg.lr, weight_decay=tcfg.weight_decay)
    steps = epochs * -(-len(train) // train_batch)
    # logbert's schedule (linear warm-up, cosine decay), so that the losses compare implementations, not schedules
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: lr_factor(k, int(tcfg.warmup_fraction * steps), steps))
    rows = encode_sequences(train, vocab, 32)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        sync()
        epoch_start = time.perf_counter()
        order = torch.randperm(len(rows), generator=gen).tolist()
        for i in range(0, len(rows), train_batch):
            tok, pad = pad_tokens([rows[j] for j in order[i:i + train_batch]], vocab.PAD)
            chosen = random_key_mask(pad, 0.5, gen)
            labels = torch.where(chosen, tok, torch.full_like(tok, -100))
            with bf16_train:
                logits = model(tok.masked_fill(chosen, vocab.MASK).to(device), pad.to(device))
                flat = labels.to(device).flatten()
                loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), flat, ignore_index=-100)
            opt.zero_grad(); loss.backward(); opt.step(); sched.step()
        sync()
        out["last_epoch_seconds"] = time.perf_counter() - epoch_start
    out["items"] = epochs * len(train)
    out["seconds"], out["cpu_seconds"] = time.perf_counter() - t0, time.process_time() - c0
    out["val_mlkp"] = val_mlkp(model, encode_sequences(val, vocab, 32), vocab)
else:
    torch.manual_seed(0)  # the same initial weights in every arm (PlainEncoder builds them in the same order)
    ours = arm.startswith("score_sequences")
    model = (LogBertEncoder(mcfg) if ours else PlainEncoder(mcfg)).to(device).eval()
    center = torch.zeros(128)
    bf16 = torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=arm.endswith("bf16"))
    if ours:
        signals = None
        if with_signals:
            signals = [SignalRow(g, v, [0.0] * len(g), [0.0] * len(g), [0 if x else -1 for x in v], [False] * len(g))
                       for g, v in zip(gap_rows(test), value_rows(test))]
        with bf16:  # autocast around logbert's own scorer (a measurement: no logbert setting turns it on)
            res = score_sequences(model, vocab, test, center, ScoringConfig(batch_size=score_batch), device=device,
                                  signals=signals)
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


def _run(arm: str, args: argparse.Namespace, seed: int = 0) -> dict[str, object]:
    """One arm in its own process; a failed or timed-out arm is reported (``error``), the others still run."""
    cmd = [sys.executable, "-c", CHILD, arm, args.device, str(args.threads), str(args.n_train), str(args.n_score),
           str(args.epochs), str(args.train_batch), str(args.score_batch), str(seed)]
    paths = [str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]  # a GPU machine's packages may live there
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    if arm.endswith("glibc malloc"):  # logbert's own settings off (logbert.threads.tune_allocator)
        env["LOGBERT_TUNE_MALLOC"] = "0"
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.arm_timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {args.arm_timeout} s"}
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {done.returncode}: {last[:200]}"}
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _arm_names(text: str, known: tuple[str, ...]) -> list[str]:
    """The arms of a comma-separated list; an arm whose own name holds a comma ("MLKP only, no buckets") is joined
    back from its pieces."""
    pieces, names = [p.strip() for p in text.split(",") if p.strip()], list[str]()
    while pieces:
        joined = f"{pieces[0]}, {pieces[1]}" if len(pieces) > 1 else ""
        names.append(joined if joined in known else pieces[0])
        del pieces[: 2 if joined in known else 1]
    return names


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
    parser.add_argument("--arms", default="", help="comma-separated arms (default: all; on a CPU without the GPU arms)")
    parser.add_argument("--arm-timeout", type=int, default=1800, help="seconds one arm's process may take")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "speed.md")
    parser.add_argument(
        "--jobs", type=int, default=1,
        help="arms run at once; above 1 the speeds are not comparable (the arms share the cores): a smoke run's",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs takes 1 or more")
    every = (*TRAIN_ARMS, *SCORE_ARMS)
    slow_here = () if args.device != "cpu" else (*GPU_ARMS, *(() if cpu_has_bf16() else BF16_TRAIN_ARMS))
    chosen = _arm_names(args.arms, every) or [a for a in every if a not in slow_here]
    unknown = sorted(set(chosen) - set(every))
    if unknown:
        parser.error(f"unknown arm(s) {unknown}; known: {', '.join(every)}")
    for needed in ("plain train", "plain score fp32", "score_sequences"):  # the bases of the ratios
        if any(a in (TRAIN_ARMS if needed == "plain train" else SCORE_ARMS) for a in chosen) and needed not in chosen:
            chosen.append(needed)
    results: dict[str, list[dict[str, object]]] = {arm: [] for arm in every if arm in chosen}
    # on the CPU: items per CPU-second of the arm's process (a shared machine's neighbours do not count);
    # on a GPU the CPU time says little: wall time
    clock = "cpu_seconds" if args.device == "cpu" else "seconds"
    for rep in range(args.repeats):
        with ThreadPoolExecutor(args.jobs) as pool:  # each arm is a process of its own: threads only wait on them
            done = list(pool.map(_run, results, repeat(args), repeat(rep)))  # repeat r trains from seed r
        for arm, r in zip(results, done, strict=True):
            results[arm].append(r)
            if "error" in r:
                print(f"repeat {rep} {arm}: FAILED {r['error']}", flush=True)
                continue
            speed = float(r["items"]) / float(r[clock])  # type: ignore[arg-type]
            loss = f", validation MLKP {float(r['val_mlkp']):.4f}" if "val_mlkp" in r else ""  # type: ignore[arg-type]
            print(f"repeat {rep} {arm}: {speed:.0f} per s, peak {r['peak_mib']:.0f} MiB{loss}", flush=True)

    def runs(arm: str) -> list[dict[str, object]]:
        return [r for r in results.get(arm, []) if "error" not in r]

    def rate(arm: str) -> float:
        done = runs(arm)
        return statistics.median(float(r["items"]) / float(r[clock]) for r in done) if done else math.nan  # type: ignore[arg-type]

    def last_epoch_rate(arm: str) -> float:
        done = runs(arm)
        per_epoch = args.n_train  # every training arm makes one pass per epoch
        return statistics.median(per_epoch / float(r["last_epoch_seconds"]) for r in done) if done else math.nan  # type: ignore[arg-type]

    ours = runs("score_sequences")[0]["ratios"] if runs("score_sequences") else []
    cut = sorted(ours)[int(0.95 * (len(ours) - 1))] if ours else math.nan  # type: ignore[arg-type]
    card = next((str(r["device_name"]) for rs in results.values() for r in rs if "device_name" in r), args.device)
    lines = [
        *header(
            "Training and scoring speed against a plain PyTorch loop",
            "benchmarks.speed",
            argv,
            f"device {args.device} ({card}), {args.threads} torch thread(s); {args.repeats} repeats, arms alternating, "
            f"each in its own process; speeds per {'CPU-second' if clock == 'cpu_seconds' else 'second'}"
            + (f"; {args.jobs} arms at once: a smoke run, the speeds are not comparable" if args.jobs > 1 else ""),
        ),
        "",
        f"{args.n_train} training sequences x {args.epochs} epochs (batch {args.train_batch}); {args.n_score} scored "
        f"windows (batch {args.score_batch}); median of the repeats (repeat r trains from seed r: the validation "
        "MLKP's range is over seeds).",
        "",
        "| arm | per second | vs plain | last epoch | vs plain | peak MiB | validation MLKP "
        "| decisions equal to logbert's | max miss-ratio difference |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for arm in results:
        if not runs(arm):
            lines.append(f"| {arm} | failed: {results[arm][0]['error']} | | | | | | | |")
            continue
        base = rate("plain train") if arm in TRAIN_ARMS else rate("plain score fp32")
        peak = max(float(r["peak_mib"]) for r in runs(arm))  # type: ignore[arg-type]
        agree = diff = val = last = last_ratio = "-"
        if arm in TRAIN_ARMS:
            losses = sorted(float(r["val_mlkp"]) for r in runs(arm))  # type: ignore[arg-type]
            spread = f" ({losses[0]:.3f}-{losses[-1]:.3f})" if len(losses) > 1 else ""
            val = f"{statistics.median(losses):.4f}{spread}"
            last = f"{last_epoch_rate(arm):,.0f} seq/s"
            last_ratio = f"{last_epoch_rate(arm) / last_epoch_rate('plain train'):.2f}x"
        if arm in SCORE_ARMS and ours and "signals" not in arm:  # a signal model is another model
            theirs = runs(arm)[0]["ratios"]
            same = sum((a > cut) == (b > cut) for a, b in zip(ours, theirs, strict=True))  # type: ignore[call-overload]
            agree = f"{same / len(ours):.4f}"
            diff = f"{max(abs(a - b) for a, b in zip(ours, theirs, strict=True)):.4f}"  # type: ignore[call-overload]
        unit = "seq" if arm in TRAIN_ARMS else "windows"
        lines.append(
            f"| {arm} | {rate(arm):,.0f} {unit}/s | {rate(arm) / base:.2f}x | {last} | {last_ratio} | {peak:.0f} "
            f"| {val} | {agree} | {diff} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0
