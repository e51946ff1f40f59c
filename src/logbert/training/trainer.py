"""The training loop: MLKP + alpha * VHM, AdamW, warm-up + cosine decay, early stopping, resume.

Small data: an epoch makes as many passes over the training data as it takes for all epochs
together to reach ``train.min_steps`` optimiser steps (:func:`passes_per_epoch`), so a few dozen
sessions still get a few hundred steps while early stopping keeps counting epochs.

Reproducibility: the model is initialised right after ``torch.manual_seed(seed)``, and at the
start of every epoch the global torch RNG (dropout) and the shuffle/mask generators are re-seeded
from ``(seed, epoch)``. An epoch therefore depends only on the seed, its index and the
model/optimizer/scheduler state, which the checkpoint directory stores after every epoch: a run
resumed from a checkpoint ends with the same weights as an uninterrupted one. The caller's global
RNG state is restored when training returns.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch import Tensor, nn
from torch.optim import AdamW
from torch.optim.lr_scheduler import LambdaLR

from logbert.config import SIGNAL_NONE, ModelConfig, ScoringConfig, TrainConfig
from logbert.model.encoder import EncoderOutput, LogBertEncoder, count_buckets, masked_positions
from logbert.model.kernels import onednn_linear, onednn_linear_pays
from logbert.records import SESSION_END_KEY, SESSION_START_KEY
from logbert.threads import cpu_has_bf16, resolve_device, torch_threads
from logbert.training.checkpoint import (
    EpochStats,
    LoopState,
    clone_state,
    fingerprint,
    load_checkpoint,
    save_checkpoint,
)
from logbert.training.cuts import cut_rows
from logbert.training.distributed import Group, process_group
from logbert.training.jitter import jitter_order
from logbert.training.losses import count_loss, hypersphere_loss, masked_key_loss
from logbert.windowing.dataset import (
    IGNORE_INDEX,
    MaskedBatch,
    MaskedKeyDataset,
    SignalBatch,
    TokenVocab,
    distinct_rows,
    mask_signals,
    pad_signal_rows,
    pad_tokens,
)

logger = logging.getLogger(__name__)

#: ``(token_ids, pad_mask) -> token_ids``: how a batch's unmasked rows are rearranged before masking.
Reorder = Callable[[Tensor, Tensor], Tensor]

#: Fewer optimiser steps than this and ``logbert train`` says the model has probably not learned enough
#: (a rule of thumb: the issue-9 case that failed had about 30; the demo learns its log in 80). With the
#: default ``train.min_steps`` (300) only a run that lowered it, or stopped early, can fall below.
MIN_USEFUL_STEPS = 50


def steps_per_pass(n_train: int, batch_size: int) -> int:
    """Optimiser steps of one pass over ``n_train`` training sequences."""
    return max(1, math.ceil(n_train / batch_size))


def key_rows_share(model_config: ModelConfig | None) -> float:
    """The share of training rows from which the key channel learns as it is scored: every row, but
    :data:`BLIND_ROWS` for a time- or value-aware model whose key channel reads the keys alone
    (``model.keys_see_signals = False``): only its blind rows show the keys without their times and values."""
    if model_config is None or model_config.signals == "off" or model_config.keys_see_signals:
        return 1.0
    return BLIND_ROWS


def passes_per_epoch(config: TrainConfig, n_train: int, model_config: ModelConfig | None = None) -> int:
    """Passes over the training data per epoch: 1, or more on data so small that ``config.epochs``
    passes would make fewer than ``config.min_steps`` optimiser steps (divided by :func:`key_rows_share`
    of ``model_config``); and ``1 / key_rows_share`` at least, so that an epoch shows the key channel every
    training row once, as it shows a key-only model's.

    The one small-data rule (``train.min_steps``, counted in steps, not epochs): the steps are added
    inside each epoch, so the per-epoch work (VHM centre, validation loss, checkpoint) and the
    early-stopping ``patience``, both counted in epochs, keep their meaning. ``min_steps`` counts the steps of
    the key channel as it is scored: a model that teaches it on half its rows (the blind rows of
    ``keys_see_signals = False``) makes twice as many. Without them, on 50 normal HDFS blocks such a model never
    learnt from the keys that a block ending after two lines is cut short (benchmarks/results/time_values/
    small_data.md: F1 0.865 against key-only 0.961, and 0.984 with the doubled steps). On large data, where
    ``min_steps`` was long reached, one pass an epoch gave that key channel half the rows key-only LogBERT learns
    from in the same epochs: HDFS 2 % (``benchmarks.time_values.devstack --dataset hdfs_2pct``, 10 epochs, 3 seeds)
    F1 0.975 with one pass, 0.990 with two, key-only 0.996, for 1.4x the training time (docs/time_values.md, "An
    epoch of the key channel's own rows").

    >>> cfg = TrainConfig(epochs=30, batch_size=64, min_steps=300)
    >>> passes_per_epoch(cfg, 50), passes_per_epoch(cfg, 640), passes_per_epoch(cfg, 10_000)
    (10, 1, 1)
    >>> alone = ModelConfig(signals="all", keys_see_signals=False)
    >>> passes_per_epoch(cfg, 50, alone), passes_per_epoch(cfg, 10_000, alone)
    (20, 2)
    """
    per_pass = steps_per_pass(n_train, config.batch_size)
    share = key_rows_share(model_config)
    min_steps = math.ceil(config.min_steps / share)
    return max(math.ceil(1 / share), math.ceil(min_steps / (config.epochs * per_pass)))


def precision_warning(config: TrainConfig, has_bf16: bool | None = None) -> str | None:
    """What to say about ``train.precision = "bf16"`` on a CPU without bf16 units (``has_bf16``: whether it has
    them; default :func:`~logbert.threads.cpu_has_bf16`): torch emulates bf16 there, several times slower than
    fp32 (docs/benchmarks.md). None on a GPU, with fp32, or on a CPU with the units (where bf16 trained the
    bench's DevStack in 42-43 s against 44-49 s in fp32 through oneDNN: measured, not worth a note).
    """
    if config.precision != "bf16":
        return None
    try:
        on_cpu = resolve_device(config.device).type == "cpu"
    except ValueError:  # a device this machine lacks: said where the training starts
        return None
    if not on_cpu or (cpu_has_bf16() if has_bf16 is None else has_bf16):
        return None
    return (
        "train.precision=bf16 on a CPU without bf16 units: torch emulates bf16 there, several times slower than "
        "fp32. Set train.precision=fp32 (the default)."
    )


def steps_per_epoch(config: TrainConfig, n_train: int, model_config: ModelConfig | None = None) -> int:
    """Optimiser steps per epoch on ``n_train`` training sequences (every pass of :func:`passes_per_epoch`)."""
    return passes_per_epoch(config, n_train, model_config) * steps_per_pass(n_train, config.batch_size)


@dataclass(slots=True)
class TrainResult:
    """What :func:`train_encoder` returns."""

    model: LogBertEncoder  # the best weights (lowest validation loss), in eval mode
    center: Tensor  # (C,) mean DIST embedding of the training data under ``model``
    history: list[EpochStats]  # every epoch, including those run before a resume
    best_epoch: int  # 1-based
    epochs_run: int  # epochs finished in total
    resumed_from: int  # epochs already finished when this call started (0 = fresh start)
    stopped_early: bool
    steps_run: int = 0  # optimiser steps made in all (train.min_steps counts these)


def lr_factor(step: int, warmup_steps: int, total_steps: int) -> float:
    """Multiplier of the base learning rate: linear warm-up to 1, then cosine decay to 0."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def _epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch) % (2**63)


#: The progress bar's loss is read every this many steps (and at an epoch's first): each read waits for a GPU.
LOSS_SHOWN_EVERY = 16

#: Rows sorted by length within chunks of this many batches (train.bucket_by_length): enough rows for
#: batches of even length, few enough that the batches of an epoch still mix the whole data.
BUCKET_CHUNK_BATCHES = 32


def pattern_weights(rows: Sequence[Sequence[int]], power: float, order_free: bool) -> Tensor | None:
    """(N,) float64 draw weights for ``train.pattern_power``: a distinct row met ``c`` times gets ``c ** power`` in all
    (``c ** (power - 1)`` each), so a pass draws a pattern in proportion to ``c ** power``. None for ``power`` 1
    (every row once a pass, as logged). Distinct = the same keys in the same order, or the same multiset of keys
    for an order-free model, which cannot tell two orders apart."""
    if power >= 1.0 or not rows:
        return None
    patterns = [tuple(sorted(r)) if order_free else tuple(r) for r in rows]
    met = Counter(patterns)
    return torch.tensor([float(met[p]) ** (power - 1.0) for p in patterns], dtype=torch.float64)


def epoch_order(n_rows: int, passes: int, weights: Tensor | None, generator: torch.Generator) -> list[int]:
    """The rows of one epoch, ``passes`` x ``n_rows`` of them: each pass a seeded permutation, or with ``weights``
    (:func:`pattern_weights`) ``n_rows`` draws with replacement in proportion to them."""
    if weights is None:
        return [i for _ in range(passes) for i in torch.randperm(n_rows, generator=generator).tolist()]
    return [
        i for _ in range(passes) for i in torch.multinomial(weights, n_rows, True, generator=generator).tolist()
    ]


def batch_order(
    order: Sequence[int], lengths: Tensor, size: int, per_pass: int, generator: torch.Generator | None
) -> list[list[int]]:
    """The batches (row indices) of an epoch's shuffled ``order``; a batch never spans two passes.

    With a ``generator`` (``train.bucket_by_length``), each chunk of ``BUCKET_CHUNK_BATCHES`` batches
    of a pass is sorted by row length before it is cut into batches, and the pass's batches are then
    shuffled: a batch holds rows of similar length (little padding) and its place in the epoch is
    random. Without one, ``order`` is cut as it is.

    >>> batch_order([3, 0, 2, 1], torch.tensor([5, 2, 9, 4]), 2, 4, None)
    [[3, 0], [2, 1]]
    """
    batches: list[list[int]] = []
    length_of = lengths.tolist()  # plain ints: sorting millions of rows must not index a tensor per row
    for start in range(0, len(order), per_pass):
        one_pass = list(order[start : start + per_pass])
        if generator is None:
            batches += [one_pass[i : i + size] for i in range(0, len(one_pass), size)]
            continue
        chunk = size * BUCKET_CHUNK_BATCHES
        cut: list[list[int]] = []
        for c in range(0, len(one_pass), chunk):
            rows = sorted(one_pass[c : c + chunk], key=length_of.__getitem__)  # stable: ties keep the shuffle
            cut += [rows[i : i + size] for i in range(0, len(rows), size)]
        batches += [cut[i] for i in torch.randperm(len(cut), generator=generator).tolist()]
    return batches


def by_length(lengths: Sequence[int] | Tensor, size: int) -> list[list[int]]:
    """Row indices in batches of ``size``, shortest rows first (no-gradient passes: the order does not matter)."""
    length_of = lengths.tolist() if isinstance(lengths, Tensor) else list(lengths)
    order = sorted(range(len(length_of)), key=length_of.__getitem__)
    return [order[i : i + size] for i in range(0, len(order), size)]


#: The share of training rows whose times and values are all hidden when ``model.keys_see_signals`` is False: half
#: the rows teach the key head to predict from the keys alone (what the key pass reads), half teach the time and
#: value heads (which learn nothing from a blind row).
BLIND_ROWS: float = 0.5


def _signal_batch(
    batch: MaskedBatch,
    token_ids: Tensor,
    pad_mask: Tensor,
    cfg: TrainConfig,
    mask_id: int,
    gen: torch.Generator,
    model_config: ModelConfig,
) -> SignalBatch | None:
    """The masked signal inputs of a batch (after its key mask and cuts); None for a key-only model, which
    draws nothing here (its random stream stays that of before the signals existed)."""
    if batch.gap_ids is None and batch.value_ids is None:
        return None
    blind = 0.0 if model_config.keys_see_signals else BLIND_ROWS
    return mask_signals(token_ids, pad_mask, batch.gap_ids, batch.value_ids, cfg.mask_ratio, mask_id, gen, blind)


def _signal_counts(signals: SignalBatch | None) -> tuple[int, int]:
    """Predicted (gap, value) buckets of a whole batch: the global denominators of a shard's signal losses."""
    if signals is None:
        return 0, 0
    n = [0 if t is None else int((t != IGNORE_INDEX).sum()) for t in (signals.gap_labels, signals.value_labels)]
    return n[0], n[1]


def _shard_signals(signals: SignalBatch | None, rows: slice, device: torch.device) -> SignalBatch | None:
    if signals is None:
        return None
    return SignalBatch(*(None if t is None else to_device(t[rows], device) for t in signals))


def to_device(tensor: Tensor, device: torch.device) -> Tensor:
    """``tensor`` (a batch collated on the host) on ``device``. To a CUDA GPU through pinned memory and without
    waiting: a plain copy waits for the GPU to finish its queued work first, so the host could not collate the next
    batch while the GPU runs this one."""
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def pad_columns(tensor: Tensor, width: int, fill: int | bool) -> Tensor:
    """(B, T) ``tensor`` with ``fill`` columns added on the right up to ``width`` (itself when already that wide)."""
    extra = width - tensor.shape[1]
    if extra <= 0:
        return tensor
    return torch.cat([tensor, tensor.new_full((tensor.shape[0], extra), fill)], dim=1)


def fixed_width(
    token_ids: Tensor,
    labels: Tensor,
    pad_mask: Tensor,
    signals: SignalBatch | None,
    width: int,
    pad_id: int,
) -> tuple[Tensor, Tensor, Tensor, SignalBatch | None]:
    """A masked batch padded to ``width`` positions (the compiled CUDA step's one shape): padding columns, masked in
    attention and unlabelled, after the masks were drawn, so that the random stream is that of the eager run."""
    if signals is not None:
        fills = (SIGNAL_NONE, SIGNAL_NONE, IGNORE_INDEX, IGNORE_INDEX)
        signals = SignalBatch(
            *(None if t is None else pad_columns(t, width, f) for t, f in zip(signals, fills, strict=True))
        )
    return (
        pad_columns(token_ids, width, pad_id),
        pad_columns(labels, width, IGNORE_INDEX),
        pad_columns(pad_mask, width, True),
        signals,
    )


@torch.no_grad()
def compute_center(
    model: LogBertEncoder,
    rows: Sequence[Sequence[int]],
    pad_id: int,
    device: torch.device | str = "cpu",
    batch_size: int = ScoringConfig().batch_size,
    gap_rows: Sequence[Sequence[int]] | None = None,
    value_rows: Sequence[Sequence[int]] | None = None,
) -> Tensor:
    """Mean DIST embedding of unmasked token rows (and their signal rows, when given), in eval mode.
    Returns (C,) on the CPU.

    Each distinct row is embedded once and counted as often as it occurs: in eval mode identical rows have
    identical embeddings (up to the float rounding of the batch they share), and real logs repeat (the
    4,855 DeepLog HDFS training sessions hold 839 distinct ones)."""
    was_training = model.training
    model.eval()
    device = torch.device(device)
    first, inverse = distinct_rows(rows, gap_rows, value_rows)
    sum_dtype = _sum_dtype(device)
    weights = to_device(torch.from_numpy(np.bincount(inverse)).to(sum_dtype), device)  # how often each occurs
    # the sum stays on the device (one host sync at the end, not one a batch), in float64 where the device has it
    total = torch.zeros(model.config.d_model, dtype=sum_dtype, device=device)
    for index in by_length([len(rows[i]) for i in first], batch_size):  # rows of one length together: little padding
        picked = [first[j] for j in index]
        token_ids, pad_mask = pad_tokens([rows[i] for i in picked], pad_id)
        width = token_ids.shape[1]
        extra = [
            None if r is None else to_device(pad_signal_rows([r[i] for i in picked], width), device)
            for r in (gap_rows, value_rows)
        ]
        no_keys = torch.zeros(len(index), 0, dtype=torch.long, device=device)  # the last layer computes DIST only
        out = model(to_device(token_ids, device), to_device(pad_mask, device), *extra, predict_at=no_keys)
        total += (out.dist_embedding.to(sum_dtype) * weights[index, None]).sum(dim=0)  # (C,)
    model.train(was_training)
    return (total.cpu().double() / len(rows)).float()


def _sum_dtype(device: torch.device) -> torch.dtype:
    return torch.float32 if device.type == "mps" else torch.float64  # MPS has no float64


def center_sample(n_rows: int, limit: int, epoch_seed: int) -> list[int] | None:
    """The training rows an epoch's centre pass reads (``train.center_rows``): None = all of them, else ``limit`` of
    the ``n_rows`` in ascending order, drawn by a generator of their own (the training steps' random stream stays)."""
    if limit == 0 or n_rows <= limit:
        return None
    generator = torch.Generator().manual_seed(epoch_seed + 0x5EED)
    return sorted(torch.randperm(n_rows, generator=generator)[:limit].tolist())


def _rows_at(
    picked: list[int] | None, *columns: Sequence[Sequence[int]] | None
) -> tuple[Sequence[Sequence[int]] | None, ...]:
    """Each column's rows at ``picked`` (None: the columns themselves)."""
    if picked is None:
        return columns
    return tuple(None if c is None else [c[i] for i in picked] for c in columns)


class CenterSum:
    """The running sum of the training steps' DIST embeddings, whose mean is the next epoch's VHM centre
    (``train.center_from = "steps"``): the embeddings the hypersphere term pulls in, at no extra forward pass.

    The sum stays on the embeddings' device (no host sync a step), in float64 where the device has it.
    """

    def __init__(self, width: int) -> None:
        self.width = width  # C, so that a rank that added no row still joins the sum with zeros
        self.total: Tensor | None = None
        self.rows = 0

    def add(self, dist_embedding: Tensor) -> None:
        """Add a batch's (B, C) DIST embeddings (detached: the sum takes no gradient)."""
        rows = dist_embedding.detach()
        batch = rows.to(_sum_dtype(rows.device)).sum(dim=0)
        self.total = batch if self.total is None else self.total + batch
        self.rows += rows.shape[0]

    def mark(self) -> tuple[Tensor | None, int]:
        """The sum so far, for :meth:`restore` (a training step that failed half-way and is made again)."""
        return self.total, self.rows

    def restore(self, marked: tuple[Tensor | None, int]) -> None:
        self.total, self.rows = marked

    def mean(self, group: Group) -> Tensor | None:
        """(C,) on the CPU, over every rank's rows (a collective under torchrun); None when no row was added."""
        total = torch.zeros(self.width, dtype=torch.float64) if self.total is None else self.total
        # the sum and the row count in one collective
        count = torch.tensor([float(self.rows)], dtype=torch.float64)
        summed = group.sum_tensor(torch.cat([total.cpu().double(), count]))
        rows = int(summed[-1].item())
        if rows == 0:
            return None
        return (summed[:-1] / rows).float()


def _loss(
    model: Callable[..., EncoderOutput],
    token_ids: Tensor,
    labels: Tensor,
    pad_mask: Tensor,
    center: Tensor | None,
    config: TrainConfig,
    totals: tuple[int, int] | None = None,
    signals: SignalBatch | None = None,
    signal_totals: tuple[int, int] | None = None,
    center_sum: CenterSum | None = None,
) -> Tensor:
    """MLKP + gap CE + value CE + alpha * VHM of these rows; ``totals`` = (masked keys, rows) and
    ``signal_totals`` = (predicted gaps, predicted values) of the whole batch when the rows are one
    process's share of it (the sums are divided by the batch's counts). The rows' DIST embeddings are added
    to ``center_sum`` when one is given.

    The gap and value terms (time- and value-aware models, ``signals`` given) are the masked-prediction
    loss of :func:`masked_key_loss` over their buckets, weighted like MLKP: each is a prediction task
    of the same kind, and none should drown the others.
    """
    n_masked, n_rows = (None, None) if totals is None else totals
    row_labels = labels  # (B, T), before the CPU path gathers the masked positions
    if signals is None and token_ids.device.type == "cpu":
        # key-only on a CPU: the last layer and the head run at the masked keys only (the same numbers). Not on a
        # GPU, where the gathers and the host sync cost more than the rows they skip (benchmarks.speed.steps on
        # an H200: 7.4 against 5.9 ms a step at batch 512, equal at 4096)
        positions, used = masked_positions(labels != IGNORE_INDEX)
        labels = labels.gather(1, positions).masked_fill(~used, IGNORE_INDEX)  # (B, S)
        out = model(token_ids, pad_mask, predict_at=positions)
    elif signals is None:
        out = model(token_ids, pad_mask)
    else:
        out = model(token_ids, pad_mask, signals.gap_ids, signals.value_ids)
    loss = masked_key_loss(out.logits, labels, n_masked) if config.use_mlkp else out.logits.sum() * 0.0
    if signals is not None:
        n_gap, n_value = (None, None) if signal_totals is None else signal_totals
        if out.gap_logits is not None and signals.gap_labels is not None:
            loss = loss + masked_key_loss(out.gap_logits, signals.gap_labels, n_gap)
        if out.value_logits is not None and signals.value_labels is not None:
            loss = loss + masked_key_loss(out.value_logits, signals.value_labels, n_value)
    if out.count_logits is not None:  # model.key_counts: every key's count in the row, the masked ones included
        truth = torch.where(row_labels != IGNORE_INDEX, row_labels, token_ids)  # the rows before masking
        loss = loss + count_loss(out.count_logits, count_buckets(truth, pad_mask, out.count_logits.shape[1]), n_rows)
    if center is not None and config.alpha > 0:
        vhm = hypersphere_loss(out.dist_embedding, center, n_rows, per_dimension=config.vhm_per_dimension)
        loss = loss + config.alpha * vhm
    if center_sum is not None:
        center_sum.add(out.dist_embedding)
    return loss


class CompiledStep:
    """The training step's model under ``torch.compile``, or the model itself where compiling fails.

    On a CPU, dynamic shapes: a batch's row count, length and number of masked keys vary, and a graph per
    shape would recompile all through the first epoch. On a CUDA GPU, fixed shapes and CUDA graphs
    (``mode="reduce-overhead"``; one process: DDP's hooks do not replay): the trainer pads every batch to the
    model's width (:func:`fixed_width`), so an epoch needs two graphs (full batches and the last one), and a
    step replays its kernels without a launch each. A small model is bound by those launches on a GPU, not
    by arithmetic (docs/benchmarks.md); torch 2.11's inductor also failed on this model with dynamic shapes.

    The parameters stay ``model``'s own (checkpoints, ``best`` and the artifact read ``model``). A compiler
    that fails on this graph, in the forward or the backward, costs the speed-up, not the training: the error
    is logged once, the step is made again eagerly, and the steps run eagerly from then on, on the same weights.
    """

    def __init__(self, model: nn.Module, device: torch.device, distributed: bool = False) -> None:
        self.model = model
        self.static = device.type == "cuda"  # the trainer pads to one width when this is True
        options: dict[str, object] = {"dynamic": not self.static}
        if self.static and not distributed:
            options["mode"] = "reduce-overhead"
        self.compiled: Callable[..., EncoderOutput] | None = torch.compile(model, **options)  # type: ignore[call-overload]

    def __call__(self, *args: object, **kwargs: object) -> EncoderOutput:
        """The compiled forward (eager once compiling has failed)."""
        call = self.compiled if self.compiled is not None else self.model
        out: EncoderOutput = call(*args, **kwargs)
        return out

    def step(self, forward_backward: Callable[[], Tensor], undo: Callable[[], None] = lambda: None) -> Tensor:
        """Run ``forward_backward`` (which calls this object for the forward); when the compiled graph fails in it,
        ``undo`` what the failed try recorded, log once and run it again eagerly."""
        if self.compiled is None:
            return forward_backward()
        try:
            return forward_backward()
        except torch.OutOfMemoryError:
            raise
        except Exception as exc:  # the compiler's own errors have many types (dynamo, inductor, triton)
            first = str(exc).strip().splitlines()[:1]
            logger.warning(
                "train.compile: torch.compile failed (%s: %s); training goes on without it",
                type(exc).__name__,
                first[0][:200] if first else "",
            )
            self.compiled = None
            undo()
            return forward_backward()


def _shard_loss(
    model: Callable[..., EncoderOutput],
    token_ids: Tensor,
    labels: Tensor,
    pad_mask: Tensor,
    center: Tensor | None,
    config: TrainConfig,
    group: Group,
    device: torch.device,
    signals: SignalBatch | None = None,
    center_sum: CenterSum | None = None,
) -> Tensor:
    """This rank's share of the loss of the whole batch (B, T), scaled so that DDP's gradient mean is its gradient.

    Every rank holds the same whole batch (same masks and cuts): the masked-token count and row count
    are the global ones without a collective. :func:`_loss` of the shard over the batch's counts, times
    ``world_size``: the mean over the ranks of their gradients is then the gradient of :func:`_loss` on
    the whole batch. A rank with no row (fewer rows than ranks) forwards row 0 at weight 0, so that it
    still joins DDP's all-reduce.
    """
    n_rows = token_ids.shape[0]
    n_masked = int((labels != IGNORE_INDEX).sum())
    start, stop = group.shard(n_rows)
    scale = float(group.world_size)
    if stop == start:
        start, stop, scale = 0, 1, 0.0
    rows = slice(start, stop)
    share = _loss(
        model,
        token_ids[rows].to(device),
        labels[rows].to(device),
        pad_mask[rows].to(device),
        center,
        config,
        totals=(n_masked, n_rows),
        signals=_shard_signals(signals, rows, device),
        signal_totals=_signal_counts(signals),
        center_sum=center_sum if scale > 0 else None,  # a rank's stand-in row is not a training row
    )
    return share * scale


def _forward_backward(
    opt: torch.optim.Optimizer,
    precision: torch.autocast,
    step_model: Callable[..., EncoderOutput],
    batch: tuple[Tensor, Tensor, Tensor, SignalBatch | None],
    center: Tensor | None,
    config: TrainConfig,
    group: Group,
    device: torch.device,
    center_sum: CenterSum | None,
) -> Tensor:
    """One training step's gradients (the optimiser steps after): zero them, the loss of ``batch`` (token ids,
    labels, padding mask, signals; on ``device`` already unless torchrun shards it), its backward. Returns the loss."""
    token_ids, labels, pad_mask, signals = batch
    opt.zero_grad(set_to_none=True)
    with precision:
        if group.active:  # this rank's rows of the whole batch
            loss = _shard_loss(
                step_model, token_ids, labels, pad_mask, center, config, group, device, signals, center_sum
            )
        else:
            loss = _loss(
                step_model, token_ids, labels, pad_mask, center, config, signals=signals, center_sum=center_sum
            )
    loss.backward()  # type: ignore[no-untyped-call]
    return loss


def _bucketed(config: TrainConfig, ds: MaskedKeyDataset) -> bool:
    """Length-bucketed batches (``train.bucket_by_length``) for key-only models only. A time- or value-aware
    model trains on plain shuffled batches: with buckets its recall on the simulator's time faults fell
    from 0.76 to 0.0 (``benchmarks.time_values``, model.signals=time, 400 VMs, seed 0; cause not known)."""
    return config.bucket_by_length and ds.gap_rows is None and ds.value_rows is None


def _reorder(config: TrainConfig, vocab: TokenVocab, generator: torch.Generator) -> Reorder | None:
    """``train.order_jitter``'s row rearrangement (None when off: no draw, so the random stream is unchanged)."""
    if config.order_jitter <= 0:
        return None
    bounds = [t for t in vocab.encode([SESSION_START_KEY, SESSION_END_KEY]) if t >= vocab.N_SPECIAL]

    def reorder(token_ids: Tensor, pad_mask: Tensor) -> Tensor:
        return jitter_order(token_ids, pad_mask, config.order_jitter, bounds, generator)

    return reorder


def unmasked_rows(batch: MaskedBatch) -> list[list[int]]:
    """The batch's rows before masking (DIST first, no padding): a masked key's label is its true token."""
    tokens = torch.where(batch.labels != IGNORE_INDEX, batch.labels, batch.token_ids)  # (B, T)
    lengths = (~batch.pad_mask).sum(dim=1).tolist()
    return [row[:n] for row, n in zip(tokens.tolist(), lengths, strict=True)]


def _batches(n: int, config: TrainConfig) -> list[list[int]]:
    return [list(range(i, min(n, i + config.batch_size))) for i in range(0, n, config.batch_size)]


@torch.no_grad()
def _validation_loss(
    model: LogBertEncoder,
    ds: MaskedKeyDataset,
    center: Tensor | None,
    config: TrainConfig,
    device: torch.device,
) -> float:
    model.eval()
    gen = torch.Generator().manual_seed(config.seed + 1)  # the same masks every epoch
    losses: list[tuple[Tensor, int]] = []  # read from the device once, after the last batch
    for rows in by_length(ds.lengths, config.batch_size) if _bucketed(config, ds) else _batches(len(ds), config):
        batch = ds.collate_index(rows, config.mask_ratio, gen)
        signals = _signal_batch(batch, batch.token_ids, batch.pad_mask, config, ds.vocab.MASK, gen, model.config)
        signals = _shard_signals(signals, slice(None), device)
        c = None if center is None else center.to(device)
        loss = _loss(
            model,
            to_device(batch.token_ids, device),
            to_device(batch.labels, device),
            to_device(batch.pad_mask, device),
            c,
            config,
            None,
            signals,
        )
        losses.append((loss, len(rows)))
    model.train()
    return weighted_mean(losses)


def weighted_total(losses: Sequence[tuple[Tensor, int]]) -> float:
    """The sum of scalar losses times their rows, read from the device in one copy: the same float as a running
    ``total += float(loss) * rows`` (each loss read as a float64, summed in order), without a host sync a batch."""
    if not losses:
        return 0.0
    values = torch.stack([loss.detach().float() for loss, _ in losses]).cpu().double().tolist()
    total = 0.0
    for value, (_, rows) in zip(values, losses, strict=True):
        total += value * rows
    return total


def weighted_mean(losses: Sequence[tuple[Tensor, int]]) -> float:
    """:func:`weighted_total` over the rows (nan without a loss)."""
    rows = sum(n for _, n in losses)
    return weighted_total(losses) / rows if rows else math.nan


# -- the loop ---------------------------------------------------------------------------------


def train_encoder(
    model_config: ModelConfig,
    train_config: TrainConfig,
    vocab: TokenVocab,
    train: Sequence[Sequence[int]],
    val: Sequence[Sequence[int]],
    *,
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
    on_epoch_end: Callable[[EpochStats], None] | None = None,
    eval_batch_size: int = ScoringConfig().batch_size,
    train_signals: tuple[Sequence[Sequence[int]] | None, Sequence[Sequence[int]] | None] = (None, None),
    val_signals: tuple[Sequence[Sequence[int]] | None, Sequence[Sequence[int]] | None] = (None, None),
) -> TrainResult:
    """Train a :class:`LogBertEncoder` on normal key sequences.

    Loss = MLKP + ``alpha`` * VHM (MLKP off when ``use_mlkp`` is False, VHM off when ``alpha``
    is 0). With ``train.cut_ratio`` > 0 that share of each batch's rows is cut after a random key, the next
    key masked as the row's last token (:func:`logbert.training.cuts.cut_rows`). Each epoch's VHM centre is the
    mean DIST embedding of the unmasked training data from a pass before the epoch (``train.center_from =
    "pass"``, the default; over a seeded sample of ``train.center_rows`` rows when there are more) or of the
    previous epoch's training steps (``"steps"``; the first epoch's from a pass); the returned centre, which
    scoring reads, is the mean DIST embedding of all the unmasked training data under the best model.

    Args:
        model_config: the model shape; ``vocab_size`` must equal ``len(vocab)``.
        train_config: optimisation settings (seed, epochs, patience, ...).
        vocab: the fitted vocabulary.
        train: normal training sequences (key ids, each non-empty, at most ``max_len`` keys).
        val: normal validation sequences, for early stopping.
        checkpoint_dir: where to save the state after every epoch; when it already holds a
            checkpoint of the same config and data, training continues from there.
        progress: show a rich progress bar.
        on_epoch_end: called with each finished epoch's statistics (after the checkpoint is saved).
        eval_batch_size: rows per forward pass without gradient (the centre), as in scoring.
        train_signals: (gap rows, value rows) of ``train`` for a time- or value-aware model
            (``model_config.signals``; ``logbert.windowing.signals.encode_signals``), aligned with the
            token rows ``[DIST, k_1, ...]``; None for a channel the model does not have.
        val_signals: the same for ``val``.

    Returns:
        The best model (eval mode), its centre and the training history.

    Raises:
        ValueError: empty train/val, an empty or too long sequence, a vocabulary size mismatch,
            or a config with neither loss switched on.
        UnknownArtifact: ``checkpoint_dir`` holds a checkpoint of another run, or a broken one.
    """
    if not train_config.use_mlkp and train_config.alpha == 0:
        raise ValueError("nothing to train: use_mlkp is False and alpha is 0")
    if not train or not val:
        raise ValueError(f"need training and validation sequences, got {len(train)} and {len(val)}")
    if model_config.vocab_size != len(vocab):
        raise ValueError(f"model_config.vocab_size={model_config.vocab_size} but the vocabulary has {len(vocab)}")
    gap_on, value_on = model_config.uses_time, model_config.uses_values

    def dataset(
        seqs: Sequence[Sequence[int]],
        signals: tuple[Sequence[Sequence[int]] | None, Sequence[Sequence[int]] | None],
    ) -> MaskedKeyDataset:
        gaps, values = signals[0] if gap_on else None, signals[1] if value_on else None
        return MaskedKeyDataset(seqs, vocab, model_config.max_len, gap_rows=gaps, value_rows=values)

    train_ds, val_ds = dataset(train, train_signals), dataset(val, val_signals)
    for name, on, ds in (("time", gap_on, train_ds), ("values", value_on, train_ds)):
        if on and (ds.gap_rows if name == "time" else ds.value_rows) is None:
            raise ValueError(f"model.signals={model_config.signals!r} needs the {name} rows of the training data")
    cfg = train_config
    device = torch.device(cfg.device)
    directory = None if checkpoint_dir is None else Path(checkpoint_dir)

    group = process_group(device)  # torchrun: N processes train this one model (the single process: a no-op)
    fast_products = device.type == "cpu" and (
        cfg.cpu_matmul == "onednn" or (cfg.cpu_matmul == "auto" and onednn_linear_pays())
    )
    with (
        torch_threads(group.threads(cfg.num_threads)),
        torch.random.fork_rng(devices=[]),
        onednn_linear(fast_products),
    ):
        torch.manual_seed(cfg.seed)
        model = LogBertEncoder(model_config).to(device)
        # the fused step: one kernel for all parameters (0.4 ms against 1.6 ms a step for this model on a CPU)
        fused = device.type in ("cpu", "cuda")
        opt = AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused)
        passes = passes_per_epoch(cfg, len(train_ds), model_config)
        draw_weights = pattern_weights(train, cfg.pattern_power, not model_config.positions)
        epoch_steps = steps_per_epoch(cfg, len(train_ds), model_config)
        total_steps = cfg.epochs * epoch_steps
        warmup_steps = int(cfg.warmup_fraction * total_steps)

        def schedule(step: int) -> float:
            return lr_factor(step, warmup_steps, total_steps)

        sched = LambdaLR(opt, schedule)
        loop, history, best = LoopState(), list[EpochStats](), clone_state(model)
        center: Tensor | None = None  # this epoch's VHM centre (alpha > 0)
        run_fingerprint = fingerprint(model_config, cfg, len(vocab), train_ds, val_ds)
        resumed_from = 0
        if directory is not None:
            restored = load_checkpoint(directory, run_fingerprint, model, opt, sched)
            if restored is not None:
                loop, history, best, saved_center = restored
                if cfg.center_from == "steps":  # the mean of the last finished epoch's steps: no pass can remake it
                    center = saved_center
                resumed_from = loop.epoch
                logger.info("resuming from %s after epoch %d", directory, loop.epoch)
        # torchrun: every rank must resume from the same epoch (a folder all nodes share) or none can go on
        group.same_int(loop.epoch, "the checkpoint epoch to resume from")
        ddp = group.wrap(model)  # the model itself on one process
        compiled = CompiledStep(ddp, device, distributed=group.active) if cfg.compile else None
        step_model = ddp if compiled is None else compiled  # what the training steps call
        # the compiled CUDA step's one width: every batch padded to the model's positions (CompiledStep)
        static_width = model_config.max_len + 1 if compiled is not None and compiled.static else None
        precision = torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16")

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        show = progress and group.is_main  # torchrun: rank 0's bar only
        with Progress(*columns, TextColumn("loss {task.fields[loss]:.4f}"), disable=not show) as bar:
            task = bar.add_task("training", total=(cfg.epochs - loop.epoch) * epoch_steps, loss=math.nan)
            while not loop.finished:
                epoch_seed = _epoch_seed(cfg.seed, loop.epoch)
                torch.manual_seed(epoch_seed)
                gen = torch.Generator().manual_seed(epoch_seed)
                started = time.perf_counter()
                steps_center = CenterSum(model_config.d_model) if cfg.alpha > 0 and cfg.center_from == "steps" else None
                if cfg.alpha > 0 and (cfg.center_from == "pass" or center is None):
                    picked = center_sample(len(train_ds), cfg.center_rows, epoch_seed)
                    keys, gaps, values = _rows_at(picked, train_ds.rows, train_ds.gap_rows, train_ds.value_rows)
                    assert keys is not None
                    center = compute_center(model, keys, vocab.PAD, device, eval_batch_size, gaps, values)
                center_dev = None if center is None else center.to(device)
                model.train()
                # small data: several passes per epoch (train.min_steps), each in its own seeded order
                order = epoch_order(len(train_ds), passes, draw_weights, gen)
                step_losses: list[tuple[Tensor, int]] = []  # read from the device at the epoch's end (weighted_total)
                bar.update(task, description=f"epoch {loop.epoch + 1}/{cfg.epochs}")
                bucket_gen = gen if _bucketed(cfg, train_ds) else None
                reorder = _reorder(cfg, vocab, gen)
                for rows in batch_order(order, train_ds.lengths, cfg.batch_size, len(train_ds), bucket_gen):
                    batch = train_ds.collate_index(rows, cfg.mask_ratio, gen, reorder)
                    token_ids, labels, pad_mask = batch.token_ids, batch.labels, batch.pad_mask
                    if cfg.cut_ratio > 0:  # no draw when off: runs without cuts keep their random stream
                        token_ids, labels, pad_mask = cut_rows(
                            token_ids,
                            labels,
                            pad_mask,
                            [train_ds.rows[i] for i in rows] if reorder is None else unmasked_rows(batch),
                            ratio=cfg.cut_ratio,
                            mask_id=vocab.MASK,
                            pad_id=vocab.PAD,
                            generator=gen,
                        )
                    # after the cuts
                    signals = _signal_batch(batch, token_ids, pad_mask, cfg, vocab.MASK, gen, model_config)
                    if static_width is not None:
                        token_ids, labels, pad_mask, signals = fixed_width(
                            token_ids, labels, pad_mask, signals, static_width, vocab.PAD
                        )
                    if not group.active:
                        token_ids, labels = to_device(token_ids, device), to_device(labels, device)
                        pad_mask, signals = to_device(pad_mask, device), _shard_signals(signals, slice(None), device)
                    forward_backward = functools.partial(
                        _forward_backward,
                        opt,
                        precision,
                        step_model,
                        (token_ids, labels, pad_mask, signals),
                        center_dev,
                        cfg,
                        group,
                        device,
                        steps_center,
                    )
                    if compiled is None:
                        loss = forward_backward()
                    else:
                        undo = (
                            (lambda: None)
                            if steps_center is None
                            else functools.partial(steps_center.restore, steps_center.mark())
                        )
                        loss = compiled.step(forward_backward, undo)
                    opt.step()
                    sched.step()
                    loop.global_step += 1
                    step_losses.append((loss.detach(), len(rows)))
                    # the bar's loss is read from the device now and then: a read waits for a GPU to finish the step
                    if (len(step_losses) - 1) % LOSS_SHOWN_EVERY == 0:
                        bar.update(task, advance=1, loss=float(loss.detach()))
                    else:
                        bar.update(task, advance=1)
                total = weighted_total(step_losses)
                val_loss = _validation_loss(model, val_ds, center_dev, cfg, device)
                if group.active:  # the whole batch's loss is the mean of the ranks' scaled shares
                    total = group.sum_float(total) / group.world_size
                    val_loss = group.broadcast_float(val_loss)  # every rank takes rank 0's early-stopping decisions
                if steps_center is not None:  # the next epoch's centre (a collective under torchrun)
                    next_center = steps_center.mean(group)
                    center = center if next_center is None else next_center
                loop.epoch += 1
                if val_loss < loop.best_val:
                    loop.best_val, loop.best_epoch, loop.bad_epochs = val_loss, loop.epoch, 0
                    best = clone_state(model)
                else:
                    loop.bad_epochs += 1
                loop.stopped_early = loop.bad_epochs >= cfg.patience and loop.epoch < cfg.epochs
                loop.finished = loop.stopped_early or loop.epoch >= cfg.epochs
                stats = EpochStats(
                    epoch=loop.epoch,
                    train_loss=total / len(order),
                    val_loss=val_loss,
                    lr=float(sched.get_last_lr()[0]),
                    seconds=time.perf_counter() - started,
                )
                history.append(stats)
                logger.info("epoch %d: train %.4f, val %.4f", stats.epoch, stats.train_loss, stats.val_loss)
                if directory is not None and group.is_main:  # torchrun: rank 0 alone writes
                    save_checkpoint(
                        directory,
                        fingerprint=run_fingerprint,
                        loop=loop,
                        history=history,
                        model=model,
                        best=best,
                        center=center,
                        opt=opt,
                        sched=sched,
                        seed=cfg.seed,
                    )
                if on_epoch_end is not None:
                    on_epoch_end(stats)
            if loop.stopped_early:  # the bar ends where training did, not at "epoch 12/30"
                done = bar.tasks[0].completed
                bar.update(task, total=done, description=f"stopped early after epoch {loop.epoch}/{cfg.epochs}")

        model.load_state_dict(best)
        model.eval()
        final_center = compute_center(
            model, train_ds.rows, vocab.PAD, device, eval_batch_size, train_ds.gap_rows, train_ds.value_rows
        )
    return TrainResult(
        model=model,
        center=final_center,
        history=history,
        best_epoch=loop.best_epoch,
        epochs_run=loop.epoch,
        resumed_from=resumed_from,
        stopped_early=loop.stopped_early,
        steps_run=loop.global_step,
    )
