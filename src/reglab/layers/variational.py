"""Variational dropout as member-batched pure functions: sparse VD and learned Gaussian dropout.

Both techniques give every weight a Gaussian posterior and train by the local
reparameterization trick: the pre-activation of a layer is sampled directly from its Gaussian,

    b = x·θ + b₀ + √(x²·v + ε_var) ∘ ξ,      ξ ~ N(0, 1), one draw per output and row,

whose mean ``x·θ`` and variance ``x²·v`` are those of ``x·W`` under ``W ~ N(θ, v)``
(:func:`local_reparameterization`). Each member's loss is the evidence lower bound per training
example,

    data loss (batch mean) + KL(q(W) ‖ p(W)) / N,                                   (ELBO / N)

with ``N`` the member's number of training rows; :func:`kl_per_example` is the one place where
the KL is weighted. With a KL warm-up of ``W`` epochs (sparse VD's second parameter) the KL's
weight in epoch ``e = 1, 2, …`` is ``β_e = min(1, (e − 1)/W)`` (:func:`kl_warmup`): the first
epoch fits the data alone and from epoch ``W + 1`` the full ELBO is trained (Molchanov et al.
anneal the KL weight the same way).

**Sparse variational dropout** (Molchanov, Ashukha & Vetrov, 2017): the additive
reparameterization ``W ~ N(θ, σ²)`` with a learned ``log σ²`` per weight, ``α = σ²/θ²``, ``log α``
clipped to ``[−8, 8]`` (:data:`LOG_ALPHA_CLIP`), and the variance in the reparameterization is
``α·θ²`` (the clipped value). With the log-uniform prior the KL has the approximation

    −KL ≈ k₁·σ(k₂ + k₃·log α) − ½·log(1 + 1/α) − k₁,   k₁ = 0.63576, k₂ = 1.87320, k₃ = 1.48695,

which tends to 0 as ``α → ∞``. At evaluation a weight with ``log α > threshold`` (3 in the
paper) is pruned: :func:`sparse_vd_kernel` returns the kernel with exact zeros there.

**Learned Gaussian dropout** (variational dropout, Kingma, Salimans & Welling, 2015): each input
unit ``i`` of a layer is multiplied by ``ξᵢ ~ N(1, αᵢ)`` with a learned ``α`` per unit (or one per
layer), so the pre-activation has mean ``x·θ`` and variance ``(x²·α)·θ²``. The KL of the
log-uniform prior is approximated, for ``α ≤ 1`` (``log α`` is clipped to ``[−8, 0]``), by

    −KL ≈ const + ½·log α + c₁·α + c₂·α² + c₃·α³,   c₁ = 1.16145124, c₂ = −1.50204118,
                                                     c₃ = 0.58629921,

counted once per learned ``α`` (the constant is left out: it has no gradient).

Shapes follow the engine: activations are columns ``[M, units, B]``, kernels ``[M, out, in]``,
biases ``[M, out, 1]``; the element-wise functions accept any shape (a convolution's kernel
``[M, out, in, k, k]`` too: its mean and variance are ``conv(x, θ)`` and ``conv(x², v)``).

>>> import torch
>>> theta = torch.tensor([[[1.0, 0.01]]])          # [M=1, out=1, in=2]
>>> log_sigma2 = torch.full_like(theta, -4.0)
>>> sparse_vd_log_alpha(theta, log_sigma2)          # log σ² − log θ², clipped
tensor([[[-4.0000,  5.2102]]])
>>> sparse_vd_kernel(theta, log_sigma2, torch.tensor([3.0]))
tensor([[[1., 0.]]])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "C1",
    "C2",
    "C3",
    "K1",
    "K2",
    "K3",
    "LEARNED_DROPOUT_CLIP",
    "LOG_ALPHA_CLIP",
    "kl_per_example",
    "kl_warmup",
    "learned_dropout_dense",
    "learned_dropout_kl",
    "learned_dropout_neg_kl",
    "local_reparameterization",
    "sparse_vd_dense",
    "sparse_vd_kernel",
    "sparse_vd_kl",
    "sparse_vd_log_alpha",
    "sparse_vd_neg_kl",
    "sparse_vd_variance",
]

K1, K2, K3 = 0.63576, 1.87320, 1.48695
"""Molchanov et al. (2017), eq. 14: the sparse-VD KL approximation's constants."""

C1, C2, C3 = 1.16145124, -1.50204118, 0.58629921
"""Kingma et al. (2015), eq. 10: the Gaussian-dropout KL approximation's constants (α ≤ 1)."""

LOG_ALPHA_CLIP = 8.0
"""Sparse VD's ``log α`` is clipped to ``[−8, 8]``."""

LEARNED_DROPOUT_CLIP = (-8.0, 0.0)
"""Learned dropout's ``log α`` range: ``α ≤ 1``, where the KL approximation holds."""

VARIANCE_EPS = 1e-8
"""Added to the sampled pre-activation's variance before the square root (a finite gradient)."""

_THETA_EPS = 1e-8  # log(θ² + eps): a pruned (zero) weight gets a finite log α


def kl_per_example(kl: Tensor, n_train: Tensor) -> Tensor:
    """The KL's weight in each member's loss: ``KL / N`` (the ELBO per training example).

    ``kl`` and ``n_train`` are ``[M]`` (each member's total KL and number of training rows);
    the engine and the single-model layers both weight the KL here and nowhere else.
    """
    return kl / n_train


def kl_warmup(epoch: Tensor, warmup: Tensor) -> Tensor:
    """The KL's weight ``min(1, epoch/W)`` after ``epoch`` completed epochs (``[M]`` each);
    ``W = 0`` means no warm-up (weight 1)."""
    ramp = epoch / torch.clamp(warmup, min=1.0)
    return torch.where(warmup > 0, torch.clamp(ramp, max=1.0), torch.ones_like(ramp))


def local_reparameterization(mean: Tensor, var: Tensor, noise: Tensor) -> Tensor:
    """A sample of pre-activations ``mean + √(var + ε)·noise`` (``noise`` standard normal)."""
    return mean + torch.sqrt(var + VARIANCE_EPS) * noise


# -- sparse variational dropout ----------------------------------------------------------------


def sparse_vd_log_alpha(theta: Tensor, log_sigma2: Tensor) -> Tensor:
    """``log α = log σ² − log θ²`` element-wise, clipped to ``[−8, 8]``."""
    log_alpha = log_sigma2 - torch.log(theta * theta + _THETA_EPS)
    return torch.clamp(log_alpha, -LOG_ALPHA_CLIP, LOG_ALPHA_CLIP)


def sparse_vd_neg_kl(log_alpha: Tensor) -> Tensor:
    """``−KL`` of one weight, element-wise: ``k₁·σ(k₂ + k₃·log α) − ½·log(1 + 1/α) − k₁``."""
    return K1 * torch.sigmoid(K2 + K3 * log_alpha) - 0.5 * F.softplus(-log_alpha) - K1


def sparse_vd_kl(theta: Tensor, log_sigma2: Tensor) -> Tensor:
    """Each member's KL ``[M]``: the approximation summed over every weight of the kernel."""
    neg = sparse_vd_neg_kl(sparse_vd_log_alpha(theta, log_sigma2))
    return -neg.reshape(len(neg), -1).sum(1)


def sparse_vd_variance(theta: Tensor, log_sigma2: Tensor) -> Tensor:
    """The weights' variance ``α·θ²`` with the clipped ``α`` (element-wise)."""
    return torch.exp(sparse_vd_log_alpha(theta, log_sigma2)) * theta * theta


def sparse_vd_dense(
    h: Tensor, theta: Tensor, bias: Tensor, log_sigma2: Tensor, noise: Tensor
) -> Tensor:
    """A training-mode Dense layer: pre-activations ``[M, out, B]`` sampled by the local
    reparameterization trick from ``h`` ``[M, in, B]``, ``noise`` ``[M, out, B]``."""
    mean = torch.baddbmm(bias, theta, h)
    var = torch.bmm(sparse_vd_variance(theta, log_sigma2), h * h)
    return local_reparameterization(mean, var, noise)


def sparse_vd_kernel(theta: Tensor, log_sigma2: Tensor, threshold: Tensor) -> Tensor:
    """The evaluation kernel: ``θ`` with exact zeros where ``log α > threshold`` (``[M]``)."""
    shape = (-1,) + (1,) * (theta.dim() - 1)
    keep = sparse_vd_log_alpha(theta, log_sigma2) <= threshold.view(shape)
    return torch.where(keep, theta, torch.zeros_like(theta))


# -- learned Gaussian dropout ------------------------------------------------------------------


def learned_dropout_neg_kl(log_alpha: Tensor) -> Tensor:
    """``−KL`` of one ``α`` (without the constant): ``½·log α + c₁·α + c₂·α² + c₃·α³``."""
    alpha = torch.exp(log_alpha)
    return 0.5 * log_alpha + alpha * (C1 + alpha * (C2 + alpha * C3))


def _clipped(log_alpha: Tensor) -> Tensor:
    return torch.clamp(log_alpha, *LEARNED_DROPOUT_CLIP)


def learned_dropout_kl(log_alpha: Tensor) -> Tensor:
    """Each member's KL ``[M]``: the approximation summed over its learned ``α`` values."""
    neg = learned_dropout_neg_kl(_clipped(log_alpha))
    return -neg.reshape(len(neg), -1).sum(1)


def learned_dropout_dense(
    h: Tensor, theta: Tensor, bias: Tensor, log_alpha: Tensor, noise: Tensor
) -> Tensor:
    """A training-mode Dense layer with Gaussian noise ``N(1, α)`` on its input units.

    ``log_alpha`` is ``[M, 1, in]`` (one ``α`` per input unit) or ``[M, 1, 1]`` (one per
    layer); the pre-activations ``[M, out, B]`` have mean ``θ·h + b`` and variance
    ``(θ²·α)·h²``, sampled with ``noise`` ``[M, out, B]``."""
    mean = torch.baddbmm(bias, theta, h)
    var = torch.bmm(theta * theta * torch.exp(_clipped(log_alpha)), h * h)
    return local_reparameterization(mean, var, noise)
