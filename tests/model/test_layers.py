"""The CPU-fast encoder layer against torch's own: same weights, same function, cheaper dropout."""

import pytest
import torch
from torch import nn

from logbert.config import ModelConfig
from logbert.model.encoder import LogBertEncoder, masked_positions
from logbert.model.layers import DROPOUT_STEPS, fast_dropout

torch.set_num_threads(1)
CONFIG = ModelConfig(vocab_size=23, max_len=12, d_model=32, d_ff=64, n_heads=4, n_layers=2, dropout=0.1)
MASK = 2


class TorchEncoder(nn.Module):
    """The encoder as it was built before (torch's layers): the reference for names, init and outputs."""

    def __init__(self, c: ModelConfig) -> None:
        super().__init__()
        self.token_emb = nn.Embedding(c.vocab_size, c.d_model)
        self.pos_emb = nn.Embedding(c.max_len + 1, c.d_model)
        layer = nn.TransformerEncoderLayer(
            c.d_model, c.n_heads, c.d_ff, c.dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, c.n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(c.d_model)
        self.head = nn.Linear(c.d_model, c.vocab_size)

    def forward(self, tok: torch.Tensor, pad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.token_emb(tok) + self.pos_emb(torch.arange(tok.shape[1]))
        x = self.norm(self.encoder(x, src_key_padding_mask=pad))
        return self.head(x), x[:, 0]


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(3)
    tok = torch.randint(4, CONFIG.vocab_size, (9, CONFIG.max_len + 1), generator=gen)
    pad = torch.zeros_like(tok, dtype=torch.bool)
    for i in range(9):
        pad[i, 2 + i :] = True  # rows of 1 to 9 keys
    tok[:, 0] = 1
    return tok.masked_fill(pad, 0), pad


def test_same_parameter_names_and_same_initial_weights_as_torchs_layers() -> None:
    torch.manual_seed(5)
    ours = LogBertEncoder(CONFIG).state_dict()
    torch.manual_seed(5)
    theirs = TorchEncoder(CONFIG).state_dict()
    assert list(ours) == list(theirs)  # artifacts saved before the rewrite load unchanged
    for name in ours:
        assert torch.equal(ours[name], theirs[name]), name


def test_eval_outputs_equal_torchs_layers_with_the_same_weights() -> None:
    torch.manual_seed(0)
    reference = TorchEncoder(CONFIG).eval()
    with torch.no_grad():  # weights that are not the initial ones (every layer different)
        for p in reference.parameters():
            p.add_(0.05 * torch.randn_like(p))
    model = LogBertEncoder(CONFIG).eval()
    model.load_state_dict(reference.state_dict())
    tok, pad = _batch()
    with torch.inference_mode():
        logits, dist = reference(tok, pad)
        out = model(tok, pad)
    keys = ~pad
    torch.testing.assert_close(out.logits[keys], logits[keys], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.dist_embedding, dist, atol=1e-5, rtol=1e-5)


def test_predict_at_and_masked_passes_give_the_full_passes_numbers() -> None:
    torch.manual_seed(1)
    model = LogBertEncoder(CONFIG).eval()
    tok, pad = _batch()
    gen = torch.Generator().manual_seed(0)
    passes = [(torch.rand(tok.shape, generator=gen) < 0.4) & ~pad for _ in range(3)]
    for chosen in passes:
        chosen[:, 0] = False
    with torch.inference_mode():
        full = model(tok, pad)
        dist, outputs = model.masked_passes(tok, pad, passes, MASK)
        torch.testing.assert_close(dist, full.dist_embedding, atol=1e-5, rtol=1e-5)
        assert len(outputs) == sum(bool(c.any()) for c in passes)
        for chosen, out in zip([c for c in passes if c.any()], outputs, strict=True):
            masked = tok.masked_fill(chosen, MASK)
            reference = model(masked, pad).logits  # (B, T, V) the whole pass
            positions, used = masked_positions(chosen[out.rows])
            assert torch.equal(out.positions, positions) and torch.equal(out.used, used)
            sliced = model(masked[out.rows], pad[out.rows], predict_at=positions).logits
            rows, slots = used.nonzero(as_tuple=True)
            expected = reference[out.rows[rows], positions[rows, slots]]
            torch.testing.assert_close(out.logits[rows, slots], expected, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(sliced[rows, slots], expected, atol=1e-5, rtol=1e-5)


def test_masked_positions_lists_each_rows_own_positions_first() -> None:
    chosen = torch.tensor([[False, True, False, True], [False, False, True, False], [False, False, False, False]])
    positions, used = masked_positions(chosen)
    assert positions.tolist() == [[1, 3], [2, 0], [0, 0]]
    assert used.tolist() == [[True, True], [True, False], [False, False]]


def test_fast_dropout_drops_at_the_stated_rate_unbiased_and_reproducibly() -> None:
    x = torch.ones(200_000)
    torch.manual_seed(0)
    a = fast_dropout(x, 0.1, training=True)
    torch.manual_seed(0)
    b = fast_dropout(x, 0.1, training=True)
    assert torch.equal(a, b)  # the default generator decides: a seeded run repeats
    cut = round(0.1 * DROPOUT_STEPS)
    dropped = float((a == 0).float().mean())
    assert dropped == pytest.approx(cut / DROPOUT_STEPS, abs=0.003)  # 13/128, ~6 standard errors
    assert float(a.mean()) == pytest.approx(1.0, abs=0.01)  # kept ones scaled by the inverse keep rate
    values = a.unique().tolist()
    assert values[0] == 0.0 and values[1:] == [pytest.approx(DROPOUT_STEPS / (DROPOUT_STEPS - cut))]
    assert fast_dropout(x, 0.1, training=False) is x
    assert fast_dropout(x, 0.0, training=True) is x


def test_fast_dropout_mask_depends_on_every_byte() -> None:
    """All 8 bytes of each random word are used: no position is never (or always) dropped."""
    x = torch.ones(8 * 64)
    seen = torch.zeros(8 * 64)
    torch.manual_seed(2)
    for _ in range(200):
        seen += (fast_dropout(x, 0.5, training=True) == 0).float()
    assert bool((seen > 60).all() and (seen < 140).all())


@pytest.mark.parametrize("p", [0.05, 0.1, 0.3, 0.5, 0.9])
def test_fast_dropout_keeps_exactly_the_elements_whose_seven_bits_reach_the_cut(p: float) -> None:
    """The integer trick (no comparison, no float cast) against the plain rule on the same random words."""
    x = torch.randn(3, 37, 11)  # not a multiple of 8 elements: the last word is partly used
    torch.manual_seed(5)
    out = fast_dropout(x, p, training=True)
    torch.manual_seed(5)
    words = torch.empty((x.numel() + 7) // 8, dtype=torch.int64).random_(-(2**63), None)
    seven_bits = words.view(torch.uint8)[: x.numel()].long() % 128
    cut = round(p * DROPOUT_STEPS)
    expected = torch.where(seven_bits.view(x.shape) >= cut, x * (DROPOUT_STEPS / (DROPOUT_STEPS - cut)), 0.0)
    assert torch.equal(out, expected)
    assert torch.equal(fast_dropout(x, 0.999, training=True), torch.zeros_like(x))  # rounds to "drop all"
