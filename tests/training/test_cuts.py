import torch

from logbert.config import TrainConfig
from logbert.parsing.vocab import Vocab
from logbert.training.checkpoint import fingerprint
from logbert.training.cuts import cut_rows
from logbert.training.trainer import train_encoder
from logbert.windowing.dataset import IGNORE_INDEX, MaskedKeyDataset
from tests.training.test_trainer import MODEL, SEQS, TRAIN, VOCAB, _same_weights, _train

torch.set_num_threads(1)


def _batch(seed: int = 0, ratio: float = 0.5):  # type: ignore[no-untyped-def]
    ds = MaskedKeyDataset(SEQS[:8], VOCAB, MODEL.max_len)
    rows = [ds[i] for i in range(8)]
    batch = ds.collate(rows, 0.3, torch.Generator().manual_seed(seed))
    return rows, batch


def test_ratio_zero_cuts_nothing_and_leaves_the_inputs_alone() -> None:
    rows, batch = _batch()
    before = batch.token_ids.clone()
    t, lab, pad = cut_rows(
        batch.token_ids,
        batch.labels,
        batch.pad_mask,
        rows,
        ratio=0.0,
        mask_id=Vocab.MASK,
        pad_id=Vocab.PAD,
        generator=torch.Generator().manual_seed(1),
    )
    assert torch.equal(t, batch.token_ids) and torch.equal(lab, batch.labels) and torch.equal(pad, batch.pad_mask)
    assert torch.equal(batch.token_ids, before)


def test_a_cut_row_ends_in_one_masked_key_whose_truth_is_nowhere_in_the_input() -> None:
    rows, batch = _batch()
    t, lab, pad = cut_rows(
        batch.token_ids,
        batch.labels,
        batch.pad_mask,
        rows,
        ratio=1.0,
        mask_id=Vocab.MASK,
        pad_id=Vocab.PAD,
        generator=torch.Generator().manual_seed(3),
    )
    for i, row in enumerate(rows):
        n_tokens = int((~pad[i]).sum())  # DIST + kept keys + the masked one
        c = n_tokens - 1  # the cut position: the row's last token
        assert 2 <= c <= len(row) - 1
        assert int(t[i, c]) == Vocab.MASK and int(lab[i, c]) == row[c]
        assert bool(pad[i, c + 1 :].all()) and bool((lab[i, c + 1 :] == IGNORE_INDEX).all())
        assert int(t[i, 1]) in (row[1], Vocab.MASK)  # the first key stays (a session keeps its start key)
        # earlier positions keep the batch's own masks and labels
        assert torch.equal(t[i, 1:c], batch.token_ids[i, 1:c]) and torch.equal(lab[i, 1:c], batch.labels[i, 1:c])


def test_cut_positions_cover_every_key_including_the_last() -> None:
    rows, batch = _batch()
    seen: set[int] = set()
    for seed in range(60):
        _, _, pad = cut_rows(
            batch.token_ids,
            batch.labels,
            batch.pad_mask,
            rows,
            ratio=1.0,
            mask_id=Vocab.MASK,
            pad_id=Vocab.PAD,
            generator=torch.Generator().manual_seed(seed),
        )
        seen.add(int((~pad[0]).sum()) - 1)
    assert seen == set(range(2, len(rows[0])))


def test_training_with_cuts_is_seeded_and_differs_from_training_without() -> None:
    cut = TRAIN.model_copy(update={"cut_ratio": 0.5})
    a, b = _train(config=cut), _train(config=cut)
    assert _same_weights(a, b)
    assert not _same_weights(a, _train())


def test_cut_ratio_zero_keeps_the_checkpoint_fingerprint_of_older_runs() -> None:
    train, val = MaskedKeyDataset(SEQS[:40], VOCAB, 8), MaskedKeyDataset(SEQS[40:], VOCAB, 8)
    off, on = TRAIN, TRAIN.model_copy(update={"cut_ratio": 0.3})
    assert "cut_ratio" in TrainConfig.model_fields
    assert fingerprint(MODEL, off, len(VOCAB), train, val) != fingerprint(MODEL, on, len(VOCAB), train, val)
    # a config dumped before the field existed hashes like one with cut_ratio = 0
    old = TrainConfig.model_validate({k: v for k, v in off.model_dump().items() if k != "cut_ratio"})
    assert fingerprint(MODEL, old, len(VOCAB), train, val) == fingerprint(MODEL, off, len(VOCAB), train, val)


def test_a_model_trained_with_cuts_learns_where_a_session_may_end() -> None:
    # every session is START-like 10, then 11 12 13 14 15 and the end key 16: ending after 11 never happens
    seqs = [[10, 11, 12, 13, 14, 15, 16]] * 64
    vocab = Vocab.fit(seqs)
    model_cfg = MODEL.model_copy(update={"vocab_size": len(vocab)})
    cfg = TRAIN.model_copy(update={"epochs": 4, "min_steps": 120, "cut_ratio": 0.5})
    result = train_encoder(model_cfg, cfg, vocab, seqs, seqs[:8], progress=False)
    end, early = [vocab.DIST, *vocab.encode([10, 11, 12, 13, 14, 15])], [vocab.DIST, *vocab.encode([10, 11])]
    with torch.no_grad():
        p = []
        for row in (end, early):
            ids = torch.tensor([[*row, vocab.MASK]])
            logits = result.model(ids, torch.zeros_like(ids, dtype=torch.bool)).logits[0, -1]
            p.append(float(torch.softmax(logits, -1)[vocab.encode([16])[0]]))
    assert p[0] > 0.5 > 0.05 > p[1]  # the end key is expected after the whole session only
