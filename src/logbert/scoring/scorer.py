"""Deterministic masked scoring: model outputs -> per-sequence anomaly scores.

A masked key is a *miss* when its true token is not among the model's top-g predictions
(specials are never predicted, so an UNK key is always a miss). ``miss_ratio`` = misses /
masked keys. Which keys are masked never depends on the batch a sequence is scored in:

* ``"strided"`` (default): ``s = mask_stride`` passes; pass ``p`` masks key positions
  ``p, p + s, p + 2s, ...`` so every key is masked exactly once.
* ``"seeded"``: ``n_rounds`` random masks per sequence from a generator seeded by
  ``ScoringConfig.seed`` and the sequence's own tokens.

``mean_nll`` / ``max_nll`` are the mean / largest surprise ``-log p(true key)`` of the masked keys, and
``max_mean_nll`` their sum (:func:`pick_score`). ``dist`` is the squared distance of the unmasked
sequence's DIST embedding to the training centre. Higher = more anomalous for every score.

Time- and value-aware models (``model.signals``, issue 13) get two more per-sequence scores, one per
channel: ``time_nll`` and ``value_nll``, the largest *signal surprise* of the sequence. A second pass
per mask keeps every key visible and hides the gap and value buckets of the masked positions (and,
in the first pass, the elapsed-time bucket at DIST); the surprise of a position is
``min(-log tail, nll_cap) + min(excess, nll_cap)``. Buckets are ordered, so the surprise is that of
a *tail*, not of the one bucket: ``tail = P(bucket >= true)`` for time and durations (only slower is
a fault), ``min(P(bucket >= true), P(bucket <= true))`` for other values. A gap a little shorter
than a confidently expected one is then no surprise, where ``-log p(true bucket)`` of a sharp
prediction would call it one. Out of range the true bucket is the nearest inner one (BELOW and ABOVE
are never training labels; their probability says nothing), and the excess, how many widths of
the inner training range the value lies outside the training range (0 inside;
``logbert.windowing.signals.excess``): a bucket says "above the range", the excess says how far. It is
added as it is (not on a log scale): on DeepLog OpenStack the anomalies' spawn times lie 5-21 widths
out, the slowest normal-looking instance 3.4, and a log would squeeze that difference under the
noise of the bucket surprise. A category never seen in training for its template slot (bucket ABOVE,
``SignalRow.value_unseen``) gets the largest value surprise there is, ``2 * nll_cap`` (the tail term
and the excess each at the cap), whatever the model predicts: the model never learnt a bucket for a
category (seen categories are no signal), and an unseen category, like an unseen key (whose key
surprise is the cap), is itself the signal. The key pass of such a model hides the
masked keys' signals too (a bucket must not give its key away). How the three channels become one
score is the estimator's rule (:func:`logbert.pipeline.estimator.combine_channels`).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor

from logbert.config import (
    SIGNAL_BELOW,
    SIGNAL_MASK,
    SIGNAL_NONE,
    MaskStrategy,
    ScoreKind,
    ScoringConfig,
    signal_classes,
)
from logbert.model.encoder import LogBertEncoder, PassOutput, count_buckets, count_surprise, last_key
from logbert.windowing.dataset import (
    TokenVocab,
    blind_signals,
    distinct_rows,
    encode_sequences,
    pad_signal_rows,
    pad_tokens,
    random_key_mask,
    right_padded,
)
from logbert.windowing.signals import SignalRow


@dataclass(frozen=True, slots=True)
class PositionDetail:
    """One masked key and what the model expected there (for explanations)."""

    position: int  # 0-based key index in the sequence (DIST not counted)
    key_id: int  # the key id seen there (as given; UNK_KEY for an unseen template)
    token_id: int  # its token id (UNK for a key the vocabulary does not know)
    missed: bool  # True when token_id is not among the top-g predictions
    top_key_ids: tuple[int, ...]  # the model's top-g keys, most probable first
    top_probs: tuple[float, ...]  # their softmax probabilities (specials excluded from the softmax)


@dataclass(frozen=True, slots=True)
class SignalDetail:
    """The most surprising gap or value of a sequence, and what the model expected (for explanations)."""

    channel: str  # "time" or "value"
    position: int  # 0-based key index in the sequence; -1 = the session's elapsed time (DIST)
    bucket: int  # the bucket seen there (logbert.windowing.signals)
    expected_bucket: int  # the model's most probable bucket (NONE and MASK excluded)
    expected_prob: float  # its probability
    surprise: float  # -log tail probability of the bucket, capped, + excess, capped
    excess: float  # training-range widths outside the training range (0 inside)
    slot: int = -1  # value channel: which slot of the line


@dataclass(frozen=True, slots=True)
class CountDetail:
    """The most surprising key count of a sequence (``model.key_counts``), and what the model expected."""

    token_id: int  # the key's token id
    key_id: int | None  # its key id (None for UNK)
    count: int  # how often it occurs in the sequence
    expected_count: int  # the model's most probable count bucket (COUNT_BUCKETS - 1 = that many or more)
    expected_prob: float  # its probability
    surprise: float  # -log of the smaller tail that holds the true count


@dataclass(frozen=True, slots=True)
class ScoreOutput:
    """Per-sequence scores; higher = more anomalous. Arrays have one entry per sequence."""

    miss_ratio: np.ndarray  # (N,) float64, misses / masked keys
    dist: np.ndarray  # (N,) float64, squared distance of the DIST embedding to the centre
    n_masked: np.ndarray  # (N,) int64, masked keys (over all passes / rounds)
    n_misses: np.ndarray  # (N,) int64
    details: list[list[PositionDetail]] | None = None  # per sequence, per masked key (on request)
    mean_nll: np.ndarray | None = None  # (N,) float64, mean -log p(true key) over masked keys, capped
    max_nll: np.ndarray | None = None  # (N,) float64, the largest -log p(true key) of any masked key, capped
    time_nll: np.ndarray | None = None  # (N,) float64, the largest gap / elapsed surprise (time-aware models)
    value_nll: np.ndarray | None = None  # (N,) float64, the largest value surprise (value-aware models)
    signal_details: list[list[SignalDetail]] | None = None  # per sequence, the worst time and value (on request)
    length_surprise: np.ndarray | None = None  # (N,) float64, short-session surprise (scoring.lengths; detector)
    volume_surprise: np.ndarray | None = None  # (N,) float64, busy-time-window surprise (scoring.volume; estimator)
    count_nll: np.ndarray | None = None  # (N,) float64, the count head's surprise (model.key_counts; pick_score)
    count_details: list[CountDetail | None] | None = None  # per sequence, its most surprising count (on request)


def strided_masks(pad_mask: Tensor, stride: int, span: int = 1) -> list[Tensor]:
    """The pass masks for a padded batch: pass p masks keys p, p+s, ... (0-based); with ``span`` w > 1,
    runs of w adjacent keys instead, at every one of the w offsets of the run grid (``scoring.mask_span``).

    Args:
        pad_mask: (B, T) bool, True = padding; position 0 is DIST.
        stride: number of passes s (per offset).
        span: keys masked together, w.

    Returns:
        Up to ``w * s`` tensors (B, T) bool, offset by offset, ``p`` ascending: pass ``(o, p)`` masks the keys
        ``i`` with ``(i - o) // w % s == p``. Every key position is True in exactly one pass per offset, inside
        a run of (at most) w masked keys with at least ``(s - 1) * w`` visible keys between runs. Passes
        that no key position of this width falls in are left out (``mask_stride = 128`` on 20-key rows: 20
        passes, not 128); at an offset o > 0 the keys before o form a run of their own, ``-1 % s = s - 1``
        (until stop 47 that pass was left out of rows narrower than ``s`` runs, so their first keys missed
        one of their views).
    """
    t = pad_mask.shape[1]
    key_index = torch.arange(t) - 1  # (T,) position 0 (DIST) -> -1
    keys = ~pad_mask & (key_index >= 0)  # (B, T)
    runs = torch.div(key_index - torch.arange(span)[:, None], span, rounding_mode="floor") % stride  # (w, T)
    present = [set(runs[o, 1:].tolist()) for o in range(span)]  # the passes some key position of this width is in
    return [keys & (runs[o] == p) for o in range(span) for p in range(stride) if p in present[o]]


def seeded_masks(
    rows: Sequence[Sequence[int]], pad_mask: Tensor, mask_ratio: float, seed: int, n_rounds: int
) -> list[Tensor]:
    """``n_rounds`` random masks; each row's masks depend only on ``seed`` and its own tokens."""
    rounds = [torch.zeros_like(pad_mask) for _ in range(n_rounds)]
    for i, row in enumerate(rows):
        row_seed = (seed * 1_000_003 + zlib.crc32(np.asarray(row, dtype=np.int64).tobytes())) % (2**63)
        gen = torch.Generator().manual_seed(row_seed)
        for r in range(n_rounds):
            rounds[r][i] = random_key_mask(pad_mask[i : i + 1].clone(), mask_ratio, gen)[0]
    return rounds


def _top_g(logits: Tensor, n_special: int, g: int, truth: Tensor, nll_cap: float) -> tuple[Tensor, Tensor, Tensor]:
    """Top-g non-special tokens and the surprise of the true token.

    Returns:
        ``(token ids (M, g), softmax probabilities (M, g), -log p(truth) (M,))``; the surprise is
        capped at ``nll_cap``, which is also what a true UNK gets (UNK is never a prediction).
    """
    logits = logits.float().clone()  # (M, V)
    logits[:, :n_special] = -torch.inf  # specials are never a prediction
    log_probs = torch.log_softmax(logits, dim=-1)  # (M, V)
    top_lp, top_t = log_probs.topk(min(g, logits.shape[1] - n_special), dim=-1)  # (M, g)
    nll = (-log_probs.gather(1, truth[:, None]).squeeze(1)).clamp(max=nll_cap)  # (M,), inf for specials -> cap
    return top_t, top_lp.exp(), nll


@torch.inference_mode()
def score_sequences(
    model: LogBertEncoder,
    vocab: TokenVocab,
    seqs: Sequence[Sequence[int]],
    center: Tensor,
    config: ScoringConfig,
    *,
    mask_ratio: float = 0.5,
    details: bool = False,
    device: torch.device | str = "cpu",
    signals: Sequence[SignalRow] | None = None,
    stacked_passes: bool | None = None,
) -> ScoreOutput:
    """Score key sequences; the same sequence always gets the same scores.

    Args:
        model: the trained encoder (put in eval mode here).
        vocab: the vocabulary it was trained with.
        seqs: N key-id sequences, each with 1 to ``model.config.max_len`` keys.
        center: (C,) the training centre.
        config: masking strategy, top-g and batch size.
        mask_ratio: share of keys masked per round (``"seeded"`` only).
        details: also return per-position :class:`PositionDetail` lists.
        device: where the model runs.
        signals: per sequence, its signal inputs (``encode_signals``) for a time- or value-aware model;
            None = no signal anywhere (those channels then score 0).
        stacked_passes: a key-only model's passes as one forward of the unmasked and every masked
            copy of the batch, all positions (:func:`_stacked_passes`), instead of
            :meth:`LogBertEncoder.masked_passes`; None = on any device but the CPU. The same scores up
            to float rounding.

    Returns:
        A :class:`ScoreOutput`; higher scores = more anomalous.

    Raises:
        ValueError: a sequence is empty or longer than the model's ``max_len``.
    """
    for i, seq in enumerate(seqs):
        if len(seq) == 0:
            raise ValueError(f"sequence {i} is empty: nothing to score")
    if signals is not None and len(signals) != len(seqs):
        raise ValueError(f"{len(signals)} signal rows for {len(seqs)} sequences")
    reads_signals = signals is not None and (model.gap_emb is not None or model.value_emb is not None)
    if not reads_signals:
        orders = [canonical_order(model, config, seq) for seq in seqs]
        if any(order is not None for order in orders):  # order-free rows: scored in one order (canonical_order)
            canonical = [
                seq if order is None else [seq[j] for j in order] for seq, order in zip(seqs, orders, strict=True)
            ]
            scored = score_sequences(
                model, vocab, canonical, center, config, mask_ratio=mask_ratio, details=details, device=device,
                stacked_passes=stacked_passes,
            )
            return _in_own_order(scored, orders)
    distinct, inverse = distinct_rows(seqs, signals if reads_signals else None)
    if len(distinct) < len(seqs):  # real logs repeat: each distinct row is scored once (see distinct_rows)
        scored = score_sequences(
            model,
            vocab,
            [seqs[i] for i in distinct],
            center,
            config,
            mask_ratio=mask_ratio,
            details=details,
            device=device,
            signals=None if signals is None else [signals[i] for i in distinct],
            stacked_passes=stacked_passes,
        )
        return _expand(scored, inverse)
    model.eval()
    max_len = model.config.max_len
    rows = encode_sequences(seqs, vocab, max_len)
    n = len(rows)
    use_time, use_values = model.gap_emb is not None, model.value_emb is not None
    if n == 0:
        empty_f, empty_i = np.zeros(0, dtype=np.float64), np.zeros(0, dtype=np.int64)
        return ScoreOutput(
            empty_f, empty_f.copy(), empty_i, empty_i.copy(), [] if details else None, empty_f.copy(), empty_f.copy()
        )
    miss = np.zeros(n, dtype=np.int64)
    masked = np.zeros(n, dtype=np.int64)
    dist = np.zeros(n, dtype=np.float64)
    nll_sum = np.zeros(n, dtype=np.float64)
    nll_max = np.zeros(n, dtype=np.float64)
    time_max = np.zeros(n, dtype=np.float64)
    value_max = np.zeros(n, dtype=np.float64)
    count_sum = np.zeros(n, dtype=np.float64)  # model.key_counts: per sequence, the summed count surprise of its
    count_passes = np.zeros(n, dtype=np.int64)  # passes, and how many
    count_sums = (count_sum, count_passes)
    worst_count: list[CountDetail | None] | None = [None] * n if details and model.count_head is not None else None
    worst_signal: list[dict[str, SignalDetail]] = [{} for _ in range(n)] if details else []
    per_seq: list[list[PositionDetail]] | None = [[] for _ in range(n)] if details else None
    center_dev = center.to(device)

    for rows_here, width in _batches_by_width(rows, max_len + 1, config.batch_size, config.mask_strategy):
        chunk = [rows[i] for i in rows_here]
        token_ids, pad_mask = pad_tokens(chunk, vocab.PAD, pad_to=width)  # (B, T)
        if config.mask_strategy == "strided":
            passes = strided_masks(pad_mask, config.mask_stride, config.mask_span)
        else:
            passes = seeded_masks(chunk, pad_mask, mask_ratio, config.seed, config.n_rounds)
        # per pass: (rows with a masked key, (M,) their row in it, (M,) positions, (M,) true tokens, (M, V) logits)
        pass_results: list[tuple[Tensor, Tensor, Tensor, Tensor, Tensor]] = []
        if not reads_signals and (stacked_passes if stacked_passes is not None else torch.device(device).type != "cpu"):
            dist_embedding, stacked, counted = _stacked_passes(model, token_ids, pad_mask, passes, vocab.MASK, device)
            dist[rows_here] = ((dist_embedding - center_dev) ** 2).sum(-1).double().cpu().numpy()
            if counted:
                _add_count_surprise(counted, token_ids, pad_mask, rows_here, count_sums, worst_count, vocab)
            pass_results.extend(stacked)
        elif not reads_signals:
            # one unmasked pass (DIST) and one pass per mask, the last layer at the masked keys only
            same = _same_prediction(model, config, token_ids, pad_mask, passes)
            run = passes if same is None else _representative_passes(pad_mask, same)
            dist_embedding, outputs = model.masked_passes(
                token_ids.to(device), pad_mask.to(device), [c.to(device) for c in run], vocab.MASK
            )
            dist[rows_here] = ((dist_embedding - center_dev) ** 2).sum(-1).double().cpu().numpy()
            if model.count_head is not None:
                counted = [(out.rows, out.count_logits) for out in outputs]
                # a representative pass stands for every pass that masks an equal key: it counts that many times
                weights = None if same is None else _represented(run, outputs, same, pad_mask)
                _add_count_surprise(counted, token_ids, pad_mask, rows_here, count_sums, worst_count, vocab, weights)
            results_here = []
            for out in outputs:
                active, positions, slot_used = out.rows.cpu(), out.positions.cpu(), out.used.cpu()
                where = slot_used.nonzero()  # (M, 2): (row in active, slot), rows then positions ascending
                at = positions[where[:, 0], where[:, 1]]  # (M,) positions
                truth = token_ids[active[where[:, 0]], at]  # (M,)
                results_here.append((active, where[:, 0], at, truth, out.logits.cpu()[where[:, 0], where[:, 1]]))
            if same is not None:  # every masked key gets its representative's logits
                results_here = [_spread_to_equals(results_here, token_ids, same, torch.stack(passes).any(dim=0))]
            pass_results.extend(results_here)
        else:
            assert signals is not None
            here = [signals[i] for i in rows_here]
            gap_ids = pad_signal_rows([r.gap_ids for r in here], width) if use_time else None
            value_ids = pad_signal_rows([r.value_ids for r in here], width) if use_values else None
            gap_x = _pad_float([r.gap_excess for r in here], width)
            value_x = _pad_float([r.value_excess for r in here], width)
            value_up = _pad_float([[float(u) for u in r.value_upper] for r in here], width) > 0
            value_new = _pad_float([[float(u) for u in r.value_unseen] for r in here], width) > 0
            full = model(token_ids.to(device), pad_mask.to(device), *_to(device, gap_ids, value_ids))
            dist[rows_here] = ((full.dist_embedding - center_dev) ** 2).sum(-1).double().cpu().numpy()
            for pass_index, chosen in enumerate(passes):  # (B, T) bool
                sig_chosen = chosen.clone()
                sig_chosen[:, 0] = pass_index == 0  # the elapsed time at DIST, once
                _score_signals(
                    model,
                    token_ids,
                    pad_mask,
                    sig_chosen,
                    (gap_ids, value_ids),
                    (gap_x, value_x),
                    value_up,
                    value_new,
                    (time_max, value_max),
                    rows_here,
                    config.nll_cap,
                    worst_signal if details else None,
                    device,
                )
                active = chosen.any(dim=1).nonzero().flatten()  # rows with a masked key in this pass
                if active.numel() == 0:
                    continue
                sub_tokens, sub_chosen = token_ids[active], chosen[active]  # (b, T)
                inputs = sub_tokens.masked_fill(sub_chosen, vocab.MASK)
                if model.config.keys_see_signals:
                    # a masked key's buckets hidden even when NONE, as in training (windowing.dataset.mask_signals)
                    hidden = [
                        None if ids is None else ids[active].masked_fill(sub_chosen, SIGNAL_MASK)
                        for ids in (gap_ids, value_ids)
                    ]
                else:  # the key channel from the keys alone: every time and value hidden, as in training's blind rows
                    sub_pad, signal_ids = pad_mask[active], (gap_ids, value_ids)
                    hidden = [None if ids is None else blind_signals(ids[active], sub_pad) for ids in signal_ids]
                key_pass = model(inputs.to(device), pad_mask[active].to(device), *_to(device, *hidden))
                logits = key_pass.logits
                if key_pass.count_logits is not None:
                    counted_here = [(active, key_pass.count_logits)]
                    _add_count_surprise(
                        counted_here, token_ids, pad_mask, rows_here, count_sums, worst_count, vocab
                    )
                where = sub_chosen.nonzero()  # (M, 2): (row in active, position)
                truth = sub_tokens[where[:, 0], where[:, 1]]  # (M,)
                pass_results.append((active, where[:, 0], where[:, 1], truth, logits[where[:, 0], where[:, 1]].cpu()))
        views = [_view(vocab, config, *result) for result in pass_results]
        if config.mask_span > 1:  # each key seen in one run per offset: its least surprising view counts
            views = [_least_surprising(views)] if views else []
        for active, row_in_active, at, truth, top_t, top_p, key_nll, hit in views:
            seq_index = rows_here[active[row_in_active].numpy()]  # (M,) indices into seqs
            np.add.at(masked, seq_index, 1)
            np.add.at(miss, seq_index, (~hit).numpy().astype(np.int64))
            np.add.at(nll_sum, seq_index, key_nll.double().numpy())
            np.maximum.at(nll_max, seq_index, key_nll.double().numpy())
            if per_seq is not None:  # plain Python values first: indexing tensors element by element is slow
                rows_l, at_l, truth_l = seq_index.tolist(), at.tolist(), truth.tolist()
                hit_l, top_t_l, top_p_l = hit.tolist(), top_t.tolist(), top_p.tolist()
                for s, position, token, was_hit, top_tokens, probs in zip(
                    rows_l, at_l, truth_l, hit_l, top_t_l, top_p_l, strict=True
                ):
                    pos = position - 1
                    per_seq[s].append(
                        PositionDetail(
                            position=pos,
                            key_id=int(seqs[s][pos]),
                            token_id=token,
                            missed=not was_hit,
                            top_key_ids=tuple(_key(vocab, t) for t in top_tokens),
                            top_probs=tuple(probs),
                        )
                    )
    if per_seq is not None:
        for d in per_seq:
            d.sort(key=lambda x: x.position)
    assert masked.min() >= 1, "every non-empty sequence has a masked key"
    count_nll = None
    if model.count_head is not None:  # the mean over the passes that saw the sequence; pick_score uses it
        count_nll = np.minimum(count_sum / np.maximum(count_passes, 1), config.nll_cap)
    return ScoreOutput(
        miss_ratio=miss / masked,
        dist=dist,
        n_masked=masked,
        n_misses=miss,
        details=per_seq,
        mean_nll=nll_sum / masked,
        max_nll=nll_max,
        time_nll=time_max if use_time else None,
        value_nll=value_max if use_values else None,
        count_nll=count_nll,
        count_details=worst_count,
        signal_details=[sorted(w.values(), key=lambda d: d.channel) for w in worst_signal] if details else None,
    )


def _add_count_surprise(
    passes: Sequence[tuple[Tensor, Tensor | None]],
    token_ids: Tensor,
    pad_mask: Tensor,
    rows_here: np.ndarray,
    sums: tuple[np.ndarray, np.ndarray],
    worst_count: list[CountDetail | None] | None,
    vocab: TokenVocab,
    weights: Sequence[Tensor] | None = None,
) -> None:
    """Add each pass's count surprise to its sequences (``model.key_counts``): the largest surprise of a true
    count over the key columns (:func:`~logbert.model.encoder.count_surprise`), from the pass's DIST, which sees the
    pass's masked keys as MASK, as in training. ``passes``: per pass, (the batch rows with a masked key in it, their
    count logits (b, V, K)); ``sums``: per sequence, the summed surprise and the number of passes, added to;
    ``worst_count``: per sequence, its most surprising count so far (on request, else None); ``weights``: per pass,
    how many passes each of its rows stands for (None: one each)."""
    count_sum, count_passes = sums
    truth: Tensor | None = None
    for k, (active, count_logits) in enumerate(passes):
        assert count_logits is not None
        if truth is None:
            truth = count_buckets(token_ids, pad_mask, int(count_logits.shape[1]))
        active = active.cpu()
        logits = count_logits.cpu()
        surprise = count_surprise(logits, truth[active], vocab.N_SPECIAL)  # (b, keys)
        worst, column = surprise.max(dim=1)  # (b,)
        seq_index = rows_here[active.numpy()]
        weight = np.ones(len(seq_index), dtype=np.int64) if weights is None else weights[k].cpu().numpy()
        np.add.at(count_sum, seq_index, weight * worst.double().numpy())
        np.add.at(count_passes, seq_index, weight)
        if worst_count is None:
            continue
        for j, (s, c, value) in enumerate(zip(seq_index.tolist(), column.tolist(), worst.tolist(), strict=True)):
            known = worst_count[s]
            if known is not None and known.surprise >= value:
                continue
            token = c + vocab.N_SPECIAL
            probs = logits[j, token].float().softmax(dim=-1)
            row = token_ids[int(active[j])]
            worst_count[s] = CountDetail(
                token_id=token,
                key_id=vocab.decode_token(token),
                count=int((row[1:][~pad_mask[int(active[j])][1:]] == token).sum()),
                expected_count=int(probs.argmax()),
                expected_prob=float(probs.max()),
                surprise=float(value),
            )


def canonical_order(model: LogBertEncoder, config: ScoringConfig, seq: Sequence[int]) -> list[int] | None:
    """For a row whose scores cannot depend on the order of its keys: the positions of its keys in the one order
    it is scored in (ascending key ids; a marked last key, ``model.mark_last``, stays last). None when the row is
    in that order already, or when order matters (a positional model, several keys masked in one pass, spans).

    Why: an order-free model (``model.positions = false``) whose passes each mask one key of a row (``strided``
    with ``mask_stride`` at least the row's length) sees the same inputs, permuted, for every order of the
    row's keys: the same predictions and scores in exact arithmetic, up to float rounding in practice. Scoring
    one order makes every order of a row bitwise the same score, so the dedup of :func:`distinct_rows` and the
    service's score memo (:meth:`logbert.pipeline.detector.Detector.memo_key`) count orders as one row: all of
    HDFS 2 %'s 11,501 blocks hold 1,532 distinct key sequences, but 140 distinct windows to the `hdfs` preset.

    >>> from types import SimpleNamespace as N
    >>> order_free = N(pos_emb=None, last_emb=object())
    >>> strided = N(mask_strategy="strided", mask_span=1, mask_stride=128)
    >>> canonical_order(order_free, strided, [7, 3, 5, 3])  # 3, 5, 7 sorted; the marked last key stays last
    [1, 2, 0, 3]
    """
    if order_matters(model, config, len(seq)):
        return None
    body = len(seq) - 1 if model.last_emb is not None else len(seq)
    order = sorted(range(body), key=seq.__getitem__) + list(range(body, len(seq)))
    return None if order == list(range(len(seq))) else order


def order_matters(model: LogBertEncoder, config: ScoringConfig, n_keys: int) -> bool:
    """Whether the scores of a row of ``n_keys`` keys may change with their order (see :func:`canonical_order`)."""
    if model.pos_emb is not None or config.mask_strategy != "strided" or config.mask_span != 1:
        return True
    return n_keys > config.mask_stride  # several keys of the row share a pass: their positions matter


def _in_own_order(out: ScoreOutput, orders: Sequence[list[int] | None]) -> ScoreOutput:
    """Scores of rows given in :func:`canonical_order`, told of the rows as they came: a detail at canonical
    position ``p`` is the key at position ``order[p]`` (per-row numbers do not move)."""
    if out.details is None:
        return out
    details = [
        d if order is None else sorted((replace(x, position=order[x.position]) for x in d), key=lambda x: x.position)
        for d, order in zip(out.details, orders, strict=True)
    ]
    return replace(out, details=details)


def _expand(out: ScoreOutput, inverse: np.ndarray) -> ScoreOutput:
    """The scores of the distinct rows, given back to every row (``inverse``: row -> distinct row)."""

    def pick(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else a[inverse]

    return ScoreOutput(
        miss_ratio=out.miss_ratio[inverse],
        dist=out.dist[inverse],
        n_masked=out.n_masked[inverse],
        n_misses=out.n_misses[inverse],
        details=None if out.details is None else [list(out.details[j]) for j in inverse],
        mean_nll=pick(out.mean_nll),
        max_nll=pick(out.max_nll),
        time_nll=pick(out.time_nll),
        value_nll=pick(out.value_nll),
        signal_details=None if out.signal_details is None else [list(out.signal_details[j]) for j in inverse],
        length_surprise=pick(out.length_surprise),
        volume_surprise=pick(out.volume_surprise),
        count_nll=pick(out.count_nll),
        count_details=None if out.count_details is None else [out.count_details[j] for j in inverse],
    )


#: One pass's masked keys: (rows, (M,) row in rows, (M,) positions, (M,) true tokens, (M, g) top tokens, (M, g)
#: their probabilities, (M,) surprise of the true token, (M,) hit = true token among the top g); rows, then
#: positions ascending.
_View = tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]


def _view(
    vocab: TokenVocab, config: ScoringConfig, active: Tensor, row_in_active: Tensor, at: Tensor, truth: Tensor,
    masked_logits: Tensor,
) -> _View:
    """The top-g and the surprise of one pass's masked keys (see :data:`_View`); with ``scoring.mask_span`` w > 1
    a key's prediction is the mean of the predicted distributions over its run of masked keys (:func:`_run_mean`)."""
    if config.mask_span == 1:
        logits = masked_logits
    else:
        logits = _run_mean(masked_logits, row_in_active, at, vocab.N_SPECIAL)
        logits = _repeats_in_run(logits, masked_logits, row_in_active, at, truth, vocab.N_SPECIAL)
    # where the logits are (the stacked GPU path leaves them there): only (M, g) results come back
    top_t, top_p, key_nll = (
        x.cpu()
        for x in _top_g(logits, vocab.N_SPECIAL, config.top_g, truth.to(logits.device), config.nll_cap)
    )  # (M, g), (M, g), (M,)
    hit = (top_t == truth[:, None]).any(dim=1)  # (M,)
    return active, row_in_active, at, truth, top_t, top_p, key_nll, hit


def _run_mean(logits: Tensor, row_in_active: Tensor, at: Tensor, n_special: int) -> Tensor:
    """(M, V) log of the mean predicted distribution over each run of adjacent masked keys, for every key of the run.

    A run of w masked keys asks which keys fill those w places, not which key goes in which: a key the model
    expects one or two places away (concurrent writers' lines in another order) is no surprise, a key it
    expects nowhere in the run still is. Specials keep probability 0 (an UNK key stays pure surprise). Two
    different keys the model is sure of share the run's mass: each scores about ``log 2``, a floor far below
    any threshold (docs/benchmarks.md, issue 9's false alarms).
    """
    m = logits.shape[0]
    if m == 0:
        return logits
    probs = _key_probs(logits, n_special)  # (M, V)
    run = _run_ids(row_in_active, at).to(probs.device)  # (M,)
    n_runs = int(run[-1]) + 1
    total = torch.zeros(n_runs, probs.shape[1], dtype=probs.dtype, device=probs.device).index_add_(0, run, probs)
    ones = torch.ones(m, dtype=probs.dtype, device=probs.device)
    size = torch.zeros(n_runs, dtype=probs.dtype, device=probs.device).index_add_(0, run, ones)
    return torch.log(total[run] / size[run, None])  # (M, V), -inf where every key of the run gives 0


def _key_probs(logits: Tensor, n_special: int) -> Tensor:
    """(M, V) the predicted distribution over the keys (specials 0)."""
    logits = logits.float().clone()
    logits[:, :n_special] = -torch.inf
    return torch.softmax(logits, dim=-1)


def _run_ids(row_in_active: Tensor, at: Tensor) -> Tensor:
    """(M,) the run of adjacent masked keys each entry belongs to, 0, 1, ... (entries come rows then positions
    ascending)."""
    new_run = torch.ones(row_in_active.shape[0], dtype=torch.bool, device=row_in_active.device)
    new_run[1:] = (row_in_active[1:] != row_in_active[:-1]) | (at[1:] != at[:-1] + 1)
    return torch.cumsum(new_run.long(), 0) - 1


def _repeats_in_run(
    run_log_probs: Tensor, masked_logits: Tensor, row_in_active: Tensor, at: Tensor, truth: Tensor, n_special: int
) -> Tensor:
    """:func:`_run_mean`'s log-probabilities with a key that fills more places of its run than the model expects
    there made a surprise: the k-th copy of a key in a run (k >= 2, by position) gets the probability that the run
    holds at least k copies given that it holds k - 1, each place predicted on its own (a Poisson-binomial over the
    run's places); the first copy keeps the run's mean. Its row is then renormalised by the top-g step, as any row.

    Why: the run's mean asks which keys fill the run's places, not how many times each, so a session that logs each
    of its events twice, `a a b b` where `a b` is normal, hid in runs of two: the mean at the two places of `a a`
    gives `a` about 1/2, once per place (DevStack's e87b4524, missed by the `openstack_devstack` preset at every seed,
    found by count vectors). Keys the model expects twice in the run (a doubled line that is normal) stay likely.
    Returns ``run_log_probs`` itself where no run holds a key twice (the common case: nothing computed).
    """
    m = truth.shape[0]
    if m < 2:
        return run_log_probs
    run, key = _run_ids(row_in_active, at).cpu(), truth.cpu()
    group = run * (int(key.max()) + 1) + key  # (M,) one id per (run, key)
    sorted_group, order = torch.sort(group, stable=True)  # a group's entries in position order
    rank = torch.arange(m) - torch.searchsorted(sorted_group, sorted_group, side="left")
    copy = torch.empty(m, dtype=torch.long)
    copy[order] = rank + 1  # (M,) which copy of its key in its run each entry is, 1, 2, ...
    later = (copy >= 2).nonzero().flatten()  # (S,)
    if later.numel() == 0:
        return run_log_probs
    first = torch.searchsorted(run, run[later], side="left")  # (S,) each one's run: its first entry ...
    size = torch.searchsorted(run, run[later], side="right") - first  # ... and its number of places
    width = int(size.max())
    place = first[:, None] + torch.arange(width)[None, :]  # (S, w)
    inside = torch.arange(width)[None, :] < size[:, None]
    place = place.clamp(max=m - 1)
    probs = _key_probs(masked_logits[place.flatten().to(masked_logits.device)], n_special).double().cpu()  # (S w, V)
    p = probs.view(*place.shape, -1).gather(2, key[later][:, None, None].expand(-1, width, 1)).squeeze(2)
    p = p * inside  # (S, w) each place's p(key), 0 past the run
    count = torch.zeros(later.numel(), width + 1, dtype=torch.float64)
    count[:, 0] = 1.0  # the Poisson-binomial P(count = j) over the run's places, one place at a time
    for j in range(width):
        pj = p[:, j : j + 1]
        count = torch.cat([count[:, :1] * (1 - pj), count[:, 1:] * (1 - pj) + count[:, :-1] * pj], dim=1)
    at_least = count.flip(1).cumsum(1).flip(1)  # (S, w + 1) P(count >= j)
    k = copy[later][:, None]
    given = at_least.gather(1, k).squeeze(1) / at_least.gather(1, k - 1).squeeze(1).clamp(min=1e-300)
    out = run_log_probs.clone()
    out[later.to(out.device), key[later].to(out.device)] = torch.log(given.clamp(min=1e-300)).to(out)
    return out


def _least_surprising(views: Sequence[_View]) -> _View:
    """Every masked key once, from the view in which it was least surprising (ties: the first view)."""
    rows = torch.cat([v[0][v[1]] for v in views])  # (M,) row in the batch
    fields = [torch.cat([v[k] for v in views]) for k in range(2, 8)]  # at, truth, top_t, top_p, nll, hit
    at, nll = fields[0], fields[4]
    # sort by (row, position, surprise), keep the first of each (row, position)
    order = np.lexsort((nll.double().numpy(), at.numpy(), rows.numpy()))
    rows_s, at_s = rows.numpy()[order], at.numpy()[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (rows_s[1:] != rows_s[:-1]) | (at_s[1:] != at_s[:-1])
    keep = torch.from_numpy(order[first])
    every_row = torch.arange(int(rows.max()) + 1)
    at, truth, top_t, top_p, key_nll, hit = (f[keep] for f in fields)
    return every_row, rows[keep], at, truth, top_t, top_p, key_nll, hit


def _same_prediction(
    model: LogBertEncoder, config: ScoringConfig, token_ids: Tensor, pad_mask: Tensor, passes: Sequence[Tensor]
) -> Tensor | None:
    """For an order-free model (``model.positions = false``) whose passes mask one key per row at a time: (B, T) long,
    each position's *representative*, the first position of its row with the same token and the same last-key mark
    (DIST and padding: themselves). None for any other model or masking.

    Why: without position embeddings the encoder is permutation-equivariant, so masking position p or q of one row,
    both holding key k (and neither, or both, the row's marked last key), gives the same input up to a permutation
    and the same prediction at the masked position. Each distinct key of a row is then masked once instead of each
    key (an HDFS block of 20 lines holds 5-8 distinct keys), and the others take its logits: the same scores up to
    float rounding (``tests/scoring``).
    """
    if model.pos_emb is not None or config.mask_span != 1 or not passes:
        return None
    if any(int(chosen.sum(dim=1).max()) > 1 for chosen in passes):
        return None
    # (B, T): the marked last keys; none when the model marks none, and then only the tokens decide
    last = last_key(pad_mask) > 0 if model.last_emb is not None else torch.zeros_like(pad_mask)
    equal = (token_ids[:, :, None] == token_ids[:, None, :]) & (last[:, :, None] == last[:, None, :])  # (B, T, T)
    equal &= ~pad_mask[:, None, :]
    equal[:, :, 0] = False  # DIST stands for itself
    t = token_ids.shape[1]
    first = equal.to(torch.int8).argmax(dim=2)  # (B, T): the first equal position (itself at the latest)
    own = torch.arange(t)[None, :].expand_as(first)
    return torch.where(pad_mask | (own == 0), own, first)


def _represented(
    run: Sequence[Tensor], outputs: Sequence[PassOutput], same: Tensor, pad_mask: Tensor
) -> list[Tensor]:
    """Per representative pass's output (:func:`_representative_passes`), for each of its rows how many keys of the
    row share the masked key's representative: the passes of masking each of them, which it stands for."""
    copies = (same[:, :, None] == same[:, None, :]) & ~pad_mask[:, None, :]  # (B, T, T)
    per_position = copies.sum(dim=2)  # (B, T): how many positions share each position's representative
    weights = []
    chosen = [c for c in run if bool(c.any())]  # masked_passes skips a pass that masks nothing
    for mask, out in zip(chosen, outputs, strict=True):
        rows = out.rows.cpu()
        weights.append((per_position[rows] * mask[rows]).sum(dim=1))  # (b,): one masked key per row
    return weights


def _representative_passes(pad_mask: Tensor, same: Tensor) -> list[Tensor]:
    """Passes that mask each row's representatives (:func:`_same_prediction`), the j-th of every row in pass j."""
    own = torch.arange(same.shape[1])[None, :]
    is_rep = (same == own) & ~pad_mask
    is_rep[:, 0] = False  # DIST is never masked
    rank = is_rep.to(torch.int64).cumsum(dim=1) - 1  # (B, T): the j of each representative
    n_passes = int(is_rep.sum(dim=1).max()) if is_rep.numel() else 0
    return [is_rep & (rank == j) for j in range(n_passes)]


def _spread_to_equals(
    results: Sequence[tuple[Tensor, Tensor, Tensor, Tensor, Tensor]], token_ids: Tensor, same: Tensor, chosen: Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """One pass result holding every ``chosen`` position (rows, then positions ascending) with the logits its
    representative got in ``results`` (the representatives' own passes)."""
    b, t = token_ids.shape
    index = torch.full((b, t), -1, dtype=torch.int64)
    logits = torch.cat([r[4] for r in results]) if results else torch.zeros(0, 0)
    start = 0
    for active, row_in_active, at, _truth, got in results:
        index[active[row_in_active], at] = torch.arange(start, start + got.shape[0])
        start += got.shape[0]
    rows, at = chosen.nonzero(as_tuple=True)  # (M,) each, rows then positions ascending
    picked = index[rows, same[rows, at]]
    assert bool((picked >= 0).all()), "a masked key without a representative"
    return torch.arange(b), rows, at, token_ids[rows, at], logits[picked]


def _stacked_passes(
    model: LogBertEncoder,
    token_ids: Tensor,
    pad_mask: Tensor,
    passes: Sequence[Tensor],
    mask_id: int,
    device: torch.device | str,
) -> tuple[Tensor, list[tuple[Tensor, Tensor, Tensor, Tensor, Tensor]], list[tuple[Tensor, Tensor | None]]]:
    """The unmasked rows' DIST embedding and, per pass, ``(rows, row in rows, positions, true tokens, logits)``
    of its masked keys, from one forward of ``[rows; rows masked by pass 1; ...]`` at every position; and for a
    model with counts (``model.key_counts``), per pass, (the rows it masks a key of, their count logits), else [].

    For a GPU: :meth:`LogBertEncoder.masked_passes` saves arithmetic with per-pass row selection and
    gathers, each a host sync and a few small kernels, and a GPU is bound by those, not by the
    arithmetic (``benchmarks/results/gpu``). The numbers are the full forward's: the same as
    ``masked_passes`` up to float rounding.
    """
    b, t = token_ids.shape
    tokens, pad = token_ids.to(device), pad_mask.to(device)
    masks = torch.stack(list(passes)).to(device)  # (P, B, T)
    copies = tokens.unsqueeze(0).masked_fill(masks, mask_id).flatten(0, 1)  # (P * B, T)
    out = model(torch.cat([tokens, copies]), pad.repeat(len(passes) + 1, 1))
    logits = out.logits[b:].view(len(passes), b, t, -1)  # (P, B, T, V)
    every_row = torch.arange(b)
    results = []
    for k, chosen in enumerate(passes):
        where = chosen.nonzero()  # (M, 2): (row, position), rows then positions ascending
        picked = logits[k][where[:, 0].to(device), where[:, 1].to(device)]  # (M, V), on the device: top-g there
        results.append((every_row, where[:, 0], where[:, 1], token_ids[where[:, 0], where[:, 1]], picked))
    counted: list[tuple[Tensor, Tensor | None]] = []
    if out.count_logits is not None:
        per_pass = out.count_logits[b:].view(len(passes), b, *out.count_logits.shape[1:])  # (P, B, V, K)
        for k, chosen in enumerate(passes):
            rows = chosen.any(dim=1).nonzero().flatten()  # as masked_passes: rows with a masked key in the pass
            if rows.numel():
                counted.append((rows, per_pass[k][rows.to(per_pass.device)]))
    return out.dist_embedding[:b], results, counted


def _to(device: torch.device | str, *tensors: Tensor | None) -> list[Tensor | None]:
    """The signal inputs on ``device``; none at all for a key-only model (called as before, with two arguments)."""
    if all(t is None for t in tensors):
        return []
    return [None if t is None else t.to(device) for t in tensors]


def _hide(ids: Tensor, chosen: Tensor) -> Tensor:
    """Signal bucket ids with the chosen positions hidden (MASK); positions without a signal stay NONE."""
    return ids.masked_fill(chosen & (ids != SIGNAL_NONE), SIGNAL_MASK)


def _pad_float(rows: Sequence[Sequence[float]], width: int) -> Tensor:
    return right_padded(rows, width, 0.0, torch.float64)


def _tail_surprise(log_probs: Tensor, bucket: Tensor, upper: Tensor | None) -> Tensor:
    """(B, T) ``-log`` of the tail probability at ``bucket`` (ids ordered BELOW < inner < ABOVE): the upper
    tail ``P(b >= bucket)`` where ``upper`` is True (None: everywhere, time), else the smaller of both tails."""
    probs = log_probs.exp()  # (B, T, K); NONE and MASK are 0
    up = probs.flip(-1).cumsum(-1).flip(-1).gather(-1, bucket.unsqueeze(-1)).squeeze(-1)  # P(b >= bucket)
    if upper is None:
        tail = up
    else:
        down = probs.cumsum(-1).gather(-1, bucket.unsqueeze(-1)).squeeze(-1)  # P(b <= bucket)
        tail = torch.where(upper, up, torch.minimum(up, down))
    return -torch.log(tail.clamp(min=1e-30))


def bucket_log_probs(logits: Tensor) -> Tensor:
    """(..., K) log-probabilities of a signal head's logits over the buckets it may name (NONE and MASK never)."""
    lp = logits.clone()
    lp[..., SIGNAL_NONE] = -torch.inf
    lp[..., SIGNAL_MASK] = -torch.inf
    return torch.log_softmax(lp, dim=-1)


def uniform_surprise(n_buckets: int, upper: bool) -> float:
    """The largest surprise a head that gives every bucket the same probability gives an inner bucket (the scorer's
    own rule, :func:`_tail_surprise`, at its most extreme inner bucket): ``log((n_buckets + 2) / 2)``, 2.20 for 16
    buckets, 1.61 for 8. ``upper``: the upper tail (time, durations), else the nearer one (other values).

    A channel whose normal calibration sessions never reach this has learnt nothing sharp there, so its scale is at
    least this (``pipeline.estimator.scale_floors``).
    """
    classes = signal_classes(n_buckets)
    inner = torch.arange(SIGNAL_BELOW + 1, classes - 1)[None, :]  # (1, n): every inner bucket once
    lp = bucket_log_probs(torch.zeros(1, n_buckets, classes))  # uniform over BELOW, the inner buckets, ABOVE
    surprise = _tail_surprise(lp, inner, None if upper else torch.zeros_like(inner, dtype=torch.bool))
    return float(surprise.max())


def _score_signals(
    model: LogBertEncoder,
    token_ids: Tensor,
    pad_mask: Tensor,
    chosen: Tensor,
    ids: tuple[Tensor | None, Tensor | None],
    excesses: tuple[Tensor | None, Tensor | None],
    value_upper: Tensor | None,
    value_unseen: Tensor | None,
    maxima: tuple[np.ndarray, np.ndarray],
    rows_here: np.ndarray,
    nll_cap: float,
    worst: list[dict[str, SignalDetail]] | None,
    device: torch.device | str,
) -> None:
    """One signal pass: keys visible, the chosen positions' gap and value buckets hidden; the largest
    surprise per row goes into ``maxima`` (time, value), the worst position into ``worst`` (details).
    ``value_unseen`` (B, T) bool: categories never seen in training, whose surprise is ``2 * nll_cap``."""
    hidden = [None if t is None else _hide(t, chosen) for t in ids]
    out = model(token_ids.to(device), pad_mask.to(device), *_to(device, *hidden))
    for channel, logits, truth, extra, upper, unseen, best in (
        ("time", out.gap_logits, ids[0], excesses[0], None, None, maxima[0]),
        ("value", out.value_logits, ids[1], excesses[1], value_upper, value_unseen, maxima[1]),
    ):
        if logits is None or truth is None or extra is None:
            continue
        where = chosen & (truth != SIGNAL_NONE) & ~pad_mask  # (B, T)
        if not bool(where.any()):
            continue
        lp = bucket_log_probs(logits.float().cpu())  # (B, T, K)
        # out of range: the surprise of the nearest bucket seen in training, and the excess says how far out
        # (BELOW / ABOVE are never training labels: their probability is only where untrained logits fall)
        above = lp.shape[-1] - 1
        nearest = torch.where(truth == SIGNAL_BELOW, 3, torch.where(truth == above, above - 1, truth))
        nll = _tail_surprise(lp, nearest, upper).clamp(max=nll_cap).double()  # (B, T)
        surprise = nll + extra.clamp(max=nll_cap)  # (B, T)
        if unseen is not None:  # a category never seen in training: the largest value surprise there is
            surprise = torch.where(unseen, torch.full_like(surprise, 2 * nll_cap), surprise)
        surprise = torch.where(where, surprise, torch.zeros_like(nll))  # (B, T)
        row_max, row_arg = surprise.max(dim=1)  # (B,)
        np.maximum.at(best, rows_here, row_max.numpy())
        if worst is None:
            continue
        top_lp, top_b = lp.max(dim=-1)  # (B, T)
        for b in np.flatnonzero(where.any(dim=1).numpy()):
            s, t = int(rows_here[b]), int(row_arg[b])
            value = float(row_max[b])
            if channel in worst[s] and worst[s][channel].surprise >= value:
                continue
            worst[s][channel] = SignalDetail(
                channel=channel,
                position=t - 1,
                bucket=int(truth[b, t]),
                expected_bucket=int(top_b[b, t]),
                expected_prob=float(top_lp[b, t].exp()),
                surprise=value,
                excess=float(extra[b, t]),
            )


#: Rows are padded to the next multiple of this (at most the model's width): fewer padded positions
#: than one width for all, and a row's width depends on its own length only. 4 rather than 8: ~5 % faster
#: on the speed benchmark; 1 (exact lengths) was faster still offline, but splits a service micro-batch
#: into up to 33 tiny width classes.
WIDTH_STEP = 4


def row_width(n_tokens: int, full_width: int) -> int:
    """The padded width of a row of ``n_tokens`` tokens (DIST included).

    >>> [row_width(n, 33) for n in (2, 8, 9, 17, 30, 33)]
    [4, 8, 12, 20, 32, 33]
    """
    return min(full_width, -(-n_tokens // WIDTH_STEP) * WIDTH_STEP)


def _batches_by_width(
    rows: Sequence[Sequence[int]], full_width: int, batch_size: int, strategy: MaskStrategy
) -> Iterator[tuple[np.ndarray, int]]:
    """(row indices, padded width) per batch. Each row is padded to :func:`row_width` of its own
    length, so its numbers never depend on which rows share its batch (the scores stay
    deterministic and batch-invariant); rows of one width are batched together. Seeded masks draw
    over a row's whole width, so they keep the model's full width for every row."""
    widths = np.array(
        [full_width if strategy == "seeded" else row_width(len(r), full_width) for r in rows], dtype=np.int64
    )
    for width in np.unique(widths):
        members = np.flatnonzero(widths == width)
        for start in range(0, len(members), batch_size):
            yield members[start : start + batch_size], int(width)


def _key(vocab: TokenVocab, token_id: int) -> int:
    key = vocab.decode_token(token_id)
    assert key is not None, f"token {token_id} is a special, never a prediction"
    return key


def _largest_surprise(out: ScoreOutput) -> np.ndarray:
    """The largest surprise of a sequence: of a masked key, or (``model.key_counts``) of a key's count. A count
    nobody expected is a surprise like a key nobody expected; the miss ratio and the mean stay the keys' own."""
    assert out.max_nll is not None, "score_sequences always fills max_nll"
    if out.count_nll is None:
        return out.max_nll
    largest: np.ndarray = np.maximum(out.max_nll, out.count_nll)
    return largest


def pick_score(out: ScoreOutput, kind: ScoreKind) -> np.ndarray:
    """The per-sequence score named ``kind`` from a :class:`ScoreOutput` (higher = more anomalous)."""
    if kind == "miss_ratio":
        return out.miss_ratio
    if kind == "dist":
        return out.dist
    if kind == "max_nll":
        return _largest_surprise(out)
    if kind == "max_mean_nll":
        assert out.mean_nll is not None, "score_sequences always fills mean_nll"
        total: np.ndarray = _largest_surprise(out) + out.mean_nll
        return total
    assert out.mean_nll is not None, "score_sequences always fills mean_nll"
    return out.mean_nll
