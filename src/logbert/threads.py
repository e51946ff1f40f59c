"""How many torch threads training and scoring use, chosen for the machine, not torch's default;
how the C allocator keeps torch's freed CPU buffers (:func:`tune_allocator`); which device
scoring runs on (:func:`resolve_device`); and whether the CPU has bf16 units (:func:`cpu_has_bf16`).

Measured (``python -m benchmarks.threads``, ``benchmarks/results/threads.md``) on a 2-core
machine with the demo's model: 2 threads train 1.2x faster than 1 when the machine is idle, and
1.8x *slower* when one other process keeps a core busy (the threads wait for each other). A
detector shares its machine with the service, the log shipper and other jobs, so the automatic
choice leaves one core free: ``usable cores - 1``, at least 1, at most :data:`MAX_AUTO_THREADS`
(this small model gains little from more). ``train.num_threads`` (and ``logbert bench --threads``)
sets it explicitly.
"""

from __future__ import annotations

import ctypes
import os
import platform
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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


#: glibc ``mallopt`` parameters (``malloc.h``) and the values :func:`tune_allocator` sets.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
#: Blocks up to this size come from the heap, where a freed one is reused (glibc's largest allowed value).
MMAP_THRESHOLD = 32 * 2**20
#: Free memory at the top of the heap kept for reuse, not handed back to the OS.
TRIM_THRESHOLD = 256 * 2**20
#: Environment variables by which a user chooses glibc's malloc settings: where one is set, ours are not applied
#: (as where ``GLIBC_TUNABLES`` names a ``glibc.malloc`` tunable).
MALLOC_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_")
#: ``LOGBERT_TUNE_MALLOC=0`` keeps glibc's own malloc behaviour.
OPT_OUT_ENV = "LOGBERT_TUNE_MALLOC"

_allocator_tuned: bool | None = None  # decided once per process


def tune_allocator() -> bool:
    """Let glibc keep torch's freed CPU buffers for the next batch instead of returning them to the OS.

    Why: a batch's activations are blocks of 0.1-50 MB. glibc serves blocks above a threshold that adapts
    up to 32 MB with ``mmap`` and gives free memory at the heap's top back to the OS, so the next batch's
    blocks are new pages, faulted in and zeroed by the kernel one by one. Measured (``docs/benchmarks.md``,
    "The allocator keeps freed buffers"): ``benchmarks.speed``'s scoring made 240,000-400,000 page faults
    and 97,000 with these settings, and ran 1.14-1.23x as fast. Settings: blocks up to :data:`MMAP_THRESHOLD`
    from the heap, up to :data:`TRIM_THRESHOLD` of free heap kept. Peak memory is unchanged; memory freed
    after a peak is kept by the process for reuse.

    Applied once per process, on Linux with glibc, unless the user chose malloc settings (any of
    :data:`MALLOC_ENV` set, or a ``glibc.malloc`` tunable) or set ``LOGBERT_TUNE_MALLOC=0``. Called when
    training or scoring starts (:func:`torch_threads`). Returns whether the settings are in effect.
    """
    global _allocator_tuned
    if _allocator_tuned is None:
        _allocator_tuned = _apply_malloc_settings()
    return _allocator_tuned


def _apply_malloc_settings() -> bool:
    if os.environ.get(OPT_OUT_ENV, "").strip().lower() in ("0", "false", "no", "off"):
        return False
    if any(name in os.environ for name in MALLOC_ENV) or "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        return False  # the user's own choice stands
    if sys.platform != "linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # setting the mmap threshold also fixes the trim threshold at glibc's 128 KiB: both or neither
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


@contextmanager
def torch_threads(n: int) -> Iterator[int]:
    """Run the block with ``n`` torch intra-op threads (``n <= 0``: :func:`auto_threads`), then restore.
    Also :func:`tune_allocator` (once per process)."""
    tune_allocator()
    chosen = n if n > 0 else auto_threads()
    before = torch.get_num_threads()
    if chosen != before:
        torch.set_num_threads(chosen)
    try:
        yield chosen
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def cpuinfo_field(name: str, cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The first ``name : value`` of ``/proc/cpuinfo`` (``vendor_id``, ``model name``, ...); ``""`` where the OS
    does not say (no such file, or no such field)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return ""
    found = re.search(rf"^{re.escape(name)}\s*:[ \t]*(.*)$", text, flags=re.MULTILINE)
    return found.group(1).strip() if found else ""


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 matrix products natively (AVX512-BF16 or AMX, as oneDNN sees it).

    On such a CPU ``train.precision = "bf16"`` trains a little faster than fp32 (a 2-core AMD EPYC with
    AVX512-BF16: 449 against 242 GFLOP/s for fp32 through oneDNN, and the bench's DevStack in 42-43 s against 44-49 s,
    docs/benchmarks.md); without the units torch emulates bf16 and it is several times slower than fp32.
    """
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch built without oneDNN
        return False


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
