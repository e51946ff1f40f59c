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
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from logbert.config import MaskStrategy, ScoreKind, ScoringConfig
from logbert.model.encoder import LogBertEncoder
from logbert.windowing.dataset import TokenVocab, encode_sequences, pad_tokens, random_key_mask


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
class ScoreOutput:
    """Per-sequence scores; higher = more anomalous. Arrays have one entry per sequence."""

    miss_ratio: np.ndarray  # (N,) float64, misses / masked keys
    dist: np.ndarray  # (N,) float64, squared distance of the DIST embedding to the centre
    n_masked: np.ndarray  # (N,) int64, masked keys (over all passes / rounds)
    n_misses: np.ndarray  # (N,) int64
    details: list[list[PositionDetail]] | None = None  # per sequence, per masked key (on request)
    mean_nll: np.ndarray | None = None  # (N,) float64, mean -log p(true key) over masked keys, capped
    max_nll: np.ndarray | None = None  # (N,) float64, the largest -log p(true key) of any masked key, capped


def strided_masks(pad_mask: Tensor, stride: int) -> list[Tensor]:
    """The ``stride`` pass masks for a padded batch: pass p masks keys p, p+s, ... (0-based).

    Args:
        pad_mask: (B, T) bool, True = padding; position 0 is DIST.
        stride: number of passes s.

    Returns:
        ``s`` tensors (B, T) bool; every key position is True in exactly one of them.
    """
    t = pad_mask.shape[1]
    key_index = torch.arange(t) - 1  # (T,) position 0 (DIST) -> -1
    keys = ~pad_mask & (key_index >= 0)  # (B, T)
    return [keys & (key_index % stride == p) for p in range(stride)]


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

    Returns:
        A :class:`ScoreOutput`; higher scores = more anomalous.

    Raises:
        ValueError: a sequence is empty or longer than the model's ``max_len``.
    """
    for i, seq in enumerate(seqs):
        if len(seq) == 0:
            raise ValueError(f"sequence {i} is empty: nothing to score")
    model.eval()
    max_len = model.config.max_len
    rows = encode_sequences(seqs, vocab, max_len)
    n = len(rows)
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
    per_seq: list[list[PositionDetail]] | None = [[] for _ in range(n)] if details else None
    center_dev = center.to(device)

    for rows_here, width in _batches_by_width(rows, max_len + 1, config.batch_size, config.mask_strategy):
        chunk = [rows[i] for i in rows_here]
        token_ids, pad_mask = pad_tokens(chunk, vocab.PAD, pad_to=width)  # (B, T)
        if config.mask_strategy == "strided":
            passes = strided_masks(pad_mask, config.mask_stride)
        else:
            passes = seeded_masks(chunk, pad_mask, mask_ratio, config.seed, config.n_rounds)
        # one unmasked pass (DIST) and one pass per mask, the last layer at the masked keys only
        dist_embedding, outputs = model.masked_passes(
            token_ids.to(device), pad_mask.to(device), [c.to(device) for c in passes], vocab.MASK
        )
        dist[rows_here] = ((dist_embedding - center_dev) ** 2).sum(-1).double().cpu().numpy()
        for out in outputs:
            active, positions, slot_used = out.rows.cpu(), out.positions.cpu(), out.used.cpu()
            where = slot_used.nonzero()  # (M, 2): (row in active, slot), rows then positions ascending
            at = positions[where[:, 0], where[:, 1]]  # (M,) positions
            truth = token_ids[active[where[:, 0]], at]  # (M,)
            logits = out.logits.cpu()
            top_t, top_p, key_nll = _top_g(
                logits[where[:, 0], where[:, 1]].cpu(), vocab.N_SPECIAL, config.top_g, truth, config.nll_cap
            )  # (M, g), (M, g), (M,)
            hit = (top_t == truth[:, None]).any(dim=1)  # (M,)
            seq_index = rows_here[active[where[:, 0]].numpy()]  # (M,) indices into seqs
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
    return ScoreOutput(
        miss_ratio=miss / masked,
        dist=dist,
        n_masked=masked,
        n_misses=miss,
        details=per_seq,
        mean_nll=nll_sum / masked,
        max_nll=nll_max,
    )


#: Rows are padded to the next multiple of this (at most the model's width): fewer padded positions
#: than one width for all, and a row's width depends on its own length only.
WIDTH_STEP = 4


def row_width(n_tokens: int, full_width: int) -> int:
    """The padded width of a row of ``n_tokens`` tokens (DIST included).

    >>> [row_width(n, 33) for n in (2, 8, 9, 17, 30, 33)]
    [8, 8, 16, 24, 32, 33]
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


def pick_score(out: ScoreOutput, kind: ScoreKind) -> np.ndarray:
    """The per-sequence score named ``kind`` from a :class:`ScoreOutput` (higher = more anomalous)."""
    if kind == "miss_ratio":
        return out.miss_ratio
    if kind == "dist":
        return out.dist
    if kind == "max_nll":
        assert out.max_nll is not None, "score_sequences always fills max_nll"
        return out.max_nll
    if kind == "max_mean_nll":
        assert out.max_nll is not None and out.mean_nll is not None, "score_sequences always fills both"
        total: np.ndarray = out.max_nll + out.mean_nll
        return total
    assert out.mean_nll is not None, "score_sequences always fills mean_nll"
    return out.mean_nll
