"""The automatic torch thread count, and that every use restores the caller's setting."""

from __future__ import annotations

import torch

from logbert.threads import MAX_AUTO_THREADS, auto_threads, torch_threads, usable_cores


def test_auto_leaves_a_core_free_and_stays_small() -> None:
    assert [auto_threads(c) for c in (1, 2, 3, 8, 64)] == [1, 1, 2, MAX_AUTO_THREADS, MAX_AUTO_THREADS]
    assert 1 <= auto_threads() <= max(1, usable_cores() - 1)


def test_torch_threads_sets_and_restores() -> None:
    before = torch.get_num_threads()
    with torch_threads(1) as n:
        assert n == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with torch_threads(0) as n:
        assert n == auto_threads() and torch.get_num_threads() == n
    assert torch.get_num_threads() == before


def test_resolve_device_names_the_machines_devices_plainly() -> None:
    import pytest

    from logbert.threads import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    for bad in ("gpu", "tpu", "cuda:x"):
        with pytest.raises(ValueError, match="device"):
            resolve_device(bad)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            resolve_device("cuda")
