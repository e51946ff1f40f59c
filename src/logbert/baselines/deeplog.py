"""DeepLog (Du et al., CCS 2017): an LSTM predicts the next key from the previous ``h`` keys.

A position is a *miss* when the true next key is not among the model's top-``g`` predictions;
the anomaly score of a sequence is the share of its positions that miss (higher = more
anomalous). Every position is predicted: the history is left-padded with a PAD token, so short
sequences and the first keys of a session are scored too (DeepLog on a long stream skips the
first ``h`` keys instead).

``protocol = "paper"`` follows the DeepLog paper and its public code (github wuyifan18/DeepLog) instead:
only keys with a full history of ``h`` keys are predicted (the first ``h`` keys of a session are not),
a session shorter than ``h + 1`` keys is padded at its end with a pad token that is never a prediction
(so it always misses: DeepLog's rule that a session too short to hold a full window is anomalous),
training uses only sessions of at least ``h + 1`` keys, and the score is the *number* of missed
keys, so that a threshold of 0 is the paper's "any miss flags the session".

Training and scoring run on CPU, are seeded, and leave torch's global RNG untouched. Scoring
is deterministic: no dropout, no sampling. Identical (history, next key) pairs are computed
once, which makes both training and scoring fast on repetitive logs; in training each unique
pair is weighted by how often it occurs, so the loss equals the loss over all positions.
"""

from __future__ import annotations

import logging
import math
from typing import Literal

import numpy as np
import numpy.typing as npt
import torch
from numpy.lib.stride_tricks import sliding_window_view
from torch import nn

from logbert.baselines.base import BaselineDetector, FloatArray, IntArray
from logbert.records import UNK_KEY
from logbert.threads import torch_threads

__all__ = ["DeepLogDetector"]

logger = logging.getLogger(__name__)

_PAD = 0  # token of "before the start of the sequence"
_UNK = 1  # token of a key unseen in training (and of UNK_KEY)
_N_SPECIAL = 2
_CHUNK = 20_000  # sequences turned into (history, next) pairs at a time, bounding memory


#: DeepLog training epochs (passes over the unique (history, next key) pairs): the one default,
#: used by ``logbert evaluate --baseline deeplog`` and the benchmark alike.
DEEPLOG_EPOCHS = 10

#: Epochs of the benchmark's ``deeplog_paper`` detector. The paper's public code trains 300 epochs over every
#: (history, next key) pair; an epoch here passes over the unique pairs, each weighted by its count.
DEEPLOG_PAPER_EPOCHS = 50


class _NextKeyLSTM(nn.Module):
    """Embedding -> LSTM -> linear over tokens; the logits of the key after the history."""

    def __init__(self, n_tokens: int, embedding_dim: int, hidden_size: int, n_layers: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(n_tokens, embedding_dim, padding_idx=_PAD)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, num_layers=n_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, n_tokens)

    def forward(self, history: torch.Tensor) -> torch.Tensor:
        x = self.embed(history)  # (B, h, E)
        out, _ = self.lstm(x)  # (B, h, H)
        logits: torch.Tensor = self.head(out[:, -1, :])  # (B, V): only the last step predicts the next key
        return logits


class DeepLogDetector(BaselineDetector):
    """DeepLog next-key LSTM baseline.

    Args:
        history_size: ``h``, keys of history per prediction (paper: 10).
        top_g: ``g``, a position is a hit when its true key is among the top-g predictions
            (paper: 9); PAD/UNK never take a top-g slot.
        embedding_dim: key embedding size.
        hidden_size: LSTM units per layer (paper: 64).
        n_layers: LSTM layers (paper: 2).
        epochs: passes over the unique training pairs.
        batch_size: pairs per optimisation step.
        lr: Adam learning rate.
        seed: seeds the weights and the shuffling; same seed and data, same scores.
        num_threads: torch intra-op threads during fit/score (0 = automatic, see ``logbert.threads``).
        score_batch_size: pairs per forward pass when scoring.
        protocol: ``"every_key"`` (default: every key predicted from a left-padded history, score =
            share of misses) or ``"paper"`` (see the module: full histories only, short sessions
            padded at the end, score = number of misses).

    Scores: share of missed positions in [0, 1], higher = more anomalous. A key unseen in
    training (``UNK_KEY`` included) is a miss where it is the target, and the UNK token where
    it is in a history. An empty sequence scores 0.
    """

    name = "deeplog"

    def __init__(
        self,
        history_size: int = 10,
        top_g: int = 9,
        embedding_dim: int = 16,
        hidden_size: int = 64,
        n_layers: int = 2,
        epochs: int = DEEPLOG_EPOCHS,
        batch_size: int = 256,
        lr: float = 1e-3,
        seed: int = 42,
        num_threads: int = 0,
        score_batch_size: int = 4096,
        protocol: Literal["every_key", "paper"] = "every_key",
    ) -> None:
        self.history_size = history_size
        self.top_g = top_g
        self.embedding_dim = embedding_dim
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.seed = seed
        self.num_threads = num_threads
        self.score_batch_size = score_batch_size
        self.protocol = protocol

    def _check_params(self) -> None:
        for name in ("history_size", "top_g", "embedding_dim", "hidden_size", "n_layers", "epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if self.protocol not in ("every_key", "paper"):
            raise ValueError(f"protocol must be 'every_key' or 'paper', got {self.protocol!r}")
        if self.score_batch_size < 1:
            raise ValueError(f"score_batch_size must be >= 1, got {self.score_batch_size}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be > 0, got {self.lr}")

    # -- key ids -> tokens -> (history, target) pairs ---------------------------------------
    def _tokens(self, seq: IntArray) -> IntArray:
        keys = self.known_keys_
        if keys.size == 0:
            return np.full(seq.shape, _UNK, dtype=np.int64)
        idx = np.searchsorted(keys, seq)
        known = (idx < keys.shape[0]) & (keys[np.minimum(idx, keys.shape[0] - 1)] == seq)
        return np.where(known, idx + _N_SPECIAL, _UNK).astype(np.int64)

    def _padded(self, seq: IntArray, training: bool) -> IntArray | None:
        """The token row whose (h + 1)-windows are the pairs of ``seq`` (None: no pair)."""
        h = self.history_size
        tokens = self._tokens(seq)
        if self.protocol == "every_key":
            return np.concatenate([np.full(h, _PAD, dtype=np.int64), tokens])
        if tokens.shape[0] >= h + 1:
            return tokens
        if training:  # the paper's training reads sessions that hold a full window only
            return None
        return np.concatenate([tokens, np.full(h + 1 - tokens.shape[0], _PAD, dtype=np.int64)])

    def _pairs(self, seqs: list[IntArray], training: bool = False) -> npt.NDArray[np.int64]:
        """All (history..., target) rows, shape (P, h + 1), in sequence then position order."""
        h = self.history_size
        rows = []
        for seq in seqs:
            if seq.shape[0] == 0:
                continue
            padded = self._padded(seq, training)
            if padded is None:
                continue
            rows.append(sliding_window_view(padded, h + 1))  # (P_seq, h + 1)
        if not rows:
            return np.empty((0, h + 1), dtype=np.int64)
        return np.concatenate(rows)

    def _unique_pairs(self, seqs: list[IntArray]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Unique training pairs (M, h + 1), sorted, and how often each occurs (M,)."""
        uniques, counts = [], []
        for start in range(0, len(seqs), _CHUNK):
            u, c = np.unique(self._pairs(seqs[start : start + _CHUNK], training=True), axis=0, return_counts=True)
            uniques.append(u)
            counts.append(c)
        u, inverse = np.unique(np.concatenate(uniques), axis=0, return_inverse=True)
        total = np.bincount(inverse.reshape(-1), weights=np.concatenate(counts), minlength=u.shape[0])
        return u, total.astype(np.int64)

    # -- fit / score ---------------------------------------------------------------------------
    def _fit(self, seqs: list[IntArray]) -> None:
        self._check_params()
        keys = np.unique(np.concatenate(seqs))
        self.known_keys_: IntArray = keys[keys != UNK_KEY]
        self.n_tokens_ = int(self.known_keys_.shape[0]) + _N_SPECIAL
        pairs, counts = self._unique_pairs(seqs)
        # a target of UNK teaches nothing about normal flow (and cannot occur for fitted keys,
        # except UNK_KEY itself): drop those pairs.
        keep = (pairs[:, -1] != _UNK) & (pairs[:, -1] != _PAD)
        pairs, counts = pairs[keep], counts[keep]
        with torch_threads(self.num_threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            model = _NextKeyLSTM(self.n_tokens_, self.embedding_dim, self.hidden_size, self.n_layers)
            self.train_losses_: list[float] = self._train(model, pairs, counts) if pairs.shape[0] else []
        model.eval()
        self.model_ = model
        self.fitted_ = True

    def _train(self, model: _NextKeyLSTM, pairs: npt.NDArray[np.int64], counts: npt.NDArray[np.int64]) -> list[float]:
        x_all = torch.from_numpy(np.ascontiguousarray(pairs[:, :-1]))  # (M, h)
        y_all = torch.from_numpy(np.ascontiguousarray(pairs[:, -1]))  # (M,)
        w_all = torch.from_numpy(counts.astype(np.float32))  # (M,)
        generator = torch.Generator().manual_seed(self.seed)
        optimiser = torch.optim.Adam(model.parameters(), lr=self.lr)
        loss_fn = nn.CrossEntropyLoss(reduction="none")
        losses: list[float] = []
        model.train()
        for epoch in range(self.epochs):
            order = torch.randperm(x_all.shape[0], generator=generator)
            total, weight = 0.0, 0.0
            for start in range(0, order.shape[0], self.batch_size):
                idx = order[start : start + self.batch_size]
                w = w_all[idx]
                loss = (loss_fn(model(x_all[idx]), y_all[idx]) * w).sum() / w.sum()
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                total += float(loss.detach()) * float(w.sum())
                weight += float(w.sum())
            losses.append(total / weight)
            logger.debug("deeplog epoch %d/%d loss %.4f", epoch + 1, self.epochs, losses[-1])
        return losses

    @torch.no_grad()
    def _hits(self, pairs: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """For unique pairs (M, h + 1): is the target among the top-g predicted real keys?"""
        hits = np.zeros(pairs.shape[0], dtype=np.bool_)
        for start in range(0, pairs.shape[0], self.score_batch_size):
            batch = pairs[start : start + self.score_batch_size]
            logits = self.model_(torch.from_numpy(np.ascontiguousarray(batch[:, :-1])))  # (B, V)
            logits[:, :_N_SPECIAL] = -torch.inf  # PAD/UNK are never a prediction
            target = torch.from_numpy(np.ascontiguousarray(batch[:, -1]))  # (B,)
            target_logit = logits.gather(1, target.unsqueeze(1))  # (B, 1)
            # rank = number of keys scored strictly higher; ties favour the true key, deterministically
            rank = (logits > target_logit).sum(dim=1)
            hit = (rank < self.top_g) & (target >= _N_SPECIAL)
            hits[start : start + batch.shape[0]] = hit.numpy()
        return hits

    def _paper_pairs(self, lengths: IntArray) -> IntArray:
        """Pairs per sequence under the paper protocol: ``len - h``, and 1 for a short non-empty one."""
        h = self.history_size
        return np.where(lengths == 0, 0, np.maximum(lengths - h, 1)).astype(np.int64)

    def _score(self, seqs: list[IntArray]) -> FloatArray:
        scores = np.zeros(len(seqs), dtype=np.float64)
        with torch_threads(self.num_threads):
            for start in range(0, len(seqs), _CHUNK):
                chunk = seqs[start : start + _CHUNK]
                lengths = np.array([s.shape[0] for s in chunk], dtype=np.int64)
                n_pairs = lengths if self.protocol == "every_key" else self._paper_pairs(lengths)
                if n_pairs.sum() == 0:
                    continue
                unique, inverse = np.unique(self._pairs(chunk), axis=0, return_inverse=True)
                miss = ~self._hits(unique)[inverse.reshape(-1)]  # (P,) in sequence order
                owner = np.repeat(np.arange(len(chunk)), n_pairs)
                n_miss = np.bincount(owner, weights=miss, minlength=len(chunk))
                if self.protocol == "paper":
                    scores[start : start + len(chunk)] = n_miss
                    continue
                scores[start : start + len(chunk)] = np.divide(
                    n_miss, lengths, out=np.zeros(len(chunk)), where=lengths > 0
                )
        return scores
