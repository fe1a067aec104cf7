"""Pure, member-batched arithmetic of every penalty and constraint.

Every function takes weights with a **leading member dimension** ``w: [M, ...]`` and strengths
that are a float or a tensor of shape ``[M]`` (one strength per member), and returns one value
per member. A single model is the case ``M = 1`` (``w.unsqueeze(0)``). Modules, the single-model
trainer and the engine all call these functions; there is one implementation of each technique.

Semantics (Keras): ``l1_penalty = l1·Σ|w|``, ``l2_penalty = l2·Σw²`` (no ½).

>>> import torch
>>> w = torch.tensor([[[1.0, -2.0]], [[0.5, 0.0]]])       # M=2 members, each 1x2
>>> l1_penalty(w, torch.tensor([0.1, 1.0]))
tensor([0.3000, 0.5000])
>>> l2_penalty(w, 0.5)
tensor([2.5000, 0.1250])
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "KERAS_NORM_EPSILON",
    "add_penalty_grad_",
    "as_member_tensor",
    "l1_penalty",
    "l1l2_penalty",
    "l2_penalty",
    "max_norm",
    "min_max_norm",
    "non_neg",
    "penalty_grad",
    "per_member",
    "soft_threshold",
    "unit_norm",
]

KERAS_NORM_EPSILON = 1e-7
"""Keras's epsilon in norm constraints: ``w · clip(n, lo, hi) / (ε + n)``."""

Strength = float | Tensor


def as_member_tensor(value: Strength, like: Tensor) -> Tensor:
    """``value`` as a tensor on ``like``'s device and dtype (a float stays a 0-d tensor)."""
    return torch.as_tensor(value, dtype=like.dtype, device=like.device)


def per_member(value: Strength, like: Tensor) -> Tensor:
    """Reshape a strength of shape ``[M]`` (or a float) to broadcast against ``like: [M, ...]``.

    A tensor already shaped like ``like`` (one strength per element, as the engine's flat
    parameter buffers use) is returned as is.

    >>> per_member(torch.tensor([1.0, 2.0]), torch.zeros(2, 3, 4)).shape
    torch.Size([2, 1, 1])
    >>> per_member(torch.ones(2, 3), torch.zeros(2, 3)).shape
    torch.Size([2, 3])
    """
    if isinstance(value, Tensor) and value.dim() == like.dim() and value.dtype == like.dtype:
        return value  # already broadcasts (a per-member column [M, 1, …]): no conversion
    t = as_member_tensor(value, like)
    if t.dim() == 0 or t.shape == like.shape:
        return t
    return t.reshape(t.shape[0], *([1] * (like.dim() - 1)))


def _sum_per_member(t: Tensor) -> Tensor:
    return t.reshape(t.shape[0], -1).sum(dim=1)


def l1_penalty(w: Tensor, l1: Strength) -> Tensor:
    """``l1 · Σ|w|`` per member: ``w: [M, ...]``, ``l1: float | [M]`` → ``[M]``."""
    return as_member_tensor(l1, w) * _sum_per_member(w.abs())


def l2_penalty(w: Tensor, l2: Strength) -> Tensor:
    """``l2 · Σw²`` per member (Keras: no ½): ``w: [M, ...]`` → ``[M]``."""
    return as_member_tensor(l2, w) * _sum_per_member(w * w)


def l1l2_penalty(w: Tensor, l1: Strength, l2: Strength) -> Tensor:
    """``l1 · Σ|w| + l2 · Σw²`` per member → ``[M]``."""
    return l1_penalty(w, l1) + l2_penalty(w, l2)


def penalty_grad(w: Tensor, l1: Strength, l2: Strength) -> Tensor:
    """Gradient of :func:`l1l2_penalty` w.r.t. ``w``: ``l1·sign(w) + 2·l2·w`` (same shape as w).

    Adding this to a parameter's gradient is equivalent to differentiating the penalty term,
    without building it into the autograd graph.

    >>> penalty_grad(torch.tensor([[1.0, -2.0, 0.0]]), 0.1, 0.5)
    tensor([[ 1.1000, -2.1000,  0.0000]])
    """
    return add_penalty_grad_(torch.zeros_like(w), w, l1, l2)


def add_penalty_grad_(
    grad: Tensor, w: Tensor, l1: Strength, l2: Strength, *, scratch: Tensor | None = None
) -> Tensor:
    """``grad += l1·sign(w) + 2·l2·w`` in place (:func:`penalty_grad` added to a gradient).

    The sum is taken in that order, ``(grad + l1·sign(w)) + (2·l2)·w``, one rounding per
    addition. ``scratch``, shaped like ``w``, receives ``sign(w)`` instead of a new tensor (a
    caller that adds penalty gradients every step keeps one).

    >>> g = torch.ones(1, 3)
    >>> add_penalty_grad_(g, torch.tensor([[1.0, -2.0, 0.0]]), 0.1, 0.5)
    tensor([[ 2.1000, -1.1000,  1.0000]])
    """
    grad.addcmul_(torch.sign(w, out=scratch), per_member(l1, w))
    return grad.addcmul_(per_member(l2, w), w, value=2.0)


def soft_threshold(w: Tensor, threshold: Strength) -> Tensor:
    """The proximal operator of ``t·Σ|w|``: ``sign(w) · max(|w| − t, 0)``.

    ``threshold`` is a float, a per-member ``[M]`` tensor, or a tensor shaped like ``w``
    (per-element thresholds, as proximal Adam needs). Exact zeros result.

    >>> soft_threshold(torch.tensor([[0.3, -0.05, -1.0]]), 0.1)
    tensor([[ 0.2000,  0.0000, -0.9000]])
    """
    t = threshold if isinstance(threshold, Tensor) and threshold.shape == w.shape else None
    if t is None:
        t = per_member(threshold, w)
    return torch.sign(w) * torch.clamp(w.abs() - t, min=0.0)


def _norms(w: Tensor, dim: int | tuple[int, ...]) -> Tensor:
    return torch.sqrt(torch.sum(w * w, dim=dim, keepdim=True))


def max_norm(w: Tensor, max_value: Strength, dim: int | tuple[int, ...]) -> Tensor:
    """Project so every unit's norm over ``dim`` is at most ``max_value`` (Keras ``MaxNorm``).

    ``dim`` names the fan-in axes: for a member-batched Linear weight in the engine's layout
    ``[M, in, out]`` that is ``1``; for torch's ``[M, out, in]`` it is ``2``; for a conv weight
    ``[M, out, in, kh, kw]`` it is ``(2, 3, 4)`` (one norm per filter).

    >>> max_norm(torch.tensor([[[3.0, 0.0], [4.0, 0.1]]]), 1.0, dim=1)
    tensor([[[0.6000, 0.0000],
             [0.8000, 0.1000]]])
    """
    norms = _norms(w, dim)
    desired = torch.clamp(norms, max=per_member(max_value, norms))
    return w * (desired / (KERAS_NORM_EPSILON + norms))


def unit_norm(w: Tensor, dim: int | tuple[int, ...]) -> Tensor:
    """Scale every unit to norm 1 over ``dim`` (Keras ``UnitNorm``)."""
    return w / (KERAS_NORM_EPSILON + _norms(w, dim))


def min_max_norm(
    w: Tensor,
    min_value: Strength,
    max_value: Strength,
    rate: Strength,
    dim: int | tuple[int, ...],
) -> Tensor:
    """Keras ``MinMaxNorm``: move each unit's norm ``rate`` of the way into [min, max]."""
    norms = _norms(w, dim)
    lo, hi = per_member(min_value, norms), per_member(max_value, norms)
    r = per_member(rate, norms)
    desired = r * torch.minimum(torch.maximum(norms, lo), hi) + (1 - r) * norms
    return w * (desired / (KERAS_NORM_EPSILON + norms))


def non_neg(w: Tensor) -> Tensor:
    """Clip negative weights to zero (Keras ``NonNeg``)."""
    return torch.clamp(w, min=0.0)
