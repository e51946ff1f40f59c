"""A pre-norm Transformer encoder layer written for small models on CPUs.

Same parameters, same names and the same function as ``torch.nn.TransformerEncoderLayer``
(``norm_first=True``, GELU, ``batch_first=True``), so state dicts load either way, with two
changes that matter for speed on a CPU:

* **Dropout masks from a cheap random stream** (on the CPU; a GPU keeps torch's fused dropout).
  ``torch.nn.functional.dropout`` draws one 32-bit Mersenne-Twister number per element; at this
  model's size that is a quarter of a training step (profiled: ``aten::bernoulli_`` 25 % of CPU
  time, more than all matrix products). :func:`fast_dropout` draws 64 random bits per 8 elements
  and keeps an element when the low 7 bits of its byte are at least ``round(128 p)``, so the drop
  probability is ``p`` rounded to 1/128 (0.1 -> 0.1016) and the kept elements are scaled by the
  exact inverse of the keep rate (unbiased, as dropout must be). Every step of the mask is a
  byte or integer operation that torch vectorises (a byte comparison and a bool-to-float
  conversion are not: the earlier 1/256 version spent 2.6 ms a mask where this one spends 0.8).
* **Queries only where they are needed.** The last layer only has to produce the masked positions
  and DIST (the rest of its output is never read): ``queries`` selects them; keys and values still
  come from every position, so the selected outputs are what the full layer computes.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F  # noqa: N812 - the usual name
from torch import Tensor, nn

from logbert.model.kernels import Linear, linear

#: Resolution of :func:`fast_dropout`'s drop probability (the low 7 bits of one random byte per element).
DROPOUT_STEPS = 128
_SEVEN_BITS = 0x7F


def fast_dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """Inverted dropout with 7 random bits per element instead of one 32-bit draw.

    Uses the default torch generator (seeded by ``torch.manual_seed``), so runs stay reproducible.
    """
    if not training or p <= 0.0:
        return x
    if x.device.type != "cpu":  # GPUs draw dropout masks in fused kernels (Philox): nothing to gain here
        return F.dropout(x, p, training=True)
    cut = round(p * DROPOUT_STEPS)  # elements whose 7 bits are below it are dropped
    if cut == 0:
        return x
    if cut >= DROPOUT_STEPS:
        return x * 0.0
    n = x.numel()
    # random_(-2**63, None) is exactly uniform on all 64 bits: 8 random bytes per word
    words = torch.empty((n + 7) // 8, dtype=torch.int64, device=x.device).random_(-(2**63), None)
    noise = words.view(torch.uint8)[:n].bitwise_and_(_SEVEN_BITS)  # 0..127, uniform
    # bit 7 of (noise + 128 - cut) is set exactly when noise >= cut (no carry: at most 127 + 127 = 254)
    keep = noise.add_(DROPOUT_STEPS - cut).bitwise_right_shift_(7)  # 0 or 1 per element
    # 0 -> the bits of 0.0, 1 -> the bits of the float32 scale: the mask without a comparison or a float cast
    scale_bits = _float32_bits(DROPOUT_STEPS / (DROPOUT_STEPS - cut))
    mask = keep.to(torch.int32).mul_(scale_bits).view(torch.float32).view(x.shape).to(x.dtype)
    return x * mask  # one float mask, one product (autograd keeps the mask)


def _float32_bits(value: float) -> int:
    """The IEEE-754 bits of ``value`` as a float32, as a signed 32-bit integer (through torch, not ``struct``:
    torch.compile traces this function, and its dynamo failed on ``struct`` with a RecursionError)."""
    return int(torch.tensor([value], dtype=torch.float32).view(torch.int32).item())


def gather_positions(x: Tensor, positions: Tensor) -> Tensor:
    """``x`` (B, T, ...) at ``positions`` (B, S) -> (B, S, ...)."""
    index = positions.view(*positions.shape, *([1] * (x.dim() - 2))).expand(-1, -1, *x.shape[2:])
    return x.gather(1, index)


class SelfAttention(nn.Module):
    """Multi-head self-attention holding its weights under ``nn.MultiheadAttention``'s names."""

    def __init__(self, d_model: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} is not a multiple of n_heads={n_heads}")
        self.n_heads = n_heads
        self.dropout = dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * d_model))
        self.out_proj = Linear(d_model, d_model)
        # nn.MultiheadAttention's initialisation, in its order (the random stream stays the same)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.in_proj_bias)
        nn.init.zeros_(self.out_proj.bias)

    def forward(
        self, x: Tensor, key_bias: Tensor, queries: Tensor | None = None, projected: Tensor | None = None
    ) -> Tensor:
        """Attend over every position of ``x`` (B, T, C); ``key_bias`` (B, 1, 1, T) is 0, or -inf at padding.

        Args:
            x: (B, T, C) the (normalised) inputs.
            key_bias: (B, 1, 1, T).
            queries: (B, S) positions: only those are produced (keys and values still come from every
                position, so those outputs equal the full layer's).
            projected: (B, T, 3C) ``in_proj`` of ``x`` when the caller already has it (it is then not
                recomputed; ``x`` is only read for its shape).

        Returns:
            (B, T, C), or (B, S, C) with ``queries``.
        """
        b, t, c = x.shape
        h, d = self.n_heads, c // self.n_heads
        if projected is None and queries is not None:  # queries only where asked; keys and values everywhere
            q = linear(gather_positions(x, queries), self.in_proj_weight[:c], self.in_proj_bias[:c])
            kv = linear(x, self.in_proj_weight[c:], self.in_proj_bias[c:]).view(b, t, 2, h, d)
            k, v = kv.unbind(dim=2)  # (B, T, H, D)
            q = q.view(b, -1, h, d)  # (B, S, H, D)
        else:
            qkv = (linear(x, self.in_proj_weight, self.in_proj_bias) if projected is None else projected)
            # unbind, not three selects: in backward a select zero-fills the whole (B, T, 3, H, D) gradient, three times
            q, k, v = qkv.view(b, t, 3, h, d).unbind(dim=2)  # (B, T, H, D) each
            q = q if queries is None else gather_positions(q, queries)  # (B, S, H, D)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # (B, H, S or T, D)
        if self.training and self.dropout > 0 and x.device.type == "cpu":  # torch's would draw per element
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d)) + key_bias  # (B, H, S, T)
            att = fast_dropout(att.softmax(dim=-1), self.dropout, True)
            out = att @ v  # (B, H, S, D)
        else:  # fused attention; its own dropout on a GPU
            p = self.dropout if self.training else 0.0
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=key_bias, dropout_p=p)  # (B, H, S, D)
        out = out.transpose(1, 2).reshape(b, -1, c)  # (B, S, C)
        projected_out: Tensor = self.out_proj(out)
        return projected_out


class EncoderLayer(nn.Module):
    """Pre-norm block: ``x + attn(norm1(x))``, then ``+ linear2(gelu(linear1(norm2(.))))``, dropout as torch's."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float) -> None:
        super().__init__()
        # construction order = nn.TransformerEncoderLayer's, so the same seed gives the same weights
        self.self_attn = SelfAttention(d_model, n_heads, dropout)
        self.linear1 = Linear(d_model, d_ff)
        self.linear2 = Linear(d_ff, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.p = dropout

    def in_projection(self, x: Tensor) -> Tensor:
        """``in_proj(norm1(x))``: (..., C) -> (..., 3C), position by position (:meth:`forward`'s ``projected``)."""
        return linear(self.norm1(x), self.self_attn.in_proj_weight, self.self_attn.in_proj_bias)

    def forward(
        self, x: Tensor, key_bias: Tensor, queries: Tensor | None = None, projected: Tensor | None = None
    ) -> Tensor:
        """(B, T, C) -> (B, T, C); with ``queries`` (B, S), only those positions: (B, S, C).
        ``projected``: :meth:`in_projection` of ``x``, when the caller has it already."""
        attended = self.self_attn(self.norm1(x) if projected is None else x, key_bias, queries, projected)
        attended = fast_dropout(attended, self.p, self.training)
        y = (x if queries is None else gather_positions(x, queries)) + attended
        hidden = fast_dropout(F.gelu(self.linear1(self.norm2(y))), self.p, self.training)
        return y + fast_dropout(self.linear2(hidden), self.p, self.training)


class Encoder(nn.Module):
    """``n_layers`` copies of one :class:`EncoderLayer` under ``layers.{i}``, as ``nn.TransformerEncoder``
    builds them (it deep-copies one freshly initialised layer, so every layer starts from the same weights)."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float, n_layers: int) -> None:
        super().__init__()
        layer = EncoderLayer(d_model, n_heads, d_ff, dropout)
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(n_layers))

    def forward(
        self,
        x: Tensor,
        pad_mask: Tensor,
        queries: Tensor | None = None,
        projected: Tensor | None = None,
        first_before_last: list[Tensor] | None = None,
    ) -> Tensor:
        """``x`` (B, T, C), ``pad_mask`` (B, T) True = padding -> (B, T, C); with ``queries`` (B, S)
        the last layer produces only those positions: (B, S, C). ``projected``: the first layer's
        :meth:`EncoderLayer.in_projection` of ``x``, when the caller has it already. ``first_before_last``: a list
        that gets position 0's state (B, C) as the last layer receives it."""
        key_bias = torch.zeros(pad_mask.shape, dtype=x.dtype, device=x.device).masked_fill_(pad_mask, -torch.inf)
        key_bias = key_bias[:, None, None, :]  # (B, 1, 1, T)
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            if i == last and first_before_last is not None:
                first_before_last.append(x[:, 0])
            x = layer(x, key_bias, queries if i == last else None, projected if i == 0 else None)
        return x
