"""Hand-written batch norm of a member-batched MLP (no autograd in the hot loop).

Every function works on member-batched activations in columns, ``[M, units, B]`` (the stack's
layout); reductions over the batch are over the last dimension, so members never mix. Optional
row weights ``w: [M, 1, B]`` give each member its own (weighted) batch mean:
``mean_w(t) = Σ_b w_b·t_b`` with ``Σ_b w_b = 1`` over a member's real rows and ``w = 0`` on
padding rows. Each function is checked against autograd in the tests. Activations and their
gradients are in :mod:`reglab.engine.pointwise`.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "BN_EPS",
    "BN_MOMENTUM",
    "batch_norm_backward",
    "batch_norm_train",
]

BN_EPS = 1e-5
"""``torch.nn.BatchNorm1d``'s epsilon."""
BN_MOMENTUM = 0.1
"""``torch.nn.BatchNorm1d``'s momentum: ``running ← (1 − 0.1)·running + 0.1·batch``."""


def _mean(t: Tensor, w: Tensor | None) -> Tensor:
    if w is None:
        return t.mean(-1, keepdim=True)
    return (t * w).sum(-1, keepdim=True)


def batch_norm_train(
    z: Tensor,
    gamma: Tensor,
    beta: Tensor,
    w: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Training-mode batch norm per member: ``γ·(z − μ)/sqrt(σ² + ε) + β``.

    ``μ`` and ``σ²`` (biased) are the member's batch mean and variance over the batch (the
    last dimension).

    Args:
        z: ``[M, units, B]``.
        gamma, beta: ``[M, units, 1]``.
        w: Optional row weights ``[M, 1, B]`` (module docstring).

    Returns:
        ``(y, z_hat, rstd, mean, var)``: the output, the normalized input, ``1/sqrt(σ² + ε)``,
        and the batch statistics ``[M, units, 1]`` for the running averages.

    >>> y, *_ = batch_norm_train(torch.tensor([[[1.0, 3.0]]]), torch.ones(1, 1, 1),
    ...                          torch.zeros(1, 1, 1))
    >>> y.flatten()
    tensor([-1.0000,  1.0000])
    """
    mean = _mean(z, w)
    zc = z - mean
    var = _mean(zc * zc, w)
    rstd = torch.rsqrt(var + BN_EPS)
    z_hat = zc * rstd
    return torch.addcmul(beta, z_hat, gamma), z_hat, rstd, mean, var


def batch_norm_backward(
    grad: Tensor,
    z_hat: Tensor,
    rstd: Tensor,
    gamma: Tensor,
    w: Tensor | None = None,
    *,
    grad_gamma: Tensor | None = None,
    grad_beta: Tensor | None = None,
) -> Tensor:
    """Gradient of :func:`batch_norm_train` w.r.t. ``z``; fills ``grad_gamma``/``grad_beta``.

    ``dz = rstd·(dẑ − mean(dẑ) − ẑ·mean(dẑ·ẑ))`` with ``dẑ = grad·γ``; ``dγ = Σ grad·ẑ``,
    ``dβ = Σ grad`` over the batch. With row weights the means are weighted and padding rows
    get a zero gradient.
    """
    if grad_beta is not None:
        torch.sum(grad, -1, keepdim=True, out=grad_beta)
    if grad_gamma is not None:
        torch.sum(grad * z_hat, -1, keepdim=True, out=grad_gamma)
    g_hat = grad * gamma
    dz = g_hat - _mean(g_hat, w)
    dz.sub_(z_hat * _mean(g_hat * z_hat, w)).mul_(rstd)
    if w is not None:
        dz.mul_(w > 0)
    return dz
