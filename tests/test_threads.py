"""The automatic torch thread count, that every use restores the caller's setting, and the allocator's settings."""

from __future__ import annotations

import pytest
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
    from logbert.threads import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    for bad in ("gpu", "tpu", "cuda:x"):
        with pytest.raises(ValueError, match="device"):
            resolve_device(bad)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            resolve_device("cuda")


_FAULTS_SCRIPT = """
import resource, sys, torch
from logbert.threads import tune_allocator
torch.set_num_threads(1)
tuned = tune_allocator() if sys.argv[1] == "tune" else False
start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for it in range(30):  # a forward pass's pattern: blocks of 0.5-13 MB, rows of varying width, freed out of order
    n = 64 * (17 + it % 16)
    x = torch.ones(n, 3 * 1024)
    y = torch.ones(n, 1024) + 1
    z = x[:, :1024] * y
    del x
    w = torch.ones(n, 4 * 1024)
    del y, z, w
print(tuned, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start)
"""


def _page_faults(mode: str, **env: str) -> tuple[str, int]:
    import os
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items() if k != "LOGBERT_TUNE_MALLOC" and not k.startswith("MALLOC_")}
    out = subprocess.run(
        [sys.executable, "-c", _FAULTS_SCRIPT, mode], capture_output=True, text=True, env={**clean, **env}, check=True
    )
    tuned, faults = out.stdout.split()
    return tuned, int(faults)


def test_tuned_allocator_reuses_freed_buffers_instead_of_faulting_new_pages() -> None:
    import platform
    import sys

    if sys.platform != "linux" or platform.libc_ver()[0] != "glibc":
        pytest.skip("the malloc settings apply to glibc on Linux only")
    import statistics

    # three runs each, interleaved, compared by their medians. With glibc's defaults the count varies from one run
    # (and one venv) to the next, 53,000-156,000 on the 2-core VM (cause not found), tuned it stays
    # at 24,000-40,000: a fresh clone's CI counted 53,151 three times against 16,667-32,411 tuned, and "less than
    # half" failed there. What holds on every run measured: tuned at most three quarters of the default
    runs = [(_page_faults("tune"), _page_faults("none")) for _ in range(3)]
    assert all(tuned == "True" and untouched == "False" for (tuned, _), (untouched, _) in runs)
    faults_tuned = statistics.median(faults for (_, faults), _ in runs)
    faults_default = statistics.median(faults for _, (_, faults) in runs)
    assert faults_tuned < 0.75 * faults_default, runs


def test_the_users_malloc_choice_stands() -> None:
    assert _page_faults("tune", MALLOC_TRIM_THRESHOLD_="131072")[0] == "False"
    assert _page_faults("tune", GLIBC_TUNABLES="glibc.malloc.trim_threshold=131072")[0] == "False"
    assert _page_faults("tune", LOGBERT_TUNE_MALLOC="0")[0] == "False"


def test_training_and_scoring_tune_the_allocator(monkeypatch: pytest.MonkeyPatch) -> None:
    import logbert.threads as threads

    calls: list[bool] = []
    monkeypatch.setattr(threads, "tune_allocator", lambda: calls.append(True) or True)
    with torch_threads(1):
        pass
    assert calls == [True]
