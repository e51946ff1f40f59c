"""Length-bucketed batches: every row once per pass, batches of similar length, order still random."""

import torch

from logbert.training.trainer import BUCKET_CHUNK_BATCHES, batch_order, by_length


def test_bucketed_batches_cover_each_pass_once_and_sort_lengths_within_chunks() -> None:
    gen = torch.Generator().manual_seed(0)
    n, size = 1000, 8
    lengths = torch.randint(2, 34, (n,), generator=gen)
    order = torch.randperm(n, generator=gen).tolist() * 2  # two passes
    batches = batch_order(order, lengths, size, n, torch.Generator().manual_seed(1))
    first, second = batches[: len(batches) // 2], batches[len(batches) // 2 :]
    for one_pass in (first, second):  # a batch never spans two passes; each row once per pass
        assert sorted(i for b in one_pass for i in b) == list(range(n))
    padded = sum(size * int(lengths[b].max()) for b in batches)
    plain = batch_order(order, lengths, size, n, None)
    assert plain == [order[i : i + size] for i in range(0, 2 * n, size)]
    padded_plain = sum(size * int(lengths[b].max()) for b in plain)
    assert padded < 0.75 * padded_plain  # the point of it: far less padding
    spans = [int(lengths[b].max() - lengths[b].min()) for b in first]
    assert sorted(spans)[len(spans) // 2] <= 1  # a typical batch holds rows of (nearly) one length
    # the batches are shuffled, not served shortest first
    maxima = [int(lengths[b].max()) for b in first[:BUCKET_CHUNK_BATCHES]]
    assert maxima != sorted(maxima)


def test_by_length_batches_shortest_first() -> None:
    assert by_length([5, 2, 9, 4, 2], 2) == [[1, 4], [3, 0], [2]]
