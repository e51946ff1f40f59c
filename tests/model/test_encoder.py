import pytest
import torch

from logbert.config import ModelConfig
from logbert.model.encoder import COUNT_BUCKETS, EncoderOutput, LogBertEncoder

torch.set_num_threads(1)
CONFIG = ModelConfig(vocab_size=11, max_len=6, d_model=16, d_ff=32, n_heads=2, n_layers=1)


def test_shapes_and_typed_output() -> None:
    torch.manual_seed(0)
    model = LogBertEncoder(CONFIG).eval()
    token_ids = torch.tensor([[1, 4, 5, 6, 0], [1, 7, 0, 0, 0]])  # (B, T)
    out = model(token_ids, token_ids == 0)
    assert isinstance(out, EncoderOutput)
    assert out.logits.shape == (2, 5, 11) and out.dist_embedding.shape == (2, 16)


def test_padding_does_not_change_real_positions_and_no_state_is_kept() -> None:
    torch.manual_seed(0)
    model = LogBertEncoder(CONFIG).eval()
    short = torch.tensor([[1, 4, 5]])
    padded = torch.tensor([[1, 4, 5, 0, 0, 0, 0]])
    with torch.no_grad():
        a = model(short, short == 0)
        b = model(padded, padded == 0)
        c = model(short, short == 0)
    torch.testing.assert_close(a.logits, b.logits[:, :3])
    torch.testing.assert_close(a.dist_embedding, b.dist_embedding)
    assert torch.equal(a.logits, c.logits)


def test_vocab_size_must_be_set() -> None:
    with pytest.raises(ValueError, match="vocab_size"):
        LogBertEncoder(ModelConfig())


def test_signal_inputs_and_heads_exist_only_when_switched_on() -> None:
    from logbert.config import signal_classes

    base = ModelConfig(vocab_size=12, max_len=8, d_model=16, d_ff=32, n_heads=2, n_layers=1)
    torch.manual_seed(0)
    off = LogBertEncoder(base)
    torch.manual_seed(0)
    on = LogBertEncoder(base.model_copy(update={"signals": "all"}))
    extra = set(on.state_dict()) - set(off.state_dict())
    assert extra == {"gap_emb.weight", "gap_head.weight", "gap_head.bias", "value_emb.weight", "value_head.weight",
                     "value_head.bias"}  # fmt: skip
    for name, weight in off.state_dict().items():  # created first: the key-only weights draw the same numbers
        assert torch.equal(weight, on.state_dict()[name]), name
    tokens, pad = torch.randint(4, 12, (2, 5)), torch.zeros(2, 5, dtype=torch.bool)
    gaps, values = torch.full((2, 5), 3), torch.full((2, 5), 4)
    out = on(tokens, pad, gaps, values)
    assert out.gap_logits is not None and out.gap_logits.shape == (2, 5, signal_classes(base.gap_buckets))
    assert out.value_logits is not None and out.value_logits.shape == (2, 5, signal_classes(base.value_buckets))
    assert off(tokens, pad).gap_logits is None
    n_extra = sum(on.state_dict()[k].numel() for k in extra)
    assert on.config.n_parameters() - off.config.n_parameters() == n_extra


def test_an_order_free_model_reads_which_keys_a_window_holds_not_their_order() -> None:
    """model.positions = False: no position embeddings, so permuting a window's keys permutes its logits and
    leaves its DIST embedding as it was; the model with positions sees the difference."""
    tokens = torch.tensor([[1, 4, 5, 6, 7, 0]])
    order = [0, 3, 1, 4, 2, 5]  # DIST and padding stay; the keys trade places
    shuffled = tokens[:, order]
    for positions in (False, True):
        torch.manual_seed(0)
        model = LogBertEncoder(CONFIG.model_copy(update={"positions": positions})).eval()
        assert (model.pos_emb is None) is not positions
        with torch.no_grad():
            a, b = model(tokens, tokens == 0), model(shuffled, shuffled == 0)
        same = torch.allclose(a.logits[:, order], b.logits, atol=1e-5)
        same &= torch.allclose(a.dist_embedding, b.dist_embedding, atol=1e-5)
        assert same is not positions
    n = CONFIG.model_copy(update={"positions": False}).n_parameters()
    assert n == CONFIG.n_parameters() - (CONFIG.max_len + 1) * CONFIG.d_model


def test_an_order_free_models_masked_passes_equal_its_forward_passes() -> None:
    torch.manual_seed(0)
    model = LogBertEncoder(CONFIG.model_copy(update={"positions": False})).eval()
    tokens = torch.tensor([[1, 4, 5, 6, 7, 0], [1, 8, 9, 0, 0, 0]])
    pad = tokens == 0
    chosen = torch.tensor([[False, True, False, True, False, False], [False, False, True, False, False, False]])
    with torch.no_grad():
        dist, (pass_out,) = model.masked_passes(tokens, pad, [chosen], mask_id=2)
        plain = model(tokens, pad)
        masked = model(tokens.masked_fill(chosen, 2), pad)
    torch.testing.assert_close(dist, plain.dist_embedding, atol=1e-5, rtol=1e-5)
    got = pass_out.logits[pass_out.used]  # (masked keys, V), row by row in position order, as masked.logits[chosen]
    torch.testing.assert_close(got, masked.logits[chosen], atol=1e-5, rtol=1e-5)


def test_mark_last_tells_an_order_free_model_which_key_ends_the_row() -> None:
    """model.mark_last: the same keys in any order still give the same DIST as long as the last key stays last;
    moving another key to the end changes what the model sees. Off, no parameter is added."""
    tokens = torch.tensor([[1, 4, 5, 6, 7, 0]])
    keep_last = tokens[:, [0, 2, 1, 3, 4, 5]]  # 4 and 5 trade places, 7 stays last
    new_last = tokens[:, [0, 1, 2, 4, 3, 5]]  # 7 and 6 trade places: 6 ends the row
    torch.manual_seed(0)
    model = LogBertEncoder(CONFIG.model_copy(update={"positions": False, "mark_last": True})).eval()
    assert model.last_emb is not None
    with torch.no_grad():
        a, b, c = (model(t, t == 0).dist_embedding for t in (tokens, keep_last, new_last))
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(a, c, atol=1e-3)
    on = CONFIG.model_copy(update={"mark_last": True})
    assert on.n_parameters() - CONFIG.n_parameters() == CONFIG.d_model
    assert LogBertEncoder(CONFIG).last_emb is None


def test_last_key_marks_the_token_before_padding() -> None:
    from logbert.model.encoder import last_key

    pad = torch.tensor([[False, False, False, True], [False, False, False, False], [False, True, True, True]])
    assert last_key(pad).tolist() == [[0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]]


@pytest.mark.parametrize("positions", [False, True])
def test_masked_passes_equal_forward_passes_with_the_last_key_marked(positions: bool) -> None:
    torch.manual_seed(0)
    config = CONFIG.model_copy(update={"positions": positions, "mark_last": True})
    model = LogBertEncoder(config).eval()
    tokens = torch.tensor([[1, 4, 5, 6, 7, 0], [1, 8, 9, 0, 0, 0], [1, 5, 6, 7, 8, 9]])
    pad = tokens == 0
    chosen = torch.tensor(
        [
            [False, True, False, False, True, False],  # the last key masked
            [False, False, True, False, False, False],  # the last key masked
            [False, False, True, False, False, False],  # a middle key
        ]
    )
    with torch.no_grad():
        dist, (pass_out,) = model.masked_passes(tokens, pad, [chosen], mask_id=2)
        plain = model(tokens, pad)
        masked = model(tokens.masked_fill(chosen, 2), pad)
    torch.testing.assert_close(dist, plain.dist_embedding, atol=1e-5, rtol=1e-5)
    got = pass_out.logits[pass_out.used]
    torch.testing.assert_close(got, masked.logits[chosen], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("positions", [True, False])
def test_masked_passes_run_together_give_each_pass_its_own_numbers(
    positions: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Passes are batched into encoder calls of PASS_ROWS rows: a pass's logits are those it gets alone (passes of
    different rows and different numbers of masked keys, one of them empty)."""
    from logbert.model import encoder
    from logbert.scoring.scorer import strided_masks

    torch.manual_seed(0)
    model = LogBertEncoder(CONFIG.model_copy(update={"positions": positions, "mark_last": True})).eval()
    tokens = torch.tensor([[1, 4, 5, 6, 7, 0], [1, 8, 9, 0, 0, 0], [1, 5, 6, 7, 8, 9]])
    pad = tokens == 0
    passes = [*strided_masks(pad, 2), torch.zeros_like(pad), *strided_masks(pad, 5)]
    with torch.no_grad():
        monkeypatch.setattr(encoder, "PASS_ROWS", 10**6)
        dist, together = model.masked_passes(tokens, pad, passes, mask_id=2)
        monkeypatch.setattr(encoder, "PASS_ROWS", 1)
        dist_alone, alone = model.masked_passes(tokens, pad, passes, mask_id=2)
    assert len(together) == len(alone) == len(passes) - 1  # the empty pass has no output
    torch.testing.assert_close(dist, dist_alone, atol=0, rtol=0)
    for a, b in zip(together, alone, strict=True):
        assert torch.equal(a.rows, b.rows) and torch.equal(a.positions, b.positions) and torch.equal(a.used, b.used)
        torch.testing.assert_close(a.logits, b.logits, atol=1e-6, rtol=1e-6)


def test_key_counts_into_dist_change_only_a_count_models_numbers() -> None:
    """``model.key_counts``: a key logged twice changes what DIST is given by more than its share of the window,
    and a model without the setting has exactly the weights it had before."""
    torch.manual_seed(0)
    before = LogBertEncoder(CONFIG)
    torch.manual_seed(0)
    counting = LogBertEncoder(CONFIG.model_copy(update={"key_counts": True}))
    shared = {k: v for k, v in counting.state_dict().items() if not k.startswith("count_")}
    assert set(shared) == set(before.state_dict())
    assert all(torch.equal(v, before.state_dict()[k]) for k, v in shared.items())
    assert counting.state_dict()["count_proj.weight"].shape == (16, 11)
    assert counting.state_dict()["count_head.weight"].shape == (11 * COUNT_BUCKETS, 16)
    n_counting = sum(p.numel() for p in counting.parameters())
    assert n_counting - sum(p.numel() for p in before.parameters()) == 11 * 16 + 2 * 16 + (16 + 1) * 11 * COUNT_BUCKETS
    extra = CONFIG.model_copy(update={"key_counts": True}).n_parameters() - CONFIG.n_parameters()
    assert extra == n_counting - sum(p.numel() for p in before.parameters())
    assert before(torch.tensor([[1, 4, 5]]), torch.tensor([[False] * 3])).count_logits is None
    once = torch.tensor([[1, 4, 5, 6, 0, 0]])
    twice = torch.tensor([[1, 4, 5, 5, 6, 0]])  # the same shares but one key twice: 4 and 6 once each
    emb_once = counting.count_embedding(once, once == 0)
    emb_twice = counting.count_embedding(twice, twice == 0)
    assert not torch.allclose(emb_once, emb_twice)
    manual = counting.count_proj.weight @ torch.log1p(torch.bincount(twice[0, 1:5], minlength=11).float())
    torch.testing.assert_close(emb_twice[0], manual)


@pytest.mark.parametrize("positions", [True, False])
def test_masked_passes_equal_forward_passes_with_key_counts(positions: bool) -> None:
    """Each pass's DIST counts its own masked keys as MASK, as a forward of that pass's masked rows does."""
    from logbert.scoring.scorer import strided_masks

    torch.manual_seed(0)
    model = LogBertEncoder(CONFIG.model_copy(update={"positions": positions, "key_counts": True})).eval()
    tokens = torch.tensor([[1, 4, 5, 5, 7, 0], [1, 8, 9, 0, 0, 0], [1, 5, 6, 7, 8, 9]])
    pad = tokens == 0
    passes = strided_masks(pad, 2)
    with torch.no_grad():
        dist, outputs = model.masked_passes(tokens, pad, passes, mask_id=2)
        plain = model(tokens, pad)
        torch.testing.assert_close(dist, plain.dist_embedding, atol=1e-5, rtol=1e-5)
        for chosen, out in zip(passes, outputs, strict=True):
            masked = model(tokens.masked_fill(chosen, 2), pad)
            rows_chosen = chosen[out.rows]
            torch.testing.assert_close(out.logits[out.used], masked.logits[out.rows][rows_chosen], atol=1e-5, rtol=1e-5)
            assert masked.count_logits is not None and out.count_logits is not None
            torch.testing.assert_close(out.count_logits, masked.count_logits[out.rows], atol=1e-5, rtol=1e-5)
