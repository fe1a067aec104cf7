"""Hand-written gradients against autograd: activations and member-batched batch norm."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reglab.engine.backward import BN_EPS, batch_norm_backward, batch_norm_train
from reglab.engine.pointwise import activation, activation_backward
from reglab.layers.activations import ACTIVATIONS, get_activation


def _autograd_activation(name: str, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    leaf = x.clone().requires_grad_(True)
    get_activation(name)(leaf).backward(g)
    assert leaf.grad is not None
    return leaf.grad


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_backward_is_autograd(name: str) -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, 5, generator=gen, dtype=torch.float64) * 2
    g = torch.randn(3, 4, 5, generator=gen, dtype=torch.float64)
    y = activation(name, x)
    torch.testing.assert_close(y, get_activation(name)(x))
    torch.testing.assert_close(activation_backward(name, g, x, y), _autograd_activation(name, x, g))


def _reference_bn(z: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """torch's own batch norm, one member at a time (``z: [M, units, B]``, columns)."""
    outs = [
        torch.nn.functional.batch_norm(
            z[i].T, None, None, gamma[i, :, 0], beta[i, :, 0], training=True, eps=BN_EPS
        ).T
        for i in range(z.shape[0])
    ]
    return torch.stack(outs)


@settings(max_examples=25, deadline=None)
@given(
    m=st.integers(1, 3),
    b=st.integers(2, 7),
    units=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_batch_norm_forward_and_backward_match_torch(m: int, b: int, units: int, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(m, units, b, generator=gen, dtype=torch.float64) * 3 + 1
    gamma = torch.rand(m, units, 1, generator=gen, dtype=torch.float64) + 0.5
    beta = torch.randn(m, units, 1, generator=gen, dtype=torch.float64)
    grad = torch.randn(m, units, b, generator=gen, dtype=torch.float64)

    y, z_hat, rstd, mean, var = batch_norm_train(z, gamma, beta)
    leaves = [t.clone().requires_grad_(True) for t in (z, gamma, beta)]
    expected = _reference_bn(*leaves)
    expected.backward(grad)
    torch.testing.assert_close(y, expected.detach())
    torch.testing.assert_close(mean[..., 0], z.mean(2))
    torch.testing.assert_close(var[..., 0], z.var(2, unbiased=False))

    g_gamma, g_beta = torch.empty_like(gamma), torch.empty_like(beta)
    dz = batch_norm_backward(grad, z_hat, rstd, gamma, grad_gamma=g_gamma, grad_beta=g_beta)
    torch.testing.assert_close(dz, leaves[0].grad)
    torch.testing.assert_close(g_gamma, leaves[1].grad)
    torch.testing.assert_close(g_beta, leaves[2].grad)


def test_weighted_batch_norm_ignores_padding_rows() -> None:
    gen = torch.Generator().manual_seed(1)
    m, b, units = 2, 6, 3
    counts = [6, 4]  # member 1 has two padding rows
    z = torch.randn(m, units, b, generator=gen, dtype=torch.float64)
    z[1, :, 4:] = 1e3  # garbage on the padding rows must not matter
    gamma = torch.rand(m, units, 1, generator=gen, dtype=torch.float64) + 0.5
    beta = torch.randn(m, units, 1, generator=gen, dtype=torch.float64)
    grad = torch.randn(m, units, b, generator=gen, dtype=torch.float64)
    grad[1, :, 4:] = 0.0  # the loss gives padding rows no gradient
    w = torch.zeros(m, 1, b, dtype=torch.float64)
    for i, n in enumerate(counts):
        w[i, :, :n] = 1.0 / n

    y, z_hat, rstd, _, _ = batch_norm_train(z, gamma, beta, w)
    g_gamma, g_beta = torch.empty_like(gamma), torch.empty_like(beta)
    dz = batch_norm_backward(grad, z_hat, rstd, gamma, w, grad_gamma=g_gamma, grad_beta=g_beta)
    for i, n in enumerate(counts):
        leaf = z[i : i + 1, :, :n].clone().requires_grad_(True)
        expected = _reference_bn(leaf, gamma[i : i + 1], beta[i : i + 1])
        expected.backward(grad[i : i + 1, :, :n])
        assert leaf.grad is not None
        torch.testing.assert_close(y[i, :, :n], expected[0].detach())
        torch.testing.assert_close(dz[i, :, :n], leaf.grad[0])
        torch.testing.assert_close(dz[i, :, n:], torch.zeros_like(dz[i, :, n:]))
