import math

import torch

from logbert.training.losses import hypersphere_loss, masked_key_loss
from logbert.windowing.dataset import IGNORE_INDEX

torch.set_num_threads(1)


def test_masked_key_loss_averages_cross_entropy_over_masked_positions_only() -> None:
    logits = torch.tensor([[[100.0, -100.0], [0.0, 0.0], [0.0, math.log(3.0)]]])  # (1, 3, 2)
    labels = torch.tensor([[IGNORE_INDEX, 0, 1]])
    # position 1: -log(1/2) = log 2; position 2: -log(3/4) = log(4/3); position 0 ignored
    expected = (math.log(2.0) + math.log(4.0 / 3.0)) / 2
    assert math.isclose(float(masked_key_loss(logits, labels)), expected, rel_tol=1e-6)


def test_masked_key_loss_is_zero_without_masked_positions() -> None:
    logits = torch.randn(2, 3, 5, requires_grad=True)
    loss = masked_key_loss(logits, torch.full((2, 3), IGNORE_INDEX))
    assert float(loss.detach()) == 0.0
    loss.backward()  # type: ignore[no-untyped-call]  # still part of the graph


def test_masked_key_loss_equals_torchs_mean_reduction_bit_for_bit() -> None:
    """The loss divides a summed cross-entropy by a count kept on the device (no host sync on a GPU); it must stay
    the number, and the gradient, of torch's "mean" reduction, so that CPU training runs are unchanged."""
    torch.manual_seed(0)
    for rows, width, vocab in ((64, 33, 40), (7, 12, 500), (512, 33, 33)):
        logits = torch.randn(rows, width, vocab, requires_grad=True)
        labels = torch.randint(0, vocab, (rows, width)).masked_fill(torch.rand(rows, width) < 0.6, IGNORE_INDEX)
        ours = masked_key_loss(logits, labels)
        torchs = torch.nn.functional.cross_entropy(
            logits.reshape(-1, vocab), labels.reshape(-1), ignore_index=IGNORE_INDEX
        )
        assert float(ours) == float(torchs)
        (g_ours,) = torch.autograd.grad(ours, logits)
        (g_torch,) = torch.autograd.grad(torchs, logits)
        assert torch.equal(g_ours, g_torch)


def test_hypersphere_loss_is_the_mean_squared_distance() -> None:
    emb = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    center = torch.tensor([1.0, 1.0])
    # (0 + 1) and (4 + 9): mean 7; n_rows: the whole batch's 4 rows when these 2 are one process's share
    assert float(hypersphere_loss(emb, center)) == 7.0
    assert float(hypersphere_loss(emb, center, n_rows=4)) == 3.5
    # per dimension (train.vhm_per_dimension): each distance divided by the width, 2
    assert float(hypersphere_loss(emb, center, per_dimension=True)) == 3.5
    assert float(hypersphere_loss(emb, center, n_rows=4, per_dimension=True)) == 1.75


def test_count_buckets_and_the_count_loss_by_hand() -> None:
    """Counts of the true tokens (DIST and padding not counted, capped at the last bucket); the loss sums the
    cross-entropy over the columns, divides by the keys a row holds, and averages the rows."""
    import torch.nn.functional as F

    from logbert.model.encoder import COUNT_BUCKETS, count_buckets, count_surprise
    from logbert.training.losses import count_loss

    tokens = torch.tensor([[1, 4, 5, 5, 0], [1, 6, 6, 6, 6]])
    pad = tokens == 0
    buckets = count_buckets(tokens, pad, 8)
    assert buckets.tolist() == [[0, 0, 0, 0, 1, 2, 0, 0], [0, 0, 0, 0, 0, 0, 4, 0]]
    many = torch.tensor([[1] + [4] * 12])
    assert count_buckets(many, many == 0, 8)[0, 4] == COUNT_BUCKETS - 1
    torch.manual_seed(0)
    logits = torch.randn(2, 8, COUNT_BUCKETS)
    ce = F.cross_entropy(logits.reshape(-1, COUNT_BUCKETS), buckets.reshape(-1), reduction="none").view(2, 8)
    expected = (ce[0].sum() / 2 + ce[1].sum() / 1) / 2  # row 0 holds keys 4 and 5, row 1 key 6
    torch.testing.assert_close(count_loss(logits, buckets), expected)
    torch.testing.assert_close(count_loss(logits, buckets, n_rows=4), expected / 2)
    p = logits.softmax(dim=-1)
    by_hand = torch.tensor([
        [-float(torch.log(min(p[r, k, buckets[r, k]:].sum(), p[r, k, : buckets[r, k] + 1].sum()))) for k in range(4, 8)]
        for r in range(2)
    ])
    torch.testing.assert_close(count_surprise(logits, buckets, 4), by_hand)  # the smaller tail, the true bucket in it
