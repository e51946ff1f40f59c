"""The LogBERT encoder: a small bidirectional Transformer over log-key tokens.

Input rows are ``[DIST, k_1, ..., k_n, PAD, ...]`` (see ``logbert.windowing.dataset``). The
model returns key-prediction logits at every position (the MLKP task reads the masked ones) and
the final hidden state of DIST (the VHM task pulls it towards the centre of normal sequences).
No I/O, no loss, no threshold, and no state kept between calls.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from logbert.config import ModelConfig


class EncoderOutput(NamedTuple):
    """What one forward pass returns."""

    logits: Tensor  # (B, T, V) key-prediction logits over the whole vocabulary, specials included
    dist_embedding: Tensor  # (B, C) final hidden state of the DIST token at position 0


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
        self.pos_emb = nn.Embedding(config.max_len + 1, config.d_model)  # + 1 for DIST
        self.drop = nn.Dropout(config.dropout)
        layer = nn.TransformerEncoderLayer(
            d_model=config.d_model,
            nhead=config.n_heads,
            dim_feedforward=config.d_ff,
            dropout=config.dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,  # pre-norm trains stably without a long warm-up
        )
        # nested tensors would make padded positions depend on the batch's padding layout
        self.encoder = nn.TransformerEncoder(layer, num_layers=config.n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.d_model)  # pre-norm stacks need a final norm
        self.head = nn.Linear(config.d_model, config.vocab_size)

    def forward(self, token_ids: Tensor, pad_mask: Tensor) -> EncoderOutput:
        """Run the encoder.

        Args:
            token_ids: (B, T) long token ids, DIST at position 0, ``T <= max_len + 1``.
            pad_mask: (B, T) bool, True = padding (ignored by attention).

        Returns:
            ``EncoderOutput(logits (B, T, V), dist_embedding (B, C))``.
        """
        _, t = token_ids.shape
        assert t <= self.config.max_len + 1, f"{t} tokens, at most {self.config.max_len + 1} positions"
        pos = torch.arange(t, device=token_ids.device)  # (T,)
        x = self.drop(self.token_emb(token_ids) + self.pos_emb(pos))  # (B, T, C)
        x = self.encoder(x, src_key_padding_mask=pad_mask)  # (B, T, C)
        x = self.norm(x)  # (B, T, C)
        return EncoderOutput(logits=self.head(x), dist_embedding=x[:, 0])
