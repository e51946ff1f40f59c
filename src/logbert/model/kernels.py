"""The training steps' fp32 matrix products through oneDNN, where that is the faster library.

torch sends a CPU ``float32`` linear layer to MKL's ``sgemm``. On AMD CPUs MKL takes its AVX2 code path even
where the CPU has AVX-512, while oneDNN (also inside torch, ``torch.ops.mkldnn._linear_pointwise``, what
torch's inductor calls for CPU linears) uses AVX-512: on a 2-core AMD EPYC with AVX-512 (stop 48) a
1600x128 by 128x384 product ran at 107 GFLOP/s through MKL and 242 through oneDNN, in fp32 both, the
backward's two products at 235 and 174 (``docs/benchmarks.md``, "fp32 matrix products through oneDNN").

:func:`linear` is ``F.linear`` with that route for the training steps (gradients on, a CPU, fp32, no
autocast, not being compiled) inside :func:`onednn_linear`; everything else, scoring included, keeps
torch's own path. The products are fp32 on both routes; only the order of the additions, and so the last
bits of a sum, may differ. On a CPU it also computes a product of fewer than :data:`MIN_ROWS` rows as one
of that many, so that a window's scores do not depend on the windows scored with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812 - the usual name
from torch import Tensor, nn

from logbert.threads import cpuinfo_field

#: A product of fewer rows than this is computed as one of this many (zero rows added, their results dropped): BLAS
#: libraries take other kernels for 1-3 rows (MKL on an AMD EPYC with AVX-512: 1-3 rows; on an AVX2 one: a single
#: row), which add in another order, so a window scored alone (the service's few windows a call, the head over one
#: row's 1-2 masked keys) got scores that differed in the last bits from the same window scored among others
#: (stop 48: 9.449878692626953 against 9.449877738952637). From 4 rows up every row's result was the same whatever
#: the rows around it (checked on this EPYC for products of 32-256 inputs). The oneDNN route is not taken below it.
MIN_ROWS = 8

_ON: ContextVar[bool] = ContextVar("logbert_onednn_linear", default=False)


def _onednn_op() -> Any | None:
    """``torch.ops.mkldnn._linear_pointwise``, or None in a torch built without oneDNN."""
    if not torch.backends.mkldnn.is_available():  # type: ignore[no-untyped-call]
        return None
    try:
        return torch.ops.mkldnn._linear_pointwise
    except (AttributeError, RuntimeError):
        return None


_LINEAR_POINTWISE = _onednn_op()


def cpu_vendor(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's ``vendor_id`` (``GenuineIntel``, ``AuthenticAMD``, ...); ``""`` where the OS does not say."""
    return cpuinfo_field("vendor_id", cpuinfo)


def onednn_linear_pays(capability: str | None = None, vendor: str | None = None) -> bool:
    """Whether the training steps' fp32 products should go through oneDNN on this CPU (``train.cpu_matmul =
    "auto"``): a CPU with AVX-512 that is not Intel's, where MKL takes its AVX2 path (measured on an AMD EPYC:
    2.3x the product's throughput, training 1.2-1.3x faster). On Intel's CPUs MKL uses AVX-512 itself, and on
    AVX2-only CPUs both libraries use AVX2: nothing measured to gain, so torch's path stays.

    >>> onednn_linear_pays("AVX512", "AuthenticAMD"), onednn_linear_pays("AVX512", "GenuineIntel")
    (True, False)
    >>> onednn_linear_pays("AVX2", "AuthenticAMD")
    False
    """
    if _LINEAR_POINTWISE is None:
        return False
    capability = torch.backends.cpu.get_cpu_capability() if capability is None else capability
    vendor = cpu_vendor() if vendor is None else vendor
    return capability.startswith("AVX512") and vendor not in ("", "GenuineIntel")


@contextmanager
def onednn_linear(enabled: bool) -> Iterator[None]:
    """Within: :func:`linear` sends the training steps' fp32 products through oneDNN when ``enabled``."""
    token = _ON.set(enabled and _LINEAR_POINTWISE is not None)
    try:
        yield
    finally:
        _ON.reset(token)


class _OneDnnLinear(torch.autograd.Function):
    """``x @ weight.T + bias`` and its gradients, the three products through oneDNN."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        rows = x.reshape(-1, x.shape[-1])
        ctx.save_for_backward(rows, weight)
        ctx.in_shape, ctx.has_bias = x.shape, bias is not None
        out: Tensor = _LINEAR_POINTWISE(rows, weight, bias, "none", [], "")  # type: ignore[misc]
        return out.view(*x.shape[:-1], weight.shape[0])

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
        rows, weight = ctx.saved_tensors
        grad_rows = grad_out.reshape(-1, grad_out.shape[-1])
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:  # (N, out) @ (out, in): oneDNN reads the transposed weight as it is
            grad_x = _LINEAR_POINTWISE(grad_rows, weight.t(), None, "none", [], "").view(ctx.in_shape)  # type: ignore[misc]
        if ctx.needs_input_grad[1]:  # (out, N) @ (N, in)
            grad_w = _LINEAR_POINTWISE(grad_rows.t(), rows.t(), None, "none", [], "")  # type: ignore[misc]
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = grad_rows.sum(dim=0)
        return grad_x, grad_w, grad_b


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``F.linear``, through oneDNN for a training step's fp32 product inside :func:`onednn_linear`, and on a CPU
    never with fewer than :data:`MIN_ROWS` rows: a row's result must not depend on how many rows came with it."""
    rows = x.numel() // x.shape[-1] if x.shape[-1] else 0
    if 0 < rows < MIN_ROWS and x.device.type == "cpu":
        padded = torch.cat([x.reshape(rows, -1), x.new_zeros(MIN_ROWS - rows, x.shape[-1])])
        return F.linear(padded, weight, bias)[:rows].view(*x.shape[:-1], weight.shape[0])
    if (
        _ON.get()
        and torch.is_grad_enabled()
        and x.device.type == "cpu"
        and x.dtype == weight.dtype == torch.float32
        and not torch.is_autocast_enabled("cpu")
        and not torch.compiler.is_compiling()
    ):
        out: Tensor = _OneDnnLinear.apply(x, weight, bias)  # type: ignore[no-untyped-call]
        return out
    return F.linear(x, weight, bias)


class Linear(nn.Linear):
    """``nn.Linear`` (the same parameters and state-dict names) whose product is :func:`linear`'s."""

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias)
