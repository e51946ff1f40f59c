"""How many torch threads training and scoring use, chosen for the machine, not torch's default;
and which device scoring runs on (:func:`resolve_device`).

Measured (``python -m benchmarks.threads``, ``benchmarks/results/threads.md``) on a 2-core
machine with the demo's model: 2 threads train 1.2x faster than 1 when the machine is idle, and
1.8x *slower* when one other process keeps a core busy (the threads wait for each other). A
detector shares its machine with the service, the log shipper and other jobs, so the automatic
choice leaves one core free: ``usable cores - 1``, at least 1, at most :data:`MAX_AUTO_THREADS`
(this small model gains little from more). ``train.num_threads`` (and ``logbert bench --threads``)
sets it explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

#: The most threads the automatic choice takes (a d_model-128 encoder gains little beyond).
MAX_AUTO_THREADS = 4


def usable_cores() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def auto_threads(cores: int | None = None) -> int:
    """The automatic thread count for ``cores`` usable cores (default: this process's).

    >>> [auto_threads(c) for c in (1, 2, 4, 16)]
    [1, 1, 3, 4]
    """
    n = usable_cores() if cores is None else cores
    return max(1, min(MAX_AUTO_THREADS, n - 1))


@contextmanager
def torch_threads(n: int) -> Iterator[int]:
    """Run the block with ``n`` torch intra-op threads (``n <= 0``: :func:`auto_threads`), then restore."""
    chosen = n if n > 0 else auto_threads()
    before = torch.get_num_threads()
    if chosen != before:
        torch.set_num_threads(chosen)
    try:
        yield chosen
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def resolve_device(name: str) -> torch.device:
    """``"cpu"``, ``"cuda"`` / ``"cuda:N"``, ``"mps"``, or ``"auto"`` (a GPU when there is one, else the CPU).

    Raises:
        ValueError: an unknown name, or a device this machine does not have (said plainly, instead of
            torch's error at the first tensor moved there).
    """
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if torch.backends.mps.is_available() else torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {name!r}: expected auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r}: this machine has no CUDA GPU that torch can use (try auto or cpu)")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device {name!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {name!r}: MPS (Apple GPU) is not available here (try auto or cpu)")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unknown device {name!r}: expected auto, cpu, cuda, cuda:N or mps")
    return device
