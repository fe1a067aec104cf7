"""ShakeDrop (Yamada, Iwamura, Akiba & Kise 2018) on the branch of a residual block.

A residual block computes ``x + F(x)``. ShakeDrop multiplies the branch by a random gate, one
per example, drawn anew at every training step:

    forward:   x + (b + α − b·α) · F(x)
    backward:  ∂L/∂F(x) = (b + β − b·β) · ∂L/∂out          (β in place of α)

with ``b ~ Bernoulli(1 − p)``, ``α ~ U(−1, 1)`` and ``β ~ U(0, 1)``, independent per example.
When ``b = 1`` the block is a plain residual block; when ``b = 0`` the branch is scaled by
``α`` going forward and by ``β`` coming back. In evaluation the gate is its expected value,
``E[b + α − b·α] = (1 − p) + E[α]·p = 1 − p``, so the block computes ``x + (1 − p)·F(x)``.

In a network of ``L`` blocks the drop probability rises linearly with depth to ``P`` (the
paper's linear decay rule, with ``P = 0.5`` its choice): block ``l = 1 … L`` uses

    p_l = P · l / L.

Everything here is member-batched: ``u`` holds one member's or many members' uniforms and
``p`` broadcasts against the gates.

>>> import torch
>>> u = torch.tensor([[0.2, 0.9], [0.25, 0.75], [0.5, 0.5]])   # rows: b, α, β uniforms
>>> forward, backward = shake_gates(u[0], u[1], u[2], torch.tensor(0.5))
>>> forward, backward          # example 0 kept (0.2 < 0.5), example 1 dropped: α = 0.5, β = 0.5
(tensor([1.0000, 0.5000]), tensor([1.0000, 0.5000]))
>>> depth_rates(0.5, 4)
(0.125, 0.25, 0.375, 0.5)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from reglab._validation import Problems, message

__all__ = ["ShakeDrop", "depth_rates", "shake_drop", "shake_gates"]


def depth_rates(rate: float, blocks: int) -> tuple[float, ...]:
    """``p_l = P·l/L`` for blocks ``l = 1 … L``: the drop probability of each block."""
    return tuple(rate * (i + 1) / blocks for i in range(blocks))


def shake_gates(
    u_drop: Tensor, u_alpha: Tensor, u_beta: Tensor, p: Tensor
) -> tuple[Tensor, Tensor]:
    """The forward and backward gates from three uniforms in [0, 1) per example.

    ``b = [u_drop < 1 − p]``, ``α = 2·u_alpha − 1``, ``β = u_beta``; returns
    ``(b + α − b·α, b + β − b·β)``, computed as ``b + (1 − b)·α`` so that a kept example's
    gates are exactly 1 (and ``p = 0`` leaves the branch's bits unchanged).
    """
    b = (u_drop < 1.0 - p).to(u_drop.dtype)
    dropped = 1.0 - b
    forward = b + dropped * (2.0 * u_alpha - 1.0)
    backward = b + dropped * u_beta
    return forward, backward


class _ShakeDrop(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, branch: Tensor, forward: Tensor, backward: Tensor) -> Tensor:
        ctx.save_for_backward(backward)
        return branch * forward

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        (backward,) = ctx.saved_tensors
        return grad * backward, None, None


def shake_drop(branch: Tensor, forward: Tensor, backward: Tensor) -> Tensor:
    """``branch · forward`` whose gradient with respect to ``branch`` is ``grad · backward``.

    The gates broadcast against ``branch`` (one per example: ``[B, 1]`` for rows, ``[M, 1, B]``
    for the engine's columns) and get no gradient.
    """
    out: Tensor = _ShakeDrop.apply(branch, forward, backward)
    return out


class ShakeDrop(nn.Module):
    """ShakeDrop of one residual branch ``[B, …]``, for one's own residual blocks:
    ``x + shake(F(x))`` (module docstring). Identity times ``1 − p`` in evaluation. End ``F``
    in batch norm, as :class:`~reglab.layers.ResidualMLP` does and the paper prescribes: the
    backward gate ``β ≥ 0`` differs from the forward ``α`` that may be negative, and a branch
    whose scale nothing bounds grows under it until training diverges.

    Args:
        p: The block's drop probability ``p_l``, a float in [0, 1]
            (:func:`depth_rates` gives the paper's rule for a network of blocks).
        generator: Source of the uniforms (a NumPy generator, or a seed); each training
            forward draws ``[3, B]`` of them: ``b``'s, ``α``'s and ``β``'s.

    >>> layer = ShakeDrop(0.5, generator=0)
    >>> layer(torch.ones(4, 2)).shape
    torch.Size([4, 2])
    >>> layer.eval()(torch.ones(1, 2))
    tensor([[0.5000, 0.5000]])
    """

    def __init__(self, p: float, generator: np.random.Generator | int | None = None) -> None:
        super().__init__()
        problems = Problems()
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p <= 1.0:
            problems.add(message("ShakeDrop", "p", "a float in [0, 1]", p))
        problems.raise_if_any()
        self.p = float(p)
        self.generator = (
            generator
            if isinstance(generator, np.random.Generator)
            else np.random.default_rng(generator)
        )

    def extra_repr(self) -> str:
        return f"p={self.p:g}"

    def forward(self, branch: Tensor) -> Tensor:
        if not self.training:
            return branch * (1.0 - self.p)
        u = torch.from_numpy(self.generator.random((3, len(branch)), dtype=np.float32))
        u = u.to(branch.device).view(3, len(branch), *[1] * (branch.dim() - 1))
        p = torch.tensor(self.p, dtype=branch.dtype, device=branch.device)
        forward, backward = shake_gates(u[0], u[1], u[2], p)
        return shake_drop(branch, forward.to(branch.dtype), backward.to(branch.dtype))
