"""LassoNet's hierarchical proximal operator (``lassonet=S`` or ``lassonet=S:M``).

LassoNet (Lemhadri, Ruan, Abraham & Tibshirani 2021) gives the network a linear path from the
inputs to the outputs, ``f(x) = θᵀx + g_W(x)``, and lets feature ``j`` reach the hidden layers
only as far as it reaches the output linearly: ``‖W[:, j]‖_∞ ≤ M·‖θ[:, j]‖₂``, where ``W`` is
the first layer's kernel and ``θ`` the skip path's. The penalty is ``S·Σ_j ‖θ[:, j]‖₂``, so
when a feature's skip weights reach zero its first-layer weights must too, and the feature
leaves the whole network, exactly.

After every optimizer step each feature's pair ``(θ_j, W_j)`` is replaced by the proximal
point of the penalty under the constraint (the paper's Algorithm 2, with step size the
member's learning rate ``η``, threshold ``λ = η·S``): with ``|W_j|`` sorted decreasingly as
``u_(1) ≥ … ≥ u_(K)`` and, for ``m = 0 … K``,

    w_m = M / (1 + m·M²) · max(0, ‖θ_j‖₂ + M·Σ_{i≤m} u_(i) − λ)

take the first ``m`` with ``u_(m+1) ≤ w_m`` (``u_(K+1) = 0``); then

    θ_j ← (w_m / (M·‖θ_j‖₂)) · θ_j,        W_j ← sign(W_j) · min(|W_j|, w_m).

A member of a strategy with ``lassonet`` is built as the ``skip-mlp`` family
(:mod:`reglab.engine.skip`); ``lassonet=0`` (the "off" values) is that network without the
penalty or the constraint. A strength path over ``S`` (``reglab path DATA --technique
lassonet``) counts the surviving features (a feature survives while its skip or first-layer
weights are not zero), and ``reglab select --method lassonet`` selects on that path.

>>> import torch
>>> theta = torch.tensor([[[1.0, 0.05]]])             # [M=1, out=1, in=2]
>>> w = torch.tensor([[[0.5, 0.001], [0.2, 0.0]]])      # [M=1, hidden=2, in=2]
>>> t, w2 = hier_prox(theta, w, torch.tensor([0.1]), torch.tensor([10.0]))
>>> t
tensor([[[0.9000, 0.0000]]])
>>> w2
tensor([[[0.5000, 0.0000],
         [0.2000, 0.0000]]])
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from reglab.techniques.base import Param, Technique
from reglab.techniques.registry import register

__all__ = ["LassoNet", "hier_prox"]


def hier_prox(
    theta: Tensor, kernel: Tensor, threshold: Tensor, bound: Tensor
) -> tuple[Tensor, Tensor]:
    """LassoNet's hierarchical proximal step, every member and feature at once.

    Args:
        theta: The skip path's kernels ``[M, out, in]``.
        kernel: The first layer's kernels ``[M, hidden, in]``.
        threshold: Each member's ``λ = η·S`` ``[M]`` (≥ 0).
        bound: Each member's hierarchy bound ``M`` ``[M]`` (> 0).

    Returns:
        The new ``(theta, kernel)``, each of its input's shape. A feature whose skip weights
        are all zero leaves with its first-layer weights zeroed too.
    """
    m, hidden, n_in = kernel.shape
    lam = threshold.to(kernel.dtype).view(-1, 1, 1)
    big = bound.to(kernel.dtype).view(-1, 1, 1)
    u_sorted = torch.sort(kernel.abs(), dim=1, descending=True).values  # [M, K, in]
    zeros = kernel.new_zeros(m, 1, n_in)
    partial = torch.cat([zeros, torch.cumsum(u_sorted, dim=1)], dim=1)  # [M, K+1, in]
    steps = torch.arange(hidden + 1, dtype=kernel.dtype, device=kernel.device).view(1, -1, 1)
    norm = torch.linalg.vector_norm(theta, dim=1, keepdim=True)  # [M, 1, in]
    w = big / (1 + steps * big * big) * torch.clamp(norm + big * partial - lam, min=0.0)
    w = torch.where(norm > 0, w, torch.zeros_like(w))
    lower = torch.cat([u_sorted, zeros], dim=1)  # u_(m+1), with u_(K+1) = 0
    first = torch.sum(lower > w, dim=1, keepdim=True)  # the first m with u_(m+1) ≤ w_m
    w_star = torch.gather(w, 1, first)  # [M, 1, in]
    safe = torch.where(norm > 0, norm, torch.ones_like(norm))
    new_theta = theta * (w_star / (big * safe))
    new_kernel = torch.sign(kernel) * torch.minimum(kernel.abs(), w_star)
    return new_theta, new_kernel


class LassoNet(Technique):
    """``lassonet=S`` or ``lassonet=S:M``: LassoNet's hierarchical sparsity on input features."""

    key = "lassonet"
    params = (
        # Adam moves each weight by about lr per step, and a feature's first-layer weights
        # hold its skip weights up (w_m grows with M·Σ|W_j|): measured on breast cancer
        # (64 hidden units, lr 1e-3), strengths from 3 to 3000 run from dense to empty.
        Param("strength", 3.0, 3000.0, "log"),
        # The paper's default is M = 10; its experiments use 1-100. A bound: a smaller M
        # regularizes more, so a schedule scales 1/M.
        Param("hierarchy", 1.0, 100.0, "log", off=10.0, minimum=1e-3, inverse=True),
    )
    acts_on = "projection"
    layers = "skip"
    sparsifies_inputs = True
    families = ("skip-mlp",)
    label = "LassoNet on inputs"
    order = 67

    def __init__(self, strength: float, hierarchy: float = 10.0) -> None:
        super().__init__(strength=strength, hierarchy=hierarchy)

    @classmethod
    def project_pair(
        cls, theta: Tensor, kernel: Tensor, values: Mapping[str, Tensor]
    ) -> tuple[Tensor, Tensor]:
        """The proximal step of :func:`hier_prox` at threshold ``lr·strength``."""
        lr = values["lr"].to(kernel.dtype)
        return hier_prox(theta, kernel, lr * values["strength"], values["hierarchy"])


register(LassoNet)
