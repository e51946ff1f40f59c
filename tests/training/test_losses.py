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
