"""The LogBERT encoder: a small bidirectional Transformer over log-key tokens.

Input rows are ``[DIST, k_1, ..., k_n, PAD, ...]`` (see ``logbert.windowing.dataset``). The
model returns key-prediction logits at every position (the MLKP task reads the masked ones) and
the final hidden state of DIST (the VHM task pulls it towards the centre of normal sequences).
No I/O, no loss, no threshold, and no state kept between calls.

With ``model.signals`` (issue 13) two more inputs are summed into each position's embedding, the
gap bucket and the value bucket (``logbert.windowing.signals``), and two more heads predict them
(``gap_logits``, ``value_logits``). With ``"off"`` none of these modules exists, so a key-only
model has exactly the parameters, random initialisation and outputs it had before.

With ``model.key_counts`` the row's key counts are added to DIST's input and a head on DIST predicts every key's
count in the row (``count_logits``); without it those modules do not exist either.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn

from logbert.config import ModelConfig, signal_classes
from logbert.model.kernels import Linear
from logbert.model.layers import Encoder, EncoderLayer, fast_dropout


class EncoderOutput(NamedTuple):
    """What one forward pass returns."""

    logits: Tensor  # (B, T, V) key-prediction logits over the whole vocabulary, specials included
    dist_embedding: Tensor  # (B, C) final hidden state of the DIST token at position 0
    gap_logits: Tensor | None = None  # (B, T, G) gap-bucket logits (model.signals "time" / "all")
    value_logits: Tensor | None = None  # (B, T, W) value-bucket logits (model.signals "values" / "all")
    count_logits: Tensor | None = None  # (B, V, COUNT_BUCKETS) per token id, its count bucket (model.key_counts)


#: a key's count in a window is predicted as one of these buckets: 0, 1, ..., COUNT_BUCKETS - 2, and "that many or more"
COUNT_BUCKETS = 8


def token_counts(token_ids: Tensor, pad_mask: Tensor, vocab_size: int) -> Tensor:
    """(B, V) long: how often each token id occurs in each row's keys (DIST and padding not counted)."""
    counts = torch.zeros(token_ids.shape[0], vocab_size, dtype=torch.long, device=token_ids.device)
    return counts.scatter_add_(1, token_ids[:, 1:], (~pad_mask[:, 1:]).long())


def count_buckets(token_ids: Tensor, pad_mask: Tensor, vocab_size: int) -> Tensor:
    """(B, V) long: each token id's count bucket in each row's keys (:func:`token_counts` capped at
    ``COUNT_BUCKETS - 1``). Given the rows' true tokens, the targets of the count head."""
    return token_counts(token_ids, pad_mask, vocab_size).clamp_(max=COUNT_BUCKETS - 1)


def count_surprise(count_logits: Tensor, truth: Tensor, first_key: int) -> Tensor:
    """(B, V - first_key) float: the surprise of every key column's true count (token ids from ``first_key``):
    ``-log min(P(bucket >= true), P(bucket <= true))``. Counts are ordered, so what is surprising is a *tail*: a
    count one above a confident prediction that lies inside the counts seen is less of a surprise than
    ``-log p(that bucket)`` says, a count beyond every count seen in training is all of it."""
    p = count_logits[:, first_key:].float().softmax(dim=-1)  # (B, K, NB)
    at_least = p.flip(-1).cumsum(-1).flip(-1).gather(-1, truth[:, first_key:, None]).squeeze(-1)
    at_most = p.cumsum(-1).gather(-1, truth[:, first_key:, None]).squeeze(-1)
    return -torch.minimum(at_least, at_most).clamp(min=1e-30).log()


def masked_positions(chosen: Tensor) -> tuple[Tensor, Tensor]:
    """The chosen positions of each row, in the (B, S) layout of the encoder's ``predict_at``.

    Args:
        chosen: (B, T) bool, True = masked.

    Returns:
        ``(positions (B, S), used (B, S))``: S = the most chosen positions of any row; a row's own
        positions come first, in order, then position 0 in its unused slots (``used`` False there).
    """
    s = int(chosen.sum(dim=1).max()) if chosen.numel() else 0
    order = torch.sort((~chosen).to(torch.int8), dim=1, stable=True).indices[:, :s]  # chosen positions first
    used = chosen.gather(1, order)  # (B, S)
    return order.masked_fill(~used, 0), used


def last_key(pad_mask: Tensor) -> Tensor:
    """(B, T) float, 1.0 at each row's last real token (the one before its padding), 0 elsewhere and in a row
    that holds DIST alone (``model.mark_last``)."""
    lengths = (~pad_mask).sum(dim=1)  # (B,) DIST included
    positions = torch.arange(pad_mask.shape[1], device=pad_mask.device)
    return ((positions[None, :] == (lengths - 1)[:, None]) & (lengths > 1)[:, None]).float()


#: :meth:`LogBertEncoder.masked_passes` runs its passes through the encoder together until they hold this many
#: rows: a small batch (the service scores a few windows at a time) of an order-free model masks each distinct key
#: in a pass of its own, 5-20 passes of a few rows each, and the calls' fixed cost dominated (5 windows a call:
#: 60 windows/s against 228 in one call of 140, HDFS 2 %).
PASS_ROWS = 256

#: The last layer computes at least this many positions per row (DIST, the asked ones, then DIST again), so its
#: attention has the same number of queries whatever the batch: a window's scores must not depend on its batch.
#: (Products of too few rows, whose BLAS kernels round otherwise, are the rule of logbert.model.kernels.MIN_ROWS,
#: which every linear layer and head follows.)
MIN_QUERIES = 8


def _joined(tensors: Sequence[Tensor]) -> Tensor:
    """``torch.cat`` along the rows, without copying a lone tensor (a full batch is one pass: its (B, T, 3C)
    projections were a copy, 12 MB at batch 256, made only to be joined with nothing)."""
    return tensors[0] if len(tensors) == 1 else torch.cat(list(tensors))


def _queries(predict_at: Tensor) -> Tensor:
    """DIST (position 0) then ``predict_at`` (B, S), padded with 0 to at least :data:`MIN_QUERIES` columns."""
    b, s = predict_at.shape
    filler = torch.zeros(b, max(1, MIN_QUERIES - s), dtype=torch.long, device=predict_at.device)
    return torch.cat([filler[:, :1], predict_at, filler[:, 1:]], dim=1)


class PassOutput(NamedTuple):
    """One masked pass of :meth:`LogBertEncoder.masked_passes`."""

    rows: Tensor  # (b,) the batch rows with a masked key in this pass
    positions: Tensor  # (b, S) their masked positions (``masked_positions``), 0 in unused slots
    used: Tensor  # (b, S) bool, False at unused slots
    logits: Tensor  # (b, S, V) key-prediction logits at ``positions``
    count_logits: Tensor | None = None  # (b, V, COUNT_BUCKETS) of the pass's DIST (model.key_counts)


class LogBertEncoder(nn.Module):
    """Token + learned position embeddings, a Transformer encoder, and a key-prediction head.

    Args:
        config: the model shape; ``config.vocab_size`` must come from the fitted vocabulary.

    Raises:
        ValueError: ``config.vocab_size`` is still 0 (not set from a vocabulary).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.vocab_size <= 0:
            raise ValueError("ModelConfig.vocab_size is 0: set it from the fitted vocabulary (len(vocab))")
        self.config = config
        self.token_emb = nn.Embedding(config.vocab_size, config.d_model)
        # + 1 for DIST; none for an order-free model (model.positions = False)
        self.pos_emb = nn.Embedding(config.max_len + 1, config.d_model) if config.positions else None
        # pre-norm trains stably without a long warm-up; torch's layer, rewritten for CPU speed (see layers.py)
        self.encoder = Encoder(config.d_model, config.n_heads, config.d_ff, config.dropout, config.n_layers)
        self.norm = nn.LayerNorm(config.d_model)  # pre-norm stacks need a final norm
        self.head = Linear(config.d_model, config.vocab_size)
        # created after every key-only module: a key-only model's random stream and state dict stay as they were
        self.last_emb: nn.Parameter | None = None  # model.mark_last: added to each row's last key
        if config.mark_last:
            self.last_emb = nn.Parameter(torch.randn(config.d_model))  # N(0, 1), as nn.Embedding (tokens, positions)
        self.gap_emb: nn.Embedding | None = None
        self.gap_head: nn.Linear | None = None
        self.value_emb: nn.Embedding | None = None
        self.value_head: nn.Linear | None = None
        if config.uses_time:
            self.gap_emb = nn.Embedding(signal_classes(config.gap_buckets), config.d_model)
            self.gap_head = Linear(config.d_model, signal_classes(config.gap_buckets))
        if config.uses_values:
            self.value_emb = nn.Embedding(signal_classes(config.value_buckets), config.d_model)
            self.value_head = Linear(config.d_model, signal_classes(config.value_buckets))
        self.count_proj: nn.Linear | None = None  # model.key_counts: the window's key counts into DIST
        self.count_head: nn.Linear | None = None  # and DIST predicts every key's count (the masked ones included)
        self.count_norm: nn.LayerNorm | None = None
        if config.key_counts:
            self.count_proj = Linear(config.vocab_size, config.d_model, bias=False)
            self.count_norm = nn.LayerNorm(config.d_model)
            self.count_head = Linear(config.d_model, config.vocab_size * COUNT_BUCKETS)

    def count_logits(self, dist_before_last: Tensor) -> Tensor:
        """(B, V, COUNT_BUCKETS) from DIST's state as the last layer receives it (B, C).

        Not from DIST's final state: the hypersphere term pulls that towards one point for every normal session,
        and the counts of normal sessions differ (with VHM on, a head there gave a key that every training session
        holds once its count with p 0.54; with VHM off, 0.96). The last layer's input is pulled only through it.
        """
        assert self.count_head is not None and self.count_norm is not None
        logits: Tensor = self.count_head(self.count_norm(dist_before_last))
        return logits.view(dist_before_last.shape[0], self.config.vocab_size, COUNT_BUCKETS)

    def count_embedding(self, token_ids: Tensor, pad_mask: Tensor) -> Tensor:
        """(B, C): a linear map of ``log1p`` of each token id's count in each row's keys (``model.key_counts``).

        Softmax attention averages what it reads, so a row's DIST sees which share of the keys is which, not how
        many there are: a line logged twice or a loop of normal lines barely moves a share, and every share of a
        normal session can be matched. The counts give DIST the numbers themselves. A masked key counts as MASK,
        so the counts never tell which key was hidden; padding and DIST are not counted.
        """
        assert self.count_proj is not None
        counts = token_counts(token_ids, pad_mask, self.config.vocab_size).to(self.count_proj.weight.dtype)
        out: Tensor = self.count_proj(torch.log1p(counts))
        return out

    def forward(
        self,
        token_ids: Tensor,
        pad_mask: Tensor,
        gap_ids: Tensor | None = None,
        value_ids: Tensor | None = None,
        *,
        predict_at: Tensor | None = None,
    ) -> EncoderOutput:
        """Run the encoder.

        Args:
            token_ids: (B, T) long token ids, DIST at position 0, ``T <= max_len + 1``.
            pad_mask: (B, T) bool, True = padding (ignored by attention).
            gap_ids: (B, T) long gap bucket ids (``config.signals`` with time); None = no time input.
            value_ids: (B, T) long value bucket ids (``config.signals`` with values); None = no value input.
            predict_at: (B, S) long key positions (1..T-1) whose logits are wanted, e.g. the masked
                keys; the last layer and the heads then run at DIST and those positions only, which
                gives the same numbers as the full pass there. Unused slots may repeat any position.

        Returns:
            ``EncoderOutput(logits (B, T, V), dist_embedding (B, C), gap_logits, value_logits)``; the
            signal logits are None for a model without that channel. With ``predict_at`` every logits
            tensor is (B, S, ...), slot s holding the logits at position ``predict_at[:, s]``.
        """
        b, t = token_ids.shape
        assert t <= self.config.max_len + 1, f"{t} tokens, at most {self.config.max_len + 1} positions"
        x = self.token_emb(token_ids)  # (B, T, C)
        if self.pos_emb is not None:  # an order-free model adds nothing here
            x = x + self.pos_emb(torch.arange(t, device=token_ids.device))
        if self.last_emb is not None:
            x = x + last_key(pad_mask)[..., None] * self.last_emb
        if self.gap_emb is not None and gap_ids is not None:
            x = x + self.gap_emb(gap_ids)
        if self.value_emb is not None and value_ids is not None:
            x = x + self.value_emb(value_ids)
        if self.count_proj is not None:
            x = torch.cat([x[:, :1] + self.count_embedding(token_ids, pad_mask)[:, None], x[:, 1:]], dim=1)
        x = fast_dropout(x, self.config.dropout, self.training)
        queries = None if predict_at is None else _queries(predict_at)
        before_last: list[Tensor] | None = [] if self.count_head is not None else None
        x = self.norm(self.encoder(x, pad_mask, queries, first_before_last=before_last))  # (B, T | >= 1 + S, C)
        at = x if predict_at is None else x[:, 1 : 1 + predict_at.shape[1]]
        return EncoderOutput(
            logits=self.head(at),
            dist_embedding=x[:, 0],
            gap_logits=None if self.gap_head is None else self.gap_head(at),
            value_logits=None if self.value_head is None else self.value_head(at),
            count_logits=None if not before_last else self.count_logits(before_last[0]),
        )

    def masked_passes(
        self, token_ids: Tensor, pad_mask: Tensor, passes: Sequence[Tensor], mask_id: int
    ) -> tuple[Tensor, list[PassOutput]]:
        """The unmasked rows' DIST embedding and, for each pass, the key logits at its masked keys (no dropout;
        no signal inputs: a time- or value-aware model scored with its signals uses :meth:`forward`).

        The same numbers as one :meth:`forward` of the unmasked rows (``predict_at`` empty) and one of
        each pass's masked rows (``predict_at`` = its masked positions), for less work: a position's
        first-layer input projection is either its key's or MASK's, so both are computed once for
        the batch and every pass picks one per position instead of projecting again.

        Args:
            token_ids: (B, T) unmasked token rows, DIST at position 0.
            pad_mask: (B, T) bool, True = padding.
            passes: (B, T) bool masks, True = replace by MASK and predict (never DIST, never padding).
            mask_id: the MASK token id.

        Returns:
            ``(dist_embedding (B, C), [PassOutput per pass])``.
        """
        b, t = token_ids.shape
        assert not self.training, "masked_passes is for scoring: call model.eval() first"
        plain = self.token_emb(token_ids)  # (B, T, C)
        masked = self.token_emb.weight[mask_id].expand(t, -1)  # (T, C): MASK at every position
        if self.pos_emb is not None:  # an order-free model adds nothing here
            pos_emb = self.pos_emb(torch.arange(t, device=token_ids.device))  # (T, C)
            plain, masked = plain + pos_emb, masked + pos_emb
        first = self.encoder.layers[0]
        assert isinstance(first, EncoderLayer)
        masked_last_proj = None  # model.mark_last: MASK at a row's last key has the mark added, (T, 3C)
        is_last = None
        if self.last_emb is not None:
            is_last = last_key(pad_mask)  # (B, T)
            plain = plain + is_last[..., None] * self.last_emb
            masked_last_proj = first.in_projection(masked + self.last_emb)
        dist_input = plain[:, :1]  # (B, 1, C): DIST's input before the counts, which differ from pass to pass
        if self.count_proj is not None:
            plain = torch.cat([dist_input + self.count_embedding(token_ids, pad_mask)[:, None], plain[:, 1:]], dim=1)
        plain_proj, masked_proj = first.in_projection(plain), first.in_projection(masked)  # (B, T, 3C), (T, 3C)
        dist_only = _queries(torch.zeros(b, 0, dtype=torch.long, device=token_ids.device))
        dist = self.norm(self.encoder(plain, pad_mask, dist_only, plain_proj))[:, 0]  # (B, C)
        outputs: list[PassOutput] = []
        pending: list[tuple[Tensor, Tensor, Tensor, Tensor, Tensor]] = []  # passes for one encoder call
        for chosen in passes:
            rows = chosen.any(dim=1).nonzero().flatten()
            if rows.numel() == 0:
                continue
            every_row = rows.numel() == b
            here = chosen if every_row else chosen[rows]  # (b, T)
            positions, used = masked_positions(here)  # (b, S)
            at_row, at_pos = here.nonzero(as_tuple=True)
            x = plain.clone() if every_row else plain[rows]  # copies: the masked keys are written in
            projected = plain_proj.clone() if every_row else plain_proj[rows]
            x[at_row, at_pos] = masked[at_pos]
            projected[at_row, at_pos] = masked_proj[at_pos]
            if is_last is not None and masked_last_proj is not None and self.last_emb is not None:
                last = is_last[rows[at_row], at_pos].bool()  # the masked keys that end their row
                if bool(last.any()):
                    x[at_row[last], at_pos[last]] = masked[at_pos[last]] + self.last_emb
                    projected[at_row[last], at_pos[last]] = masked_last_proj[at_pos[last]]
            if self.count_proj is not None:  # DIST counts this pass's masked keys as MASK
                hidden = (token_ids if every_row else token_ids[rows]).masked_fill(here, mask_id)
                x[:, :1] = dist_input[rows] + self.count_embedding(hidden, pad_mask[rows])[:, None]
                projected[:, :1] = first.in_projection(x[:, :1])
            pending.append((rows, positions, used, x, projected))
            if sum(p[0].numel() for p in pending) >= PASS_ROWS:
                outputs.extend(self._run_passes(pending, pad_mask))
                pending = []
        if pending:
            outputs.extend(self._run_passes(pending, pad_mask))
        return dist, outputs

    def _run_passes(
        self, passes: Sequence[tuple[Tensor, Tensor, Tensor, Tensor, Tensor]], pad_mask: Tensor
    ) -> list[PassOutput]:
        """Masked passes, each ``(rows, positions, used, x, projected)``, through the encoder as one batch of their
        rows (:data:`PASS_ROWS`); each row's numbers are those of its pass alone (see :data:`MIN_QUERIES`)."""
        width = max(p[1].shape[1] for p in passes)
        positions = _joined([nn.functional.pad(p[1], (0, width - p[1].shape[1])) for p in passes])  # 0 = DIST
        x = _joined([p[3] for p in passes])
        projected = _joined([p[4] for p in passes])
        pad = _joined([pad_mask[p[0]] for p in passes])
        before_last: list[Tensor] | None = [] if self.count_head is not None else None
        h = self.norm(self.encoder(x, pad, _queries(positions), projected, before_last))  # (sum b, >= 1 + S, C)
        out, start = [], 0
        for rows, at, used, _, _ in passes:
            n, s = rows.numel(), at.shape[1]
            counts = None if not before_last else self.count_logits(before_last[0][start : start + n])
            out.append(PassOutput(rows, at, used, self.head(h[start : start + n, 1 : 1 + s]), counts))
            start += n
        return out
