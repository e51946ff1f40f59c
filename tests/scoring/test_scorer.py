import itertools

import numpy as np
import pytest
import torch

from logbert.config import ModelConfig, ScoringConfig
from logbert.model.encoder import LogBertEncoder
from logbert.parsing.vocab import Vocab
from logbert.scoring import scorer
from logbert.scoring.scorer import ScoreOutput, canonical_order, pick_score, score_sequences, strided_masks

torch.set_num_threads(1)

KEYS = [10, 11, 12, 13, 14, 15]
VOCAB = Vocab.fit([KEYS])
torch.manual_seed(0)
MODEL = LogBertEncoder(ModelConfig(vocab_size=len(VOCAB), max_len=8, d_model=16, d_ff=32, n_heads=2, n_layers=1))
CENTER = torch.zeros(16)
SEQS = [[KEYS[(s + i) % 6] for i in range(1 + s % 8)] for s in range(20)]


def _score(seqs: list[list[int]], **kw: object) -> tuple[np.ndarray, np.ndarray]:
    cfg = ScoringConfig(top_g=2, **kw)
    out = score_sequences(MODEL, VOCAB, seqs, CENTER, cfg)
    return out.miss_ratio, out.dist


def test_strided_passes_mask_every_key_exactly_once() -> None:
    pad_mask = torch.tensor([[False] * 6 + [True] * 3, [False] * 9])
    passes = strided_masks(pad_mask, 3)
    total = torch.stack(passes).long().sum(dim=0)
    assert total.tolist() == [[0, 1, 1, 1, 1, 1, 0, 0, 0], [0] + [1] * 8]
    assert passes[0][1].nonzero().flatten().tolist() == [1, 4, 7]  # keys 0, 3, 6


@pytest.mark.parametrize("strategy", ["strided", "seeded"])
def test_scores_do_not_depend_on_repetition_or_batch_composition(strategy: str) -> None:
    miss, dist = _score(SEQS, mask_strategy=strategy, batch_size=64)
    miss2, dist2 = _score(SEQS, mask_strategy=strategy, batch_size=64)
    miss3, dist3 = _score(SEQS[::-1], mask_strategy=strategy, batch_size=3)
    single = [_score([s], mask_strategy=strategy) for s in SEQS[:5]]
    assert np.array_equal(miss, miss2) and np.array_equal(dist, dist2)
    assert np.array_equal(miss, miss3[::-1]) and np.array_equal(dist, dist3[::-1])
    assert np.array_equal(miss[:5], [m[0] for m, _ in single]) and np.array_equal(dist[:5], [d[0] for _, d in single])


def test_a_short_window_scored_alone_gets_the_numbers_it_gets_among_others() -> None:
    """The service scores a few windows a call, `score` hundreds: the same numbers, to the last bit. A window of
    1-3 keys alone makes products of 1-3 rows (the head over one row's masked keys), which BLAS computes with
    other kernels than larger ones (MKL on an AMD EPYC with AVX-512: 9.449878692626953 alone against
    9.449877738952637 among others, stop 48); logbert.model.kernels.linear computes them as 8-row products."""
    keys = list(range(10, 40))
    vocab = Vocab.fit([keys])
    torch.manual_seed(3)
    model = LogBertEncoder(ModelConfig(vocab_size=len(vocab), max_len=16, d_model=32, d_ff=64, n_heads=2, n_layers=1))
    seqs = [[keys[(7 * s + 3 * i) % 30] for i in range(1 + s % 6)] for s in range(24)]
    cfg = ScoringConfig(top_g=3, score="max_mean_nll")
    together = score_sequences(model, vocab, seqs, CENTER.new_zeros(32), cfg)
    for i, seq in enumerate(seqs):
        alone = score_sequences(model, vocab, [seq], CENTER.new_zeros(32), cfg)
        for name in ("miss_ratio", "dist", "mean_nll", "max_nll"):
            assert getattr(alone, name)[0] == getattr(together, name)[i], (name, seq)


def test_counts_unknown_keys_as_misses_and_explains_every_key() -> None:
    cfg = ScoringConfig(top_g=6, mask_stride=2)  # top-6 of 6 known keys: only UNK can miss
    out = score_sequences(MODEL, VOCAB, [[10, 11, 99, 12], [13]], CENTER, cfg, details=True)
    assert out.n_masked.tolist() == [4, 1] and out.n_misses.tolist() == [1, 0]
    assert out.miss_ratio.tolist() == [0.25, 0.0]
    assert out.details is not None
    first = out.details[0]
    assert [d.position for d in first] == [0, 1, 2, 3] and [d.key_id for d in first] == [10, 11, 99, 12]
    assert [d.missed for d in first] == [False, False, True, False] and first[2].token_id == Vocab.UNK
    for d in first:
        assert set(d.top_key_ids) == set(KEYS)  # specials never predicted
        assert list(d.top_probs) == sorted(d.top_probs, reverse=True) and sum(d.top_probs) == pytest.approx(1.0)


def test_empty_sequences_raise_and_an_empty_batch_is_empty() -> None:
    with pytest.raises(ValueError, match="sequence 1 is empty"):
        score_sequences(MODEL, VOCAB, [[10], []], CENTER, ScoringConfig())
    assert score_sequences(MODEL, VOCAB, [], CENTER, ScoringConfig()).miss_ratio.shape == (0,)


def test_mean_nll_is_the_capped_surprise_of_the_true_keys() -> None:
    cfg = ScoringConfig(top_g=6, mask_stride=2, nll_cap=7.5)
    out = score_sequences(MODEL, VOCAB, [[10, 11, 99, 12], [10, 11, 13, 12]], CENTER, cfg, details=True)
    assert out.mean_nll is not None and out.details is not None
    # recompute the clean sequence's surprise by hand from the reported top-g (= all 6 keys) probabilities
    by_hand = np.mean([-np.log(dict(zip(d.top_key_ids, d.top_probs, strict=True))[d.key_id]) for d in out.details[1]])
    assert out.mean_nll[1] == pytest.approx(by_hand, rel=1e-5)
    # the unseen key 99 contributes exactly the cap
    known = [d for d in out.details[0] if d.key_id != 99]
    expected = (sum(-np.log(dict(zip(d.top_key_ids, d.top_probs, strict=True))[d.key_id]) for d in known) + 7.5) / 4
    assert out.mean_nll[0] == pytest.approx(expected, rel=1e-5)
    again = score_sequences(MODEL, VOCAB, [[10, 11, 13, 12]], CENTER, cfg)
    assert again.mean_nll is not None and again.mean_nll[0] == out.mean_nll[1]


def test_max_nll_is_the_most_surprising_key_and_an_unseen_key_is_the_cap() -> None:
    cfg = ScoringConfig(top_g=6, mask_stride=2, nll_cap=7.5)
    out = score_sequences(MODEL, VOCAB, [[10, 11, 99, 12], [10, 11, 13, 12]], CENTER, cfg, details=True)
    assert out.max_nll is not None and out.details is not None and out.mean_nll is not None
    by_hand = max(-np.log(dict(zip(d.top_key_ids, d.top_probs, strict=True))[d.key_id]) for d in out.details[1])
    assert out.max_nll[1] == pytest.approx(by_hand, rel=1e-5)
    assert out.max_nll[0] == pytest.approx(7.5)  # one unseen key is the whole story, not a quarter of it
    assert (out.max_nll >= out.mean_nll - 1e-12).all()
    assert pick_score(out, "max_nll") is out.max_nll


def test_max_mean_nll_adds_the_peak_and_the_mean_surprise_and_its_cap_is_twice_nll_cap() -> None:
    from logbert.pipeline.calibrate import score_cap

    cfg = ScoringConfig(top_g=6, mask_stride=2, nll_cap=7.5)
    out = score_sequences(MODEL, VOCAB, [[10, 11, 99, 12], [10, 11, 13, 12]], CENTER, cfg)
    assert out.max_nll is not None and out.mean_nll is not None
    np.testing.assert_allclose(pick_score(out, "max_mean_nll"), out.max_nll + out.mean_nll)
    assert score_cap(cfg.model_copy(update={"score": "max_mean_nll"})) == 15.0
    assert ScoringConfig().score == "miss_ratio"  # the default is unchanged: older artifacts score as before


@pytest.mark.parametrize("strategy", ["strided", "seeded"])
def test_stacked_passes_give_the_scores_and_details_of_the_pruned_passes(strategy: str) -> None:
    """The GPU path (one forward of every masked copy, all positions) against the CPU path (masked_passes)."""
    torch.manual_seed(3)
    model = LogBertEncoder(ModelConfig(vocab_size=len(VOCAB), max_len=8, d_model=16, d_ff=32, n_heads=2, n_layers=2))
    seqs = [*SEQS, [10, 99, 12]]  # an unseen key too
    cfg = ScoringConfig(mask_strategy=strategy, top_g=2, batch_size=7)
    pruned = score_sequences(model, VOCAB, seqs, CENTER, cfg, details=True, stacked_passes=False)
    stacked = score_sequences(model, VOCAB, seqs, CENTER, cfg, details=True, stacked_passes=True)
    assert pruned.miss_ratio.max() > 0  # an untrained model misses: the comparison has something to compare
    _assert_same_scores(stacked, pruned)


def _assert_same_scores(a: ScoreOutput, b: ScoreOutput) -> None:
    """Two scorings of the same rows by two paths: the same counts and details, scores up to float rounding."""
    np.testing.assert_array_equal(a.n_masked, b.n_masked)
    np.testing.assert_array_equal(a.n_misses, b.n_misses)
    for name in ("dist", "mean_nll", "max_nll"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-5, atol=1e-5)
    assert a.details is not None and b.details is not None
    for x, y in zip(a.details, b.details, strict=True):
        assert [(d.position, d.missed, d.top_key_ids) for d in x] == [(d.position, d.missed, d.top_key_ids) for d in y]
        np.testing.assert_allclose([d.top_probs for d in x], [d.top_probs for d in y], rtol=1e-5, atol=1e-6)


def test_repeated_rows_are_scored_once_with_the_numbers_each_gets_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    seqs = [SEQS[3], SEQS[7], SEQS[3], [10, 99, 12], SEQS[7], SEQS[3]]
    cfg = ScoringConfig(top_g=2)
    rows_seen: list[int] = []
    real = LogBertEncoder.masked_passes

    def spy(self: LogBertEncoder, token_ids: torch.Tensor, *args: object) -> object:
        rows_seen.append(int(token_ids.shape[0]))
        return real(self, token_ids, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(LogBertEncoder, "masked_passes", spy)
    out = score_sequences(MODEL, VOCAB, seqs, CENTER, cfg, details=True)
    assert sum(rows_seen) == 3  # three distinct rows reach the model
    alone = [score_sequences(MODEL, VOCAB, [s], CENTER, cfg, details=True) for s in seqs]
    for name in ("miss_ratio", "dist", "n_masked", "n_misses", "mean_nll", "max_nll"):
        np.testing.assert_array_equal(getattr(out, name), np.concatenate([getattr(a, name) for a in alone]))
    assert out.details is not None and out.details == [a.details[0] for a in alone if a.details is not None]
    assert out.details[0] is not out.details[2]  # each row owns its list


# -- scoring.mask_span: a key's surprise from the mean prediction over its run of masked keys -----------------


def test_span_masks_cover_every_key_once_per_offset_in_runs() -> None:
    pad_mask = torch.tensor([[False] * 8 + [True] * 2, [False] * 10])
    passes = strided_masks(pad_mask, 2, span=2)
    assert len(passes) == 4  # 2 offsets x 2 passes
    total = torch.stack(passes).long().sum(dim=0)
    assert total.tolist() == [[0] + [2] * 7 + [0, 0], [0] + [2] * 9]  # every key once per offset
    assert passes[0][1].nonzero().flatten().tolist() == [1, 2, 5, 6, 9]  # keys 0-1, 4-5, 8
    assert passes[2][1].nonzero().flatten().tolist() == [2, 3, 6, 7]  # offset 1: keys 1-2, 5-6
    assert passes[3][1].nonzero().flatten().tolist() == [1, 4, 5, 8, 9]  # and key 0, keys 3-4, 7-8
    assert [m.tolist() for m in strided_masks(pad_mask, 3, span=1)] == [m.tolist() for m in strided_masks(pad_mask, 3)]


def test_span_masks_cover_every_key_of_a_short_row_once_per_offset() -> None:
    """Rows shorter than ``stride`` runs: at offset 1 the first key is a run of its own, in pass ``s - 1`` (left out
    before stop 47: the first key of every row of up to 7 keys then had one view, not two, at mask_stride 4)."""
    for width in range(2, 12):
        pad_mask = torch.zeros(1, width, dtype=torch.bool)
        for stride, span in ((4, 2), (3, 3), (2, 2), (4, 1)):
            passes = strided_masks(pad_mask, stride, span)
            total = torch.stack(passes).long().sum(dim=0) if passes else torch.zeros(1, width, dtype=torch.long)
            assert total[0].tolist() == [0] + [span] * (width - 1), (width, stride, span)
            assert all(bool(m.any()) for m in passes)  # and no pass that masks nothing


def test_run_mean_forgives_two_adjacent_keys_in_the_other_order_but_not_a_key_expected_nowhere() -> None:
    from logbert.scoring.scorer import _run_mean, _top_g

    n_special, v = Vocab.N_SPECIAL, len(VOCAB)
    a, b, c = VOCAB.encode([10, 11, 12])
    logits = torch.full((2, v), -30.0)
    logits[0, b] = logits[1, a] = 10.0  # the model expects "b a" at two adjacent masked places
    rows, at = torch.tensor([0, 0]), torch.tensor([3, 4])
    swapped = torch.tensor([a, b])  # the log says "a b"
    *_, one_at_a_time = _top_g(logits, n_special, 2, swapped, 20.0)
    *_, as_a_run = _top_g(_run_mean(logits, rows, at, n_special), n_special, 2, swapped, 20.0)
    assert one_at_a_time.min() > 15  # each key alone: (almost) impossible
    np.testing.assert_allclose(as_a_run.numpy(), np.log(2.0), rtol=1e-4)  # as a pair: a coin toss for the order
    *_, unexpected = _top_g(_run_mean(logits, rows, at, n_special), n_special, 2, torch.tensor([c, b]), 20.0)
    assert unexpected[0] > 15 and unexpected[1] == pytest.approx(np.log(2.0), rel=1e-4)
    # two masked keys that are not adjacent are two runs of one: nothing is averaged
    apart = _run_mean(logits, rows, torch.tensor([3, 5]), n_special)[:, n_special:].exp()
    np.testing.assert_allclose(apart.numpy(), torch.softmax(logits[:, n_special:], 1).numpy(), atol=1e-6)


def test_a_key_that_fills_more_places_of_its_run_than_expected_is_a_surprise_a_normal_double_is_not() -> None:
    from logbert.scoring.scorer import _repeats_in_run, _run_mean, _top_g

    n_special, v = Vocab.N_SPECIAL, len(VOCAB)
    a, b = VOCAB.encode([10, 11])
    rows, at = torch.tensor([0, 0]), torch.tensor([3, 4])
    logits = torch.full((2, v), -30.0)
    logits[0, a] = logits[1, b] = 10.0  # the model expects "a b"

    def surprise(truth: list[int], lg: torch.Tensor) -> np.ndarray:
        t = torch.tensor(truth)
        run = _repeats_in_run(_run_mean(lg, rows, at, n_special), lg, rows, at, t, n_special)
        return _top_g(run, n_special, 2, t, 20.0)[2].numpy()

    np.testing.assert_allclose(surprise([a, b], logits), np.log(2.0), rtol=1e-4)  # no key twice: the run's mean
    doubled = surprise([a, a], logits)  # the log says "a a": its event logged twice
    assert doubled[0] == pytest.approx(np.log(2.0), rel=1e-4) and doubled[1] > 15  # the second copy is the surprise
    twice = torch.full((2, v), -30.0)
    twice[:, a] = 10.0  # the model expects "a a" (a doubled line that is normal)
    assert surprise([a, a], twice).max() < 1e-3
    mean = _run_mean(logits, rows, at, n_special)
    assert _repeats_in_run(mean, logits, rows, at, torch.tensor([a, b]), n_special) is mean  # nothing to do


def _span_by_hand(model: LogBertEncoder, seq: list[int], stride: int, span: int, cap: float) -> np.ndarray:
    """Per key: the least surprising, over its w runs, -log mean_{run} p(true key), from plain forward passes; the
    k-th copy of a key in a run (k >= 2): -log of P(at least k copies | at least k - 1), the run's places independent,
    in the run's mean distribution renormalised."""
    from logbert.windowing.dataset import encode_sequences

    row = torch.tensor(encode_sequences([seq], VOCAB, model.config.max_len)[0])[None]  # (1, T)
    best = np.full(len(seq), np.inf)
    for chosen in strided_masks(torch.zeros_like(row, dtype=torch.bool), stride, span):
        if not chosen.any():
            continue
        logits = model(row.masked_fill(chosen, VOCAB.MASK), torch.zeros_like(row, dtype=torch.bool)).logits[0].float()
        logits[:, : Vocab.N_SPECIAL] = -torch.inf
        probs = torch.softmax(logits, -1)
        positions = chosen[0].nonzero().flatten().tolist()
        runs: list[list[int]] = []
        for t in positions:
            if runs and runs[-1][-1] == t - 1:
                runs[-1].append(t)
            else:
                runs.append([t])
        for run in runs:
            mean = probs[run].mean(0)
            seen: dict[int, int] = {}
            for t in run:
                token = int(row[0, t])
                k = seen[token] = seen.get(token, 0) + 1
                p = float(mean[token])
                if k >= 2:  # P(count >= j) by enumerating every subset of the run's places
                    each = [float(probs[u, token]) for u in run]
                    at_least = [0.0] * (len(run) + 1)
                    for picks in itertools.product([0, 1], repeat=len(run)):
                        chance = float(np.prod([q if pick else 1 - q for q, pick in zip(each, picks, strict=True)]))
                        for j in range(sum(picks) + 1):
                            at_least[j] += chance
                    given = at_least[k] / max(at_least[k - 1], 1e-300)
                    p = given / (1.0 - p + given)
                best[t - 1] = min(best[t - 1], min(cap, -float(np.log(max(p, 1e-300)))))
    return best


@pytest.mark.parametrize("stacked", [False, True])
def test_span_scores_match_a_by_hand_computation_and_do_not_depend_on_the_batch(stacked: bool) -> None:
    torch.manual_seed(5)
    model = LogBertEncoder(ModelConfig(vocab_size=len(VOCAB), max_len=8, d_model=16, d_ff=32, n_heads=2, n_layers=2))
    model.eval()
    seqs = [*SEQS, [10, 99, 12, 13], [10, 10, 11, 11, 12]]  # an unseen key: the cap in every run; keys logged twice
    cfg = ScoringConfig(mask_stride=2, mask_span=2, top_g=2, nll_cap=9.0, batch_size=5)
    out = score_sequences(model, VOCAB, seqs, CENTER, cfg, details=True, stacked_passes=stacked)
    assert out.mean_nll is not None and out.max_nll is not None and out.details is not None
    assert out.n_masked.tolist() == [len(s) for s in seqs]  # every key counted once
    for i, seq in enumerate(seqs):
        with torch.inference_mode():
            expected = _span_by_hand(model, seq, 2, 2, 9.0)
        assert out.mean_nll[i] == pytest.approx(expected.mean(), rel=1e-4, abs=1e-5)
        assert out.max_nll[i] == pytest.approx(expected.max(), rel=1e-4, abs=1e-5)
        assert [d.position for d in out.details[i]] == list(range(len(seq)))
    assert out.max_nll[-2] == pytest.approx(9.0)
    alone = score_sequences(model, VOCAB, seqs[::-1][:3], CENTER, cfg, stacked_passes=stacked)
    assert alone.mean_nll is not None
    np.testing.assert_array_equal(alone.mean_nll, out.mean_nll[::-1][:3])
    one_key = score_sequences(model, VOCAB, seqs, CENTER, cfg.model_copy(update={"mask_span": 1}))
    assert one_key.mean_nll is not None and not np.allclose(one_key.mean_nll, out.mean_nll)


def test_span_needs_strided_masks_with_visible_keys_between_runs_and_a_key_only_model() -> None:
    from logbert.config import LogBertConfig

    with pytest.raises(ValueError, match="mask_span"):
        ScoringConfig(mask_span=2, mask_strategy="seeded")
    with pytest.raises(ValueError, match="mask_span"):
        ScoringConfig(mask_span=2, mask_stride=1)
    with pytest.raises(ValueError, match="mask_span"):
        LogBertConfig.model_validate({"scoring": {"mask_span": 2}, "model": {"signals": "time"}})
    assert ScoringConfig().mask_span == 1  # the default is unchanged: older artifacts score as before


@pytest.mark.parametrize("mark_last", [False, True])
def test_an_order_free_model_masks_each_distinct_key_once_with_the_same_scores(
    mark_last: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """positions = false, one key per pass: the CPU path masks one representative per (key, last mark) of a row and
    gives its logits to the equal keys; the stacked path masks every key. Same scores and details; fewer passes."""
    torch.manual_seed(5)
    config = ModelConfig(
        vocab_size=len(VOCAB), max_len=8, d_model=16, d_ff=32, n_heads=2, n_layers=2, positions=False,
        mark_last=mark_last,
    )
    model = LogBertEncoder(config).eval()
    seqs = [[10, 10, 11, 10, 12, 10], [11, 11, 11], [10, 12, 12, 99, 12], [12]]  # repeats, an unseen key, one key
    cfg = ScoringConfig(mask_stride=128, top_g=2, batch_size=8)
    masked_keys: list[int] = []
    real = LogBertEncoder.masked_passes

    def spy(self: LogBertEncoder, token_ids: torch.Tensor, pad: torch.Tensor, passes: list[torch.Tensor], *a: object):  # type: ignore[no-untyped-def]
        masked_keys.append(int(sum(int(c.sum()) for c in passes)))
        return real(self, token_ids, pad, passes, *a)  # type: ignore[arg-type]

    monkeypatch.setattr(LogBertEncoder, "masked_passes", spy)
    once = score_sequences(model, VOCAB, seqs, CENTER, cfg, details=True, stacked_passes=False)
    every = score_sequences(model, VOCAB, seqs, CENTER, cfg, details=True, stacked_passes=True)
    distinct = 3 + 1 + 3 + 1 + (3 if mark_last else 0)  # marked, a last key that repeats an earlier one stands apart
    assert sum(masked_keys) == distinct
    np.testing.assert_array_equal(once.n_masked, [6, 3, 5, 1])
    _assert_same_scores(once, every)


def test_a_positional_model_or_several_keys_per_pass_mask_every_key() -> None:
    from logbert.scoring.scorer import _same_prediction

    tokens = torch.tensor([[1, 10, 10, 11]])
    pad = torch.zeros_like(tokens, dtype=torch.bool)
    one_each = strided_masks(pad, 128)
    base = ModelConfig(vocab_size=len(VOCAB), max_len=8, d_model=16, d_ff=32, n_heads=2, n_layers=1)
    positional = LogBertEncoder(base)
    order_free = LogBertEncoder(base.model_copy(update={"positions": False}))
    assert _same_prediction(positional, ScoringConfig(mask_stride=128), tokens, pad, one_each) is None
    assert _same_prediction(order_free, ScoringConfig(), tokens, pad, strided_masks(pad, 2)) is None
    same = _same_prediction(order_free, ScoringConfig(mask_stride=128), tokens, pad, one_each)
    assert same is not None and same.tolist() == [[0, 1, 1, 3]]


@pytest.mark.parametrize("mark_last", [False, True])
def test_an_order_free_model_scores_every_order_of_a_row_alike_and_explains_each_row_in_its_own_order(
    mark_last: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """positions = false, one key per pass: a row is scored in one order of its keys (canonical_order), so every
    order scores bit for bit the same, the numbers are those of scoring the order given (up to float rounding),
    and the details name each row's own positions."""
    torch.manual_seed(6)
    config = ModelConfig(
        vocab_size=len(VOCAB), max_len=8, d_model=16, d_ff=32, n_heads=2, n_layers=2, positions=False,
        mark_last=mark_last,
    )
    model = LogBertEncoder(config).eval()
    orders = [[12, 10, 99, 10, 13], [10, 99, 12, 10, 13], [99, 10, 10, 12, 13]]  # the last key stays last
    cfg = ScoringConfig(mask_stride=128, top_g=2)
    out = score_sequences(model, VOCAB, orders, CENTER, cfg, details=True)
    for name in ("miss_ratio", "dist", "n_misses", "mean_nll", "max_nll"):
        values = getattr(out, name)
        assert values[0] == values[1] == values[2], name
    assert out.n_misses[0] >= 1  # the unseen key 99 at least: the details have a miss to place
    assert out.details is not None
    for row, details in zip(orders, out.details, strict=True):
        assert [d.position for d in details] == list(range(len(row)))
        assert [d.key_id for d in details] == row
        assert [d.missed for d in details] == [d.key_id == 99 or d.missed for d in details]
        assert next(d for d in details if d.key_id == 99).missed
    monkeypatch.setattr(scorer, "canonical_order", lambda *args: None)  # each row scored in the order it came
    as_given = score_sequences(model, VOCAB, orders, CENTER, cfg, details=True)
    _assert_same_scores(out, as_given)


def test_rows_whose_order_matters_are_scored_in_their_own_order() -> None:
    base = ModelConfig(vocab_size=len(VOCAB), max_len=8, d_model=16, d_ff=32, n_heads=2, n_layers=1)
    positional = LogBertEncoder(base)
    order_free = LogBertEncoder(base.model_copy(update={"positions": False}))
    marked = LogBertEncoder(base.model_copy(update={"positions": False, "mark_last": True}))
    one_each = ScoringConfig(mask_stride=128)
    row = [12, 10, 11]
    assert canonical_order(positional, one_each, row) is None
    assert canonical_order(order_free, ScoringConfig(mask_stride=2), row) is None  # two keys share a pass
    assert canonical_order(order_free, ScoringConfig(mask_stride=128, mask_span=2), row) is None
    assert canonical_order(order_free, ScoringConfig(mask_stride=128, mask_strategy="seeded"), row) is None
    assert canonical_order(order_free, one_each, row) == [1, 2, 0]
    assert canonical_order(marked, one_each, row) == [1, 0, 2]  # the marked last key stays last
    assert canonical_order(order_free, one_each, [10, 11, 12]) is None  # in that order already


@pytest.mark.parametrize("keys_see_signals", [True, False])
def test_the_key_channel_reads_times_and_values_only_when_the_model_says_so(keys_see_signals: bool) -> None:
    """model.keys_see_signals = False: the key pass hides every time and value, so two rows with the same keys and
    other times and values get the same key scores; their time and value channels still differ. (Random weights:
    every input moves every output.)"""
    from logbert.windowing.signals import SignalRow

    torch.manual_seed(1)
    config = ModelConfig(
        vocab_size=len(VOCAB), max_len=8, d_model=16, d_ff=32, n_heads=2, n_layers=1, signals="all",
        gap_buckets=4, value_buckets=4, keys_see_signals=keys_see_signals,
    )  # fmt: skip
    model = LogBertEncoder(config)
    keys = KEYS[:5]

    def row(gap: int, value: int) -> SignalRow:
        n = len(keys) + 1
        return SignalRow([gap] * n, [value] * n, [0.0] * n, [0.0] * n, [0] * n, [False] * n)

    out = score_sequences(model, VOCAB, [keys, keys], CENTER, ScoringConfig(top_g=2), signals=[row(3, 4), row(6, 7)])
    assert out.time_nll is not None and out.value_nll is not None and out.mean_nll is not None
    assert out.time_nll[0] != out.time_nll[1] and out.value_nll[0] != out.value_nll[1]
    same_keys = out.mean_nll[0] == pytest.approx(out.mean_nll[1], abs=1e-6)
    assert same_keys == (not keys_see_signals)


@pytest.mark.parametrize("positions", [True, False])
def test_a_count_models_count_surprise_joins_max_nll_on_both_paths(positions: bool) -> None:
    """``model.key_counts``: every scored sequence gets a count surprise, the mean over its passes of the largest
    ``-log p(true count bucket)`` from the pass's DIST; it is part of ``max_nll``, and the GPU path (stacked passes)
    and the CPU path (masked_passes) give the same numbers."""
    from logbert.model.encoder import count_buckets, count_surprise
    from logbert.windowing.dataset import encode_sequences, pad_tokens

    torch.manual_seed(5)
    config = ModelConfig(vocab_size=len(VOCAB), max_len=8, d_model=16, d_ff=32, n_heads=2, n_layers=2,
                         positions=positions, key_counts=True)
    model = LogBertEncoder(config).eval()
    seqs = [*SEQS, [10, 10, 10, 10, 11], [10, 99, 12]]
    cfg = ScoringConfig(top_g=2, batch_size=7, mask_stride=3)
    pruned = score_sequences(model, VOCAB, seqs, CENTER, cfg, details=True, stacked_passes=False)
    stacked = score_sequences(model, VOCAB, seqs, CENTER, cfg, details=True, stacked_passes=True)
    _assert_same_scores(stacked, pruned)
    assert pruned.count_nll is not None and stacked.count_nll is not None
    np.testing.assert_allclose(pruned.count_nll, stacked.count_nll, rtol=1e-5, atol=1e-5)
    largest = pick_score(pruned, "max_nll")
    assert pruned.max_nll is not None and np.array_equal(largest, np.maximum(pruned.max_nll, pruned.count_nll))
    assert (pruned.count_nll > pruned.max_nll).any()  # an untrained count head: the counts decide somewhere
    np.testing.assert_array_equal(pick_score(pruned, "max_mean_nll"), largest + pruned.mean_nll)
    np.testing.assert_array_equal(pick_score(pruned, "miss_ratio"), pruned.miss_ratio)
    # by hand for one sequence: its passes' DIST count logits from plain forwards of the masked rows
    seq = seqs[-2]
    token_ids, pad = pad_tokens(encode_sequences([seq], VOCAB, 8), VOCAB.PAD)
    truth = count_buckets(token_ids, pad, len(VOCAB))
    worst = []
    with torch.no_grad():
        for chosen in strided_masks(pad, 3):
            if chosen.any():
                out = model(token_ids.masked_fill(chosen, VOCAB.MASK), pad)
                assert out.count_logits is not None
                worst.append(float(count_surprise(out.count_logits, truth, VOCAB.N_SPECIAL).max()))
    assert pruned.count_nll[-2] == pytest.approx(min(np.mean(worst), cfg.nll_cap), rel=1e-5)
    assert pruned.count_details is not None and stacked.count_details is not None
    worst_count = pruned.count_details[-2]
    assert worst_count is not None and worst_count.surprise == pytest.approx(max(worst), rel=1e-5)
    assert worst_count.count == seq.count(worst_count.key_id)
    assert [d and d.token_id for d in pruned.count_details] == [d and d.token_id for d in stacked.count_details]
    plain = score_sequences(MODEL, VOCAB, seqs, CENTER, cfg)
    assert plain.count_nll is None  # a model without counts: max_nll as before
    if not positions:  # one key per pass: the CPU path masks each distinct key once and counts it for its copies
        one_each = cfg.model_copy(update={"mask_stride": 128})
        pruned = score_sequences(model, VOCAB, seqs, CENTER, one_each, stacked_passes=False)
        stacked = score_sequences(model, VOCAB, seqs, CENTER, one_each, stacked_passes=True)
        assert pruned.count_nll is not None and stacked.count_nll is not None
        np.testing.assert_allclose(pruned.count_nll, stacked.count_nll, rtol=1e-5, atol=1e-5)
