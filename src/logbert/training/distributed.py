"""Multi-process training under torchrun (DistributedDataParallel): the process group and the shard rule.

``torchrun --nproc-per-node N ...`` starts N processes with ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR`` and ``MASTER_PORT`` set; :func:`process_group` joins them (gloo on the CPU, nccl on
CUDA, each process on ``cuda:LOCAL_RANK``) once per process. Without those variables, or with
``WORLD_SIZE=1``, it returns the single-process :class:`Group`, every method of which is a no-op:
one process trains exactly as it always did.

The rule that makes N processes train the model one process would (``train.dropout`` aside): every
rank draws the same epoch order and collates the *whole* global batch with the same generator (same
masks, same cuts), then forwards only its contiguous slice of rows (:meth:`Group.shard`). Losses are
normalised by global counts and multiplied by N, so DDP's mean of the gradients is the
single-process gradient (see ``logbert.training.trainer._shard_loss``).
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel


def env_rank() -> int:
    """This process's rank from torchrun's ``RANK`` (0 when not launched by torchrun)."""
    return int(os.environ.get("RANK", "0") or 0)


def env_world_size() -> int:
    """Processes in the job from torchrun's ``WORLD_SIZE`` (1 when not launched by torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def is_main_process() -> bool:
    """True in the one process that writes files (rank 0; always True without torchrun)."""
    return env_world_size() <= 1 or env_rank() == 0


@dataclass(frozen=True, slots=True)
class Group:
    """The ranks training one model; the default is the single process (every method a no-op)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, n: int) -> tuple[int, int]:
        """This rank's contiguous rows ``[start, stop)`` of ``n``: sizes differ by at most one, may be empty.

        >>> [Group(r, 3).shard(7) for r in range(3)], Group(1, 2).shard(1)
        ([(0, 3), (3, 5), (5, 7)], (1, 1))
        """
        base, extra = divmod(n, self.world_size)
        start = self.rank * base + min(self.rank, extra)
        return start, start + base + (1 if self.rank < extra else 0)

    def threads(self, n: int) -> int:
        """Torch threads per process: ``n`` when set (> 0), else the cores split between this node's ranks.

        0 (auto) on one process stays 0 (:func:`logbert.threads.torch_threads` chooses).
        """
        if n > 0 or not self.active:
            return n
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        return max(1, cores // self.local_world_size)

    def wrap(self, model: nn.Module) -> nn.Module:
        """``model`` in DistributedDataParallel (the model itself on one process). A collective."""
        if not self.active:
            return model
        device = next(model.parameters()).device
        ids = [device.index if device.index is not None else self.local_rank] if device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def sum_float(self, value: float) -> float:
        """``value`` summed over the ranks (a collective)."""
        if not self.active:
            return value
        return float(self.sum_tensor(torch.tensor([value], dtype=torch.float64)).item())

    def sum_tensor(self, value: Tensor) -> Tensor:
        """``value`` summed over the ranks (a collective), in float64; a float64 copy on one process."""
        if not self.active:
            return value.double().clone()
        t = value.to(self._device(), torch.float64).clone()
        dist.all_reduce(t)
        return t

    def broadcast_float(self, value: float) -> float:
        """Rank 0's ``value`` on every rank (a collective), so that every rank takes the same decisions."""
        if not self.active:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self._device())
        dist.broadcast(t, src=0)
        return float(t.item())

    def same_int(self, value: int, what: str) -> int:
        """``value``, checked equal on every rank (a collective); RuntimeError on all of them otherwise."""
        if not self.active:
            return value
        t = torch.tensor([value, -value], dtype=torch.float64, device=self._device())
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        high, low = int(t[0].item()), -int(t[1].item())
        if high != low:
            raise RuntimeError(f"ranks disagree on {what}: {value} here, from {low} to {high} across the ranks")
        return value

    def _device(self) -> torch.device:
        if dist.get_backend() == "nccl":
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")


def process_group(device: torch.device | str = "cpu") -> Group:
    """Join torchrun's process group (once per process; gloo on the CPU, nccl on CUDA), or the single process.

    Reads ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE`` and (through ``env://``)
    ``MASTER_ADDR``/``MASTER_PORT``. The group lives until the process exits, so cross-fit calibration's
    k + 1 trainings share it. A CUDA ``device`` without an index becomes ``cuda:LOCAL_RANK``.
    """
    world = env_world_size()
    if world <= 1:
        return Group()
    local = int(os.environ.get("LOCAL_RANK", "0") or 0)
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    cuda = torch.device(device).type == "cuda"
    if not dist.is_initialized():
        if cuda:
            torch.cuda.set_device(local)
        dist.init_process_group(backend="nccl" if cuda else "gloo")
        atexit.register(_destroy)
    return Group(dist.get_rank(), dist.get_world_size(), local, local_world)


def _destroy() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
