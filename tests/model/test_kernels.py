"""The training steps' fp32 products through oneDNN: the same numbers as torch's path up to rounding, taken only
where asked for, and never by scoring."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from logbert.model import kernels
from logbert.model.kernels import Linear, cpu_vendor, linear, onednn_linear

needs_onednn = pytest.mark.skipif(kernels._LINEAR_POINTWISE is None, reason="this torch has no oneDNN")


def _grads(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, fast: bool) -> list[torch.Tensor]:
    x, w = x.clone().requires_grad_(), w.clone().requires_grad_()
    b = None if b is None else b.clone().requires_grad_()
    with onednn_linear(fast):
        out = linear(x, w[1:], None if b is None else b[1:])  # a slice of a parameter, as the attention's q / kv
    (out * torch.linspace(-1, 1, out.shape[-1])).sum().backward()
    return [out.detach(), x.grad, w.grad, *([] if b is None else [b.grad])]  # type: ignore[list-item]


@needs_onednn
@pytest.mark.parametrize("with_bias", [True, False])
def test_the_onednn_route_gives_torchs_outputs_and_gradients_up_to_rounding(with_bias: bool) -> None:
    gen = torch.Generator().manual_seed(0)
    x, w = torch.randn(6, 11, 32, generator=gen), torch.randn(25, 32, generator=gen)
    b = torch.randn(25, generator=gen) if with_bias else None
    for ours, torchs in zip(_grads(x, w, b, fast=True), _grads(x, w, b, fast=False), strict=True):
        assert ours.shape == torchs.shape
        torch.testing.assert_close(ours, torchs, rtol=1e-5, atol=1e-5)


@needs_onednn
def test_only_a_training_steps_fp32_product_of_enough_rows_takes_the_route() -> None:
    layer = Linear(16, 8)
    x = torch.randn(4, 5, 16, requires_grad=True)
    with onednn_linear(True):
        assert type(layer(x).grad_fn).__name__ == "_OneDnnLinearBackward"
        with torch.no_grad():  # scoring, validation, the centre: torch's path, bit for bit
            assert torch.equal(layer(x), F.linear(x, layer.weight, layer.bias))
        with torch.autocast("cpu", dtype=torch.bfloat16):  # bf16 is autocast's business
            assert type(layer(x).grad_fn).__name__ != "_OneDnnLinearBackward"
        small = torch.randn(kernels.MIN_ROWS - 1, 16, requires_grad=True)
        assert type(layer(small).grad_fn).__name__ != "_OneDnnLinearBackward"
    assert type(layer(x).grad_fn).__name__ != "_OneDnnLinearBackward"  # off outside the context
    with onednn_linear(False):
        assert type(layer(x).grad_fn).__name__ != "_OneDnnLinearBackward"


def test_a_product_of_a_few_rows_gives_each_row_what_it_gets_among_many() -> None:
    gen = torch.Generator().manual_seed(1)
    x, w, b = torch.randn(40, 32, generator=gen), torch.randn(48, 32, generator=gen), torch.randn(48, generator=gen)
    many = linear(x, w, b)
    for start, n in ((0, 1), (5, 2), (11, 3), (20, 7)):
        assert torch.equal(linear(x[start : start + n], w, b), many[start : start + n])
    assert torch.equal(linear(x[3:5].view(1, 2, 32), w, b), many[3:5].view(1, 2, 48))  # any leading shape
    assert linear(x[:0], w, b).shape == (0, 48)


def test_the_cpu_vendor_is_read_from_cpuinfo(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\n")
    assert cpu_vendor(info) == "AuthenticAMD"
    assert cpu_vendor(tmp_path / "missing") == ""
    info.write_text("processor : 0\n")
    assert cpu_vendor(info) == ""


def test_examples() -> None:
    if kernels._LINEAR_POINTWISE is None:
        pytest.skip("this torch has no oneDNN: onednn_linear_pays is always False")
    assert doctest.testmod(kernels).failed == 0
