import pytest
import torch

from logbert.config import LogBertConfig, TrainConfig
from logbert.parsing.vocab import Vocab
from logbert.records import SESSION_END_KEY, SESSION_START_KEY
from logbert.training.checkpoint import fingerprint
from logbert.training.jitter import jitter_order
from logbert.training.trainer import train_encoder, unmasked_rows
from logbert.windowing.dataset import MaskedKeyDataset, pad_tokens
from tests.training.test_trainer import MODEL, SEQS, TRAIN, VOCAB, _same_weights, _train

torch.set_num_threads(1)

START, END = 90, 91  # the bound tokens of the rows below


def _rows() -> tuple[torch.Tensor, torch.Tensor]:
    rows = [[Vocab.DIST, START, *range(10, 10 + n), END] for n in (1, 2, 5, 12, 20)]
    return pad_tokens(rows, Vocab.PAD)


def test_ratio_zero_changes_nothing_and_the_input_is_never_written() -> None:
    tokens, pad = _rows()
    before = tokens.clone()
    out = jitter_order(tokens, pad, 0.0, [START, END], torch.Generator().manual_seed(0))
    assert torch.equal(out, before) and torch.equal(tokens, before)


def test_keys_trade_places_but_dist_bounds_and_padding_never_move() -> None:
    tokens, pad = _rows()
    moved = 0
    for seed in range(20):
        out = jitter_order(tokens, pad, 0.5, [START, END], torch.Generator().manual_seed(seed))
        assert torch.equal(out[:, 0], tokens[:, 0])  # DIST
        assert torch.equal(out[pad], tokens[pad])  # padding
        assert torch.equal(out == START, tokens == START) and torch.equal(out == END, tokens == END)
        for row_in, row_out, p in zip(tokens, out, pad, strict=True):
            keys_in, keys_out = row_in[~p].tolist(), row_out[~p].tolist()
            assert sorted(keys_in) == sorted(keys_out)  # the same keys, rearranged
            for k in keys_in[2:-1]:  # a key moves at most two places (one swap per pass)
                assert abs(keys_out.index(k) - keys_in.index(k)) <= 2
        moved += int((out != tokens).any(dim=1).sum())
    assert moved > 20  # at ratio 0.5 most rows with two keys or more change


def test_the_jitter_is_seeded() -> None:
    tokens, pad = _rows()
    a = jitter_order(tokens, pad, 0.3, [START, END], torch.Generator().manual_seed(4))
    b = jitter_order(tokens, pad, 0.3, [START, END], torch.Generator().manual_seed(4))
    c = jitter_order(tokens, pad, 0.3, [START, END], torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_unmasked_rows_gives_back_the_rows_before_masking() -> None:
    ds = MaskedKeyDataset(SEQS[:8], VOCAB, MODEL.max_len)
    batch = ds.collate_index(list(range(8)), 0.5, torch.Generator().manual_seed(0))
    assert unmasked_rows(batch) == [ds.rows[i] for i in range(8)]
    assert any(row != masked for row, masked in zip(unmasked_rows(batch), batch.token_ids.tolist(), strict=False))


def test_collate_reorders_the_rows_before_they_are_masked() -> None:
    ds = MaskedKeyDataset(SEQS[:8], VOCAB, MODEL.max_len)

    def swap_first_two(tokens: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        out = tokens.clone()
        out[:, [1, 2]] = tokens[:, [2, 1]]
        return out

    batch = ds.collate_index(list(range(8)), 0.5, torch.Generator().manual_seed(0), swap_first_two)
    expected = [[r[0], r[2], r[1], *r[3:]] for r in (ds.rows[i] for i in range(8))]
    assert unmasked_rows(batch) == expected  # the labels of masked keys follow their keys


def test_training_with_jitter_is_seeded_and_differs_from_training_without() -> None:
    jit = TRAIN.model_copy(update={"order_jitter": 0.3, "cut_ratio": 0.5})
    a, b = _train(config=jit), _train(config=jit)
    assert _same_weights(a, b)
    assert not _same_weights(a, _train(config=TRAIN.model_copy(update={"cut_ratio": 0.5})))


def test_jitter_zero_keeps_the_checkpoint_fingerprint_of_older_runs() -> None:
    train, val = MaskedKeyDataset(SEQS[:40], VOCAB, 8), MaskedKeyDataset(SEQS[40:], VOCAB, 8)
    off, on = TRAIN, TRAIN.model_copy(update={"order_jitter": 0.2})
    assert fingerprint(MODEL, off, len(VOCAB), train, val) != fingerprint(MODEL, on, len(VOCAB), train, val)
    old = TrainConfig.model_validate({k: v for k, v in off.model_dump().items() if k != "order_jitter"})
    assert fingerprint(MODEL, old, len(VOCAB), train, val) == fingerprint(MODEL, off, len(VOCAB), train, val)


def test_a_model_trained_with_jitter_accepts_both_orders_of_an_exchangeable_pair() -> None:
    # every session is 10 11 12 13 14 15: with jitter, "11 and 12 swapped" must not be a surprise any more
    seqs = [[SESSION_START_KEY, 10, 11, 12, 13, 14, 15, SESSION_END_KEY]] * 64
    vocab = Vocab.fit(seqs)
    model_cfg = MODEL.model_copy(update={"vocab_size": len(vocab), "max_len": 10})

    def p_swapped(ratio: float) -> float:
        cfg = TRAIN.model_copy(update={"epochs": 4, "min_steps": 150, "order_jitter": ratio})
        result = train_encoder(model_cfg, cfg, vocab, seqs, seqs[:8], progress=False)
        row = [vocab.DIST, *vocab.encode([SESSION_START_KEY, 10, 12]), vocab.MASK, *vocab.encode([13, 14, 15])]
        row.append(vocab.encode([SESSION_END_KEY])[0])
        with torch.no_grad():
            ids = torch.tensor([row])
            logits = result.model(ids, torch.zeros_like(ids, dtype=torch.bool)).logits[0, 4]
        return float(torch.softmax(logits, -1)[vocab.encode([11])[0]])

    assert p_swapped(0.0) < 0.2 < p_swapped(0.3)


def test_jitter_needs_a_key_only_model() -> None:
    with pytest.raises(ValueError, match="order_jitter"):
        LogBertConfig.model_validate({"train": {"order_jitter": 0.1}, "model": {"signals": "all"}})
